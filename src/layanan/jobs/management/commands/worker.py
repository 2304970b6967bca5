"""``layanan worker``: run the periodic jobs until SIGTERM or SIGINT."""

import logging
import os
import signal
import socket
import threading
from argparse import ArgumentParser
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from layanan.jobs.models import Lease
from layanan.jobs.registry import default_registry

logger = logging.getLogger(__name__)

TICK_SECONDS = 1.0


def holder_id() -> str:
    """Return this process's lease holder name, ``hostname:pid``."""
    holder = f"{socket.gethostname()}:{os.getpid()}"
    # A long host name loses its start rather than the pid.
    max_length = Lease._meta.get_field("holder").max_length
    return holder[-max_length:] if max_length else holder


class Command(BaseCommand):
    help = (
        "Run the periodic jobs (the mail outbox and others) until SIGTERM or "
        "SIGINT; --once runs each job once and exits."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--once",
            action="store_true",
            help="Run every registered job once, then exit (for tests and CI).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        holder = holder_id()
        logger.info(
            "Worker %s started with jobs: %s",
            holder,
            ", ".join(default_registry.names()) or "none",
        )
        if options["once"]:
            ran = default_registry.run_due(holder, ignore_intervals=True)
            skipped = set(default_registry.names()) - set(ran)
            if skipped:
                logger.info(
                    "Worker %s skipped jobs leased to others: %s",
                    holder,
                    ", ".join(sorted(skipped)),
                )
        else:
            self.loop(holder)
        logger.info("Worker %s stopped", holder)

    def loop(self, holder: str) -> None:
        """Run due jobs every second until SIGTERM or SIGINT arrives."""
        stopping = threading.Event()
        signals: list[int] = []

        def request_stop(number: int, frame: FrameType | None) -> None:
            # Only record the signal, so the jobs of the current round finish
            # first and no log call runs inside the handler.
            signals.append(number)
            stopping.set()

        previous = {
            number: signal.signal(number, request_stop)
            for number in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            while not stopping.is_set():
                self.tick(holder)
                stopping.wait(TICK_SECONDS)
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
        logger.info("Worker %s got signal %s, stopping", holder, signals[0])

    def tick(self, holder: str) -> None:
        """Run one round of due jobs, surviving a database that went away."""
        # A long-lived process must drop broken or expired connections itself,
        # as Django does around each request.
        close_old_connections()
        try:
            default_registry.run_due(holder)
        except Exception:
            logger.exception("Worker %s failed to run its jobs", holder)
        finally:
            close_old_connections()
