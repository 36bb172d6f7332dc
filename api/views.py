"""The owner's API page (开放接口): tokens and webhook endpoints with their deliveries.

Only staff with the shop admin permission set may open it (the owner always has it); others get 403.
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views import View

from shop.access import MerchantRequiredMixin
from shop.errors import DomainError, NotFound
from shop.permissions import PermissionSet

from . import tokens, webhooks
from .forms import EndpointForm, TokenForm
from .models import ApiToken, WebhookDelivery

RECENT_DELIVERIES = 20


class OwnerRequiredMixin(MerchantRequiredMixin):
    # The name stays for the views below; since the permission sets, "owner" means shop admin.
    permission_set = PermissionSet.SHOP_ADMIN


def render_page(request, shop, *, token_form=None, endpoint_form=None, new_secret=None, new_endpoint=None, status=200):
    endpoints = list(webhooks.endpoints_for_shop(shop=shop))
    for endpoint in endpoints:
        endpoint.recent = list(
            WebhookDelivery.objects.filter(endpoint=endpoint)
            .defer("body")
            .order_by("-created_at", "-id")[:RECENT_DELIVERIES]
        )
    context = {
        "tokens": ApiToken.objects.filter(shop=shop).select_related("created_by"),
        "endpoints": endpoints,
        "disabled": [endpoint for endpoint in endpoints if endpoint.disabled_at],
        "token_form": token_form or TokenForm(),
        "endpoint_form": endpoint_form or EndpointForm(),
        "new_secret": new_secret,
        "new_endpoint": new_endpoint,
    }
    return render(request, "api/api_page.html", context, status=status)


class ApiPageView(OwnerRequiredMixin, View):
    def get(self, request):
        return render_page(request, self.shop)


class TokenCreateView(OwnerRequiredMixin, View):
    """The new token is shown on this answer only (never stored, never redirected through the session)."""

    http_method_names = ["post", "options"]

    def post(self, request):
        form = TokenForm(request.POST)
        if not form.is_valid():
            return render_page(request, self.shop, token_form=form)
        try:
            token, secret = tokens.create_api_token(
                shop=self.shop,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                created_by=request.user,
            )
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("api:home")
        return render_page(request, self.shop, new_secret={"token": token, "secret": secret})


class TokenRevokeView(OwnerRequiredMixin, View):
    http_method_names = ["post", "options"]

    def post(self, request, pk):
        try:
            token = tokens.revoke_api_token(shop=self.shop, token_id=pk)
        except NotFound:
            raise Http404 from None
        messages.success(request, _("Token “%(name)s” revoked: it is refused from now on.") % {"name": token.name})
        return redirect("api:home")


class EndpointCreateView(OwnerRequiredMixin, View):
    http_method_names = ["post", "options"]

    def post(self, request):
        form = EndpointForm(request.POST)
        if not form.is_valid():
            return render_page(request, self.shop, endpoint_form=form)
        try:
            endpoint = webhooks.create_endpoint(
                shop=self.shop, url=form.cleaned_data["url"], events=form.cleaned_data["events"], user=request.user
            )
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("api:home")
        return render_page(request, self.shop, new_endpoint=endpoint)


class EndpointDeleteView(OwnerRequiredMixin, View):
    http_method_names = ["post", "options"]

    def post(self, request, pk):
        try:
            webhooks.delete_endpoint(shop=self.shop, endpoint_id=pk)
        except NotFound:
            raise Http404 from None
        messages.success(request, _("Webhook endpoint deleted."))
        return redirect("api:home")


class EndpointEnableView(OwnerRequiredMixin, View):
    http_method_names = ["post", "options"]

    def post(self, request, pk):
        try:
            webhooks.enable_endpoint(shop=self.shop, endpoint_id=pk)
        except NotFound:
            raise Http404 from None
        messages.success(request, _("Webhook endpoint enabled: the deliveries it missed are sent now."))
        return redirect("api:home")


class DeliveryResendView(OwnerRequiredMixin, View):
    http_method_names = ["post", "options"]

    def post(self, request, pk):
        try:
            webhooks.resend_delivery(shop=self.shop, delivery_id=pk)
        except NotFound:
            raise Http404 from None
        messages.success(request, _("The delivery will be sent again within a minute."))
        return redirect("api:home")
