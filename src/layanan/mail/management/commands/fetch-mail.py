"""``layanan fetch-mail``: poll the IMAP mailbox in LAYANAN_IMAP_URL once."""

import argparse
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from layanan.mail.imap import ImapUnavailable, fetch_mail, ingest_from_imap

# Exit codes: 0 the server responded, 1 it could not be reached, 2 no mailbox is set.
EXIT_UNAVAILABLE = 1
EXIT_NOT_CONFIGURED = 2


def positive_integer(value: str) -> int:
    """Parse --limit: a whole number of at least 1."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(
            _("--limit %(value)r is invalid: give a whole number of at least 1.")
            % {"value": value}
        )
    return number


class Command(BaseCommand):
    help = (
        "Fetch new mail from the IMAP mailbox in LAYANAN_IMAP_URL once and store "
        "it; the worker does the same every LAYANAN_IMAP_POLL_SECONDS."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--limit",
            type=positive_integer,
            default=100,
            help="Fetch at most this many messages in this poll (default 100).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        config = settings.IMAP
        if config is None:
            raise CommandError(
                _(
                    "LAYANAN_IMAP_URL is not set: set it to the mailbox to read, "
                    "such as imaps://user:password@mail.example.ac.id:993/INBOX."
                ),
                returncode=EXIT_NOT_CONFIGURED,
            )
        try:
            report = fetch_mail(config, ingest_from_imap, limit=options["limit"])
        except ImapUnavailable as error:
            raise CommandError(str(error), returncode=EXIT_UNAVAILABLE) from None
        summary = _(
            "Fetched %(fetched)d, stored %(stored)d, failed %(failed)d from "
            "%(folder)s on %(host)s:%(port)d."
        ) % {
            "fetched": report.fetched,
            "stored": report.stored,
            "failed": report.failed,
            "folder": config.folder,
            "host": config.host,
            "port": config.port,
        }
        self.stdout.write(summary)
        for line in report.errors:
            self.stderr.write(line)
        if report.failed:
            self.stderr.write(
                ngettext(
                    "%(failed)d message failed and stays in the mailbox: the next "
                    "poll retries it, and the log contains the error.",
                    "%(failed)d messages failed and stay in the mailbox: the next "
                    "poll retries them, and the log contains each error.",
                    report.failed,
                )
                % {"failed": report.failed}
            )
