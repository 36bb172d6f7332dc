"""What claims add to a lower app's pages: the "may complain" link on the service-order query.

Registered from `SettlementConfig.ready()` into interception's registry, so that interception never
names settlement. The provider makes no query: it sees only the row's pk, status and success time.
"""

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from interception.extensions import ServiceOrderLink, register_service_order_link
from shop.permissions import PermissionSet

from .rules import may_complain_now


def claim_link(service_order, *, now=None) -> ServiceOrderLink | None:
    """The claim form's link on an interception whose parcel is not back, while the claim window is open.

    Before day 7 after the success (and after day 30) the hint would invite a complaint that the
    claim form refuses: the row shows nothing, and the claim tracker says when the window opens.
    """
    if not may_complain_now(service_order.status, service_order.succeeded_at, now or timezone.now()):
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
