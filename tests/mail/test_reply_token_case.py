"""A reply threads by its token whatever case the mail servers gave the address."""

import importlib
import re
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from pytest_django.fixtures import Settings

from layanan.catalog.models import Service
from layanan.mail.inbound import ingest
from layanan.mail.models import InboundOutcome
from layanan.tickets.models import Ticket, new_reply_token
from ticket_factory import make_ticket


@pytest.fixture(autouse=True)
def mailbox(settings: Settings, tmp_path: Path, catalogue: Any) -> None:
    settings.MAIL_ADDRESS = "bantuan@helpdesk.example.com"
    settings.VAR_DIR = tmp_path / "var"
    settings.UPLOAD_ROOT = tmp_path / "uploads"


def reply_to(address: str, sender: str) -> bytes:
    # No In-Reply-To, References or ticket number: only the token can thread it.
    return (
        f"From: {sender}\r\nTo: {address}\r\nSubject: Tambahan berkas\r\n"
        "Message-ID: <balasan-1@mail.example>\r\n"
        "Date: Fri, 04 Dec 2026 09:00:00 +0700\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nBerkas sudah saya kirim.\r\n"
    ).encode()


def test_new_reply_token_is_lower_case_hex() -> None:
    assert re.fullmatch(r"[0-9a-f]{32}", new_reply_token())


@pytest.mark.django_db
def test_migration_lowers_existing_tokens() -> None:
    ticket = make_ticket(Service.objects.first())
    Ticket.objects.filter(pk=ticket.pk).update(reply_token="AbC-dEf_123")
    migration = importlib.import_module(
        "layanan.tickets.migrations.0003_lower_case_reply_tokens"
    )
    migration.lower_tokens(apps, None)
    ticket.refresh_from_db()
    assert ticket.reply_token == "abc-def_123"


@pytest.mark.django_db
@pytest.mark.parametrize("change_case", [str.upper, str.lower])
def test_reply_token_threads_in_any_case(change_case: Any) -> None:
    ticket = make_ticket(Service.objects.first())
    address = f"bantuan+t.{change_case(ticket.reply_token)}@helpdesk.example.com"
    result = ingest(reply_to(address, ticket.requester_email), via="pipe")
    assert result.outcome == InboundOutcome.REPLY
    assert result.ticket == ticket.number
