"""Permission sets (权限组) of shop and outlet staff, and the one check every view and service uses.

A set is a Django group holding one Django permission of the same codename (created by migration
shop.0005). Checks look at the permission, so an operator may also grant one permission directly in
the admin. The owner of a shop always has every merchant set and an outlet's manager every outlet
set, whatever their groups say: nobody can lock the shop out of its own staff pages.

An API token's service user ("ERP: <name>") is given its sets when the token is made, from its
scopes: a read token none (the API's reads are open to every staff member, like the pages'), a write
token after-sales handling (decisions, flags, small payments, interceptions) and shop admin
(its webhook endpoints). So a token never does more through the services than the page would let a
member with the same sets do.

The sets of a user are read once per request at most (cached on the user object): one query for a
member, none for an owner or a manager.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class PermissionSet:
    """The sets, by codename (the group's name and the permission's codename are this value)."""

    AFTERSALES = "aftersales_handling"  # decisions, flags, exports, interceptions launched by hand
    INTERCEPTION = "interception_settings"  # partnerships with outlets, the assistant rule
    SETTLEMENT = "settlement"  # statements, payments, reconciliation, claims
    SHOP_ADMIN = "shop_admin"  # staff, API tokens and webhooks, the staff activity
    OUTLET_PARTNERSHIPS = "outlet_partnerships"  # an outlet's answers to partnership applications
    OUTLET_SETTLEMENT = "outlet_settlement"  # an outlet's statements and claims


MERCHANT_SETS = (
    PermissionSet.AFTERSALES,
    PermissionSet.INTERCEPTION,
    PermissionSet.SETTLEMENT,
    PermissionSet.SHOP_ADMIN,
)
OUTLET_SETS = (PermissionSet.OUTLET_PARTNERSHIPS, PermissionSet.OUTLET_SETTLEMENT)

LABELS = {
    PermissionSet.AFTERSALES: _("after-sales handling"),
    PermissionSet.INTERCEPTION: _("interception settings"),
    PermissionSet.SETTLEMENT: _("settlement"),
    PermissionSet.SHOP_ADMIN: _("shop admin"),
    PermissionSet.OUTLET_PARTNERSHIPS: _("partnership decisions"),
    PermissionSet.OUTLET_SETTLEMENT: _("statements and claims"),
}
# What a refused person reads on hover over a disabled button or link, and on the 403 page.
REASONS = {
    PermissionSet.AFTERSALES: _("Needs the after-sales handling permission"),
    PermissionSet.INTERCEPTION: _("Needs the interception settings permission"),
    PermissionSet.SETTLEMENT: _("Needs the settlement permission"),
    PermissionSet.SHOP_ADMIN: _("Needs the shop admin permission"),
    PermissionSet.OUTLET_PARTNERSHIPS: _("Needs the partnership decisions permission"),
    PermissionSet.OUTLET_SETTLEMENT: _("Needs the statements and claims permission"),
}
# The outlet's staff pages are the manager's alone (a role, like the shop's owner; not a set).
OUTLET_MANAGER = "outlet_manager"
REASONS[OUTLET_MANAGER] = _("Only the outlet manager manages its staff")

# Write tokens act with these sets (see the module's docstring); read tokens with none.
TOKEN_SETS = {"read": (), "read,write": (PermissionSet.AFTERSALES, PermissionSet.SHOP_ADMIN)}


class PermissionRefused(PermissionDenied):
    """A member lacks the set an action needs: 403 on a page, 403 `forbidden_permission` in the API."""

    def __init__(self, needed: str):
        self.needed = needed
        self.message = str(REASONS[needed])
        super().__init__(self.message)


def sets_of(user) -> frozenset[str]:
    """Every set the user has now. Owners and outlet managers have all of their area's sets."""
    cached = getattr(user, "_permission_sets", None)
    if cached is not None:
        return cached
    if user is None or not getattr(user, "is_authenticated", False):
        sets = frozenset()
    elif user.is_merchant and user.shop_role == user.ShopRole.OWNER:
        sets = frozenset(MERCHANT_SETS)
    elif user.is_outlet_staff and user.outlet_role == user.OutletRole.MANAGER:
        sets = frozenset(OUTLET_SETS) | {OUTLET_MANAGER}
    elif user.is_merchant or user.is_outlet_staff:
        area = MERCHANT_SETS if user.is_merchant else OUTLET_SETS
        sets = frozenset(_granted_codenames(user)) & frozenset(area)
    else:
        sets = frozenset()
    user._permission_sets = sets
    return sets


def _granted_codenames(user) -> list[str]:
    from django.contrib.auth.models import Permission

    return list(
        Permission.objects.filter(content_type__app_label="shop")
        .filter(Q(group__user=user) | Q(user=user))
        .values_list("codename", flat=True)
        .distinct()
    )


def forget(user) -> None:
    """Drop the cached sets (after they changed in this request)."""
    user.__dict__.pop("_permission_sets", None)


def has(user, needed: str) -> bool:
    return needed in sets_of(user)


def blocker(user, needed: str | None) -> str | None:
    """The reason shown on a disabled button, or None when the user may use it."""
    if needed is None or has(user, needed):
        return None
    return str(REASONS[needed])


def require(user, needed: str) -> None:
    """Raise PermissionRefused unless the user has the set.

    Services call it with their `user`: the staff of the set's own area (shop staff for a merchant
    set, API service users too; outlet staff for an outlet set) are checked. None (a system actor:
    the timeout sweep, the assistant rule), platform operators (the admin's actions) and anyone else
    pass: the login mixins keep every other kind of user out of an area's pages, and the services
    scope their rows by the shop or outlet they are given.
    """
    if user is None:
        return
    in_area = user.is_outlet_staff if needed in (*OUTLET_SETS, OUTLET_MANAGER) else user.is_merchant
    if in_area and not has(user, needed):
        raise PermissionRefused(needed)


def groups_for(sets) -> list:
    """The groups of these sets, each holding its permission; made when missing.

    Migration shop.0005 makes them, but a database flushed (a transactional test) or restored without
    them must not silently give a new member nothing: whoever assigns sets goes through here.
    """
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType
    from django.utils import translation

    from .models import User

    wanted = list(dict.fromkeys(sets))
    groups = {group.name: group for group in Group.objects.filter(name__in=wanted)}
    for codename in wanted:
        if codename in groups:
            continue
        if codename not in LABELS:
            raise ValueError(f"unknown permission set {codename!r}")
        with translation.override("en"):
            name = str(LABELS[codename])
        permission, _created = Permission.objects.get_or_create(
            content_type=ContentType.objects.get_for_model(User), codename=codename, defaults={"name": name}
        )
        groups[codename], _created = Group.objects.get_or_create(name=codename)
        groups[codename].permissions.add(permission)
    return [groups[codename] for codename in wanted]
