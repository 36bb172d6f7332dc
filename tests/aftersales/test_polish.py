"""Polish of the merchant's pages in Chinese (issue item 11): 全部 for empty choices, 天 for days,
no prominent IM-card button on a closed after-sale, product categories by their labels."""

import re
from datetime import timedelta

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from aftersales import services
from aftersales.models import AfterSale
from shop.categories import category_label
from tests.aftersales.factories import apply

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def detail(client, after_sale):
    url = reverse("aftersales:after-sale-detail", kwargs={"after_sale_no": after_sale.after_sale_no})
    return client.get(url, **ZH).content.decode()


def test_empty_filter_choices_read_all_in_chinese_not_dashes(client, merchant):
    client.force_login(merchant)

    pages = [reverse("aftersales:workbench"), reverse("interception:service-orders")]
    html = "".join(client.get(url, **ZH).content.decode() for url in pages)

    assert "---------" not in html
    assert len(re.findall(r'<option value=""(?: selected)?>全部</option>', html)) >= 6


def test_the_detail_counts_days_left_in_天_as_the_workbench_does(client, merchant, shop):
    after_sale = apply(shop, no="AS-DAYS")
    deadline = timezone.now() + timedelta(days=4, hours=5, minutes=30)
    AfterSale.objects.filter(pk=after_sale.pk).update(deadline=deadline)
    client.force_login(merchant)

    html = detail(client, after_sale)

    assert "剩余 4 天 5 小时" in html
    assert "4 日" not in html


def test_a_closed_after_sale_has_no_primary_button_and_the_im_card_is_a_plain_one(client, merchant, shop):
    after_sale = apply(shop, no="AS-CLOSED")
    with transaction.atomic():
        services.agree_refund(after_sale_id=after_sale.pk, shop=shop, user=merchant)
    client.force_login(merchant)

    html = detail(client, after_sale)
    actions = html.split('id="actions"')[1].split("</section>")[0]

    assert re.search(r'<a class="btn" id="action-im-card"', actions)
    # Only the folded flag-and-remark form keeps a primary "save" inside it; no visible button is primary.
    visible = re.sub(r"<details.*?</details>", "", actions, flags=re.S)
    assert "btn primary" not in visible


def test_an_open_after_sale_keeps_its_primary_actions(client, merchant, shop):
    after_sale = apply(shop, no="AS-OPEN")
    client.force_login(merchant)

    actions = detail(client, after_sale).split('id="actions"')[1].split("</section>")[0]

    assert 'class="btn primary"' in actions


def test_product_categories_read_as_labels_and_an_unknown_code_as_it_came(client, merchant, shop):
    from django.utils import translation

    with translation.override("zh-hans"):
        assert [category_label(code) for code in ("digital", "toys", "personal_care", "new_code")] == [
            "数码",
            "玩具",
            "个护清洁",
            "new_code",
        ]
    after_sale = apply(shop, no="AS-CAT")
    after_sale.line.__class__.objects.filter(pk=after_sale.line_id).update(category="toys")
    client.force_login(merchant)

    html = detail(client, after_sale)

    assert "<td>玩具</td>" in html
    assert "<td>toys</td>" not in html
