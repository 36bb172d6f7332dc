"""The after-sale detail page: the order, parcels, refund ledger, history and buyer of one after-sale,
with the merchant's actions (each posted to its own view in `actions`), and its evidence images."""

from dataclasses import dataclass, replace

from django import forms as django_forms
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views import View

from shop import permissions
from shop.access import MerchantRequiredMixin
from shop.evidence import serve_evidence
from shop.models import Parcel
from shop.permissions import PermissionSet

from .. import extensions, forms, rules, selectors, services
from ..models import AfterSale

TEMPLATE = "aftersales/after_sale_detail.html"


@dataclass(frozen=True)
class Action:
    """One of the merchant's actions as the page shows it: enabled with its form, or why not."""

    key: str
    url_name: str
    form: django_forms.Form
    blocker: str | None  # the reason the action is not available now (shown on hover), or None


def _card_blocker(after_sale: AfterSale) -> str | None:
    # The card invites the buyer to apply: the same rules as an application of any amount.
    facts = services.application_facts(after_sale.order, after_sale.line)
    try:
        rules.check_application(facts, type=AfterSale.Type.REFUND_ONLY, amount=None)
    except rules.Refusal as refusal:
        return refusal.message
    return None


def _signed_after_refusal(after_sale: AfterSale) -> bool:
    """The buyer signed for the parcel: the merchant may reject, pointing the buyer to return and refund."""
    return (
        after_sale.status == AfterSale.Status.REFUND_AFTER_REFUSAL
        and after_sale.parcel_id is not None
        and after_sale.parcel.status == Parcel.Status.SIGNED
    )


def _actions(
    after_sale: AfterSale, bound: dict[str, django_forms.Form], *, signed_after_refusal, refused: str | None = None
) -> dict[str, Action]:
    facts = services.action_facts(after_sale)
    version = {"version": after_sale.version}
    reject_initial = {**version, "reason": AfterSale.RejectReason.GOODS_SIGNED} if signed_after_refusal else version
    flag_initial = {**version, "flag": after_sale.flag, "remark": after_sale.remark}
    specs = [
        ("agree-refund", forms.AgreeRefundForm, version, rules.agree_refund_blocker(facts)),
        ("agree-return", forms.AgreeReturnForm, version, rules.agree_return_blocker(facts)),
        ("confirm-receipt", forms.ConfirmReceiptForm, version, rules.confirm_receipt_blocker(facts)),
        ("reject", forms.RejectForm, reject_initial, rules.reject_blocker(facts)),
        (
            "small-payment",
            forms.SmallPaymentForm,
            version,
            rules.small_payment_blocker(line_refundable=after_sale.line.refundable_amount),
        ),
        ("flag", forms.FlagForm, flag_initial, None),
        ("send-card", forms.SendCardForm, version, _card_blocker(after_sale)),
    ]
    return {
        form_class.key: Action(
            form_class.key,
            f"aftersales:{url_name}",
            bound.get(form_class.key) or form_class(initial=initial),
            refused or blocker,
        )
        for url_name, form_class, initial, blocker in specs
    }


def detail_context(
    *, shop, after_sale: AfterSale, bound: dict[str, django_forms.Form] | None = None, viewer=None
) -> dict:
    now = timezone.now()
    signed_after_refusal = _signed_after_refusal(after_sale)
    # A member without after-sales handling sees every action disabled, with the reason (one check a page).
    refused = permissions.blocker(viewer, PermissionSet.AFTERSALES) if viewer is not None else None
    abuse = selectors.abuse_stats(shop=shop, buyer_ids=[after_sale.buyer_id], now=now).get(after_sale.buyer_id)
    order_refunds = list(selectors.order_refunds(shop=shop, order_id=after_sale.order_id))
    return {
        "after_sale": after_sale,
        "order": after_sale.order,
        "line": after_sale.line,
        "now": now,
        "amount_due": after_sale.amount - after_sale.refunded_amount,
        "overdue": after_sale.deadline is not None and after_sale.deadline <= now,
        "about_to_time_out": rules.is_about_to_time_out(after_sale.deadline, now),
        # The line's refunds are the order's of this line: one query for both tables of the ledger.
        "line_refunds": [entry for entry in order_refunds if entry.line_id == after_sale.line_id],
        "order_refunds": order_refunds,
        "history": after_sale.logs.all(),
        "evidence": after_sale.evidence.all(),
        "notifications": list(selectors.line_notifications_for_shop(shop=shop, line_id=after_sale.line_id)),
        "abuse": abuse or {"count": 0, "amount": None, "flagged": False},
        "abuse_window_days": rules.ABUSE_WINDOW.days,
        "signed_after_refusal": signed_after_refusal,
        "actions": _actions(
            after_sale,
            bound or {},
            signed_after_refusal=signed_after_refusal,
            refused=refused,
        ),
        "extension_actions": [
            replace(action, blocker=refused or action.blocker) for action in extensions.actions_for(after_sale)
        ],
        "extension_sections": extensions.sections_for(after_sale),
        "open_action": next(iter(bound), None) if bound else None,
    }


def render_detail(request, *, shop, after_sale_no: str, bound: dict[str, django_forms.Form] | None = None):
    """The detail page; `bound` holds an action's form with its errors, shown open in place of a fresh one."""
    after_sale = get_object_or_404(selectors.after_sale_detail_for_shop(shop=shop), after_sale_no=after_sale_no)
    return render(request, TEMPLATE, detail_context(shop=shop, after_sale=after_sale, bound=bound, viewer=request.user))


class AfterSaleDetailView(MerchantRequiredMixin, View):
    http_method_names = ["get", "head", "options"]

    def get(self, request, after_sale_no):
        return render_detail(request, shop=self.shop, after_sale_no=after_sale_no)


class EvidenceImageView(MerchantRequiredMixin, View):
    """An evidence image of one of the shop's after-sales; never served from a public URL."""

    http_method_names = ["get", "head", "options"]

    def get(self, request, after_sale_no, pk):
        image = get_object_or_404(selectors.evidence_for_shop(shop=self.shop, after_sale_no=after_sale_no), pk=pk)
        return serve_evidence(image.image, content_type=image.content_type)
