"""The merchant open API's own records: tokens, stored idempotent answers, rate-limit buckets."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from shop.models import Shop


class ApiToken(models.Model):
    """A bearer token of one shop. Only the SHA-256 of the secret is stored; the secret is shown once.

    Each token has its own service user ("ERP: <token name>", inactive, no password): decisions made
    through the API write the same history rows as the pages, naming that user.
    """

    class Scope(models.TextChoices):
        READ = "read", _("read")  # every GET
        WRITE = "write", _("write")  # everything else; a write token can also read

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("shop"))
    name = models.CharField(_("name"), max_length=100)
    # "read" or "read,write", in this order.
    scopes = models.CharField(_("scopes"), max_length=20)
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True)
    # The token's first characters, to tell tokens apart in the list (not enough to guess the rest).
    prefix = models.CharField(_("starts with"), max_length=12)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_token", verbose_name=_("service user")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # Updated at most once a minute, not on every request.
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["shop", "-created_at"], name="api_token_shop_idx")]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def scope_list(self) -> list[str]:
        return [scope for scope in self.scopes.split(",") if scope]

    @property
    def can_write(self) -> bool:
        return self.Scope.WRITE in self.scope_list

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class IdempotencyRecord(models.Model):
    """The first successful answer to a POST with an `Idempotency-Key`, kept 24 hours, per shop."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(_("key"), max_length=100)
    # SHA-256 of method, path and body: the same key with another request is a conflict.
    fingerprint = models.CharField(_("request fingerprint"), max_length=64)
    status = models.PositiveSmallIntegerField(_("status"), default=0)
    body = models.BinaryField(_("answer"), default=b"")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("idempotent answer")
        verbose_name_plural = _("idempotent answers")
        constraints = [models.UniqueConstraint(fields=["shop", "key"], name="api_idempotency_key_per_shop")]
        indexes = [models.Index(fields=["created_at"], name="api_idempotency_created_idx")]

    def __str__(self):
        return self.key


class RateLimitBucket(models.Model):
    """A token bucket per API token, in the database so that every web process shares it."""

    token = models.OneToOneField(ApiToken, on_delete=models.CASCADE, primary_key=True, related_name="+")
    tokens = models.FloatField()
    # Unix time (seconds) of the last refill.
    stamp = models.FloatField()

    class Meta:
        verbose_name = _("rate-limit bucket")
        verbose_name_plural = _("rate-limit buckets")

    def __str__(self):
        return f"{self.token_id}: {self.tokens:.1f}"


class WebhookEndpoint(models.Model):
    """Where a shop's ERP wants changes pushed. The secret signs every delivery; it is shown once."""

    EVENTS = ("after_sale.created", "after_sale.updated", "refund.created", "service_order.updated")

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(_("URL"), max_length=500)
    events = models.JSONField(_("events"), default=list)
    # Kept readable: the back office signs with it (an HMAC key cannot be stored as a hash).
    secret = models.CharField(_("secret"), max_length=64)
    active = models.BooleanField(_("active"), default=True)
    # Since when every delivery has failed (cleared by a success); 3 days of it disable the endpoint.
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True)
    disabled_at = models.DateTimeField(_("disabled at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["shop", "active"], name="webhook_endpoint_shop_idx")]

    def __str__(self):
        return self.url


class WebhookDelivery(models.Model):
    """One event for one endpoint: the same body and event id on every attempt, until a 2xx."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")  # not yet answered with a 2xx; tried again later
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("given up")  # no 2xx in more than 24 hours of attempts

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    change_id = models.BigIntegerField(_("change"))
    event_id = models.CharField(_("event id"), max_length=40)
    type = models.CharField(_("type"), max_length=40)
    body = models.BinaryField(_("body"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(_("last answer"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "change_id"], name="webhook_delivery_once_per_change")
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due_idx"),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_log_idx"),
        ]

    def __str__(self):
        return f"{self.type} {self.event_id} → {self.endpoint_id}"


class WebhookCursor(models.Model):
    """The dispatcher's position in the change feed (one row): changes after it have no deliveries yet."""

    txid = models.BigIntegerField(default=0)
    change_id = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("webhook dispatcher position")
        verbose_name_plural = _("webhook dispatcher position")

    def __str__(self):
        return f"({self.txid}, {self.change_id})"
