"""Writes of the team pages. Every one checks the actor's right to manage the team, writes a
StaffChange row (the staff activity) in the same transaction, and refuses with a DomainError that
changes nothing.

Rules the issue sets, and where they hold:
- an owner always has every merchant set: their sets cannot be changed (so an owner can never drop
  their own shop admin), and a shop always keeps one active owner: an owner is deactivated only by
  another owner while a second active owner remains;
- nobody changes their own sets or deactivates themselves (no self-lock-out, no self-promotion);
- only an owner acts on an owner; an outlet's manager is managed by the platform (the admin).
A deactivated member's sessions end at once: the authentication backend refuses an inactive user on
their very next request. A password reset ends them too (the session carries the password's hash).
"""

import re
import secrets
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from shop import permissions
from shop.errors import DomainError, NotFound
from shop.models import StaffChange, User

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.@+-]{3,150}$")
DISPLAY_NAME_MAX_LENGTH = 150
# Initial and reset passwords: shown once to the person who made them, to hand over.
PASSWORD_BYTES = 9


def team_sets(actor: User) -> tuple[str, ...]:
    """The sets the actor's team page hands out: merchant sets for a shop, outlet sets for an outlet."""
    return permissions.MERCHANT_SETS if actor.is_merchant else permissions.OUTLET_SETS


def ensure_can_manage(actor: User) -> None:
    if actor.is_merchant:
        permissions.require(actor, permissions.PermissionSet.SHOP_ADMIN)
    elif actor.is_outlet_staff:
        permissions.require(actor, permissions.OUTLET_MANAGER)
    else:
        raise permissions.PermissionRefused(permissions.PermissionSet.SHOP_ADMIN)


def team_of(actor: User):
    """The team's members as the actor may see them (token service users are not people: left out)."""
    users = User.objects.filter(shop=actor.shop) if actor.is_merchant else User.objects.filter(outlet=actor.outlet)
    # A token's service user has no usable password (it never logs in); every member has one.
    return users.exclude(password__startswith="!")


def _member(actor: User, member_id: int) -> User:
    member = team_of(actor).select_for_update().filter(pk=member_id).first()
    if member is None:
        raise NotFound(_("Member not found."))
    return member


def _clean_sets(actor: User, sets) -> list[str]:
    wanted = sorted(set(sets))
    if set(wanted) - set(team_sets(actor)):
        raise DomainError(_("Choose permission sets from the list."), code="invalid_sets")
    return wanted


def _labels(sets) -> str:
    return "、".join(str(permissions.LABELS[one]) for one in sets if one in permissions.LABELS)


def _record(actor: User, member: User, kind: str, at: datetime, detail: str = "") -> StaffChange:
    team = {"shop": actor.shop} if actor.is_merchant else {"outlet": actor.outlet}
    return StaffChange.objects.create(**team, member=member, user=actor, kind=kind, detail=detail[:300], at=at)


def _is_leader(member: User) -> bool:
    """The member whose sets are fixed by their role: a shop's owner, an outlet's manager."""
    return member.shop_role == User.ShopRole.OWNER or member.outlet_role == User.OutletRole.MANAGER


def _ensure_may_act_on(actor: User, member: User) -> None:
    if member.pk == actor.pk:
        raise DomainError(_("You cannot change your own account here."), code="self")
    if member.outlet_role == User.OutletRole.MANAGER:
        raise DomainError(_("The outlet manager is changed by the platform."), code="leader")
    if member.shop_role == User.ShopRole.OWNER and actor.shop_role != User.ShopRole.OWNER:
        raise DomainError(_("Only an owner can change an owner's account."), code="leader")


def new_password() -> str:
    return secrets.token_urlsafe(PASSWORD_BYTES)


@transaction.atomic
def add_member(*, actor: User, username: str, display_name: str, sets, at: datetime | None = None) -> tuple[User, str]:
    """A new active member of the actor's team with these sets, and their initial password (shown once)."""
    ensure_can_manage(actor)
    username = (username or "").strip()
    display_name = (display_name or "").strip()
    if not USERNAME_PATTERN.match(username):
        raise DomainError(_("A username is 3 to 150 letters, digits or . @ + - _ characters."), code="invalid_username")
    if not display_name or len(display_name) > DISPLAY_NAME_MAX_LENGTH or "\x00" in display_name:
        raise DomainError(_("Give the member a display name of 1 to 150 characters."), code="invalid_name")
    if User.objects.filter(username__iexact=username).exists():
        raise DomainError(_("This username is taken: choose another."), code="username_taken")
    sets = _clean_sets(actor, sets)
    password = new_password()
    if actor.is_merchant:
        tenancy = {"kind": User.Kind.MERCHANT, "shop": actor.shop, "shop_role": User.ShopRole.AGENT}
    else:
        tenancy = {"kind": User.Kind.OUTLET, "outlet": actor.outlet, "outlet_role": User.OutletRole.CLERK}
    member = User.objects.create_user(username=username, password=password, first_name=display_name, **tenancy)
    member.groups.set(permissions.groups_for(sets))
    _record(actor, member, StaffChange.Kind.ADDED, at or timezone.now(), _labels(sets))
    return member, password


@transaction.atomic
def change_member_sets(*, actor: User, member_id: int, sets, at: datetime | None = None) -> User:
    ensure_can_manage(actor)
    member = _member(actor, member_id)
    if _is_leader(member):
        raise DomainError(_("An owner or an outlet manager always has every permission set."), code="leader_sets")
    _ensure_may_act_on(actor, member)
    sets = _clean_sets(actor, sets)
    member.groups.set(permissions.groups_for(sets))
    permissions.forget(member)
    _record(actor, member, StaffChange.Kind.SETS_CHANGED, at or timezone.now(), _labels(sets))
    return member


@transaction.atomic
def deactivate_member(*, actor: User, member_id: int, at: datetime | None = None) -> User:
    """The member can no longer log in, and their open sessions end on their next request."""
    ensure_can_manage(actor)
    member = _member(actor, member_id)
    _ensure_may_act_on(actor, member)
    if member.shop_role == User.ShopRole.OWNER:
        other_owners = (
            User.objects.select_for_update()
            .filter(shop=member.shop, shop_role=User.ShopRole.OWNER, is_active=True)
            .exclude(pk=member.pk)
        )
        if not other_owners.exists():
            raise DomainError(_("A shop always keeps one active owner."), code="last_owner")
    if member.is_active:
        member.is_active = False
        member.save(update_fields=["is_active"])
        _record(actor, member, StaffChange.Kind.DEACTIVATED, at or timezone.now())
    return member


@transaction.atomic
def reactivate_member(*, actor: User, member_id: int, at: datetime | None = None) -> User:
    ensure_can_manage(actor)
    member = _member(actor, member_id)
    _ensure_may_act_on(actor, member)
    if not member.is_active:
        member.is_active = True
        member.save(update_fields=["is_active"])
        _record(actor, member, StaffChange.Kind.REACTIVATED, at or timezone.now())
    return member


@transaction.atomic
def reset_member_password(*, actor: User, member_id: int, at: datetime | None = None) -> tuple[User, str]:
    """A new password for the member (shown once); their open sessions end with the old one."""
    ensure_can_manage(actor)
    member = _member(actor, member_id)
    _ensure_may_act_on(actor, member)
    password = new_password()
    member.set_password(password)
    member.save(update_fields=["password"])
    _record(actor, member, StaffChange.Kind.PASSWORD_RESET, at or timezone.now())
    return member, password
