"""Service-level clocks kept on tickets as they change.

The Administrasi team works the department's office hours in WIB: Monday to
Thursday 07:30-16:00 and Friday 07:30-16:30. Friday 10 and Monday 13 July 2026
are ordinary working days. Sari serves Administrasi and replies to Budi's ticket.
Every test sets the clock with ``clock.set`` before it acts.
"""

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from pytest_django import DjangoAssertNumQueries
from pytest_django.fixtures import Settings

from layanan.catalog.models import Service
from layanan.chat.models import Conversation, SenderKind
from layanan.chat.services import NewMessage, accept_conversation, post_message
from layanan.mail.inbound import ingest
from layanan.mail.models import InboundOutcome
from layanan.mail.threading import reply_address
from layanan.people.models import Requester, RequesterKind
from layanan.tickets.clocks import ClockState, annotate_percent_used, target_clocks
from layanan.tickets.models import Ticket, TicketPause, TicketSource, TicketStatus
from layanan.tickets.replies import add_internal_note, add_public_reply
from layanan.tickets.services import (
    NewTicket,
    create_ticket_from_conversation,
    open_ticket,
)
from layanan.tickets.workflow import change_status

JAKARTA = ZoneInfo("Asia/Jakarta")
REQUESTER_EMAIL = "budi@mail.example"


def wib(day: int, hour: int, minute: int = 0) -> datetime:
    """Return that time of July 2026 in WIB."""
    return datetime(2026, 7, day, hour, minute, tzinfo=JAKARTA)


class Clock:
    """The moment ``timezone.now()`` returns while a test runs."""

    def __init__(self) -> None:
        self.moment = wib(13, 8)

    def set(self, moment: datetime) -> None:
        self.moment = moment


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moved = Clock()
    monkeypatch.setattr(timezone, "now", lambda: moved.moment)
    return moved


@pytest.fixture(autouse=True)
def mail_address(settings: Settings) -> None:
    settings.MAIL_ADDRESS = "layanan@helpdesk.example.com"


@pytest.fixture
def service(admin_service: Service) -> Service:
    """Return the Administrasi service with one-hour and two-hour targets."""
    admin_service.first_response_minutes = 60
    admin_service.update_minutes = 60
    admin_service.resolution_minutes = 120
    admin_service.save()
    return admin_service


@pytest.fixture
def open_at(service: Service, clock: Clock) -> Callable[[datetime], Ticket]:
    """Return a factory that opens Budi's ticket by email at a given moment."""

    def create(moment: datetime) -> Ticket:
        clock.set(moment)
        requester, _created = Requester.objects.get_or_create(
            email=REQUESTER_EMAIL,
            defaults={
                "identifier": "2231000001",
                "kind": RequesterKind.STUDENT,
                "name": "Budi Santoso",
            },
        )
        with transaction.atomic():
            return open_ticket(
                NewTicket(
                    subject="Surat tugas seminar",
                    requester=requester,
                    email=REQUESTER_EMAIL,
                    service=service,
                    source=TicketSource.EMAIL,
                    language="id",
                )
            )

    return create


def fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def reply_by_email(ticket: Ticket, text: str, *, automatic: bool = False) -> None:
    """Ingest a requester's mail to the ticket's reply address."""
    headers = [
        f"From: Budi Santoso <{REQUESTER_EMAIL}>",
        f"To: {reply_address(ticket.reply_token)}",
        f"Subject: Re: [{ticket.number}] Surat tugas seminar",
        f"Message-ID: <reply-{timezone.now().timestamp()}@mail.example>",
        "Date: Mon, 13 Jul 2026 08:00:00 +0700",
        "Content-Type: text/plain; charset=utf-8",
    ]
    if automatic:
        headers.append("Auto-Submitted: auto-replied")
    raw = ("\r\n".join(headers) + "\r\n\r\n" + text + "\r\n").encode()
    result = ingest(raw, via="test")
    assert result.outcome != InboundOutcome.QUARANTINED, result.reason


# Creation


def test_first_response_due_over_weekend(
    open_at: Callable[[datetime], Ticket],
) -> None:
    # Ten minutes run on Friday until 16:30 and fifty from Monday 07:30.
    ticket = open_at(wib(10, 16, 20))

    assert fresh(ticket).first_response_due_at == wib(13, 8, 20)


