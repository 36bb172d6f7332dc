from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import DetailView, TemplateView
from django_filters.views import FilterView

from . import selectors
from .access import MerchantRequiredMixin
from .errors import DomainError, NotFound
from .filters import OrderFilter
from .pagination import PagedTableMixin
from .tables import OrderTable


def form_errors_message(form) -> str:
    """One line naming each invalid field and why, for a message above the page."""
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        parts.append(f"{label}: {' '.join(errors)}" if label else " ".join(errors))
    return _("Nothing was done: %(errors)s") % {"errors": "; ".join(parts)}


class PostActionView(View):
    """POST only: one form, one service call, a `DomainError` becomes an error message, then a redirect.

    Put the login and role mixin first, so that its checks run before anything here. A subclass sets
    `form_class` and `success_message` and writes:
    - `get_object()`: the object acted on, looked up in the viewer's scope (another tenant's is a 404,
      exactly like a missing one); None when the action needs none;
    - `perform(obj, data)`: the one service call; it may return the success message;
    - `get_success_url()`: where to go afterwards (`get_failure_url()`, after a refusal or an invalid
      form, goes there too unless overridden).
    An invalid form changes nothing and becomes one error message (`form_invalid()` may show a page
    instead); a `NotFound` from the service is a 404.
    """

    http_method_names = ["post", "options"]
    form_class: type
    success_message = ""

    def post(self, request, *args, **kwargs):
        self.object = self.get_object()
        form = self.get_form()
        if not form.is_valid():
            return self.form_invalid(form)
        try:
            message = self.perform(self.object, form.cleaned_data)
        except NotFound:
            raise Http404 from None
        except DomainError as error:
            messages.error(request, error.message)
            return redirect(self.get_failure_url())
        messages.success(request, message or self.get_success_message())
        return redirect(self.get_success_url())

    def get_object(self):
        return None

    def get_form(self):
        return self.form_class(self.request.POST, self.request.FILES)

    def form_invalid(self, form):
        messages.error(self.request, form_errors_message(form))
        return redirect(self.get_failure_url())

    def perform(self, obj, data: dict) -> str | None:
        raise NotImplementedError

    def get_success_message(self) -> str:
        return self.success_message

    def get_success_url(self) -> str:
        raise NotImplementedError

    def get_failure_url(self) -> str:
        return self.get_success_url()


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
