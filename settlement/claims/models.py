"""Claims (理赔 / 投诉) on interceptions whose parcel never came back, or came back damaged."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from interception.models import ServiceOrder
from shop.models import MONEY, Outlet, Shop


class Claim(models.Model):
    """理赔 / 投诉: compensation for a parcel that was intercepted but never came back, or came back damaged."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("submitted")  # waiting for the outlet's answer
        ACCEPTED = "accepted", _("accepted by the outlet")  # the outlet agreed an amount, to pay offline
        DISPUTED = "disputed", _("disputed by the outlet")
        ARBITRATION = "arbitration", _("platform arbitration")  # disputed, unanswered or unpaid: operators decide
        # Arbitration decided an amount the outlet owes (accepted_amount); paid once the merchant records it.
        AWARDED = "awarded", _("awarded by arbitration, payment due")
        COMPENSATED = "compensated", _("compensated")  # paid offline, reference recorded
        # Only arbitration rejects a claim (the outlet disputes, it does not reject): never "the merchant rejected".
        REJECTED = "rejected", _("rejected by arbitration")

    LIVE_STATUSES = (
        Status.SUBMITTED,
        Status.ACCEPTED,
        Status.DISPUTED,
        Status.ARBITRATION,
        Status.AWARDED,
        Status.COMPENSATED,
    )
    # Statuses in which an amount is owed and the merchant records its offline payment.
    PAYMENT_DUE_STATUSES = (Status.ACCEPTED, Status.AWARDED)
    CLOSED_STATUSES = (Status.COMPENSATED, Status.REJECTED)
    # Which status may follow which ("" is a claim being filed); `services._transition` refuses the rest.
    TRANSITIONS: dict[str, frozenset[str]] = {
        "": frozenset({Status.SUBMITTED}),
        Status.SUBMITTED: frozenset({Status.ACCEPTED, Status.DISPUTED, Status.ARBITRATION}),
        # Unpaid for SETTLEMENT_CLAIM_PAYMENT_ESCALATION_DAYS after the outlet accepted it: arbitration.
        Status.ACCEPTED: frozenset({Status.COMPENSATED, Status.ARBITRATION}),
        Status.DISPUTED: frozenset({Status.ARBITRATION}),
        # Compensated at once only when the decision comes with the payment's reference.
        Status.ARBITRATION: frozenset({Status.AWARDED, Status.COMPENSATED, Status.REJECTED}),
        Status.AWARDED: frozenset({Status.COMPENSATED}),
        Status.COMPENSATED: frozenset(),
        Status.REJECTED: frozenset(),
    }

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
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("filed by")
    )
    filed_at = models.DateTimeField(_("filed at"))
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    # When the outlet was reminded to pay the claim it accepted (once; rules.payment_step).
    payment_reminded_at = models.DateTimeField(_("payment reminded at"), null=True, blank=True)
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
                condition=Q(status__in=["submitted", "accepted", "disputed", "arbitration", "awarded", "compensated"]),
                name="claim_one_live_per_service_order",
            ),
        ]
        indexes = [
            models.Index(fields=["shop", "-filed_at"], name="claim_shop_idx"),
            models.Index(fields=["outlet", "status"], name="claim_outlet_idx"),
            models.Index(fields=["status", "filed_at"], name="claim_status_idx"),
        ]

    def __str__(self):
        return _("claim #%(pk)s on %(service_order)s") % {"pk": self.pk, "service_order": self.service_order}


class ClaimLog(models.Model):
    class Actor(models.TextChoices):
        """The platform's automatic rules that write history rows (a person's rows name the user)."""

        ANSWER_TIMEOUT = "answer_timeout", _("unanswered-claim rule")  # SETTLEMENT_CLAIM_ANSWER_DAYS passed
        PAYMENT_TIMEOUT = "payment_timeout", _("unpaid-claim rule")  # reminder, then arbitration, of an accepted claim

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="logs", verbose_name=_("claim"))
    from_status = models.CharField(_("from"), max_length=12, choices=Claim.Status.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=12, choices=Claim.Status.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("user")
    )
    actor = models.CharField(_("system actor"), max_length=20, choices=Actor.choices, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("claim history entry")
        verbose_name_plural = _("claim history")
        ordering = ["claim", "at", "id"]

    def __str__(self):
        return f"{self.claim_id}: {self.get_to_status_display()}"


class ClaimEvidence(models.Model):
    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="evidence", verbose_name=_("claim"))
    image = models.FileField(_("image"), upload_to="claims/%Y/%m/")
    content_type = models.CharField(_("type"), max_length=50)
    size = models.PositiveIntegerField(_("size"))
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now)

    class Meta:
        verbose_name = _("claim evidence")
        verbose_name_plural = _("claim evidence")

    def __str__(self):
        return self.image.name