def test_open_ticket_resolution_due(open_at: Callable[[datetime], Ticket]) -> None:
    ticket = open_at(wib(10, 16, 20))

    assert fresh(ticket).resolution_due_at == wib(13, 9, 20)


def test_open_ticket_no_update_due(open_at: Callable[[datetime], Ticket]) -> None:
    ticket = open_at(wib(10, 16, 20))

    assert fresh(ticket).update_due_at is None


def test_open_ticket_without_target_no_due(
    open_at: Callable[[datetime], Ticket], service: Service
) -> None:
    service.first_response_minutes = None
    service.save()

    ticket = open_at(wib(13, 8))

    assert fresh(ticket).first_response_due_at is None


# First response


def test_public_reply_records_first_response(
    open_at: Callable[[datetime], Ticket], clock: Clock, agent_admin: User
) -> None:
    ticket = open_at(wib(10, 16, 20))
    clock.set(wib(13, 8))

    add_public_reply(ticket, agent_admin, "Surat sedang kami proses.", [])

    answered = fresh(ticket)
    assert answered.first_response_at == wib(13, 8)
    assert answered.first_response_minutes == 40.0
    assert answered.first_response_due_at is None


def test_second_reply_keeps_first_response(
    open_at: Callable[[datetime], Ticket], clock: Clock, agent_admin: User
) -> None:
    ticket = open_at(wib(13, 8))
    clock.set(wib(13, 8, 10))
    add_public_reply(ticket, agent_admin, "Kami proses.", [])
    clock.set(wib(13, 9))

    add_public_reply(ticket, agent_admin, "Sudah selesai.", [])

    assert fresh(ticket).first_response_at == wib(13, 8, 10)


def test_internal_note_not_first_response(
    open_at: Callable[[datetime], Ticket], clock: Clock, agent_admin: User
) -> None:
    ticket = open_at(wib(13, 8))
    clock.set(wib(13, 8, 10))

    add_internal_note(ticket, agent_admin, "Cek arsip dulu.")

    unanswered = fresh(ticket)
    assert unanswered.first_response_at is None
    assert unanswered.first_response_due_at == wib(13, 9)


def test_automatic_mail_not_first_response(
    open_at: Callable[[datetime], Ticket],
) -> None:
    # Opening the ticket queued the requester's automatic acknowledgement.
    ticket = open_at(wib(13, 8))

    assert fresh(ticket).first_response_at is None


def test_automatic_reply_not_counted(
    open_at: Callable[[datetime], Ticket], clock: Clock, agent_admin: User
) -> None:
    ticket = open_at(wib(13, 8))
    clock.set(wib(13, 8, 10))
    add_public_reply(ticket, agent_admin, "Mohon lampirkan undangan.", [])
    clock.set(wib(13, 8, 11))

    reply_by_email(ticket, "Saya sedang cuti sampai Senin.", automatic=True)

    after = fresh(ticket)
    assert after.update_due_at is None
    assert after.unread_reply is False


def test_chat_agent_message_first_response(
    service: Service,
    clock: Clock,
    agent_admin: User,
    requester_chat: Callable[..., tuple[Conversation, str]],
) -> None:
    clock.set(wib(13, 8))
    conversation, _token = requester_chat(service)
    accept_conversation(conversation, agent_admin)
    clock.set(wib(13, 8, 5))
    post_message(
        conversation,
        NewMessage(
            sender_kind=SenderKind.AGENT,
            sender=agent_admin,
            sender_name="Sari",
            body="Selamat pagi, ada yang bisa dibantu?",
            client_id="agent-1",
        ),
    )
    clock.set(wib(13, 8, 30))

    ticket = create_ticket_from_conversation(conversation, agent_admin)

    made = fresh(ticket)
    assert made.first_response_at == wib(13, 8, 5)
    assert made.first_response_minutes == 5.0
    assert made.first_response_due_at is None
    # The request arrived when the chat began, so resolution counts from 08:00.
    assert made.resolution_due_at == wib(13, 10)


def test_chat_without_agent_message_waits(
    service: Service,
    clock: Clock,
    agent_admin: User,
    requester_chat: Callable[..., tuple[Conversation, str]],
) -> None:
    clock.set(wib(13, 8))
    conversation, _token = requester_chat(service)
    accept_conversation(conversation, agent_admin)
    clock.set(wib(13, 8, 30))

    ticket = create_ticket_from_conversation(conversation, agent_admin)

    made = fresh(ticket)
    assert made.first_response_at is None
    assert made.first_response_due_at == wib(13, 9)


