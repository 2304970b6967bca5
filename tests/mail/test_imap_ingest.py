"""IMAP polling into the real ingestion path, against a throwaway Dovecot."""

from pathlib import Path
from typing import Any

import pytest
from pytest_django.fixtures import Settings

from imap import DovecotServer, dovecot  # noqa: F401
from layanan.mail.imap import ImapUnavailable, fetch_mail, ingest_from_imap
from layanan.mail.models import InboundEmail, InboundOutcome
from layanan.tickets.models import EntrySource, Ticket, TicketEntry

CASES = Path(__file__).parent / "cases"


@pytest.fixture(autouse=True)
def mailbox(settings: Settings, tmp_path: Path, catalogue: Any) -> None:
    settings.MAIL_ADDRESS = "bantuan@helpdesk.example.com"
    settings.VAR_DIR = tmp_path / "var"
    settings.UPLOAD_ROOT = tmp_path / "uploads"


def new_request(number: int) -> bytes:
    return (
        f"From: Pemohon {number} <pemohon{number}@example.org>\r\n"
        "To: bantuan@helpdesk.example.com\r\n"
        f"Subject: Permintaan nomor {number}\r\n"
        f"Message-ID: <request-{number}@example.org>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"Mohon bantuan untuk permintaan {number}. Terima kasih 🙏\r\n"
    ).encode()


def reply_to(ticket: Ticket, message_id: str) -> bytes:
    return (
        f"From: {ticket.requester_email}\r\n"
        "To: bantuan@helpdesk.example.com\r\n"
        f"Subject: Re: [{ticket.number}] {ticket.subject}\r\n"
        "Message-ID: <reply-1@example.org>\r\n"
        f"In-Reply-To: {message_id}\r\n"
        f"References: {message_id}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "Ini balasan saya.\r\n"
    ).encode()


@pytest.mark.django_db(transaction=True)
def test_imap_new_mail_then_reply_threads(dovecot: DovecotServer) -> None:  # noqa: F811
    dovecot.append("INBOX", new_request(1))
    report = fetch_mail(dovecot.config(), ingest_from_imap)
    assert report.stored == 1
    ticket = Ticket.objects.get()
    acknowledgement = ticket.requester_email
    assert acknowledgement == "pemohon1@example.org"

    from layanan.mail.models import OutboundEmail

    sent = OutboundEmail.objects.filter(reference=f"ticket:{ticket.number}").first()
    assert sent is not None
    dovecot.append("INBOX", reply_to(ticket, sent.message_id))
    second = fetch_mail(dovecot.config(), ingest_from_imap)
    assert second.stored == 1
    assert Ticket.objects.count() == 1
    row = InboundEmail.objects.get(message_id="<reply-1@example.org>")
    assert row.outcome == InboundOutcome.REPLY
    assert row.ticket_number == ticket.number
    assert (
        TicketEntry.objects.filter(ticket=ticket, source=EntrySource.EMAIL).count() == 2
    )


@pytest.mark.django_db(transaction=True)
def test_imap_same_mail_twice_one_ticket(dovecot: DovecotServer) -> None:  # noqa: F811
    dovecot.append("INBOX", new_request(2))
    dovecot.append("INBOX", new_request(2))
    report = fetch_mail(dovecot.config(), ingest_from_imap)
    assert report.stored == 2
    assert Ticket.objects.count() == 1
    assert InboundEmail.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_imap_bad_message_between_good_ones(dovecot: DovecotServer) -> None:  # noqa: F811
    dovecot.append("INBOX", new_request(3))
    dovecot.append("INBOX", b"\x00\xff garbage \r\n\r\n\xfe")
    dovecot.append("INBOX", new_request(4))
    report = fetch_mail(dovecot.config(), ingest_from_imap)
    assert report.failed == 0
    assert Ticket.objects.count() == 2
    outcomes = sorted(InboundEmail.objects.values_list("outcome", flat=True))
    assert outcomes.count(InboundOutcome.NEW_TICKET) == 2
    assert len(outcomes) == 3


@pytest.mark.django_db(transaction=True)
def test_imap_server_down_then_back(dovecot: DovecotServer) -> None:  # noqa: F811
    dovecot.append("INBOX", new_request(5))
    dovecot.stop()
    with pytest.raises(ImapUnavailable):
        fetch_mail(dovecot.config(), ingest_from_imap)
    assert Ticket.objects.count() == 0
    dovecot.restart()
    report = fetch_mail(dovecot.config(), ingest_from_imap)
    assert report.stored == 1
    assert Ticket.objects.count() == 1
