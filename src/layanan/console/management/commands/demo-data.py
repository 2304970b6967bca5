"""Generate a realistic history of chats and tickets for demos and benchmarks."""

import os
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections

from layanan import env
from layanan.console.history import HistoryOptions, generate_history

URL_VARIABLE = "DEMO_DATA_DATABASE_URL"


class Command(BaseCommand):
    help = (
        "Add a made-up history of chats and tickets (office-hour peaks, "
        "Indonesian names, every service and team) to a migrated database. The "
        "same seed and --end give the same rows."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--tickets", type=int, required=True, help="Tickets to create."
        )
        parser.add_argument("--chats", type=int, required=True, help="Chats to create.")
        parser.add_argument(
            "--seed", type=int, default=1, help="Seed of the random draws (default 1)."
        )
        parser.add_argument(
            "--days",
            type=int,
            default=365,
            help="Length of the history in days, ending at --end (default 365).",
        )
        parser.add_argument(
            "--end",
            help="Date the history ends at, as YYYY-MM-DD, at midnight in "
            "LAYANAN_TIME_ZONE (default: today).",
        )
        parser.add_argument(
            "--database-url",
            help="Write to this database (sqlite:///path or postgres://...) "
            "instead of LAYANAN_DATABASE_URL; it is migrated first.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError(
                "demo-data writes made-up requests, so it does not run with "
                "LAYANAN_DEPLOYMENT=production: run it on a demo database."
            )
        for name in ("tickets", "chats"):
            if options[name] < 0:
                raise CommandError(f"--{name} is {options[name]}: use 0 or more.")
        if options["days"] < 1:
            raise CommandError(f"--days is {options['days']}: use 1 or more.")
        if options["database_url"]:
            self.connect(options["database_url"])
            call_command("migrate", verbosity=0)
        history = HistoryOptions(
            tickets=options["tickets"],
            chats=options["chats"],
            seed=options["seed"],
            days=options["days"],
            end=self.parse_end(options["end"]),
        )
        try:
            report = generate_history(history, output=self.stdout.write)
        except ValueError as error:
            raise CommandError(str(error)) from error
        for label, count in sorted(report.rows.items()):
            self.stdout.write(f"  {label}: {count:,} rows")

    def parse_end(self, raw: str | None) -> datetime | None:
        if raw is None:
            return None
        try:
            day = datetime.strptime(raw, "%Y-%m-%d")
        except ValueError:
            raise CommandError(
                f"--end {raw!r} is not a date: use YYYY-MM-DD, such as 2026-12-01."
            ) from None
        return day.replace(tzinfo=ZoneInfo(settings.TIME_ZONE))

    def connect(self, url: str) -> None:
        """Point the default connection at the database at url.

        Everything the command does, the business calendars it reads included,
        then uses that database, as if LAYANAN_DATABASE_URL named it.
        """
        # env.database_url reads an environment variable, so the URL is passed
        # through one that only this command uses.
        variable = env.PREFIX + URL_VARIABLE
        os.environ[variable] = url
        try:
            database = env.database_url(URL_VARIABLE, "")
        except env.ConfigurationError:
            # The URL may contain a password, so the message leaves it out.
            raise CommandError(
                "--database-url is invalid: use sqlite:///path or "
                "postgres://user:password@host:port/name."
            ) from None
        finally:
            del os.environ[variable]
        configured = connections.configure_settings({DEFAULT_DB_ALIAS: database})
        connections[DEFAULT_DB_ALIAS].close()
        del connections[DEFAULT_DB_ALIAS]
        connections.settings[DEFAULT_DB_ALIAS] = configured[DEFAULT_DB_ALIAS]
