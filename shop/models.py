"""Shops, couriers, outlets, staff accounts, orders and parcels: the ground every other app stands on."""

from decimal import Decimal

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

MONEY = {"max_digits": 12, "decimal_places": 2}


class Shop(models.Model):
    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100)
    cross_border = models.BooleanField(_("cross-border"), default=False)
    hainan_duty_free = models.BooleanField(_("Hainan duty-free"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("shop")
        verbose_name_plural = _("shops")
        ordering = ["code"]

    def __str__(self):
        return self.name


class Courier(models.Model):
    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=50)
    supports_online_interception = models.BooleanField(_("supports online interception"), default=True)
    supports_offline_settlement = models.BooleanField(_("supports offline settlement"), default=False)
    outlet_approval_required = models.BooleanField(_("outlet approval required"), default=True)
    # Whether the platform's automatic "refund after refusal" covers parcels of this courier.
    supports_refund_after_refusal = models.BooleanField(_("supports refund after refusal"), default=True)

    class Meta:
        verbose_name = _("courier")
        verbose_name_plural = _("couriers")
        ordering = ["code"]

    def __str__(self):
        return self.name


class Outlet(models.Model):
    courier = models.ForeignKey(Courier, on_delete=models.PROTECT, related_name="outlets", verbose_name=_("courier"))
    code = models.CharField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=100)
    region = models.CharField(_("region"), max_length=50)
    uses_platform_ewaybill = models.BooleanField(_("uses the platform e-waybill"), default=False)

    class Meta:
        verbose_name = _("courier outlet")
        verbose_name_plural = _("courier outlets")
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} {self.name}"


class User(AbstractUser):
    """A person who logs in: staff of one shop, staff of one courier outlet, or a platform operator."""

    class Kind(models.TextChoices):
        MERCHANT = "merchant", _("merchant staff")  # owner or agent of one shop
        OUTLET = "outlet", _("outlet staff")  # staff of one courier outlet
        OPERATOR = "operator", _("platform operator")  # runs the platform through the admin

    class ShopRole(models.TextChoices):
        OWNER = "owner", _("owner")  # has every permission set, always
        AGENT = "agent", _("staff member")  # has the permission sets the owner gave (shop.permissions)

    class OutletRole(models.TextChoices):
        MANAGER = "manager", _("outlet manager")  # both outlet sets, and manages the outlet's staff
        CLERK = "clerk", _("outlet clerk")  # the outlet sets the manager gave

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.OPERATOR)
    shop = models.ForeignKey(
        Shop, null=True, blank=True, on_delete=models.PROTECT, related_name="staff", verbose_name=_("shop")
    )
    shop_role = models.CharField(_("shop role"), max_length=10, choices=ShopRole.choices, blank=True)
    outlet = models.ForeignKey(
        Outlet, null=True, blank=True, on_delete=models.PROTECT, related_name="staff", verbose_name=_("outlet")
    )
    outlet_role = models.CharField(_("outlet role"), max_length=10, choices=OutletRole.choices, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        # The permission sets of shop.permissions, each also a group of the same name.
        permissions = [
            ("aftersales_handling", _("after-sales handling")),
            ("interception_settings", _("interception settings")),
            ("settlement", _("settlement")),
            ("shop_admin", _("shop admin")),
            ("outlet_partnerships", _("partnership decisions")),
            ("outlet_settlement", _("statements and claims")),
        ]
        constraints = [
            # Exactly one tenancy per kind: the database refuses a merchant without a shop, etc.
            models.CheckConstraint(
                name="user_kind_matches_tenancy",
                condition=(
                    Q(kind="merchant", shop__isnull=False, outlet__isnull=True, shop_role__in=["owner", "agent"])
                    | Q(kind="outlet", shop__isnull=True, outlet__isnull=False, shop_role="")
                    | Q(kind="operator", shop__isnull=True, outlet__isnull=True, shop_role="")
                ),
            ),
            models.CheckConstraint(
                name="user_outlet_role_matches_kind",
                condition=Q(kind="outlet", outlet_role__in=["manager", "clerk"])
                | (~Q(kind="outlet") & Q(outlet_role="")),
            ),
        ]

    @property
    def is_merchant(self) -> bool:
        return self.kind == self.Kind.MERCHANT and self.shop_id is not None

    @property
    def is_outlet_staff(self) -> bool:
        return self.kind == self.Kind.OUTLET and self.outlet_id is not None

    @property
    def is_operator(self) -> bool:
        return self.kind == self.Kind.OPERATOR


class Buyer(models.Model):
    external_id = models.CharField(_("external id"), max_length=64, unique=True)
    nickname = models.CharField(_("nickname"), max_length=100)
    # A "quality" (优质) buyer: a refusal of the parcel refunds them at once.
    trusted = models.BooleanField(_("trusted"), default=False)

    class Meta:
        verbose_name = _("buyer")
        verbose_name_plural = _("buyers")
        # The workbench finds a buyer's after-sales by the nickname copied from the chat.
        indexes = [models.Index(fields=["nickname"], name="buyer_nickname_idx")]

    def __str__(self):
        return self.nickname


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", _("pending payment")  # buyer can only cancel
        PREPARING = "preparing", _("preparing")  # paid, nothing shipped yet
        PARTIALLY_SHIPPED = "partially_shipped", _("partially shipped")  # some lines in a parcel
        SHIPPED = "shipped", _("shipped")  # every line in a parcel
        COMPLETED = "completed", _("completed")  # the platform closed the sale normally
        CLOSED = "closed", _("closed")  # cancelled or fully refunded before shipping

    # Statuses in which a parcel may still leave the warehouse.
    SHIPPABLE_STATUSES = (Status.PREPARING, Status.PARTIALLY_SHIPPED, Status.SHIPPED)

    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="orders", verbose_name=_("shop"))
    buyer = models.ForeignKey(Buyer, on_delete=models.PROTECT, related_name="orders", verbose_name=_("buyer"))
    order_no = models.CharField(_("order number"), max_length=64, unique=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PREPARING)
    paid_amount = models.DecimalField(_("paid amount"), **MONEY)
    # Sum of the order's refund ledger. Changed only by a guarded UPDATE (see aftersales.ledger).
    refunded_amount = models.DecimalField(_("refunded amount"), default=Decimal("0.00"), **MONEY)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-paid_at", "-id"]
        indexes = [
            models.Index(fields=["shop", "-paid_at", "-id"], name="order_shop_paid_idx"),
            models.Index(fields=["shop", "status", "-paid_at"], name="order_shop_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(name="order_paid_amount_not_negative", condition=Q(paid_amount__gte=0)),
            # The last line of defence: refunds of an order never exceed what was paid.
            models.CheckConstraint(
                name="order_refunds_within_paid",
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=models.F("paid_amount")),
            ),
        ]

    def __str__(self):
        return self.order_no

    @property
    def refundable_amount(self) -> Decimal:
        return self.paid_amount - self.refunded_amount


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", verbose_name=_("order"))
    line_no = models.CharField(_("line number"), max_length=20)
    sku = models.CharField(_("SKU"), max_length=64, blank=True)
    title = models.CharField(_("title"), max_length=200)
    category = models.CharField(_("category"), max_length=50)
    quantity = models.PositiveIntegerField(_("quantity"))
    paid_amount = models.DecimalField(_("paid amount"), **MONEY)
    # Sum of the line's refund ledger. Changed only by a guarded UPDATE (see aftersales.ledger).
    refunded_amount = models.DecimalField(_("refunded amount"), default=Decimal("0.00"), **MONEY)
    domestic_physical = models.BooleanField(_("domestic physical goods"), default=True)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["order", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["order", "line_no"], name="order_line_no_unique"),
            models.CheckConstraint(name="line_paid_amount_positive", condition=Q(paid_amount__gt=0)),
            models.CheckConstraint(name="line_quantity_positive", condition=Q(quantity__gte=1)),
            models.CheckConstraint(
                name="line_refunds_within_paid",
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=models.F("paid_amount")),
            ),
        ]

    def __str__(self):
        return f"{self.order.order_no}#{self.line_no} {self.title}"

    @property
    def refundable_amount(self) -> Decimal:
        return self.paid_amount - self.refunded_amount


