"""Reference data and generators for the demo: couriers, outlets, accounts, Chinese products."""

COURIERS = [
    # code, name, online interception, offline settlement, outlet approval required
    ("YTO", "圆通速递", True, True, False),
    ("JT", "极兔速递", True, True, True),
    ("ZTO", "中通快递", True, False, True),
    ("STO", "申通快递", True, False, True),
    ("YUNDA", "韵达速递", True, False, True),
    ("SF", "顺丰速运", True, False, True),
]

OUTLETS = [
    # code, name, region, uses the platform e-waybill
    ("YTO-SH-001", "圆通上海青浦网点", "上海", True),
    ("YTO-HZ-002", "圆通杭州萧山网点", "杭州", True),
    ("YTO-GZ-004", "圆通广州白云网点", "广州", False),
    ("JT-SH-001", "极兔上海嘉定网点", "上海", True),
    ("JT-GZ-003", "极兔广州番禺网点", "广州", False),
    ("JT-YW-002", "极兔义乌网点", "义乌", True),
    ("ZTO-SH-001", "中通上海松江网点", "上海", True),
    ("STO-HZ-001", "申通杭州余杭网点", "杭州", True),
    ("YUNDA-SZ-001", "韵达深圳宝安网点", "深圳", True),
    ("SF-SZ-001", "顺丰深圳南山网点", "深圳", True),
]

SHOPS = [
    # code, name, cross-border, Hainan duty-free
    ("demo-shop", "好物优选旗舰店", False, False),
    ("demo-global", "环球直邮小店", True, False),
]

ACCOUNTS = [
    # username, kind, shop, shop role, outlet, outlet role, display name, permission sets (non-owners)
    ("merchant", "merchant", "demo-shop", "owner", None, "", "王店长", ()),
    ("agent", "merchant", "demo-shop", "agent", None, "", "李客服", ("aftersales_handling",)),
    ("finance", "merchant", "demo-shop", "agent", None, "", "赵会计", ("settlement",)),
    ("global", "merchant", "demo-global", "owner", None, "", "陈店长", ()),
    ("outlet-yto", "outlet", None, "", "YTO-SH-001", "manager", "圆通青浦张站长", ()),
    ("outlet-yto-clerk", "outlet", None, "", "YTO-SH-001", "clerk", "圆通青浦周文员", ("outlet_settlement",)),
    ("outlet-jt", "outlet", None, "", "JT-SH-001", "manager", "极兔嘉定刘站长", ()),
    ("operator", "operator", None, "", None, "", "平台运营", ()),
]
DEMO_PASSWORD = "demo-pass"

PRODUCTS = [
    # title, category, price, domestic physical goods
    ("304不锈钢保温杯 500ml", "home", "89.00", True),
    ("纯棉四件套 1.8m床", "home", "259.00", True),
    ("无线蓝牙耳机 降噪版", "digital", "399.00", True),
    ("儿童益智积木 300粒", "toys", "129.00", True),
    ("新疆阿克苏苹果 5kg", "fresh", "59.90", True),
    ("男士休闲运动鞋", "apparel", "199.00", True),
    ("女士羊绒围巾", "apparel", "168.00", True),
    ("空气炸锅 4.5L", "appliances", "329.00", True),
    ("电动牙刷 声波款", "personal_care", "149.00", True),
    ("宠物冻干猫粮 2kg", "pets", "118.00", True),
    ("智能手表 运动版", "digital", "1299.00", True),
    ("扫地机器人 激光导航", "appliances", "1899.00", True),
    ("视频会员年卡", "virtual", "198.00", False),
    ("茶叶礼盒 明前龙井", "food", "268.00", True),
    ("护手霜三支装", "beauty", "39.90", True),
    ("手机壳 防摔透明", "digital", "19.90", True),
]

GLOBAL_PRODUCTS = [
    ("日本进口面膜 30片", "beauty", "159.00", False),
    ("澳洲奶粉 900g", "baby", "238.00", False),
    ("韩国进口零食大礼包", "food", "99.00", False),
]

NICKNAMES = [
    "小王",
    "阿杰",
    "Lily",
    "晴天",
    "大橙子",
    "木木",
    "老陈",
    "小鱼儿",
    "Kevin",
    "桃子",
    "阿花",
    "土豆",
    "星星",
]

TRACKING_NOTES = {
    "collected": "快递员已揽收",
    "in_transit": "到达转运中心",
    "out_for_delivery": "派送员正在派件",
    "signed": "已签收，签收人：本人",
    "refused": "收件人拒收",
    "intercepted": "快递已拦截",
    "returning": "退回中",
    "returned": "已退回寄件人",
    "exception": "包裹滞留，联系不上收件人",
    "lost": "包裹遗失",
    "damaged": "包裹破损",
}

# The path a parcel takes to reach each final logistics state (collected first, always).
STATUS_PATHS = {
    "collected": ["collected"],
    "in_transit": ["collected", "in_transit"],
    "out_for_delivery": ["collected", "in_transit", "out_for_delivery"],
    "signed": ["collected", "in_transit", "out_for_delivery", "signed"],
    "refused": ["collected", "in_transit", "out_for_delivery", "refused"],
    "intercepted": ["collected", "in_transit", "intercepted"],
    "returning": ["collected", "in_transit", "intercepted", "returning"],
    "returned": ["collected", "in_transit", "out_for_delivery", "refused", "returning", "returned"],
    "exception": ["collected", "in_transit", "exception"],
    "lost": ["collected", "in_transit", "intercepted", "returning", "lost"],
    "damaged": ["collected", "in_transit", "intercepted", "returning", "returned", "damaged"],
}
