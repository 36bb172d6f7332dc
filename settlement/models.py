"""Offline statements per shop × outlet × month with reconciliation, and claims on lost parcels."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from interception.models import FeeCharge, ServiceOrder
from shop.models import MONEY, Outlet, Shop


class Statement(models.Model):
    """The month's successful offline interceptions between one shop and one outlet, at the agreed fee."""

    class Status(models.TextChoices):
        OPEN = "open", _("open")  # the month is running: lines still arrive
        ISSUED = "issued", _("issued")  # the month is closed: both sides see it
        CONFIRMED = "confirmed", _("confirmed by the outlet")
        DISPUTED = "disputed", _("disputed by the outlet")
        SETTLED = "settled", _("settled")  # the merchant recorded the offline payment

    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="statements", verbose_name=_("shop"))
    outlet = models.ForeignKey(Outlet, on_delete=models.PROTECT, related_name="statements", verbose_name=_("outlet"))
    month = models.DateField(_("month"))  # the first day of the month, Asia/Shanghai
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    line_count = models.PositiveIntegerField(_("interceptions"), default=0)
    total = models.DecimalField(_("total (yuan)"), default=Decimal("0.00"), **MONEY)
    dispute_note = models.CharField(_("outlet's dispute note"), max_length=500, blank=True)
    payment_reference = models.CharField(_("payment reference"), max_length=100, blank=True)
    paid_amount = models.DecimalField(_("paid amount"), null=True, blank=True, **MONEY)
    issued_at = models.DateTimeField(_("issued at"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("offline statement")
        verbose_name_plural = _("offline statements")
        ordering = ["-month", "outlet__code"]
        constraints = [
            models.UniqueConstraint(fields=["shop", "outlet", "month"], name="statement_one_per_shop_outlet_month"),
            models.CheckConstraint(name="statement_total_not_negative", condition=Q(total__gte=0)),
        ]
        indexes = [
            models.Index(fields=["shop", "-month"], name="statement_shop_month_idx"),
            models.Index(fields=["outlet", "-month"], name="statement_outlet_month_idx"),
        ]

    def __str__(self):
        return f"{self.shop.code} × {self.outlet.code} {self.month:%Y-%m}"


class StatementLine(models.Model):
    """One successful offline interception on a statement (a snapshot of its fee charge)."""

    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="lines")
    fee_charge = models.OneToOneField(FeeCharge, on_delete=models.PROTECT, related_name="statement_line")
    service_order = models.ForeignKey(ServiceOrder, on_delete=models.PROTECT, related_name="+")
    tracking_no = models.CharField(_("tracking number"), max_length=64)
    amount = models.DecimalField(_("fee"), **MONEY)
    succeeded_at = models.DateTimeField(_("intercepted at"))

    class Meta:
        verbose_name = _("statement line")
        verbose_name_plural = _("statement lines")
        ordering = ["statement", "succeeded_at", "id"]
        indexes = [models.Index(fields=["statement", "tracking_no"], name="statement_line_tracking_idx")]

    def __str__(self):
        return f"{self.tracking_no} {self.amount}"


class StatementLog(models.Model):
    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="logs")
    from_status = models.CharField(_("from"), max_length=10, choices=Statement.Status.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=10, choices=Statement.Status.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    note = models.CharField(_("note"), max_length=500, blank=True)
    at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("statement history entry")
        verbose_name_plural = _("statement history")
        ordering = ["statement", "at", "id"]

    def __str__(self):
        return f"{self.statement_id}: {self.to_status}"


class Reconciliation(models.Model):
    """The outlet's bill, uploaded by the merchant, matched against a statement. Kept only when valid."""

    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="reconciliations")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    file_name = models.CharField(_("file"), max_length=200)
    summary = models.JSONField(_("summary"), default=dict)  # counts and totals per kind
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("reconciliation")
        verbose_name_plural = _("reconciliations")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.statement} ← {self.file_name}"


class ReconciliationRow(models.Model):
    class Kind(models.TextChoices):
        MATCHED = "matched", _("matched")
        FEE_DIFFERS = "fee_differs", _("fee differs")
        NOT_OURS = "not_ours", _("billed but not ours / not intercepted")
        NOT_BILLED = "not_billed", _("ours but not billed")
        BILLED_TWICE = "billed_twice", _("billed twice")

    reconciliation = models.ForeignKey(Reconciliation, on_delete=models.CASCADE, related_name="rows")
    kind = models.CharField(_("result"), max_length=20, choices=Kind.choices)
    tracking_no = models.CharField(_("tracking number"), max_length=64)
    billed_fee = models.DecimalField(_("billed fee"), null=True, blank=True, **MONEY)
    our_fee = models.DecimalField(_("our fee"), null=True, blank=True, **MONEY)
    bill_line = models.PositiveIntegerField(_("bill line"), null=True, blank=True)

    class Meta:
        verbose_name = _("reconciliation row")
        verbose_name_plural = _("reconciliation rows")
        ordering = ["reconciliation", "kind", "tracking_no"]

    def __str__(self):
        return f"{self.tracking_no}: {self.kind}"