# Pauses


def test_waiting_stops_every_clock(
    open_at: Callable[[datetime], Ticket], clock: Clock, agent_admin: User
) -> None:
    ticket = open_at(wib(13, 8))
    clock.set(wib(13, 8, 30))

    change_status(ticket, TicketStatus.WAITING, actor=agent_admin)

    paused = fresh(ticket)
    assert paused.first_response_due_at is None
    assert paused.resolution_due_at is None
    assert list(TicketPause.objects.values_list("started_at", "ended_at")) == [
        (wib(13, 8, 30), None)
    ]


def test_pause_over_weekend_and_resume(
    open_at: Callable[[datetime], Ticket], clock: Clock, agent_admin: User
) -> None:
    # One business hour runs on Friday before the pause, the other after it.
    ticket = open_at(wib(10, 15))
    clock.set(wib(10, 16))
    change_status(ticket, TicketStatus.WAITING, actor=agent_admin)
    clock.set(wib(13, 8))

    change_status(ticket, TicketStatus.IN_PROGRESS, actor=agent_admin)

    resumed = fresh(ticket)
    assert resumed.resolution_due_at == wib(13, 9)
    assert list(TicketPause.objects.values_list("started_at", "ended_at")) == [
        (wib(10, 16), wib(13, 8))
    ]


def test_requester_reply_while_paused(
    open_at: Callable[[datetime], Ticket], clock: Clock, agent_admin: User
) -> None:
    ticket = open_at(wib(10, 15))
    clock.set(wib(10, 15, 30))
    add_public_reply(ticket, agent_admin, "Mohon kirim undangannya.", [])
    clock.set(wib(10, 16))
    change_status(ticket, TicketStatus.WAITING, actor=agent_admin)
    clock.set(wib(13, 8))

    reply_by_email(ticket, "Undangan terlampir.")

    resumed = fresh(ticket)
    assert resumed.status == TicketStatus.IN_PROGRESS
    assert resumed.resolution_due_at == wib(13, 9)
    assert resumed.update_due_at == wib(13, 9)
    assert TicketPause.objects.get().ended_at == wib(13, 8)


def test_early_reply_no_update_due(
    open_at: Callable[[datetime], Ticket], clock: Clock
) -> None:
    ticket = open_at(wib(13, 8))
    clock.set(wib(13, 8, 20))

    reply_by_email(ticket, "Apakah sudah diterima?")

    waiting = fresh(ticket)
    assert waiting.update_due_at is None
    assert waiting.first_response_due_at == wib(13, 9)


def test_update_clock_keeps_oldest_message(
    open_at: Callable[[datetime], Ticket], clock: Clock, agent_admin: User
) -> None:
    ticket = open_at(wib(13, 8))
    clock.set(wib(13, 8, 10))
    add_public_reply(ticket, agent_admin, "Kami proses.", [])
    clock.set(wib(13, 9))
    reply_by_email(ticket, "Terima kasih.")
    clock.set(wib(13, 9, 30))

    reply_by_email(ticket, "Satu pertanyaan lagi.")

    assert fresh(ticket).update_due_at == wib(13, 10)


def test_agent_reply_clears_update_due(
    open_at: Callable[[datetime], Ticket], clock: Clock, agent_admin: User
) -> None:
    ticket = open_at(wib(13, 8))
    clock.set(wib(13, 8, 10))
    add_public_reply(ticket, agent_admin, "Kami proses.", [])
    clock.set(wib(13, 9))
    reply_by_email(ticket, "Terima kasih.")
    clock.set(wib(13, 9, 20))

    add_public_reply(ticket, agent_admin, "Sama-sama.", [])

    assert fresh(ticket).update_due_at is None


def test_update_clock_resumes_after_pause(
    open_at: Callable[[datetime], Ticket], clock: Clock, agent_admin: User
) -> None:
    # Budi's 09:00 message waits for an answer while the ticket is paused for
    # half an hour, so the update is due half an hour later than 10:00.
    ticket = open_at(wib(13, 8))
    clock.set(wib(13, 8, 10))
    add_public_reply(ticket, agent_admin, "Kami proses.", [])
    clock.set(wib(13, 9))
    reply_by_email(ticket, "Terima kasih.")
    clock.set(wib(13, 9, 15))
    change_status(ticket, TicketStatus.WAITING, actor=agent_admin)
    clock.set(wib(13, 9, 45))

    change_status(ticket, TicketStatus.IN_PROGRESS, actor=agent_admin)

    assert fresh(ticket).update_due_at == wib(13, 10, 30)


