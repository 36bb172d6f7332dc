"""What claims add to a lower app's pages: the "may complain" link on the service-order query.

Registered from `SettlementConfig.ready()` into interception's registry, so that interception never
names settlement. The provider is pure (no query): it sees only the row's pk and status.
"""

from django.urls import reverse
from django.utils.translation import gettext as _

from interception.extensions import ServiceOrderLink, register_service_order_link
from shop.permissions import PermissionSet

from .rules import CLAIMABLE_STATUSES


def claim_link(service_order) -> ServiceOrderLink | None:
    """The claim form's link on an interception that succeeded and whose parcel is not back in one piece."""
    if service_order.status not in CLAIMABLE_STATUSES:
        return None
    return ServiceOrderLink(
        key="claim",
        label=_("not back yet: may complain"),
        url=reverse("settlement:claim-new", kwargs={"service_order_pk": service_order.pk}),
        css_class="badge-complain",
        needs=PermissionSet.SETTLEMENT,
    )


def register() -> None:
    register_service_order_link(claim_link)
