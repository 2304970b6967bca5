"""Queue last week's digest for the heads of department, or print it."""

from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from layanan.console.digest import (
    already_sent,
    compute_figures,
    digest_recipients,
    queue_digest,
    render_digest,
)


class Command(BaseCommand):
    help = (
        "Queue the weekly digest of last week (Monday to Sunday in "
        "LAYANAN_TIME_ZONE) for every supervisor with an email address. The "
        "worker's job does this by itself at LAYANAN_DIGEST_SCHEDULE."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Print the subject and text of the digest instead of queuing it.",
        )
        parser.add_argument(
            "--now",
            help="Compute as if it were this moment, in ISO 8601 such as "
            "2026-11-30T07:00+07:00 (default: now). The digest covers the week "
            "before this moment's week.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        now = self.parse_now(options["now"])
        if options["dry_run"]:
            subject, body = render_digest(compute_figures(now), settings.LANGUAGE_CODE)
            self.stdout.write(f"Subject: {subject}\n\n{body}")
            return
        recipients = digest_recipients()
        if not recipients:
            raise CommandError(
                "No supervisor has an email address: give the head of department "
                "an email address and the supervisor flag in the admin."
            )
        with transaction.atomic():
            figures = compute_figures(now)
            if already_sent(figures.week_start):
                self.stdout.write(
                    f"The digest of {figures.week_label} was already queued; "
                    "queuing it again."
                )
            row = queue_digest(figures, recipients)
        self.stdout.write(
            f"Queued the digest of {figures.week_label} for {len(recipients)} "
            f"recipient(s) as outbox row {row.pk}."
        )

    def parse_now(self, raw: str | None) -> datetime:
        if raw is None:
            return timezone.now()
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise CommandError(
                f"--now {raw!r} is not an ISO 8601 moment: use one such as "
                "2026-11-30T07:00+07:00."
            ) from None
        if moment.tzinfo is None:
            raise CommandError(
                f"--now {raw!r} has no UTC offset: add one, such as +07:00."
            )
        return moment
