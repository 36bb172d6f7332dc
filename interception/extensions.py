"""What interception adds to the after-sales pages (the intercept action, the bulk action, row tags),
and the registry through which higher layers add links to its service-order query.

A higher layer (settlement: "not back yet: may complain") registers a provider from its AppConfig.ready();
interception never imports it, nor names its URLs.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from aftersales.extensions import (
    BulkAction,
    DetailAction,
    DetailSection,
    register_bulk_action,
    register_detail_actions,
    register_detail_sections,
    register_row_tagger,
)

from . import rules
from .models import ServiceOrder


@dataclass(frozen=True)
class ServiceOrderLink:
    """A link on a row of the service-order query: <a class="badge {css_class}" data-{key}-for="{pk}">."""

    key: str  # e.g. "claim"
    label: str
    url: str
    css_class: str = ""  # e.g. "badge-complain"
    # The permission set (shop.permissions) the link's page needs: shown disabled with the reason without it.
    needs: str | None = None


# provider(service_order) -> ServiceOrderLink | None. Pure: no queries (it sees the row's pk and status).
ServiceOrderLinkProvider = Callable[[ServiceOrder], "ServiceOrderLink | None"]
_service_order_link_providers: list[ServiceOrderLinkProvider] = []


def register_service_order_link(provider: ServiceOrderLinkProvider) -> None:
    """Add a provider of links for the rows of the service-order query (once; registering again is a no-op)."""
    if provider not in _service_order_link_providers:
        _service_order_link_providers.append(provider)


def links_for(service_order: ServiceOrder) -> list[ServiceOrderLink]:
    """The links the registered providers give this service order, in registration order."""
    return [link for provider in _service_order_link_providers if (link := provider(service_order)) is not None]


TAGS = {
    ServiceOrder.Status.SUBMITTED: ("tag-intercepting", gettext_lazy("Intercepting")),
    ServiceOrder.Status.PROCESSING: ("tag-intercepting", gettext_lazy("Intercepting")),
    ServiceOrder.Status.SUCCEEDED: ("tag-intercepted", gettext_lazy("Intercepted")),
    ServiceOrder.Status.RETURNING: ("tag-intercepted", gettext_lazy("Intercepted, returning")),
    ServiceOrder.Status.RETURNED: ("tag-intercepted", gettext_lazy("Intercepted, returned")),
    ServiceOrder.Status.RETURN_FAILED: ("tag-intercept-failed", gettext_lazy("Intercepted, return failed")),
    ServiceOrder.Status.FAILED: ("tag-intercept-failed", gettext_lazy("Interception failed")),
}


def interception_tags(after_sales: list) -> dict[int, list[tuple[str, str]]]:
    """The latest interception state of each after-sale on the page, in one query."""
    rows = (
        ServiceOrder.objects.filter(after_sale_id__in=[a.pk for a in after_sales])
        .order_by("after_sale_id", "-id")
        .values_list("after_sale_id", "status")
    )
    latest: dict[int, str] = {}
    for after_sale_id, status in rows:
        latest.setdefault(after_sale_id, status)
    return {after_sale_id: [(TAGS[status][0], str(TAGS[status][1]))] for after_sale_id, status in latest.items()}


def intercept_actions(after_sale) -> list[DetailAction]:
    parcel = after_sale.parcel
    live = (
        parcel is not None
        and ServiceOrder.objects.filter(parcel=parcel, status__in=ServiceOrder.LIVE_STATUSES).exists()
    )
    blocker = rules.interception_blocker(
        rules.Eligibility(
            after_sale_status=after_sale.status,
            after_sale_type=after_sale.type,
            parcel_status=parcel.status if parcel else None,
            courier_supports_online=bool(parcel and parcel.courier.supports_online_interception),
            has_live_service_order=live,
        )
    )
    kwargs = {"after_sale_no": after_sale.after_sale_no}
    return [
        DetailAction("intercept", _("Intercept the parcel"), reverse("interception:intercept", kwargs=kwargs), blocker),
        DetailAction("im-card", _("IM card"), reverse("interception:im-card", kwargs=kwargs), None, primary=False),
    ]


def interception_story(after_sale) -> list[DetailSection]:
    """The after-sale's service orders, newest first, for its detail page: one query."""
    orders = list(
        ServiceOrder.objects.filter(after_sale_id=after_sale.pk)
        .select_related("courier", "outlet", "parcel")
        .order_by("-created_at", "-id")
    )
    query = reverse("interception:service-orders") + "?" + urlencode({"q": after_sale.after_sale_no})
    rows = [
        {
            "order": order,
            "url": reverse("interception:batch", kwargs={"pk": order.batch_id}) if order.batch_id else query,
            "reason": order.failure_reason
            or (order.get_return_failure_display() if order.return_failure else order.waiting_reason),
        }
        for order in orders
    ]
    if not rows:
        return []
    context = {"rows": rows, "query_url": query}
    return [DetailSection("interception", "interception/partials/_after_sale_story.html", context)]


def register() -> None:
    register_bulk_action(
        BulkAction(
            key="intercept",
            label=gettext_lazy("Intercept ticked"),
            url_name="interception:bulk-preview",
            all_filtered_label=gettext_lazy("Intercept all filtered"),
        )
    )
    register_row_tagger(interception_tags)
    register_detail_actions(intercept_actions)
    register_detail_sections(interception_story)