class Claim(models.Model):
    """理赔 / 投诉: compensation for a parcel that was intercepted but never came back, or came back damaged."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("submitted")  # waiting for the outlet's answer
        ACCEPTED = "accepted", _("accepted by the outlet")  # the outlet agreed an amount, to pay offline
        DISPUTED = "disputed", _("disputed by the outlet")
        ARBITRATION = "arbitration", _("platform arbitration")  # disputed or unanswered: operators decide
        COMPENSATED = "compensated", _("compensated")  # paid offline, reference recorded
        REJECTED = "rejected", _("rejected")

    LIVE_STATUSES = (Status.SUBMITTED, Status.ACCEPTED, Status.DISPUTED, Status.ARBITRATION, Status.COMPENSATED)

    class Reason(models.TextChoices):
        LOST = "lost", _("lost")
        DAMAGED = "damaged", _("came back damaged")
        NOT_BACK = "not_back", _("has not come back")

    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="claims", verbose_name=_("shop"))
    outlet = models.ForeignKey(Outlet, on_delete=models.PROTECT, related_name="claims", verbose_name=_("outlet"))
    service_order = models.ForeignKey(
        ServiceOrder, on_delete=models.PROTECT, related_name="claims", verbose_name=_("service order")
    )
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.SUBMITTED)
    reason = models.CharField(_("reason"), max_length=10, choices=Reason.choices)
    description = models.CharField(_("description"), max_length=1000, blank=True)
    goods_value = models.DecimalField(_("goods' value"), **MONEY)
    amount = models.DecimalField(_("amount claimed"), **MONEY)
    accepted_amount = models.DecimalField(_("amount accepted"), null=True, blank=True, **MONEY)
    compensated_amount = models.DecimalField(_("amount compensated"), null=True, blank=True, **MONEY)
    payment_reference = models.CharField(_("payment reference"), max_length=100, blank=True)
    outlet_note = models.CharField(_("outlet's note"), max_length=500, blank=True)
    decision_note = models.CharField(_("decision"), max_length=500, blank=True)
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    filed_at = models.DateTimeField(_("filed at"))
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("claim")
        verbose_name_plural = _("claims")
        ordering = ["-filed_at", "-id"]
        constraints = [
            models.CheckConstraint(name="claim_amount_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(name="claim_amount_within_cap", condition=Q(amount__lte=Decimal("1000.00"))),
            models.CheckConstraint(name="claim_amount_within_goods", condition=Q(amount__lte=models.F("goods_value"))),
            models.CheckConstraint(
                name="claim_accepted_within_claim",
                condition=Q(accepted_amount__isnull=True) | Q(accepted_amount__lte=models.F("amount")),
            ),
            models.UniqueConstraint(
                fields=["service_order"],
                condition=Q(status__in=["submitted", "accepted", "disputed", "arbitration", "compensated"]),
                name="claim_one_live_per_service_order",
            ),
        ]
        indexes = [
            models.Index(fields=["shop", "-filed_at"], name="claim_shop_idx"),
            models.Index(fields=["outlet", "status"], name="claim_outlet_idx"),
            models.Index(fields=["status", "filed_at"], name="claim_status_idx"),
        ]

    def __str__(self):
        return f"claim #{self.pk} on {self.service_order}"


class ClaimLog(models.Model):
    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="logs")
    from_status = models.CharField(_("from"), max_length=12, choices=Claim.Status.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=12, choices=Claim.Status.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    note = models.CharField(_("note"), max_length=500, blank=True)
    at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("claim history entry")
        verbose_name_plural = _("claim history")
        ordering = ["claim", "at", "id"]

    def __str__(self):
        return f"{self.claim_id}: {self.to_status}"


class ClaimEvidence(models.Model):
    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="evidence")
    image = models.FileField(_("image"), upload_to="claims/%Y/%m/")
    content_type = models.CharField(_("type"), max_length=50)
    size = models.PositiveIntegerField(_("size"))
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("claim evidence")
        verbose_name_plural = _("claim evidence")

    def __str__(self):
        return self.image.name
