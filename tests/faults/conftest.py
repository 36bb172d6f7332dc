"""What the fault tests share: real subprocesses (a qcluster, a private redis-server) that are always
stopped, even when the test fails, and the django-q2 configuration of the test process pointed at them."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock
from urllib.parse import quote

import pytest
from django.db import connection

BASE_DIR = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """The test database (pytest-django's test_… name) as a DATABASE_URL for a subprocess."""
    s = connection.settings_dict
    credentials = quote(s["USER"] or "", safe="") + (f":{quote(s['PASSWORD'], safe='')}" if s["PASSWORD"] else "")
    return f"postgres://{credentials}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class Process:
    """A subprocess in a process group of its own: killed as a group, and nothing else is touched."""

    def __init__(self, args: list[str], *, env: dict[str, str], name: str):
        self.log = tempfile.NamedTemporaryFile(prefix=f"{name}-", suffix=".log", delete=False)  # noqa: SIM115
        self.popen = subprocess.Popen(
            args, cwd=BASE_DIR, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole group (the cluster's sentinel, pusher, monitor and workers at once)."""
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait(timeout=10)

    def stop(self) -> None:
        """At teardown: the group is killed (what is left of a cluster's work does not matter any more)."""
        self.kill()
        self.log.close()

    def output(self, last: int = 4000) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-last:]


@pytest.fixture
def processes():
    """Start subprocesses with `processes(args, env=…, name=…)`; every one is stopped at teardown."""
    started: list[Process] = []

    def start(args: list[str], *, env: dict[str, str], name: str) -> Process:
        process = Process(args, env=env, name=name)
        started.append(process)
        return process

    yield start
    for process in reversed(started):
        process.stop()
        Path(process.log.name).unlink(missing_ok=True)


@pytest.fixture
def redis_url(processes) -> str:
    """A private redis-server on a free loopback port, no persistence; stopped after the test."""
    binary = shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else "")
    if not binary:
        pytest.skip("redis-server is not installed (apt-get install redis-server): the Redis broker case needs it")
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    server = processes(args, env=dict(os.environ), name="redis")
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if not server.alive or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start:\n{server.output()}") from None
            time.sleep(0.05)
    return f"redis://127.0.0.1:{port}/0"


def point_django_q_at(queue: str, redis_url: str | None):
    """This process's django-q2 enqueues to `queue` on the given broker, asynchronously (the test settings
    run tasks in-process). django-q2 reads its settings once into `Conf`, hence the patch."""
    from django_q.conf import Conf

    values = {"SYNC": False, "PREFIX": queue, "CLUSTER_NAME": queue}
    values |= {"ORM": None, "REDIS": redis_url, "DJANGO_REDIS": None} if redis_url else {"ORM": "default"}
    return mock.patch.multiple(Conf, **values)


def cluster_env(*, queue: str, redis_url: str | None, **extra: str) -> dict[str, str]:
    """The environment of a `manage.py qcluster` on the test database and the given queue and broker."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.dev",
        "DATABASE_URL": database_url(),
        "Q_NAME": queue,
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("REDIS_URL", None)
    env.pop("BACKOFFICE_TEST_NOW", None)  # the moved clock is this process's, not the cluster's
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra)
    return env


def qcluster_args() -> list[str]:
    return [sys.executable, str(BASE_DIR / "manage.py"), "qcluster"]
