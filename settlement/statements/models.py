"""Offline statements per shop × outlet × month, their history, and reconciliations against the outlet's bill."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from interception.models import FeeCharge, ServiceOrder
from shop.models import MONEY, Outlet, Shop

NOTE_MAX_LENGTH = 500  # StatementLog.note, Statement.dispute_note
REFERENCE_MAX_LENGTH = 100  # Statement.payment_reference


class Statement(models.Model):
    """The month's successful offline interceptions between one shop and one outlet, at the agreed fee."""

    class Status(models.TextChoices):
        OPEN = "open", _("open")  # the month is running: lines still arrive
        ISSUED = "issued", _("issued")  # the month is closed: both sides see it
        CONFIRMED = "confirmed", _("confirmed by the outlet")
        DISPUTED = "disputed", _("disputed by the outlet")
        SETTLED = "settled", _("settled")  # the merchant recorded the offline payment

    # Which status may follow which; `services._transition` refuses anything else and changes nothing.
    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.OPEN: frozenset({Status.ISSUED}),
        Status.ISSUED: frozenset({Status.CONFIRMED, Status.DISPUTED}),
        Status.DISPUTED: frozenset({Status.ISSUED}),
        Status.CONFIRMED: frozenset({Status.SETTLED}),
        Status.SETTLED: frozenset(),
    }
    # Statements the outlet sees: every one whose month is closed.
    OUTLET_VISIBLE_STATUSES = (Status.ISSUED, Status.CONFIRMED, Status.DISPUTED, Status.SETTLED)

    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="statements", verbose_name=_("shop"))
    outlet = models.ForeignKey(Outlet, on_delete=models.PROTECT, related_name="statements", verbose_name=_("outlet"))
    month = models.DateField(_("month"))  # the first day of the month, Asia/Shanghai
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    line_count = models.PositiveIntegerField(_("interceptions"), default=0)
    total = models.DecimalField(_("total (yuan)"), default=Decimal("0.00"), **MONEY)
    dispute_note = models.CharField(_("outlet's dispute note"), max_length=NOTE_MAX_LENGTH, blank=True)
    payment_reference = models.CharField(_("payment reference"), max_length=REFERENCE_MAX_LENGTH, blank=True)
    paid_amount = models.DecimalField(_("paid amount"), null=True, blank=True, **MONEY)
    issued_at = models.DateTimeField(_("issued at"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

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
    note = models.CharField(_("note"), max_length=NOTE_MAX_LENGTH, blank=True)
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
    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now)

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
