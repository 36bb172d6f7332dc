"""The rate limit's Redis path (REDIS_URL set): one bucket per token shared by every process, under
its own key prefix, expiring when idle; and the database taking over when Redis is down.

Runs against the local Redis server (127.0.0.1:6379, database 13, every test under a key prefix of
its own); skipped when none answers.
"""

import json
import os
import subprocess
import sys
import uuid

import pytest

from api import ratelimit
from api.models import RateLimitBucket
from tests.api.conftest import error_of

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")

pytestmark = pytest.mark.django_db


def redis_client():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except (redis.RedisError, OSError):
        pytest.skip(f"no Redis server at {REDIS_URL}")
    return client


@pytest.fixture
def redis_limit(settings):
    """Redis on, burst 3, next to no refill (a request per 1 000 s): counts are exact."""
    client = redis_client()
    settings.REDIS_URL = REDIS_URL
    settings.API_RATE_LIMIT_REDIS_PREFIX = f"test-rate-{uuid.uuid4().hex}:"
    settings.API_RATE_LIMIT_BURST = 3
    settings.API_RATE_LIMIT_PER_SECOND = 0.001
    yield client
    for key in client.scan_iter(f"{settings.API_RATE_LIMIT_REDIS_PREFIX}*"):
        client.delete(key)


TAKE_IN_ANOTHER_PROCESS = """
import json, os, sys
import django
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
django.setup()
from django.conf import settings
config = json.loads(sys.argv[1])
for name, value in config["settings"].items():
    setattr(settings, name, value)
from api import ratelimit
print(json.dumps([ratelimit._take_redis(config["token"]) for _ in range(config["n"])]))
"""


def take_in_another_process(settings, token_id: int, n: int) -> list:
    config = {
        "token": token_id,
        "n": n,
        "settings": {
            name: getattr(settings, name)
            for name in (
                "REDIS_URL",
                "API_RATE_LIMIT_REDIS_PREFIX",
                "API_RATE_LIMIT_BURST",
                "API_RATE_LIMIT_PER_SECOND",
            )
        },
    }
    done = subprocess.run(
        [sys.executable, "-c", TAKE_IN_ANOTHER_PROCESS, json.dumps(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_burst_passes_then_the_next_request_waits(redis_limit):
    assert [ratelimit._take_redis(101) for _ in range(3)] == [None, None, None]
    assert ratelimit._take_redis(101) >= 1
    assert ratelimit._take_redis(102) is None  # another token has its own bucket


def test_two_processes_share_one_bucket(redis_limit, settings):
    assert [ratelimit._take_redis(201) for _ in range(2)] == [None, None]
    other = take_in_another_process(settings, 201, 2)
    assert other[0] is None and other[1] >= 1
    assert ratelimit._take_redis(201) >= 1


def test_the_sustained_rate_refills_the_bucket(redis_limit, settings, monkeypatch):
    settings.API_RATE_LIMIT_PER_SECOND = 20
    clock = [1_000_000.0]
    monkeypatch.setattr(ratelimit, "_now", lambda: clock[0])
    assert [ratelimit._take_redis(301) for _ in range(4)][-1] == 1  # burst of 3, then wait
    clock[0] += 0.05  # one request's worth at 20/s
    assert ratelimit._take_redis(301) is None
    assert ratelimit._take_redis(301) == 1
    clock[0] -= 10  # a process whose clock is behind takes nothing away
    clock[0] += 10.05
    assert ratelimit._take_redis(301) is None


def test_the_buckets_live_under_the_prefix_and_expire_when_idle(redis_limit, settings):
    ratelimit._take_redis(401)
    key = f"{settings.API_RATE_LIMIT_REDIS_PREFIX}401"
    assert redis_limit.exists(key) == 1
    assert 0 < redis_limit.ttl(key) <= 3600


def test_the_api_answers_429_from_the_redis_bucket_and_writes_no_database_bucket(redis_limit, api):
    statuses = [api.get("/after-sales").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = api.get("/after-sales")
    assert error_of(response)["code"] == "rate_limited"
    assert int(response["Retry-After"]) >= 1
    assert RateLimitBucket.objects.count() == 0


def test_with_redis_down_the_database_bucket_limits_instead(settings, api):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    settings.API_RATE_LIMIT_BURST = 2
    settings.API_RATE_LIMIT_PER_SECOND = 0.001
    assert [api.get("/after-sales").status_code for _ in range(3)] == [200, 200, 429]
    assert RateLimitBucket.objects.count() == 1
