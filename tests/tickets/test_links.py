"""Personal links to the requester page: tokens, revocation, expiry and new links.

Budi Santoso asked for the ticket; Dewi Anggraini is a CC participant and may
ask for a link too. Anyone else who types the ticket number gets nothing.
"""

import hashlib
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from pytest_django.fixtures import Settings

from layanan.access import NotFound
from layanan.audit.models import Event
from layanan.catalog.models import Service
from layanan.mail.inbound import ingest
from layanan.mail.models import OutboundEmail
from layanan.people.models import Requester, RequesterKind
from layanan.tickets import links
from layanan.tickets.models import (
    ParticipantRole,
    RequesterLink,
    Ticket,
    TicketParticipant,
    TicketSource,
    TicketStatus,
)
from layanan.tickets.services import NewTicket, open_ticket

pytestmark = pytest.mark.django_db

REQUESTER_EMAIL = "budi.santoso@mahasiswa.example.test"
CC_EMAIL = "dewi.anggraini@dosen.example.test"


@pytest.fixture(autouse=True)
def mail_settings(settings: Settings) -> None:
    settings.MAIL_ADDRESS = "layanan@helpdesk.example.com"
    settings.BASE_URL = "https://layanan.example.test"


@pytest.fixture
def ticket(admin_service: Service) -> Ticket:
    requester = Requester.objects.create(
        identifier="2231000001",
        kind=RequesterKind.STUDENT,
        name="Budi Santoso",
        email=REQUESTER_EMAIL,
    )
    with transaction.atomic():
        opened = open_ticket(
            NewTicket(
                subject="Surat tugas seminar",
                requester=requester,
                email=REQUESTER_EMAIL,
                service=admin_service,
                source=TicketSource.OFFLINE,
                language="id",
            )
        )
    TicketParticipant.objects.create(
        ticket=opened, email=CC_EMAIL, name="Dewi Anggraini", role=ParticipantRole.CC
    )
    return opened


def close(ticket: Ticket, days_ago: float) -> None:
    closed_at = timezone.now() - timedelta(days=days_ago)
    Ticket.objects.filter(pk=ticket.pk).update(
        status=TicketStatus.CLOSED, closed_at=closed_at
    )


def test_create_link_stores_only_hash(ticket: Ticket) -> None:
    link, token = links.create_link(ticket)
    stored = RequesterLink.objects.get(pk=link.pk)
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in stored.token_hash
    assert len(token) == 43


def test_create_link_tokens_differ(ticket: Ticket) -> None:
    _first, first_token = links.create_link(ticket)
    _second, second_token = links.create_link(ticket)
    assert first_token != second_token


def test_get_link_for_token_finds_ticket(ticket: Ticket) -> None:
    link, token = links.create_link(ticket)
    found = links.get_link_for_token(token)
    assert found.pk == link.pk
    assert found.ticket.number == ticket.number


def test_get_link_for_token_records_use(ticket: Ticket) -> None:
    link, token = links.create_link(ticket)
    links.get_link_for_token(token)
    link.refresh_from_db()
    assert link.last_used_at is not None


@pytest.mark.parametrize(
    "token",
    ["", "x", "a" * 43, "a" * 5000],
    ids=["empty", "short", "unknown", "overlong"],
)
def test_get_link_for_token_rejects_unknown(ticket: Ticket, token: str) -> None:
    links.create_link(ticket)
    with pytest.raises(NotFound):
        links.get_link_for_token(token)


def test_get_link_for_token_rejects_hash_itself(ticket: Ticket) -> None:
    link, _token = links.create_link(ticket)
    with pytest.raises(NotFound):
        links.get_link_for_token(link.token_hash)


def test_revoke_links_stops_every_link(ticket: Ticket) -> None:
    _first, first_token = links.create_link(ticket)
    _second, second_token = links.create_link(ticket)
    # The acknowledgement's link is the third.
    assert links.revoke_links(ticket) == 3
    with pytest.raises(NotFound):
        links.get_link_for_token(first_token)
    with pytest.raises(NotFound):
        links.get_link_for_token(second_token)


def test_revoke_links_records_event(ticket: Ticket) -> None:
    links.revoke_links(ticket)
    event = Event.objects.get(
        subject_id=ticket.number, action="requester_links_revoked"
    )
    # The acknowledgement carried the one link.
    assert event.data == {"count": 1}


