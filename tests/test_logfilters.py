"""Requester-link tokens never reach a log line."""

import io
import logging
from collections.abc import Iterator

import pytest
import uvicorn

from layanan.logfilters import REDACTED, RedactLinkTokens, redact_handlers

TOKEN = "Zt0_kq8V3-mH1xYbW2cN9rLs4uPdA7fEoJ6iGgT5aQw"


@pytest.fixture
def uvicorn_access_log() -> Iterator[io.StringIO]:
    """Configure uvicorn's loggers as the run command does, writing to a buffer."""
    uvicorn.Config("layanan.asgi:application", log_level="info")
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    access = logging.getLogger("uvicorn.access")
    access.addHandler(handler)
    try:
        yield output
    finally:
        access.removeHandler(handler)


def format_record(message: str, *args: object) -> str:
    record = logging.LogRecord("test", logging.INFO, __file__, 1, message, args, None)
    RedactLinkTokens().filter(record)
    return record.getMessage()


def test_redact_replaces_token_in_arguments() -> None:
    line = format_record('"%s %s"', "GET", f"/t/{TOKEN}/?lang=en")
    assert line == f'"GET {REDACTED}/?lang=en"'


def test_redact_replaces_token_in_message() -> None:
    assert TOKEN not in format_record(f"Not Found: /t/{TOKEN}/files/3/")


def test_redact_keeps_other_paths() -> None:
    assert format_record("%s", "/console/tickets/EKB-2026-000001/") == (
        "/console/tickets/EKB-2026-000001/"
    )


def test_redact_handlers_filters_uvicorn_access_log(
    uvicorn_access_log: io.StringIO,
) -> None:
    redact_handlers("uvicorn.access")
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/t/{TOKEN}/", "1.1", 200
    )
    assert TOKEN not in uvicorn_access_log.getvalue()


def test_settings_filter_django_request_warnings() -> None:
    handler = logging.getLogger("django").handlers[0]
    record = logging.LogRecord(
        "django.request",
        logging.WARNING,
        __file__,
        1,
        "Not Found: %s",
        (f"/t/{TOKEN}/",),
        None,
    )
    assert all(item.filter(record) for item in handler.filters)
    assert TOKEN not in record.getMessage()
