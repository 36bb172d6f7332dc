"""Webhook endpoints: list, create (the secret shown only in this answer), delete."""

from typing import Annotated

from django.utils.translation import gettext as _
from ninja import Path, Router, Status
from pydantic import Field

from shop.errors import DomainError

from .. import serializers, webhooks
from ..errors import ApiError
from ..schemas import WebhookEndpointCreated, WebhookEndpointIn, WebhookEndpointList
from . import WRITE_ERRORS, invalid, token_of

router = Router(tags=["webhooks"])

EndpointId = Annotated[int, Field(ge=1, le=2**63 - 1)]


def _writer(request):
    token = token_of(request)
    if not token.can_write:  # the contract puts the whole resource under `write`, GET included
        raise ApiError(403, "forbidden_scope", _("Webhook endpoints need a write token."))
    return token


@router.get("/webhook-endpoints", response={200: WebhookEndpointList, **WRITE_ERRORS})
def list_endpoints(request):
    token = _writer(request)
    return {
        "data": [
            {
                "id": endpoint.pk,
                "url": endpoint.url,
                "events": endpoint.events,
                "active": endpoint.active,
                "created_at": serializers.when(endpoint.created_at),
            }
            for endpoint in webhooks.endpoints_for_shop(shop=token.shop)
        ]
    }


@router.post("/webhook-endpoints", response={201: WebhookEndpointCreated, **WRITE_ERRORS})
def create_endpoint(request, payload: WebhookEndpointIn):
    """A new endpoint. Its `secret` signs every delivery and is shown only in this answer."""
    token = _writer(request)
    try:
        webhooks.check_url(payload.url)
    except DomainError as exc:
        raise invalid("url", exc.message) from None
    endpoint = webhooks.create_endpoint(shop=token.shop, url=payload.url, events=payload.events, user=token.user)
    return Status(201, {"id": endpoint.pk, "url": endpoint.url, "events": endpoint.events, "secret": endpoint.secret})


@router.delete("/webhook-endpoints/{id}", response={204: None, **WRITE_ERRORS})
def delete_endpoint(request, id: Path[EndpointId]):
    token = _writer(request)
    webhooks.delete_endpoint(shop=token.shop, endpoint_id=id)
    return Status(204, None)