class Parcel(models.Model):
    class Status(models.TextChoices):
        COLLECTED = "collected", _("collected")  # the courier picked it up
        IN_TRANSIT = "in_transit", _("in transit")
        OUT_FOR_DELIVERY = "out_for_delivery", _("out for delivery")
        SIGNED = "signed", _("signed")  # delivered and signed for
        REFUSED = "refused", _("refused")  # the buyer refused it at the door
        INTERCEPTED = "intercepted", _("intercepted")  # stopped by the courier on the way
        RETURNING = "returning", _("returning")  # on its way back to the sender
        RETURNED = "returned", _("returned")  # back with the sender
        EXCEPTION = "exception", _("logistics exception")  # stuck, address problem, ...
        LOST = "lost", _("lost")
        DAMAGED = "damaged", _("damaged")

    # Normally on its way to the buyer: the parcel may still be intercepted or refused.
    MOVING_STATUSES = (Status.COLLECTED, Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY)
    # On its way back, or back: the goods return to the merchant.
    RETURN_STATUSES = (Status.REFUSED, Status.INTERCEPTED, Status.RETURNING, Status.RETURNED)

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="parcels", verbose_name=_("order"))
    courier = models.ForeignKey(Courier, on_delete=models.PROTECT, related_name="parcels", verbose_name=_("courier"))
    outlet = models.ForeignKey(
        Outlet, on_delete=models.PROTECT, related_name="parcels", verbose_name=_("sending outlet")
    )
    tracking_no = models.CharField(_("tracking number"), max_length=64)
    lines = models.ManyToManyField(OrderLine, related_name="parcels", verbose_name=_("lines"))
    status = models.CharField(_("logistics status"), max_length=20, choices=Status.choices, default=Status.COLLECTED)
    # Time of the latest tracking event that moved the parcel: an older event never moves it back.
    status_at = models.DateTimeField(_("status since"))
    shipped_at = models.DateTimeField(_("shipped at"))

    class Meta:
        verbose_name = _("parcel")
        verbose_name_plural = _("parcels")
        ordering = ["shipped_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["courier", "tracking_no"], name="parcel_tracking_unique_per_courier"),
        ]
        indexes = [models.Index(fields=["tracking_no"], name="parcel_tracking_idx")]

    def __str__(self):
        return f"{self.courier.code} {self.tracking_no}"


