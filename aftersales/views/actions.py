"""The merchant's actions on one after-sale: one form and one service call each.

An invalid form shows the detail page again with the form's errors and changes nothing; a refusal
by the service (a rule, a stale page) becomes an error message; both leave the after-sale as it was.
"""

from django.contrib import messages
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shop.access import MerchantRequiredMixin
from shop.evidence import EVIDENCE_UPLOAD
from shop.permissions import PermissionSet
from shop.views import PostActionView

from .. import forms, selectors, services
from ..models import AfterSale
from .detail import render_detail


class AfterSaleActionView(MerchantRequiredMixin, PostActionView):
    """POST only. The login and role checks run first (anonymous: login; outlet staff: 403); then
    another shop's after-sale is a 404, exactly like a missing one."""

    permission_set = PermissionSet.AFTERSALES

    form_class: type[forms.ActionForm]

    def get_object(self) -> AfterSale:
        return get_object_or_404(
            selectors.after_sales_for_shop(shop=self.shop), after_sale_no=self.kwargs["after_sale_no"]
        )

    def form_invalid(self, form):
        messages.error(self.request, _("Nothing was done: please correct the form."))
        return render_detail(
            self.request, shop=self.shop, after_sale_no=self.kwargs["after_sale_no"], bound={form.key: form}
        )

    def get_success_url(self) -> str:
        return reverse("aftersales:after-sale-detail", kwargs={"after_sale_no": self.kwargs["after_sale_no"]})

    def perform(self, after_sale: AfterSale, data: dict) -> str | None:
        raise NotImplementedError


class AfterSaleAgreeRefundView(AfterSaleActionView):
    form_class = forms.AgreeRefundForm
    success_message = gettext_lazy("Refund agreed.")

    def perform(self, after_sale, data):
        services.agree_refund(
            after_sale_id=after_sale.pk, shop=self.shop, user=self.request.user, expected_version=data["version"]
        )


class AfterSaleAgreeReturnView(AfterSaleActionView):
    form_class = forms.AgreeReturnForm
    success_message = gettext_lazy("Return agreed: the buyer was asked to send the goods back.")

    def perform(self, after_sale, data):
        services.agree_return(
            after_sale_id=after_sale.pk, shop=self.shop, user=self.request.user, expected_version=data["version"]
        )


class AfterSaleConfirmReceiptView(AfterSaleActionView):
    form_class = forms.ConfirmReceiptForm
    success_message = gettext_lazy("Goods received and refund paid.")

    def perform(self, after_sale, data):
        services.confirm_receipt_and_refund(
            after_sale_id=after_sale.pk, shop=self.shop, user=self.request.user, expected_version=data["version"]
        )


class AfterSaleRejectView(AfterSaleActionView):
    form_class = forms.RejectForm
    upload_limit = EVIDENCE_UPLOAD
    success_message = gettext_lazy("After-sale rejected.")

    def perform(self, after_sale, data):
        services.reject_after_sale(
            after_sale_id=after_sale.pk,
            shop=self.shop,
            user=self.request.user,
            reason=data["reason"],
            note=data["note"],
            evidence=data["evidence"],
            expected_version=data["version"],
        )


class AfterSaleSmallPaymentView(AfterSaleActionView):
    form_class = forms.SmallPaymentForm

    def perform(self, after_sale, data):
        services.pay_small_amount(
            after_sale_id=after_sale.pk,
            shop=self.shop,
            user=self.request.user,
            amount=data["amount"],
            reason=data["reason"],
            idempotency_key=str(data["idempotency_key"]),
            expected_version=data["version"],
        )
        return _("Small payment of %(amount)s yuan paid.") % {"amount": f"{data['amount']:.2f}"}


class AfterSaleFlagView(AfterSaleActionView):
    form_class = forms.FlagForm
    success_message = gettext_lazy("Flag and remark saved.")

    def perform(self, after_sale, data):
        services.flag_and_remark(
            shop=self.shop,
            user=self.request.user,
            versions={after_sale.pk: data["version"]},
            flag=data["flag"],
            remark=data["remark"],
        )


class AfterSaleSendCardView(AfterSaleActionView):
    form_class = forms.SendCardForm
    success_message = gettext_lazy("After-sale card sent: the buyer is invited to apply.")

    def perform(self, after_sale, data):
        services.send_after_sale_card(
            shop=self.shop,
            user=self.request.user,
            line_id=after_sale.line_id,
            after_sale_id=after_sale.pk,
            expected_version=data["version"],
        )
