"""Who may open which area, and which permission set a page needs. Tenancy itself is in the selectors.

A view states what it needs next to its login mixin, and the mixin checks it before anything else:

    class StatementPaymentView(MerchantRequiredMixin, View):
        permission_set = PermissionSet.SETTLEMENT          # every method
    class AssistantRuleView(MerchantRequiredMixin, View):
        write_permission_set = PermissionSet.INTERCEPTION  # POST only; reading stays open

A refusal is a 403 naming the set ("需要结算权限"); the services check the same sets again, for the
admin and the API that call them without a view.
"""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied

from . import permissions

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class _PermissionSetMixin:
    # The set needed for every method, and the one needed for a write (POST) on top of it.
    permission_set: str | None = None
    write_permission_set: str | None = None

    def check_permission_sets(self, request) -> None:
        needed = [self.permission_set]
        if request.method not in SAFE_METHODS:
            needed.append(self.write_permission_set)
        for one in needed:
            if one is not None and not permissions.has(request.user, one):
                raise permissions.PermissionRefused(one)


class MerchantRequiredMixin(_PermissionSetMixin, LoginRequiredMixin):
    """Merchant pages: staff of a shop only. Outlet staff and operators are refused (403)."""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not request.user.is_merchant:
            raise PermissionDenied
        self.check_permission_sets(request)
        self.shop = request.user.shop
        return super().dispatch(request, *args, **kwargs)


class OutletStaffRequiredMixin(_PermissionSetMixin, LoginRequiredMixin):
    """Outlet portal pages: staff of a courier outlet only."""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not request.user.is_outlet_staff:
            raise PermissionDenied
        self.check_permission_sets(request)
        self.outlet = request.user.outlet
        return super().dispatch(request, *args, **kwargs)
