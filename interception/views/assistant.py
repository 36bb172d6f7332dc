"""The after-sales assistant rule "快递拦截自动退": the shop's settings and a dry run of the last 30 days."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from shop.access import MerchantRequiredMixin
from shop.permissions import PermissionSet

from .. import selectors, services
from ..forms import AssistantRuleForm


class AssistantRuleView(MerchantRequiredMixin, View):
    """GET shows the saved rule (the defaults, unsaved, if none); POST saves it with a history row."""

    write_permission_set = PermissionSet.INTERCEPTION

    template_name = "interception/assistant.html"

    def get(self, request):
        rule = selectors.assistant_rule_for_shop(shop=self.shop)
        form = AssistantRuleForm(
            initial={
                "enabled": rule.enabled,
                "min_amount": rule.min_amount,
                "max_amount": rule.max_amount,
                "couriers": selectors.assistant_rule_couriers(rule=rule),
            }
        )
        return self._render(request, rule, form)

    def post(self, request):
        rule = services.open_assistant_rule(shop=self.shop)
        form = AssistantRuleForm(request.POST)
        if not form.is_valid():
            return self._render(request, rule, form)
        services.save_assistant_rule(shop=self.shop, user=request.user, **form.cleaned_data)
        messages.success(request, _("The assistant rule was saved."))
        return redirect("interception:assistant")

    def _render(self, request, rule, form):
        courier_ids = {courier.pk for courier in selectors.assistant_rule_couriers(rule=rule)}
        dry_run = selectors.assistant_rule_dry_run(rule=rule, courier_ids=courier_ids, now=timezone.now())
        return render(request, self.template_name, {"form": form, "rule": rule, "dry_run": dry_run})