def test_revoke_links_leaves_new_link_working(ticket: Ticket) -> None:
    links.create_link(ticket)
    links.revoke_links(ticket)
    _link, token = links.create_link(ticket)
    assert links.get_link_for_token(token).ticket_id == ticket.pk


def test_revoke_links_leaves_other_ticket(
    ticket: Ticket, admin_service: Service
) -> None:
    other = Ticket.objects.create(
        number="EKB-2026-999999",
        subject="Lain",
        requester=ticket.requester,
        requester_email=REQUESTER_EMAIL,
        service=admin_service,
        team=ticket.team,
        source=TicketSource.OFFLINE,
    )
    _link, token = links.create_link(other)
    links.revoke_links(ticket)
    assert links.get_link_for_token(token).ticket_id == other.pk


def test_link_works_while_resolved(ticket: Ticket) -> None:
    Ticket.objects.filter(pk=ticket.pk).update(
        status=TicketStatus.RESOLVED, resolved_at=timezone.now() - timedelta(days=90)
    )
    _link, token = links.create_link(ticket)
    assert links.get_link_for_token(token).ticket_id == ticket.pk


def test_link_works_just_before_expiry(ticket: Ticket) -> None:
    close(ticket, days_ago=links.LINK_DAYS_AFTER_CLOSE - 0.01)
    _link, token = links.create_link(ticket)
    assert links.get_link_for_token(token).ticket_id == ticket.pk


def test_link_expires_after_thirty_days(ticket: Ticket) -> None:
    close(ticket, days_ago=links.LINK_DAYS_AFTER_CLOSE + 0.01)
    _link, token = links.create_link(ticket)
    with pytest.raises(NotFound):
        links.get_link_for_token(token)


def test_is_expired_at_exact_deadline(ticket: Ticket) -> None:
    close(ticket, days_ago=1)
    ticket.refresh_from_db()
    assert ticket.closed_at is not None
    deadline = ticket.closed_at + timedelta(days=links.LINK_DAYS_AFTER_CLOSE)
    assert not links.is_expired(ticket, now=deadline - timedelta(seconds=1))
    assert links.is_expired(ticket, now=deadline)


def test_is_expired_false_for_reopened_ticket(ticket: Ticket) -> None:
    # A reopened ticket keeps its old closed_at, but its links work again.
    Ticket.objects.filter(pk=ticket.pk).update(
        status=TicketStatus.OPEN, closed_at=timezone.now() - timedelta(days=60)
    )
    ticket.refresh_from_db()
    assert not links.is_expired(ticket)


def test_link_url_default_language(ticket: Ticket) -> None:
    url = links.link_url("abc")
    assert url == "https://layanan.example.test/t/abc/"


def test_link_url_keeps_english(ticket: Ticket) -> None:
    assert links.link_url("abc", "en") == "https://layanan.example.test/t/abc/?lang=en"


def test_acknowledgement_carries_working_link(ticket: Ticket) -> None:
    acknowledgement = OutboundEmail.objects.get(kind="ticket_created_requester")
    prefix = f"{settings.BASE_URL}/t/"
    assert prefix in acknowledgement.body_text
    token = acknowledgement.body_text.split(prefix)[1].split("/")[0]
    assert f"{prefix}{token}/" in acknowledgement.body_html
    assert links.get_link_for_token(token).ticket_id == ticket.pk


def test_email_ticket_acknowledgement_carries_link(
    catalogue: object, settings: Settings, tmp_path: Path
) -> None:
    settings.VAR_DIR = tmp_path / "var"
    settings.UPLOAD_ROOT = tmp_path / "uploads"
    raw = (
        b"From: Rina Putri <rina.putri@mahasiswa.example.test>\r\n"
        b"To: layanan@helpdesk.example.com\r\n"
        b"Subject: Legalisir ijazah\r\n"
        b"Message-ID: <permintaan-1@mahasiswa.example.test>\r\n"
        b"Date: Thu, 03 Dec 2026 09:00:00 +0700\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"\r\n"
        b"Saya ingin melegalisir ijazah.\r\n"
    )
    result = ingest(raw, via="pipe")
    assert result.ticket is not None
    acknowledgement = OutboundEmail.objects.get(kind="ticket_created_requester")
    match = re.search(r"/t/([A-Za-z0-9_-]{43})/", acknowledgement.body_text)
    assert match is not None
    assert links.get_link_for_token(match.group(1)).ticket.number == result.ticket


