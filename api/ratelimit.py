"""Per-token rate limit: a token bucket of API_RATE_LIMIT_BURST requests refilled at
API_RATE_LIMIT_PER_SECOND a second (20/s sustained, bursts allowed).

The bucket lives where every web process sees it: one row per token in the database (one guarded
UPDATE a request), or in Redis when REDIS_URL is set (one Lua call, keys under
API_RATE_LIMIT_REDIS_PREFIX so that several deployments can share a server). Never in one process's
memory. When Redis cannot be reached the database's bucket takes over: requests are still limited.
"""

import logging
import math
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, FloatField, Value
from django.db.models.functions import Greatest, Least
from django.db.models.lookups import GreaterThanOrEqual

from .models import ApiToken, RateLimitBucket

logger = logging.getLogger(__name__)


def _now() -> float:
    return time.time()


def _rate() -> float:
    return float(getattr(settings, "API_RATE_LIMIT_PER_SECOND", 20))


def _burst() -> float:
    return float(getattr(settings, "API_RATE_LIMIT_BURST", 40))


def take(token: ApiToken) -> float | None:
    """Take one request from the token's bucket: None when allowed, else seconds to wait (≥ 1)."""
    if getattr(settings, "REDIS_URL", ""):
        try:
            return _take_redis(token.pk)
        except Exception as exc:  # redis.RedisError, OSError: the limit still holds, in the database
            logger.warning("rate limit: Redis unavailable (%s), using the database", exc)
    return _take_db(token.pk)


def _take_db(token_id: int, attempts: int = 3) -> float | None:
    now, rate, burst = _now(), _rate(), _burst()
    # Greatest(…, 0): a process whose clock is a little behind the last one's never takes tokens away.
    elapsed = Greatest(Value(now) - F("stamp"), Value(0.0))
    available = Least(Value(burst, output_field=FloatField()), F("tokens") + elapsed * Value(rate))
    # One statement: refill and take, only where a whole request is left. Concurrent requests queue on
    # the row and each sees the other's take.
    moved = (
        RateLimitBucket.objects.filter(token_id=token_id)
        .filter(GreaterThanOrEqual(available, 1.0))
        .update(tokens=available - 1.0, stamp=Greatest(F("stamp"), Value(now)))
    )
    if moved:
        return None
    bucket = RateLimitBucket.objects.filter(token_id=token_id).values_list("tokens", "stamp").first()
    if bucket is None:
        try:
            with transaction.atomic():
                RateLimitBucket.objects.create(token_id=token_id, tokens=burst - 1.0, stamp=now)
            return None
        except IntegrityError:  # another process created it meanwhile
            return _take_db(token_id, attempts - 1)
    tokens, stamp = bucket
    left = min(burst, tokens + max(now - stamp, 0.0) * rate)
    if left >= 1.0 and attempts > 0:  # refilled between the UPDATE and this read (or another clock)
        return _take_db(token_id, attempts - 1)
    return _wait(left, rate)


def _wait(left: float, rate: float) -> float:
    return max(1, math.ceil((1.0 - left) / rate))


_LUA = """
local burst = tonumber(ARGV[1]); local rate = tonumber(ARGV[2]); local now = tonumber(ARGV[3])
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(bucket[1]) or burst
local stamp = tonumber(bucket[2]) or now
-- math.max: a process whose clock is a little behind the last one's never takes tokens away.
tokens = math.min(burst, tokens + math.max(now - stamp, 0) * rate)
local allowed = 0
if tokens >= 1 then tokens = tokens - 1; allowed = 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(math.max(stamp, now)))
redis.call('EXPIRE', KEYS[1], 3600)
return {allowed, tostring(tokens)}
"""
_scripts: dict[str, object] = {}  # REDIS_URL → the registered script (its connection pool)


def redis_key(token_id: int) -> str:
    return f"{getattr(settings, 'API_RATE_LIMIT_REDIS_PREFIX', 'api-rate:')}{token_id}"


def _take_redis(token_id: int) -> float | None:
    url = settings.REDIS_URL
    if url not in _scripts:
        import redis

        _scripts[url] = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1).register_script(_LUA)
    rate = _rate()
    allowed, left = _scripts[url](keys=[redis_key(token_id)], args=[_burst(), rate, _now()])
    if int(allowed):
        return None
    return _wait(float(left), rate)