# Resolution and reopening


def test_resolve_records_resolution_minutes(
    open_at: Callable[[datetime], Ticket], clock: Clock, agent_admin: User
) -> None:
    ticket = open_at(wib(13, 8))
    clock.set(wib(13, 9, 30))

    change_status(ticket, TicketStatus.RESOLVED, actor=agent_admin)

    resolved = fresh(ticket)
    assert resolved.resolution_minutes == 90.0
    assert resolved.resolution_due_at is None
    assert resolved.first_response_due_at is None


def test_resolution_minutes_leave_out_pause(
    open_at: Callable[[datetime], Ticket], clock: Clock, agent_admin: User
) -> None:
    ticket = open_at(wib(13, 8))
    clock.set(wib(13, 8, 30))
    change_status(ticket, TicketStatus.WAITING, actor=agent_admin)
    clock.set(wib(13, 9, 30))

    change_status(ticket, TicketStatus.RESOLVED, actor=agent_admin)

    assert fresh(ticket).resolution_minutes == 30.0


def test_reopen_counts_and_resumes(
    open_at: Callable[[datetime], Ticket], clock: Clock, agent_admin: User
) -> None:
    # An hour ran before the resolution, so an hour is left after reopening.
    ticket = open_at(wib(13, 8))
    clock.set(wib(13, 9))
    change_status(ticket, TicketStatus.RESOLVED, actor=agent_admin)
    clock.set(wib(13, 13))

    change_status(ticket, TicketStatus.OPEN, actor=agent_admin)

    reopened = fresh(ticket)
    assert reopened.reopen_count == 1
    assert reopened.resolution_due_at == wib(13, 14)
    assert list(TicketPause.objects.values_list("started_at", "ended_at")) == [
        (wib(13, 9), wib(13, 13))
    ]


def test_requester_reply_reopens_closed_ticket(
    open_at: Callable[[datetime], Ticket], clock: Clock, agent_admin: User
) -> None:
    ticket = open_at(wib(13, 8))
    clock.set(wib(13, 8, 10))
    add_public_reply(ticket, agent_admin, "Sudah kami kirim.", [])
    clock.set(wib(13, 9))
    change_status(ticket, TicketStatus.RESOLVED, actor=agent_admin)
    clock.set(wib(13, 10))
    change_status(ticket, TicketStatus.CLOSED, actor=agent_admin)
    clock.set(wib(13, 13))

    reply_by_email(ticket, "Suratnya belum sampai.")

    reopened = fresh(ticket)
    assert reopened.status == TicketStatus.OPEN
    assert reopened.reopen_count == 1
    assert reopened.resolution_due_at == wib(13, 14)
    assert reopened.update_due_at == wib(13, 14)


def test_resolve_again_counts_both_runs(
    open_at: Callable[[datetime], Ticket], clock: Clock, agent_admin: User
) -> None:
    ticket = open_at(wib(13, 8))
    clock.set(wib(13, 9))
    change_status(ticket, TicketStatus.RESOLVED, actor=agent_admin)
    clock.set(wib(13, 13))
    change_status(ticket, TicketStatus.OPEN, actor=agent_admin)
    clock.set(wib(13, 13, 30))

    change_status(ticket, TicketStatus.RESOLVED, actor=agent_admin)

    assert fresh(ticket).resolution_minutes == 90.0


# Display


def test_target_clocks_at_warning(
    open_at: Callable[[datetime], Ticket], clock: Clock
) -> None:
    ticket = open_at(wib(13, 8))
    clock.set(wib(13, 8, 48))

    first_response, update, resolution = target_clocks(fresh(ticket), wib(13, 8, 48))

    assert first_response.state == ClockState.WARNING
    assert first_response.percent == pytest.approx(80.0)
    assert first_response.due_at == wib(13, 9)
    assert update.state == ClockState.NONE
    assert resolution.state == ClockState.OK
    assert resolution.percent == pytest.approx(40.0)


