"""Who may open which area. Tenancy itself is in the selectors: they scope every query."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied


class MerchantRequiredMixin(LoginRequiredMixin):
    """Merchant pages: staff of a shop only. Outlet staff and operators are refused (403)."""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not request.user.is_merchant:
            raise PermissionDenied
        self.shop = request.user.shop
        return super().dispatch(request, *args, **kwargs)


class OutletStaffRequiredMixin(LoginRequiredMixin):
    """Outlet portal pages: staff of a courier outlet only."""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not request.user.is_outlet_staff:
            raise PermissionDenied
        self.outlet = request.user.outlet
        return super().dispatch(request, *args, **kwargs)
