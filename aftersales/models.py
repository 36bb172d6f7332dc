"""After-sale requests, their history, the refund ledger, buyer notifications and export jobs."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shop.models import MONEY, Buyer, Order, OrderLine, Parcel, Shop


class Actor(models.TextChoices):
    """Who or what acted: a person, or one of the platform's automatic rules."""

    MERCHANT = "merchant", _("merchant")
    BUYER = "buyer", _("buyer")
    PLATFORM = "platform", _("platform rule")  # e.g. refund after refusal agreed automatically
    TIMEOUT = "timeout", _("timeout")  # the merchant's deadline passed
    ASSISTANT_RULE = "assistant_rule", _("after-sales assistant rule")
    INTERCEPTION = "interception", _("courier interception")  # launched, succeeded or failed; its refund
    OPERATOR = "operator", _("platform operator")


# The open statuses as stored values, for the database constraints (AfterSale.OPEN_STATUSES in code).
OPEN_STATUS_VALUES = [
    "pending_merchant",
    "refund_after_refusal",
    "awaiting_buyer_return",
    "awaiting_merchant_receipt",
    "arbitration",
]


class AfterSale(models.Model):
    class Type(models.TextChoices):
        REFUND_ONLY = "refund_only", _("refund only")
        RETURN_REFUND = "return_refund", _("return and refund")
        PRICE_PROTECTION = "price_protection", _("price protection")

    class Reason(models.TextChoices):
        NOT_RECEIVED = "not_received", _("not received")
        DAMAGED = "damaged", _("damaged")
        QUALITY = "quality", _("quality problem")
        WRONG_ITEM = "wrong_item", _("wrong item")
        NO_LONGER_NEEDED = "no_longer_needed", _("no longer needed")
        PRICE_DROP = "price_drop", _("price drop")
        OTHER = "other", _("other")

    class Status(models.TextChoices):
        PENDING_MERCHANT = "pending_merchant", _("pending merchant")  # waiting for the merchant's decision
        REFUND_AFTER_REFUSAL = "refund_after_refusal", _("refund after refusal")  # waiting for refusal/interception
        AWAITING_BUYER_RETURN = "awaiting_buyer_return", _("awaiting buyer return")  # buyer must send goods back
        AWAITING_MERCHANT_RECEIPT = "awaiting_merchant_receipt", _("awaiting merchant receipt")  # goods on the way
        REFUNDED = "refunded", _("refunded")  # refund paid (closed)
        REJECTED = "rejected", _("rejected")  # merchant rejected (closed)
        CANCELLED = "cancelled", _("cancelled by buyer")  # buyer withdrew (closed; counts towards the 5)
        CLOSED = "closed", _("closed")  # closed for another reason
        ARBITRATION = "arbitration", _("platform arbitration")  # platform operators decide

    OPEN_STATUSES = (
        Status.PENDING_MERCHANT,
        Status.REFUND_AFTER_REFUSAL,
        Status.AWAITING_BUYER_RETURN,
        Status.AWAITING_MERCHANT_RECEIPT,
        Status.ARBITRATION,
    )
    # Which status may follow which; anything else is refused as an invalid transition.
    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.PENDING_MERCHANT: frozenset(
            {
                Status.REFUNDED,
                Status.REJECTED,
                Status.CANCELLED,
                Status.AWAITING_BUYER_RETURN,
                Status.CLOSED,
                Status.ARBITRATION,
            }
        ),
        Status.REFUND_AFTER_REFUSAL: frozenset(
            {Status.REFUNDED, Status.REJECTED, Status.CANCELLED, Status.CLOSED, Status.ARBITRATION}
        ),
        Status.AWAITING_BUYER_RETURN: frozenset(
            {Status.AWAITING_MERCHANT_RECEIPT, Status.CANCELLED, Status.CLOSED, Status.ARBITRATION}
        ),
        Status.AWAITING_MERCHANT_RECEIPT: frozenset(
            {Status.REFUNDED, Status.REJECTED, Status.CLOSED, Status.ARBITRATION}
        ),
        Status.ARBITRATION: frozenset({Status.REFUNDED, Status.REJECTED, Status.CLOSED}),
        Status.REJECTED: frozenset({Status.ARBITRATION}),  # the buyer escalates to the platform
        Status.REFUNDED: frozenset(),
        Status.CANCELLED: frozenset(),
        Status.CLOSED: frozenset(),
    }

    class Flag(models.TextChoices):
        NONE = "", _("no flag")
        GREY = "grey", _("grey")
        PURPLE = "purple", _("purple")
        BLUE = "blue", _("blue")
        GREEN = "green", _("green")
        YELLOW = "yellow", _("yellow")
        RED = "red", _("red")

    class RejectReason(models.TextChoices):
        GOODS_SIGNED = "goods_signed", _("the buyer signed for the goods: please apply for return and refund")
        NOT_AS_CLAIMED = "not_as_claimed", _("the goods are not as the buyer claims")
        RETURN_NOT_RECEIVED = "return_not_received", _("the returned goods have not arrived")
        RETURN_DAMAGED = "return_damaged", _("the returned goods are damaged or incomplete")
        OUTSIDE_POLICY = "outside_policy", _("outside the after-sales policy")
        OTHER = "other", _("other")

    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="after_sales", verbose_name=_("shop"))
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="after_sales", verbose_name=_("order"))
    line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="after_sales", verbose_name=_("line"))
    buyer = models.ForeignKey(Buyer, on_delete=models.PROTECT, related_name="after_sales", verbose_name=_("buyer"))
    # The forward parcel carrying the line when the buyer applied (none if it had not shipped).
    parcel = models.ForeignKey(
        Parcel,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="after_sales",
        verbose_name=_("parcel"),
    )
    after_sale_no = models.CharField(_("after-sale number"), max_length=64, unique=True)
    type = models.CharField(_("type"), max_length=20, choices=Type.choices)
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    buyer_note = models.CharField(_("buyer's note"), max_length=500, blank=True)
    amount = models.DecimalField(_("amount"), **MONEY)
    refunded_amount = models.DecimalField(_("refunded amount"), default=Decimal("0.00"), **MONEY)
    status = models.CharField(_("status"), max_length=30, choices=Status.choices, default=Status.PENDING_MERCHANT)
    # This application's number among the order's applications, cancelled ones included (1–5).
    sequence = models.PositiveSmallIntegerField(_("application number"))
    # The line already had a successful refund when the buyer applied (多次退款).
    multi_refund = models.BooleanField(_("repeat refund"), default=False)
    deadline = models.DateTimeField(_("merchant deadline"), null=True, blank=True)
    flag = models.CharField(_("flag"), max_length=10, choices=Flag.choices, default=Flag.NONE, blank=True)
    remark = models.CharField(_("remark"), max_length=500, blank=True)
    # Optimistic concurrency: every change bumps it; a form posted with an older one is refused.
    version = models.PositiveIntegerField(_("version"), default=1)
    reject_reason = models.CharField(_("reject reason"), max_length=30, choices=RejectReason.choices, blank=True)
    reject_note = models.CharField(_("reject note"), max_length=500, blank=True)
    return_tracking_no = models.CharField(_("return tracking number"), max_length=64, blank=True)
    return_courier = models.CharField(_("return courier"), max_length=20, blank=True)
    last_actor = models.CharField(_("last actor"), max_length=20, choices=Actor.choices, default=Actor.BUYER)
    applied_at = models.DateTimeField(_("applied at"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("after-sale")
        verbose_name_plural = _("after-sales")
        ordering = ["deadline", "id"]
        constraints = [
            models.CheckConstraint(name="after_sale_amount_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(
                name="after_sale_refund_within_amount",
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=models.F("amount")),
            ),
            # At most five applications per order: the number is unique per order and at most 5.
            models.CheckConstraint(name="after_sale_sequence_1_to_5", condition=Q(sequence__gte=1, sequence__lte=5)),
            models.UniqueConstraint(fields=["order", "sequence"], name="after_sale_sequence_unique_per_order"),
            # One open after-sale per line at a time.
            models.UniqueConstraint(
                fields=["line"],
                condition=Q(status__in=OPEN_STATUS_VALUES),
                name="after_sale_one_open_per_line",
            ),
            models.CheckConstraint(
                name="after_sale_closed_has_no_deadline",
                condition=Q(status__in=OPEN_STATUS_VALUES) | Q(deadline__isnull=True),
            ),
        ]
        indexes = [
            # The workbench: every list is led by the shop, ordered by deadline then id.
            models.Index(fields=["shop", "deadline", "id"], name="as_shop_deadline_idx"),
            models.Index(fields=["shop", "status", "deadline", "id"], name="as_shop_status_deadline_idx"),
            models.Index(fields=["shop", "-applied_at", "-id"], name="as_shop_applied_idx"),
            models.Index(fields=["shop", "buyer", "type", "applied_at"], name="as_shop_buyer_idx"),
            # The timeout sweep: open after-sales past their deadline.
            models.Index(fields=["deadline"], condition=Q(deadline__isnull=False), name="as_deadline_open_idx"),
        ]

    def __str__(self):
        return self.after_sale_no

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class AfterSaleLog(models.Model):
    """The after-sale's history: every status change and every other action, with who did it."""

    class Action(models.TextChoices):
        APPLIED = "applied", _("buyer applied")
        STATUS = "status", _("status changed")
        DEADLINE = "deadline", _("deadline changed")
        REFUND = "refund", _("refund paid")
        FLAG = "flag", _("flag set")
        REMARK = "remark", _("remark changed")
        NOTIFICATION = "notification", _("buyer notified")
        RETURN_SHIPPED = "return_shipped", _("buyer shipped the return")
        INTERCEPTION = "interception", _("interception")  # a service order launched, or its result

    after_sale = models.ForeignKey(AfterSale, on_delete=models.CASCADE, related_name="logs")
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    from_status = models.CharField(_("from"), max_length=30, choices=AfterSale.Status.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=30, choices=AfterSale.Status.choices, blank=True)
    actor = models.CharField(_("actor"), max_length=20, choices=Actor.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("user")
    )
    message = models.CharField(_("message"), max_length=500, blank=True)
    at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("after-sale history entry")
        verbose_name_plural = _("after-sale history")
        ordering = ["after_sale", "at", "id"]
        indexes = [
            models.Index(fields=["after_sale", "at"], name="as_log_after_sale_idx"),
            models.Index(fields=["action", "to_status", "at"], name="as_log_metrics_idx"),
        ]

    def __str__(self):
        return f"{self.after_sale_id} {self.action} {self.at:%Y-%m-%d %H:%M}"


class RefundEntry(models.Model):
    """One refund, append-only. The line's and order's refunded counters are sums of these rows."""

    class Kind(models.TextChoices):
        REFUND_ONLY = "refund_only", _("refund only")
        RETURN_REFUND = "return_refund", _("return and refund")
        PRICE_PROTECTION = "price_protection", _("price protection")
        SMALL_PAYMENT = "small_payment", _("small payment")

    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="refunds")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="refunds")
    after_sale = models.ForeignKey(AfterSale, null=True, blank=True, on_delete=models.PROTECT, related_name="refunds")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    amount = models.DecimalField(_("amount"), **MONEY)
    actor = models.CharField(_("actor"), max_length=20, choices=Actor.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, verbose_name=_("user")
    )
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    # The same refund asked twice (a retried task, a double click) is recorded once.
    idempotency_key = models.CharField(_("idempotency key"), max_length=120, unique=True)
    # The moment of the refund, passed by the service that makes it (`at=`); now by default.
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refund ledger")
        ordering = ["created_at", "id"]
        constraints = [models.CheckConstraint(name="refund_amount_positive", condition=Q(amount__gt=0))]
        indexes = [models.Index(fields=["line", "created_at"], name="refund_line_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount}"


class BuyerNotification(models.Model):
    """A message the buyer must get, delivered by the worker to the platform's webhook until acknowledged."""

    class Kind(models.TextChoices):
        REFUSE_PARCEL = "refuse_parcel", _("refund after refusal agreed: please refuse the parcel")
        RETURN_AGREED = "return_agreed", _("return agreed: please send the goods back")
        REFUNDED = "refunded", _("refunded")
        REJECTED = "rejected", _("rejected")
        CARD = "card", _("after-sale card: you may apply")

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed, will not retry")
        SKIPPED = "skipped", _("no webhook configured")

    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="buyer_notifications")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="buyer_notifications")
    line = models.ForeignKey(OrderLine, null=True, blank=True, on_delete=models.PROTECT)
    after_sale = models.ForeignKey(
        AfterSale, null=True, blank=True, on_delete=models.PROTECT, related_name="notifications"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    payload = models.JSONField(_("payload"))
    status = models.CharField(_("delivery"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("buyer notification")
        verbose_name_plural = _("buyer notifications")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="notification_due_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} → {self.order_id}"


class ExportJob(models.Model):
    """A large workbench export built by the worker, with progress, for one user of one shop."""

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="export_jobs")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="export_jobs")
    format = models.CharField(_("format"), max_length=4, choices=Format.choices)
    query = models.CharField(_("filters"), max_length=2000, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    rows_done = models.PositiveIntegerField(_("rows written"), default=0)
    file = models.FileField(_("file"), upload_to="exports/%Y/%m/", blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.format} export #{self.pk}"


class EvidenceImage(models.Model):
    """An image the merchant attached to a rejection."""

    after_sale = models.ForeignKey(AfterSale, on_delete=models.CASCADE, related_name="evidence")
    image = models.FileField(_("image"), upload_to="evidence/%Y/%m/")
    content_type = models.CharField(_("type"), max_length=50)
    size = models.PositiveIntegerField(_("size"))
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now)

    class Meta:
        verbose_name = _("evidence image")
        verbose_name_plural = _("evidence images")

    def __str__(self):
        return self.image.name


class BulkJob(models.Model):
    """A decision the merchant took for many after-sales at once, carried out by the worker row by row.

    Each row is done whole or not at all (its own transaction), and its outcome is a BulkJobRow
    written in that same transaction: a job run twice, or by two workers at once, skips the rows that
    have an outcome and never acts twice on one after-sale.
    """

    class Kind(models.TextChoices):
        REJECT_SIGNED = "reject_signed", _("reject: the buyer signed for the goods")
        REFUND_RETURNED = "refund_returned", _("refund: the parcel came back")

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="bulk_jobs", verbose_name=_("shop"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bulk_jobs", verbose_name=_("by")
    )
    kind = models.CharField(_("action"), max_length=20, choices=Kind.choices)
    # {after-sale id: the version the merchant's page showed}: a row changed since is not acted on.
    versions = models.JSONField(_("after-sales"))
    send_card = models.BooleanField(_("send the after-sale card"), default=False)
    note = models.CharField(_("note"), max_length=200, blank=True)
    query = models.CharField(_("filters"), max_length=2000, blank=True)  # the workbench's, to go back to
    language = models.CharField(_("language"), max_length=10)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(_("created at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("bulk action")
        verbose_name_plural = _("bulk actions")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"


class BulkJobRow(models.Model):
    """The outcome of one after-sale of a bulk job: done, or why not."""

    job = models.ForeignKey(BulkJob, on_delete=models.CASCADE, related_name="rows", verbose_name=_("bulk action"))
    after_sale = models.ForeignKey(
        AfterSale, on_delete=models.CASCADE, related_name="bulk_rows", verbose_name=_("after-sale")
    )
    ok = models.BooleanField(_("done"))
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("bulk action row")
        verbose_name_plural = _("bulk action rows")
        ordering = ["job", "id"]
        constraints = [models.UniqueConstraint(fields=["job", "after_sale"], name="bulk_row_once")]

    def __str__(self):
        return f"#{self.job_id} · {self.after_sale_id}"
