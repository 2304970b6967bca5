"""Keep secrets that travel in URLs out of the logs.

A requester link (/t/<token>/) is a bearer credential: anyone who has it can read
and reply to the ticket. Access logs and Django's request warnings print request
paths, so every handler that writes them passes records through
``RedactLinkTokens`` first.
"""

import logging
import re

# The token is token_urlsafe(32): 43 characters. Shorter runs are left alone so
# that ordinary paths stay readable.
LINK_TOKEN = re.compile(r"/t/[A-Za-z0-9_-]{16,}")
REDACTED = "/t/[link]"


def redact(value: object) -> object:
    if isinstance(value, str):
        return LINK_TOKEN.sub(REDACTED, value)
    return value


class RedactLinkTokens(logging.Filter):
    """Replace requester-link tokens in a record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(argument) for argument in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: redact(value) for key, value in record.args.items()}
        return True


def redact_handlers(*logger_names: str) -> None:
    """Add the filter to every handler of the named loggers (uvicorn's own)."""
    for name in logger_names:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(item, RedactLinkTokens) for item in handler.filters):
                handler.addFilter(RedactLinkTokens())