def test_target_clocks_after_resolution(
    open_at: Callable[[datetime], Ticket], clock: Clock, agent_admin: User
) -> None:
    ticket = open_at(wib(13, 8))
    clock.set(wib(13, 8, 30))
    add_public_reply(ticket, agent_admin, "Sudah kami kirim.", [])
    clock.set(wib(13, 10, 30))
    change_status(ticket, TicketStatus.RESOLVED, actor=agent_admin)

    first_response, _update, resolution = target_clocks(fresh(ticket), wib(13, 11))

    assert first_response.state == ClockState.MET
    assert first_response.percent == pytest.approx(50.0)
    assert resolution.state == ClockState.MET
    assert resolution.percent == pytest.approx(125.0)


def test_target_clocks_paused(
    open_at: Callable[[datetime], Ticket], clock: Clock, agent_admin: User
) -> None:
    ticket = open_at(wib(13, 8))
    clock.set(wib(13, 8, 30))
    change_status(ticket, TicketStatus.WAITING, actor=agent_admin)

    first_response, _update, _resolution = target_clocks(fresh(ticket), wib(13, 10))

    assert first_response.state == ClockState.PAUSED
    assert first_response.percent == pytest.approx(50.0)


def test_ticket_page_shows_targets(
    open_at: Callable[[datetime], Ticket], clock: Clock, agent_admin: User
) -> None:
    ticket = open_at(wib(13, 8))
    clock.set(wib(13, 8, 48))
    client = Client()
    client.force_login(agent_admin)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    page = client.get(reverse("console:ticket", args=[ticket.number])).content.decode()

    row = page[page.index('<tr class="sla-row sla-warning">') :]
    row = row[: row.index("</tr>")]
    assert "First response" in row
    assert "13 Jul 2026 09:00 WIB" in row
    assert "80%" in row
    assert "Due soon" in row


def render_due(ticket: Ticket, now: datetime) -> str:
    with translation.override("en"):
        return render_to_string("console/_sla_due.html", {"ticket": ticket, "now": now})


def test_sla_due_partial_on_time(
    open_at: Callable[[datetime], Ticket],
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    ticket = fresh(open_at(wib(13, 8)))

    with django_assert_num_queries(0):
        html = render_due(ticket, wib(13, 8, 10))

    assert 'class="sla-due sla-ok"' in html
    assert "13 Jul 2026 09:00 WIB" in html
    assert "First response target: On time" in html


def test_sla_due_partial_breached(
    open_at: Callable[[datetime], Ticket],
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    ticket = fresh(open_at(wib(13, 8)))

    with django_assert_num_queries(0):
        html = render_due(ticket, wib(13, 9))

    assert 'class="sla-due sla-breached"' in html
    assert "First response target: Overdue" in html


def test_sla_due_partial_paused(
    open_at: Callable[[datetime], Ticket], clock: Clock, agent_admin: User
) -> None:
    ticket = open_at(wib(13, 8))
    clock.set(wib(13, 8, 30))
    change_status(ticket, TicketStatus.WAITING, actor=agent_admin)

    html = render_due(fresh(ticket), wib(13, 9))

    assert 'class="sla-due sla-paused">Paused<' in html


def test_sla_due_partial_met(
    open_at: Callable[[datetime], Ticket], clock: Clock, agent_admin: User
) -> None:
    ticket = open_at(wib(13, 8))
    clock.set(wib(13, 8, 30))
    change_status(ticket, TicketStatus.RESOLVED, actor=agent_admin)

    html = render_due(fresh(ticket), wib(13, 9))

    assert 'class="sla-due sla-met">Met<' in html


def test_sla_due_partial_annotated_warning(
    open_at: Callable[[datetime], Ticket],
) -> None:
    ticket = Ticket.objects.select_related("team", "service").get(
        pk=open_at(wib(13, 8)).pk
    )
    annotate_percent_used([ticket], wib(13, 8, 48))

    html = render_due(ticket, wib(13, 8, 48))

    assert 'class="sla-due sla-warning"' in html
    assert "First response target: Due soon" in html


def test_sla_due_partial_below_warning(
    open_at: Callable[[datetime], Ticket],
) -> None:
    ticket = Ticket.objects.select_related("team", "service").get(
        pk=open_at(wib(13, 8)).pk
    )
    annotate_percent_used([ticket], wib(13, 8, 47))

    html = render_due(ticket, wib(13, 8, 47))

    assert 'class="sla-due sla-ok"' in html
