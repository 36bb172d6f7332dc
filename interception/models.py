"""Outlet partnerships, interception service orders, their history, fees and the assistant rule."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Case, DecimalField, F, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from aftersales.models import AfterSale
from shop.models import MONEY, Courier, Outlet, Parcel, Shop


class Partnership(models.Model):
    """承诺拦截·线下结算: the shop and one outlet agree an interception fee, settled offline."""

    class Status(models.TextChoices):
        PENDING = "pending", _("awaiting outlet approval")  # the outlet has not answered yet
        ACTIVE = "active", _("active")  # effective: offline settlement at the agreed fee
        REJECTED = "rejected", _("rejected by the outlet")
        ENDED = "ended", _("ended")  # the merchant ended it

    # Which status may follow which; statuses move only through services.partnerships._transition.
    # A new partnership starts pending ("" → pending), and one that needs no approval moves on at once.
    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.PENDING: frozenset({Status.ACTIVE, Status.REJECTED, Status.ENDED}),
        Status.ACTIVE: frozenset({Status.ENDED}),
        Status.REJECTED: frozenset(),
        Status.ENDED: frozenset(),
    }
    LIVE_STATUSES = (Status.PENDING, Status.ACTIVE)

    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="partnerships", verbose_name=_("shop"))
    outlet = models.ForeignKey(Outlet, on_delete=models.PROTECT, related_name="partnerships", verbose_name=_("outlet"))
    fee = models.DecimalField(_("fee per parcel"), **MONEY)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    outlet_note = models.CharField(_("outlet's note"), max_length=300, blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("proposed by")
    )
    created_at = models.DateTimeField(_("applied at"), auto_now_add=True)
    effective_at = models.DateTimeField(_("effective at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)

    class Meta:
        verbose_name = _("outlet partnership")
        verbose_name_plural = _("outlet partnerships")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(name="partnership_fee_positive", condition=Q(fee__gt=0)),
            # At most one pending-or-active partnership between a shop and an outlet.
            models.UniqueConstraint(
                fields=["shop", "outlet"],
                condition=Q(status__in=["pending", "active"]),
                name="partnership_one_live_per_shop_outlet",
            ),
        ]
        indexes = [models.Index(fields=["outlet", "status"], name="partnership_outlet_idx")]

    def __str__(self):
        return f"{self.shop} × {self.outlet.code} ({self.get_status_display()})"


class PartnershipLog(models.Model):
    partnership = models.ForeignKey(Partnership, on_delete=models.CASCADE, related_name="logs")
    from_status = models.CharField(_("from"), max_length=10, choices=Partnership.Status.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=10, choices=Partnership.Status.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, verbose_name=_("by"))
    note = models.CharField(_("note"), max_length=300, blank=True)
    at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("partnership history entry")
        verbose_name_plural = _("partnership history")
        ordering = ["partnership", "at", "id"]

    def __str__(self):
        return f"{self.partnership_id}: {self.from_status} → {self.to_status}"


class InterceptionBatch(models.Model):
    """Several interceptions launched at once (bulk from the workbench, or pasted tracking numbers)."""

    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="interception_batches")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    via = models.CharField(_("launched via"), max_length=20)
    skipped = models.JSONField(_("skipped"), default=list)  # [{"ref": ..., "reason": ...}]
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("interception batch")
        verbose_name_plural = _("interception batches")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"batch #{self.pk}"


class ServiceOrder(models.Model):
    """服务单: one interception of one parcel, and its result."""

    class Mode(models.TextChoices):
        ONLINE = "online", _("online (platform)")  # 3 yuan, deducted by the platform on success
        OFFLINE = "offline", _("offline settlement")  # the partnership's fee, paid to the outlet

    class Via(models.TextChoices):
        DETAIL = "detail", _("after-sale detail")
        IM_CARD = "im_card", _("IM card")
        ASSISTANT_RULE = "assistant_rule", _("assistant rule")
        BULK = "bulk", _("bulk")
        PASTE = "paste", _("pasted tracking numbers")

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("submitted")  # recorded, carrier not called yet
        PROCESSING = "processing", _("processing")  # the carrier accepted it, result pending
        SUCCEEDED = "succeeded", _("succeeded")  # the parcel was stopped
        FAILED = "failed", _("failed")  # could not be stopped (see reason)
        RETURNING = "returning", _("returning")  # on its way back to the merchant
        RETURNED = "returned", _("returned")
        RETURN_FAILED = "return_failed", _("return failed")  # lost or damaged on the way back

    # A parcel has at most one interception that is not failed.
    LIVE_STATUSES = (
        Status.SUBMITTED,
        Status.PROCESSING,
        Status.SUCCEEDED,
        Status.RETURNING,
        Status.RETURNED,
        Status.RETURN_FAILED,
    )
    PENDING_STATUSES = (Status.SUBMITTED, Status.PROCESSING)
    # The fee is charged (a FeeCharge row, services.results) when the interception succeeds: these
    # statuses all come after a success. A failed or pending one has cost nothing, and shows no fee.
    CHARGED_STATUSES = (Status.SUCCEEDED, Status.RETURNING, Status.RETURNED, Status.RETURN_FAILED)
    # What a carrier (or the parcel's way back) may report.
    RESULT_STATUSES = frozenset(
        {Status.SUCCEEDED, Status.FAILED, Status.RETURNING, Status.RETURNED, Status.RETURN_FAILED}
    )
    # Which status may follow which; statuses move only through services.transitions. A result never
    # moves a service order back, and a failure is final. "processing" again is a re-sent carrier call.
    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.SUBMITTED: frozenset({Status.PROCESSING}) | RESULT_STATUSES,
        Status.PROCESSING: RESULT_STATUSES,
        Status.SUCCEEDED: frozenset({Status.RETURNING, Status.RETURNED, Status.RETURN_FAILED}),
        Status.RETURNING: frozenset({Status.RETURNED, Status.RETURN_FAILED}),
        Status.RETURNED: frozenset({Status.RETURN_FAILED}),  # opened, found damaged
        Status.FAILED: frozenset(),
        Status.RETURN_FAILED: frozenset(),
    }

    class ReturnFailure(models.TextChoices):
        NONE = "", "—"
        LOST = "lost", _("lost")
        DAMAGED = "damaged", _("damaged")

    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="service_orders", verbose_name=_("shop"))
    after_sale = models.ForeignKey(
        AfterSale, on_delete=models.PROTECT, related_name="service_orders", verbose_name=_("after-sale")
    )
    parcel = models.ForeignKey(
        Parcel, on_delete=models.PROTECT, related_name="service_orders", verbose_name=_("parcel")
    )
    courier = models.ForeignKey(Courier, on_delete=models.PROTECT, related_name="+", verbose_name=_("courier"))
    outlet = models.ForeignKey(
        Outlet, on_delete=models.PROTECT, related_name="service_orders", verbose_name=_("outlet")
    )
    partnership = models.ForeignKey(
        Partnership, null=True, blank=True, on_delete=models.PROTECT, related_name="service_orders"
    )
    batch = models.ForeignKey(
        InterceptionBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="service_orders"
    )
    mode = models.CharField(_("settlement mode"), max_length=10, choices=Mode.choices)
    fee = models.DecimalField(_("fee"), **MONEY)
    via = models.CharField(_("launched via"), max_length=20, choices=Via.choices)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.SUBMITTED)
    failure_reason = models.CharField(_("failure reason"), max_length=200, blank=True)
    return_failure = models.CharField(
        _("return failure"), max_length=10, choices=ReturnFailure.choices, default="", blank=True
    )
    carrier_ref = models.CharField(_("carrier reference"), max_length=64, blank=True)
    # The carrier's time of the latest result applied: an older callback never overrides it.
    result_at = models.DateTimeField(_("result at"), null=True, blank=True)
    succeeded_at = models.DateTimeField(_("succeeded at"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("carrier calls"), default=0)
    # When we last sent it to the carrier or asked the carrier about it: the stuck-orders sweep asks again
    # once the courier's result timeout has passed since (services.sweep).
    carrier_checked_at = models.DateTimeField(_("carrier last asked at"), null=True, blank=True)
    # Why a pending service order is waiting and not failed (the carrier refused our configuration).
    waiting_reason = models.CharField(_("waiting because"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("launched by")
    )
    created_at = models.DateTimeField(_("launched at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("interception service order")
        verbose_name_plural = _("interception service orders")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(name="service_order_fee_not_negative", condition=Q(fee__gte=0)),
            models.UniqueConstraint(
                fields=["parcel"],
                condition=Q(
                    status__in=["submitted", "processing", "succeeded", "returning", "returned", "return_failed"]
                ),
                name="service_order_one_live_per_parcel",
            ),
        ]
        indexes = [
            models.Index(fields=["shop", "-created_at", "-id"], name="so_shop_created_idx"),
            models.Index(fields=["shop", "status", "-created_at"], name="so_shop_status_idx"),
            models.Index(fields=["outlet", "-created_at"], name="so_outlet_created_idx"),
            models.Index(fields=["batch", "status"], name="so_batch_idx"),
            models.Index(fields=["status", "carrier_checked_at"], name="so_stuck_idx"),
        ]

    def __str__(self):
        return f"SO{self.pk:08d}" if self.pk else "SO(new)"

    @property
    def charged_fee(self):
        """The fee this interception costs the merchant (as the fee ledger has it), or None: not charged."""
        return self.fee if self.status in self.CHARGED_STATUSES else None

    @classmethod
    def charged_fee_expression(cls):
        """`charged_fee` as SQL, for lists and exports computed by the database."""
        return Case(
            When(status__in=cls.CHARGED_STATUSES, then=F("fee")),
            default=Value(None),
            output_field=DecimalField(max_digits=12, decimal_places=2),
        )

    @property
    def number(self) -> str:
        return str(self)


class ServiceOrderLog(models.Model):
    """The service order's history: every status change, with who or what moved it."""

    class Actor(models.TextChoices):
        MERCHANT = "merchant", _("merchant")  # launched (or launched again) by a merchant's user
        ASSISTANT_RULE = "assistant_rule", _("after-sales assistant rule")  # launched by the shop's rule
        PLATFORM = "platform", _("platform")  # the carrier task, or the parcel's tracking events
        CARRIER = "carrier", _("carrier")  # the carrier's answer or callback

    service_order = models.ForeignKey(ServiceOrder, on_delete=models.CASCADE, related_name="logs")
    from_status = models.CharField(_("from"), max_length=20, choices=ServiceOrder.Status.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=20, choices=ServiceOrder.Status.choices)
    actor = models.CharField(_("actor"), max_length=20, choices=Actor.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("user")
    )
    message = models.CharField(_("message"), max_length=300, blank=True)
    at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("service order history entry")
        verbose_name_plural = _("service order history")
        ordering = ["service_order", "at", "id"]

    def __str__(self):
        return f"{self.service_order_id}: {self.to_status}"


