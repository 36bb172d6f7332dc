"""The staff activity page of a shop (shop admin): filters by member, kind and date; a CSV export
streamed through shop.streaming (every cell through safe_cell)."""

from datetime import timedelta

from django import forms
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views import View

from shop import activity, streaming
from shop.access import MerchantRequiredMixin
from shop.localtime import local_format, start_of_day
from shop.models import User
from shop.permissions import PermissionSet

PAGE_ROWS = 200  # the newest matching entries on the page; the export has them all


class ActivityFilterForm(forms.Form):
    member = forms.ModelChoiceField(label=_("member"), queryset=User.objects.none(), required=False)
    kind = forms.ChoiceField(label=_("kind"), required=False, choices=[("", "---------"), *activity.Kind.choices])
    since = forms.DateField(label=_("from"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("to"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, shop, **kwargs):
        super().__init__(*args, **kwargs)
        # The shop's every account, token service users too: what an ERP did is staff activity as well.
        self.fields["member"].queryset = User.objects.filter(shop=shop).order_by("username")

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError(_("The first day comes after the last."))
        return data


class _ActivityMixin(MerchantRequiredMixin):
    permission_set = PermissionSet.SHOP_ADMIN

    def filtered(self, limit):
        form = ActivityFilterForm(self.request.GET or None, shop=self.shop)
        members = {user.pk: user for user in form.fields["member"].queryset}
        data = form.cleaned_data if form.is_bound and form.is_valid() else {}
        user_ids = [data["member"].pk] if data.get("member") else list(members)
        entries = activity.entries(
            shop=self.shop,
            user_ids=user_ids,
            kinds=[data["kind"]] if data.get("kind") else None,
            since=start_of_day(data["since"]) if data.get("since") else None,
            until=start_of_day(data["until"] + timedelta(days=1)) if data.get("until") else None,
            limit=limit,
        )
        return form, members, entries


def _who(members, user_id) -> str:
    user = members.get(user_id)
    return (user.get_full_name() or user.username) if user else ""


class ActivityView(_ActivityMixin, View):
    http_method_names = ["get", "head", "options"]

    def get(self, request):
        form, members, entries = self.filtered(PAGE_ROWS)
        kinds = dict(activity.Kind.choices)
        rows = [
            {"entry": entry, "who": _who(members, entry.user_id), "kind": kinds.get(entry.kind, entry.kind)}
            for entry in entries
        ]
        context = {"form": form, "rows": rows, "page_rows": PAGE_ROWS, "query": request.GET.urlencode()}
        return render(request, "shop/staff_activity.html", context)


class ActivityCsvView(_ActivityMixin, View):
    http_method_names = ["get", "head", "options"]

    def get(self, request):
        _form, members, entries = self.filtered(None)
        kinds = dict(activity.Kind.choices)
        header = [_("at"), _("member"), _("kind"), _("action"), _("object"), _("detail")]
        rows = (
            [
                local_format(entry.at, "%Y-%m-%d %H:%M:%S"),
                _who(members, entry.user_id),
                kinds.get(entry.kind, entry.kind),
                entry.action,
                entry.subject,
                entry.detail,
            ]
            for entry in entries
        )
        return streaming.csv_response(filename="staff-activity.csv", header=header, rows=rows)
