"""API tokens: created (the secret shown once), looked up by their hash, revoked at once."""

import hashlib
import hmac
import secrets
import uuid
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from shop import permissions
from shop.errors import DomainError, NotFound
from shop.models import Shop, User
from shop.permissions import PermissionSet

from .models import ApiToken

TOKEN_PREFIX = "bo_"
LAST_USED_EVERY = timedelta(minutes=1)
SCOPES = ("read", "write")
NAME_MAX_LENGTH = 100


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def normalise_scopes(scopes) -> str:
    """ "read" or "read,write" from any list or comma-separated text of scopes; write implies read."""
    if isinstance(scopes, str):
        scopes = scopes.split(",")
    wanted = {scope.strip() for scope in scopes if scope.strip()}
    unknown = wanted - set(SCOPES)
    if unknown or not wanted:
        raise DomainError(_("Scopes are “read” or “read,write”."), code="invalid_scopes")
    return "read,write" if "write" in wanted else "read"


@transaction.atomic
def create_api_token(*, shop: Shop, name: str, scopes, created_by: User | None = None) -> tuple[ApiToken, str]:
    """A new token and its secret. The secret is returned once and never stored (only its SHA-256).

    The token's service user is created with it: an inactive merchant account of the shop without a
    password (it can never log in) whose name, "ERP: <token name>", history rows show. Its permission
    sets follow the scopes: a write token's user handles after-sales and its webhook endpoints.
    """
    permissions.require(created_by, PermissionSet.SHOP_ADMIN)
    name = (name or "").strip()
    if not name or len(name) > NAME_MAX_LENGTH or "\x00" in name:
        raise DomainError(_("Give the token a name of 1 to 100 characters."), code="invalid_name")
    scopes = normalise_scopes(scopes)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    user = User(
        username=f"erp-{shop.pk}-{uuid.uuid4().hex[:16]}",
        first_name="ERP:",
        last_name=name,
        kind=User.Kind.MERCHANT,
        shop=shop,
        shop_role=User.ShopRole.AGENT,
        is_active=False,
    )
    user.set_unusable_password()
    user.save()
    # The service user acts with the sets its scopes stand for (shop.permissions.TOKEN_SETS).
    user.groups.set(permissions.groups_for(permissions.TOKEN_SETS[scopes]))
    token = ApiToken.objects.create(
        shop=shop,
        name=name,
        scopes=scopes,
        token_hash=hash_token(secret),
        prefix=secret[:10],
        user=user,
        created_by=created_by,
    )
    return token, secret


@transaction.atomic
def revoke_api_token(*, shop: Shop, token_id: int) -> ApiToken:
    """Refused at once from the next request on. Revoking twice changes nothing."""
    token = ApiToken.objects.select_for_update().filter(shop=shop, pk=token_id).first()
    if token is None:
        raise NotFound(_("Token not found."))
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def authenticate(secret: str) -> ApiToken | None:
    """The active token this secret opens, or None. One indexed query; the hash compared in constant time."""
    if not secret or len(secret) > 200:
        return None
    digest = hash_token(secret)
    token = ApiToken.objects.select_related("shop", "user").filter(token_hash=digest).first()
    if token is None or not hmac.compare_digest(token.token_hash.encode(), digest.encode()):
        return None
    if token.revoked_at is not None:
        return None
    _touch(token)
    return token


def _touch(token: ApiToken) -> None:
    """last_used_at, at most once a minute: a guarded UPDATE, so concurrent requests write it once."""
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_EVERY:
        return
    ApiToken.objects.filter(pk=token.pk, last_used_at=token.last_used_at).update(last_used_at=now)
    token.last_used_at = now