class TrackingEvent(models.Model):
    parcel = models.ForeignKey(
        Parcel, on_delete=models.CASCADE, related_name="tracking_events", verbose_name=_("parcel")
    )
    status = models.CharField(_("status"), max_length=20, choices=Parcel.Status.choices)
    at = models.DateTimeField(_("at"))
    note = models.CharField(_("note"), max_length=200, blank=True)
    # False when the event arrived late (older than the parcel's latest) and so moved nothing.
    applied = models.BooleanField(_("moved the parcel"), default=True)
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("tracking event")
        verbose_name_plural = _("tracking events")
        ordering = ["parcel", "at", "id"]
        indexes = [models.Index(fields=["parcel", "at"], name="tracking_parcel_at_idx")]

    def __str__(self):
        return f"{self.parcel} {self.status} @ {self.at:%Y-%m-%d %H:%M}"


class PlatformEvent(models.Model):
    """An applied inbound platform event, kept so that a re-delivery returns the first outcome."""

    event_id = models.CharField(_("event id"), max_length=100, unique=True)
    type = models.CharField(_("type"), max_length=50)
    occurred_at = models.DateTimeField(_("occurred at"))
    payload = models.JSONField(_("payload"))
    outcome = models.JSONField(_("outcome"), null=True)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        verbose_name = _("platform event")
        verbose_name_plural = _("platform events")
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["type", "-received_at"], name="platform_event_type_idx")]

    def __str__(self):
        return f"{self.type} {self.event_id}"


class Change(models.Model):
    """One change of an object that outside systems follow: the merchant API's change feed and the
    webhook outbox, written by shop.changes.record_change in the transaction of the change itself.

    Read in commit order, not insertion order (see shop.changes): `txid` is the writing transaction's
    id on PostgreSQL (0 on SQLite, where writers are serialised and the id order is the commit order).
    """

    class Kind(models.TextChoices):
        AFTER_SALE = "after_sale", _("after-sale")
        SERVICE_ORDER = "service_order", _("interception service order")
        REFUND = "refund", _("refund")

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+", verbose_name=_("shop"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    # The webhook event type: after_sale.created, after_sale.updated, refund.created, service_order.updated.
    event = models.CharField(_("event"), max_length=40)
    object_id = models.BigIntegerField(_("object id"))
    txid = models.BigIntegerField(_("transaction id"), default=0)
    created_at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("change")
        verbose_name_plural = _("change feed")
        indexes = [
            # A shop's sync list in commit order, and whether an object changed again later.
            models.Index(fields=["shop", "kind", "txid", "id"], name="change_feed_idx"),
            models.Index(fields=["shop", "kind", "object_id", "txid", "id"], name="change_object_idx"),
            models.Index(fields=["shop", "kind", "created_at"], name="change_since_idx"),
            # The webhook dispatcher: every shop's changes in commit order.
            models.Index(fields=["txid", "id"], name="change_outbox_idx"),
        ]

    def __str__(self):
        return f"{self.event} {self.kind}#{self.object_id}"


class StaffChange(models.Model):
    """A change to a shop's or an outlet's staff, by whom: the staff activity's own rows. Append-only."""

    class Kind(models.TextChoices):
        ADDED = "added", _("member added")
        SETS_CHANGED = "sets_changed", _("permission sets changed")
        DEACTIVATED = "deactivated", _("member deactivated")
        REACTIVATED = "reactivated", _("member reactivated")
        PASSWORD_RESET = "password_reset", _("password reset")

    # Exactly one of shop and outlet: the team the member belongs to.
    shop = models.ForeignKey(Shop, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    outlet = models.ForeignKey(Outlet, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(User, on_delete=models.CASCADE, related_name="staff_changes", verbose_name=_("member"))
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("by")
    )
    kind = models.CharField(_("change"), max_length=20, choices=Kind.choices)
    # The permission sets after the change, as labels (what the member may do from then on).
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("staff change")
        verbose_name_plural = _("staff changes")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["shop", "-at"], name="staff_change_shop_idx"),
            models.Index(fields=["outlet", "-at"], name="staff_change_outlet_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                name="staff_change_one_team",
                condition=Q(shop__isnull=False, outlet__isnull=True) | Q(shop__isnull=True, outlet__isnull=False),
            ),
        ]

    def __str__(self):
        return f"{self.kind} {self.member_id} @ {self.at:%Y-%m-%d %H:%M}"
