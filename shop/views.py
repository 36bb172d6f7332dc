from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.views.generic import DetailView, TemplateView
from django_filters.views import FilterView

from . import selectors
from .access import MerchantRequiredMixin
from .filters import OrderFilter
from .pagination import PagedTableMixin
from .tables import OrderTable


@login_required
def home(request):
    """Send each kind of user to their own home."""
    user = request.user
    if user.is_merchant:
        return redirect("aftersales:workbench")
    if user.is_outlet_staff:
        return redirect("outlet:portal")
    if user.is_operator or user.is_staff:
        return redirect("admin:index")
    return redirect("no-role")


class NoRoleView(TemplateView):
    """A login without a shop, outlet or operator role: say so instead of a blank 403."""

    template_name = "registration/no_role.html"


class OrderListView(MerchantRequiredMixin, PagedTableMixin, FilterView):
    table_class = OrderTable
    filterset_class = OrderFilter
    template_name = "shop/order_list.html"
    table_pagination = {"per_page": 25}

    def get_queryset(self):
        return selectors.orders_for_shop(shop=self.shop)


class OrderDetailView(MerchantRequiredMixin, DetailView):
    template_name = "shop/order_detail.html"
    slug_field = "order_no"
    slug_url_kwarg = "order_no"
    context_object_name = "order"

    def get_queryset(self):
        return selectors.order_detail_for_shop(shop=self.shop)