class CarrierCallback(models.Model):
    """A result reported by a carrier, kept so that a replayed callback changes nothing."""

    callback_id = models.CharField(_("callback id"), max_length=100, unique=True)
    service_order = models.ForeignKey(ServiceOrder, on_delete=models.CASCADE, related_name="callbacks")
    status = models.CharField(_("status"), max_length=20)
    occurred_at = models.DateTimeField(_("occurred at"))
    applied = models.BooleanField(_("applied"), default=True)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        verbose_name = _("carrier callback")
        verbose_name_plural = _("carrier callbacks")

    def __str__(self):
        return self.callback_id


class CarrierAlert(models.Model):
    """An operator alert: a courier's carrier answered 401, 403 or 404, usually a wrong key or URL of ours.

    While it is open, calls to that courier are paused and its service orders wait (not failed). It
    closes when an operator says the configuration is fixed, or when the carrier answers again; the
    stuck-orders sweep then sends the waiting orders again.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("open")  # calls to the courier are paused
        CLOSED = "closed", _("closed")  # fixed: calls resume

    courier = models.ForeignKey(Courier, on_delete=models.PROTECT, related_name="+", verbose_name=_("courier"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    http_status = models.PositiveSmallIntegerField(_("HTTP status"))
    message = models.CharField(_("carrier's answer"), max_length=300)
    occurrences = models.PositiveIntegerField(_("times seen"), default=1)
    opened_at = models.DateTimeField(_("opened at"))
    last_seen_at = models.DateTimeField(_("last seen at"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("closed by")
    )
    close_note = models.CharField(_("closing note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("carrier configuration alert")
        verbose_name_plural = _("carrier configuration alerts")
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["courier"], condition=Q(status="open"), name="carrier_alert_one_open"),
        ]

    def __str__(self):
        return f"{self.courier_id}: HTTP {self.http_status} ({self.status})"


class FeeCharge(models.Model):
    """An interception fee owed because an interception succeeded. Append-only; one per service order."""

    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="fee_charges")
    service_order = models.OneToOneField(ServiceOrder, on_delete=models.PROTECT, related_name="fee_charge")
    courier = models.ForeignKey(Courier, on_delete=models.PROTECT, related_name="+")
    outlet = models.ForeignKey(Outlet, on_delete=models.PROTECT, related_name="fee_charges")
    mode = models.CharField(_("settlement mode"), max_length=10, choices=ServiceOrder.Mode.choices)
    amount = models.DecimalField(_("amount"), **MONEY)
    charged_at = models.DateTimeField(_("charged at"))

    class Meta:
        verbose_name = _("interception fee")
        verbose_name_plural = _("interception fee ledger")
        ordering = ["charged_at", "id"]
        constraints = [models.CheckConstraint(name="fee_charge_not_negative", condition=Q(amount__gte=0))]
        indexes = [
            models.Index(fields=["shop", "charged_at"], name="fee_shop_charged_idx"),
            models.Index(fields=["outlet", "mode", "charged_at"], name="fee_outlet_idx"),
        ]

    def __str__(self):
        return f"{self.service_order} {self.amount}"


class AssistantRule(models.Model):
    """售后小助手 "快递拦截自动退": intercept at once when a matching refund-only request arrives."""

    shop = models.OneToOneField(Shop, on_delete=models.CASCADE, related_name="interception_rule")
    enabled = models.BooleanField(_("enabled"), default=False)
    min_amount = models.DecimalField(_("from amount"), default=Decimal("0.00"), **MONEY)
    max_amount = models.DecimalField(_("up to amount"), default=Decimal("999.99"), **MONEY)
    couriers = models.ManyToManyField(Courier, blank=True, verbose_name=_("couriers"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("interception assistant rule")
        verbose_name_plural = _("interception assistant rules")
        constraints = [
            models.CheckConstraint(
                name="assistant_rule_amount_range",
                condition=Q(min_amount__gte=0, max_amount__gte=models.F("min_amount")),
            )
        ]

    def __str__(self):
        return f"{self.shop}: {'on' if self.enabled else 'off'}"


class AssistantRuleLog(models.Model):
    """The assistant rule's history: what each save set, and who saved it. Append-only."""

    rule = models.ForeignKey(AssistantRule, on_delete=models.CASCADE, related_name="logs")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("by")
    )
    enabled = models.BooleanField(_("enabled"))
    min_amount = models.DecimalField(_("from amount"), **MONEY)
    max_amount = models.DecimalField(_("up to amount"), **MONEY)
    couriers = models.JSONField(_("couriers"), default=list)  # courier codes, sorted; [] = all
    at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("assistant rule history entry")
        verbose_name_plural = _("assistant rule history")
        ordering = ["rule", "at", "id"]

    def __str__(self):
        return f"{self.rule_id}: {'on' if self.enabled else 'off'} {self.min_amount}–{self.max_amount}"
