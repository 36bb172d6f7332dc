"""Run a local carrier on 127.0.0.1 that speaks the carrier API and reports results by signed callback.

See ``interception.sandbox`` for the outcome rules and ``interception.gateway.http`` for the API.
Point the app at it with ``CARRIER_GATEWAY=http`` (and ``CARRIER_API_URL`` if the port is not 8090).
"""

import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from interception.sandbox import start_sandbox


class Command(BaseCommand):
    help = "Run a local carrier sandbox (the HTTP carrier API, results by signed callback)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8090, help="port on 127.0.0.1 (default 8090)")
        parser.add_argument("--delay", type=float, default=1.0, help="seconds before each callback (default 1.0)")
        parser.add_argument(
            "--fail-rate", type=float, default=0.0, help="share of otherwise successful interceptions that fail (0–1)"
        )
        parser.add_argument(
            "--no-callbacks",
            action="store_true",
            help="send no callbacks: results only answer status queries (the stuck-orders sweep asks)",
        )

    def handle(self, *args, **options):
        if not 0.0 <= options["fail_rate"] <= 1.0:
            raise CommandError("--fail-rate must be between 0 and 1")
        if options["delay"] < 0:
            raise CommandError("--delay must not be negative")
        try:
            server, thread, base_url = start_sandbox(
                options["port"],
                delay=options["delay"],
                fail_rate=options["fail_rate"],
                callbacks=not options["no_callbacks"],
                log=self._log,
            )
        except OSError as exc:
            raise CommandError(f"cannot listen on 127.0.0.1:{options['port']}: {exc}") from exc
        self.stdout.write(
            f"Carrier sandbox on {base_url} (delay {options['delay']} s, fail rate {options['fail_rate']}); "
            + (
                "no callbacks: results are answered to status queries only (the stuck-orders sweep). "
                if options["no_callbacks"]
                else f"callbacks signed with CARRIER_CALLBACK_SECRET, sent to each launch's callback_url "
                f"(the app sends CARRIER_CALLBACK_URL = {settings.CARRIER_CALLBACK_URL}). "
            )
            + "Ctrl-C to stop."
        )
        signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it as cleanly as Ctrl-C
        try:
            while thread.is_alive():
                thread.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            server.stop(thread)
        self.stdout.write("Carrier sandbox stopped.")

    def _log(self, message: str) -> None:
        self.stdout.write(f"{time.strftime('%H:%M:%S')} {message}")


def _interrupt(signum, frame):
    raise KeyboardInterrupt