def test_acknowledgement_held_back_keeps_no_link(
    admin_service: Service, settings: Settings
) -> None:
    settings.AUTO_MAIL_LIMIT = 1
    requester = Requester.objects.create(
        identifier="2231000002",
        kind=RequesterKind.STUDENT,
        name="Rina",
        email="rina@mahasiswa.example.test",
    )
    opened = []
    for subject in ("Pertama", "Kedua"):
        with transaction.atomic():
            opened.append(
                open_ticket(
                    NewTicket(
                        subject=subject,
                        requester=requester,
                        email=requester.email,
                        service=admin_service,
                        source=TicketSource.OFFLINE,
                        language="id",
                    )
                )
            )
    assert RequesterLink.objects.filter(ticket=opened[0]).count() == 1
    assert RequesterLink.objects.filter(ticket=opened[1]).count() == 0


# New links on request


def new_link_mails() -> list[OutboundEmail]:
    return list(OutboundEmail.objects.filter(kind=links.NEW_LINK_MAIL_KIND))


def test_send_new_link_to_requester(ticket: Ticket) -> None:
    assert links.send_new_link(ticket.number, REQUESTER_EMAIL.upper())
    [mail] = new_link_mails()
    assert mail.to == [REQUESTER_EMAIL]
    assert mail.automatic
    token = mail.body_text.split(f"{settings.BASE_URL}/t/")[1].split("/")[0]
    assert links.get_link_for_token(token).ticket_id == ticket.pk


def test_send_new_link_to_participant(ticket: Ticket) -> None:
    assert links.send_new_link(ticket.number.lower(), f" {CC_EMAIL} ")
    [mail] = new_link_mails()
    assert mail.to == [CC_EMAIL]


def test_send_new_link_records_event(ticket: Ticket) -> None:
    links.send_new_link(ticket.number, REQUESTER_EMAIL)
    assert Event.objects.filter(
        subject_id=ticket.number, action="requester_link_sent"
    ).exists()


def test_send_new_link_ignores_stranger(ticket: Ticket) -> None:
    before = RequesterLink.objects.count()
    assert not links.send_new_link(ticket.number, "orang.lain@example.test")
    assert new_link_mails() == []
    assert RequesterLink.objects.count() == before


def test_send_new_link_ignores_unknown_ticket(ticket: Ticket) -> None:
    assert not links.send_new_link("EKB-2000-000001", REQUESTER_EMAIL)
    assert new_link_mails() == []


def test_send_new_link_ignores_expired_ticket(ticket: Ticket) -> None:
    close(ticket, days_ago=links.LINK_DAYS_AFTER_CLOSE + 1)
    assert not links.send_new_link(ticket.number, REQUESTER_EMAIL)
    assert new_link_mails() == []


def test_send_new_link_limits_per_hour(ticket: Ticket) -> None:
    results = [
        links.send_new_link(ticket.number, REQUESTER_EMAIL)
        for _attempt in range(links.NEW_LINKS_PER_HOUR + 1)
    ]
    assert results == [True] * links.NEW_LINKS_PER_HOUR + [False]
    assert len(new_link_mails()) == links.NEW_LINKS_PER_HOUR


def test_send_new_link_limit_is_per_address(ticket: Ticket) -> None:
    for _attempt in range(links.NEW_LINKS_PER_HOUR):
        links.send_new_link(ticket.number, REQUESTER_EMAIL)
    assert links.send_new_link(ticket.number, CC_EMAIL)


def test_send_new_link_limit_ends_after_hour(ticket: Ticket) -> None:
    for _attempt in range(links.NEW_LINKS_PER_HOUR):
        links.send_new_link(ticket.number, REQUESTER_EMAIL)
    earlier = timezone.now() - timedelta(hours=1, minutes=1)
    for mail in new_link_mails():
        mail.automatic_recipients.update(created=earlier)
    assert links.send_new_link(ticket.number, REQUESTER_EMAIL)
