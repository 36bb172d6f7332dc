"""The team pages of a shop (/team/, shop admin) and of an outlet (/outlet/team/, its manager).

One set of views for both: the area mixin (MerchantTeamAccess, OutletTeamAccess) says who may come
in and which URL names the page links to; the services decide the rest.
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from shop import permissions
from shop.access import MerchantRequiredMixin, OutletStaffRequiredMixin
from shop.errors import DomainError, NotFound
from shop.models import User
from shop.permissions import PermissionSet
from shop.views import PostActionView, form_errors_message

from . import services
from .forms import AddMemberForm, EmptyForm, SetsForm

TEMPLATE = "shop/team.html"


class MerchantTeamAccess(MerchantRequiredMixin):
    permission_set = PermissionSet.SHOP_ADMIN
    url_prefix = "team:member"
    list_url = "team:members"


class OutletTeamAccess(OutletStaffRequiredMixin):
    permission_set = permissions.OUTLET_MANAGER
    url_prefix = "outlet:team"
    list_url = "outlet:team"


def member_sets(member: User, team_sets) -> list[str]:
    """The member's sets from their prefetched groups (no query a row); a leader has every set."""
    if member.shop_role == User.ShopRole.OWNER or member.outlet_role == User.OutletRole.MANAGER:
        return list(team_sets)
    names = {group.name for group in member.groups.all()}
    return [one for one in team_sets if one in names]


class TeamPageMixin:
    def render_page(self, *, add_form=None, new_member=None, new_password=None, status=200):
        actor = self.request.user
        team_sets = services.team_sets(actor)
        members = list(services.team_of(actor).prefetch_related("groups").order_by("-is_active", "username"))
        rows = [self._row(actor, member, team_sets) for member in members]
        context = {
            "rows": rows,
            "add_form": add_form or AddMemberForm(team_sets=team_sets),
            "new_member": new_member,
            "new_password": new_password,
            "prefix": self.url_prefix,
            "list_url": self.list_url,
            "in_outlet": actor.is_outlet_staff,
        }
        return render(self.request, TEMPLATE, context, status=status)

    @staticmethod
    def _row(actor: User, member: User, team_sets) -> dict:
        sets = member_sets(member, team_sets)
        leader = member.shop_role == User.ShopRole.OWNER or member.outlet_role == User.OutletRole.MANAGER
        return {
            "member": member,
            "sets": sets,
            "labels": [permissions.LABELS[one] for one in sets],
            "leader": leader,
            # Ids of its own per row: the page holds a sets form per member and the add form.
            "form": SetsForm(team_sets=team_sets, initial={"sets": sets}, auto_id=f"id_member{member.pk}_%s"),
            "me": member.pk == actor.pk,
            # What the services allow (they check again): not oneself, not an outlet's manager, and an
            # owner only by an owner.
            "actionable": member.pk != actor.pk
            and member.outlet_role != User.OutletRole.MANAGER
            and (member.shop_role != User.ShopRole.OWNER or actor.shop_role == User.ShopRole.OWNER),
        }


class TeamView(TeamPageMixin, View):
    http_method_names = ["get", "head", "options"]

    def get(self, request):
        return self.render_page()


class TeamAddView(TeamPageMixin, View):
    """The new member's initial password is on this answer only: never stored, never redirected."""

    http_method_names = ["post", "options"]

    def post(self, request):
        form = AddMemberForm(request.POST, team_sets=services.team_sets(request.user))
        if not form.is_valid():
            messages.error(request, form_errors_message(form))
            return self.render_page(add_form=form)
        try:
            member, password = services.add_member(
                actor=request.user,
                username=form.cleaned_data["username"],
                display_name=form.cleaned_data["display_name"],
                sets=form.cleaned_data["sets"],
            )
        except DomainError as error:
            messages.error(request, error.message)
            return self.render_page(add_form=form)
        messages.success(request, _("Member %(username)s added.") % {"username": member.username})
        return self.render_page(new_member=member, new_password=password)


class TeamPasswordView(TeamPageMixin, View):
    http_method_names = ["post", "options"]

    def post(self, request, pk):
        try:
            member, password = services.reset_member_password(actor=request.user, member_id=pk)
        except DomainError as error:
            messages.error(request, error.message)
            return self.render_page()
        except NotFound:
            raise Http404 from None
        messages.success(request, _("A new password for %(username)s.") % {"username": member.username})
        return self.render_page(new_member=member, new_password=password)


class _MemberActionView(PostActionView):
    form_class = EmptyForm

    def get_success_url(self):
        return reverse(self.list_url)


class TeamSetsView(_MemberActionView):
    success_message = gettext_lazy("Permission sets saved.")

    def get_form(self):
        return SetsForm(self.request.POST, team_sets=services.team_sets(self.request.user))

    def perform(self, obj, data):
        services.change_member_sets(actor=self.request.user, member_id=self.kwargs["pk"], sets=data["sets"])


class TeamDeactivateView(_MemberActionView):
    success_message = gettext_lazy("Member deactivated: their sessions have ended.")

    def perform(self, obj, data):
        services.deactivate_member(actor=self.request.user, member_id=self.kwargs["pk"])


class TeamReactivateView(_MemberActionView):
    success_message = gettext_lazy("Member reactivated.")

    def perform(self, obj, data):
        services.reactivate_member(actor=self.request.user, member_id=self.kwargs["pk"])


# The pages of each area.
class MerchantTeamView(MerchantTeamAccess, TeamView):
    pass


class MerchantTeamAddView(MerchantTeamAccess, TeamAddView):
    pass


class MerchantTeamPasswordView(MerchantTeamAccess, TeamPasswordView):
    pass


class MerchantTeamSetsView(MerchantTeamAccess, TeamSetsView):
    pass


class MerchantTeamDeactivateView(MerchantTeamAccess, TeamDeactivateView):
    pass


class MerchantTeamReactivateView(MerchantTeamAccess, TeamReactivateView):
    pass


class OutletTeamView(OutletTeamAccess, TeamView):
    pass


class OutletTeamAddView(OutletTeamAccess, TeamAddView):
    pass


class OutletTeamPasswordView(OutletTeamAccess, TeamPasswordView):
    pass


class OutletTeamSetsView(OutletTeamAccess, TeamSetsView):
    pass


class OutletTeamDeactivateView(OutletTeamAccess, TeamDeactivateView):
    pass


class OutletTeamReactivateView(OutletTeamAccess, TeamReactivateView):
    pass
