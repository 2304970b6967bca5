"""Read one RFC 5322 message on stdin and ingest it: the MTA pipe entry point.

The exit status follows the sendmail convention. It is 0 whenever the message is
stored, whatever became of it, so the MTA never bounces it back to the sender. It is
75 (EX_TEMPFAIL) when the message could not be stored, so the MTA retries.
"""

import json
import logging
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

logger = logging.getLogger(__name__)

EX_TEMPFAIL = 75
# Larger input is refused before parsing; an MTA's own limit is usually lower.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class Command(BaseCommand):
    help = (
        "Ingest one email message read from standard input (for an MTA pipe). "
        "Exit 0 once stored, 75 on a temporary failure."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--json", action="store_true", help="Print the outcome as one JSON object."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from layanan.mail.inbound import ingest

        raw = sys.stdin.buffer.read(MAX_MESSAGE_BYTES + 1)
        if len(raw) > MAX_MESSAGE_BYTES:
            self.stderr.write(
                f"The message is larger than {MAX_MESSAGE_BYTES // (1024 * 1024)} MiB "
                "and was not stored; raise the MTA's size limit below it."
            )
            sys.exit(EX_TEMPFAIL)
        if not raw.strip():
            self.stderr.write(
                "No message on standard input: pipe one RFC 5322 message."
            )
            sys.exit(EX_TEMPFAIL)
        try:
            result = ingest(raw, via="pipe")
        except Exception:
            logger.exception("ingest-email could not store the message")
            self.stderr.write(
                "The message could not be stored (see the log); the MTA should retry."
            )
            sys.exit(EX_TEMPFAIL)
        if options["json"]:
            self.stdout.write(json.dumps(result.as_json(), ensure_ascii=False))
        else:
            self.stdout.write(
                f"{result.outcome}: {result.ticket or '-'} {result.reason}".strip()
            )
