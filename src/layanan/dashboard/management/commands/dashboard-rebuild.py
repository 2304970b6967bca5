"""Recompute every dashboard summary row from the raw tickets and chats."""

import os
import socket
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from layanan.dashboard.jobs import REFRESH_JOB
from layanan.dashboard.summaries import rebuild_summaries
from layanan.jobs.registry import acquire_lease, release_lease

# The lease outlasts any rebuild measured so far (80 s at 100,000 tickets), so
# the worker's refresh job stays off the tables until the rebuild releases it.
LEASE_SECONDS = 3600


class Command(BaseCommand):
    help = (
        "Recompute the dashboard's daily summary rows from every ticket and chat. "
        "Run it after the first deployment and after correcting past records."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--wait",
            type=int,
            default=60,
            help="Seconds to wait for the refresh job's lease (default 60).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        holder = f"dashboard-rebuild@{socket.gethostname()}:{os.getpid()}"
        deadline = time.monotonic() + options["wait"]
        # The worker holds the lease until its next run is due, so it frees
        # up within the job's interval.
        while not acquire_lease(REFRESH_JOB, holder, LEASE_SECONDS):
            if time.monotonic() >= deadline:
                raise CommandError(
                    f"The lease {REFRESH_JOB} is still held by a worker after "
                    f"{options['wait']} s: try again, or pass a longer --wait."
                )
            time.sleep(1)
        started = time.monotonic()

        def progress(text: str) -> None:
            elapsed = time.monotonic() - started
            self.stdout.write(f"{elapsed:7.1f} s  {text}")

        try:
            rows = rebuild_summaries(progress)
        finally:
            release_lease(REFRESH_JOB, holder)
        self.stdout.write(
            self.style.SUCCESS(
                f"Rebuilt {rows} summary rows in {time.monotonic() - started:.1f} s."
            )
        )
