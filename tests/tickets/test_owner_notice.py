"""The owner of a ticket hears of every requester reply.

The cast: Budi asked for the ticket and replies by email. Sari serves
Administrasi and is the assignee, Dewi serves the same team and may read the
ticket, and the team's address gets the notice while nobody is assigned.
"""

from email.message import EmailMessage

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings

from layanan.catalog.models import Service, Team
from layanan.mail.inbound import ingest
from layanan.mail.models import InboundOutcome, OutboundEmail
from layanan.mail.outbox import send_due
from layanan.mail.threading import reply_address
from layanan.people.models import Requester, RequesterKind
from layanan.tickets.models import Ticket, TicketSource
from layanan.tickets.notices import EXCERPT_LENGTH
from layanan.tickets.services import NewTicket, open_ticket, requester_thread_ids
from smtp import SmtpSink, smtp_sink  # noqa: F401

REQUESTER_EMAIL = "budi@mail.example"
TEAM_EMAIL = "administrasi@helpdesk.example.com"
SARI_EMAIL = "sari@helpdesk.example.com"
REPLY_TEXT = "Undangan seminarnya saya lampirkan."


@pytest.fixture(autouse=True)
def english(settings: Settings) -> None:
    """Send notices in English, the msgid language of these checks."""
    settings.LANGUAGE_CODE = "en"
    settings.MAIL_ADDRESS = "layanan@helpdesk.example.com"


@pytest.fixture
def sari(agent_admin: User) -> User:
    agent_admin.email = SARI_EMAIL
    agent_admin.save()
    return agent_admin


@pytest.fixture
def ticket(admin_service: Service, admin_team: Team) -> Ticket:
    """Return Budi's Administrasi ticket, not assigned yet."""
    admin_team.email = TEAM_EMAIL
    admin_team.save()
    requester = Requester.objects.create(
        identifier="2231000001",
        kind=RequesterKind.STUDENT,
        name="Budi Santoso",
        email=REQUESTER_EMAIL,
    )
    with transaction.atomic():
        return open_ticket(
            NewTicket(
                subject="Surat tugas seminar",
                requester=requester,
                email=REQUESTER_EMAIL,
                service=admin_service,
                source=TicketSource.EMAIL,
                language="id",
            )
        )


@pytest.fixture
def owned(ticket: Ticket, sari: User) -> Ticket:
    Ticket.objects.filter(pk=ticket.pk).update(assignee=sari)
    return Ticket.objects.get(pk=ticket.pk)


def reply_by_email(
    ticket: Ticket, text: str = REPLY_TEXT, *, automatic: bool = False
) -> None:
    """Ingest Budi's mail to the ticket's reply address."""
    headers = [
        f"From: Budi Santoso <{REQUESTER_EMAIL}>",
        f"To: {reply_address(ticket.reply_token)}",
        f"Subject: Re: [{ticket.number}] Surat tugas seminar",
        "Message-ID: <reply-1@mail.example>",
        "Content-Type: text/plain; charset=utf-8",
    ]
    if automatic:
        headers.append("Auto-Submitted: auto-replied")
    raw = ("\r\n".join(headers) + "\r\n\r\n" + text + "\r\n").encode()
    result = ingest(raw, via="test")
    assert result.outcome != InboundOutcome.QUARANTINED, result.reason


def reply_notices() -> list[OutboundEmail]:
    return list(OutboundEmail.objects.filter(kind="requester_replied").order_by("pk"))


def fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def client_for(user: User) -> Client:
    """Log ``user`` in with the console in English."""
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


# The notice


def test_reply_marks_ticket_unread(owned: Ticket) -> None:
    reply_by_email(owned)

    assert fresh(owned).unread_reply is True


def test_reply_notice_goes_to_assignee(owned: Ticket) -> None:
    reply_by_email(owned)

    [notice] = reply_notices()
    assert notice.to == [SARI_EMAIL]
    assert notice.subject == (
        f"[{owned.number}] New reply from the requester: Surat tugas seminar"
    )


def test_reply_notice_quotes_reply(owned: Ticket) -> None:
    reply_by_email(owned)

    [notice] = reply_notices()
    assert REPLY_TEXT in notice.body_text
    assert (
        f"Budi Santoso replied on ticket {owned.number}, which is assigned to you."
    ) in notice.body_text
    assert f"/console/tickets/{owned.number}/" in notice.body_text


def test_reply_notice_unassigned_goes_to_team(ticket: Ticket) -> None:
    reply_by_email(ticket)

    [notice] = reply_notices()
    assert notice.to == [TEAM_EMAIL]
    assert (
        f"Budi Santoso replied on ticket {ticket.number}, which no one in "
        "Administrasi is assigned to."
    ) in notice.body_text


def test_reply_notice_cuts_long_reply(owned: Ticket) -> None:
    reply_by_email(owned, "kata " * 300)

    [notice] = reply_notices()
    assert "kata " * 99 + "kata…" in notice.body_text
    assert "kata " * (EXCERPT_LENGTH // 5 + 1) not in notice.body_text


def test_reply_notice_is_automatic(owned: Ticket) -> None:
    reply_by_email(owned)

    [notice] = reply_notices()
    assert notice.automatic is True


def test_reply_notice_outside_requester_thread(owned: Ticket) -> None:
    reply_by_email(owned)

    [notice] = reply_notices()
    in_reply_to, references = requester_thread_ids(fresh(owned))
    assert notice.message_id != in_reply_to
    assert notice.message_id not in references


def test_automatic_reply_sends_no_notice(owned: Ticket) -> None:
    reply_by_email(owned, "Saya sedang cuti.", automatic=True)

    assert reply_notices() == []
    assert fresh(owned).unread_reply is False


def test_reply_notice_delivered_through_smtp(
    owned: Ticket,
    smtp_sink: SmtpSink,  # noqa: F811
) -> None:
    reply_by_email(owned)

    send_due()

    messages = smtp_sink.wait_for(OutboundEmail.objects.count())
    [notice] = [message for message in messages if message["To"] == SARI_EMAIL]
    assert REPLY_TEXT in text_part(notice)
    assert REPLY_TEXT in html_part(notice)
    assert f"/console/tickets/{owned.number}/" in html_part(notice)


# Reading the reply


def test_assignee_opening_clears_unread(owned: Ticket, sari: User) -> None:
    reply_by_email(owned)

    client_for(sari).get(reverse("console:ticket", args=[owned.number]))

    assert fresh(owned).unread_reply is False


def test_teammate_opening_keeps_unread(owned: Ticket, second_agent_admin: User) -> None:
    reply_by_email(owned)

    client_for(second_agent_admin).get(reverse("console:ticket", args=[owned.number]))

    assert fresh(owned).unread_reply is True


def test_ticket_page_shows_new_reply_badge(
    owned: Ticket, second_agent_admin: User
) -> None:
    reply_by_email(owned)

    response = client_for(second_agent_admin).get(
        reverse("console:ticket", args=[owned.number])
    )

    assert '<span class="badge badge-new">New reply</span>' in response.content.decode()


def test_ticket_page_without_reply_has_no_badge(
    owned: Ticket, second_agent_admin: User
) -> None:
    response = client_for(second_agent_admin).get(
        reverse("console:ticket", args=[owned.number])
    )

    assert "badge-new" not in response.content.decode()
