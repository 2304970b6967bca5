"""Response and resolution metrics with automatic messages, a bot and a reopen.

The events of data/15/15-events.json are replayed through the chat, ticket and
reply services with a fixed clock, on a team calendar open Monday to Friday
08:00-17:00 WIB. The product has no bot sender, so the greeting and both bot
messages are system messages of the chat. The chat becomes a ticket after the
agent's first reply, as an agent does when a chat needs follow-up.

Where the product's definitions differ from the case:

- First response is measured from the chat's start (840 s), not from a bot
  hand-off, which the product does not record.
- The product counts resolved tickets, each once on the day of its latest
  resolution, and keeps no resolution events: the case's 2 events (one per
  day) show as 1 ticket resolved on 2 December and none on 1 December.
- Resolution time is one value per ticket, from the chat's start to the latest
  resolution with the resolved interval paused, not one value per round:
  32 business minutes on 1 December plus 45 on 2 December (the clock opens at
  08:00, after the 07:10 reply), so 77 business minutes.
- The product reports no response time for the round after a reopen, only an
  update due time, so the case's 4,200 s and 1,200 s have no counterpart.
- The agents table shows handled chats and tickets, not public replies.
"""

import csv
import io
import json
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.test import Client
from django.utils import timezone

from layanan.catalog.models import BusinessCalendar, BusinessHours, Service, Team
from layanan.chat.models import Conversation, ConversationNote, SenderKind
from layanan.chat.services import (
    NewChat,
    NewMessage,
    accept_conversation,
    post_message,
    post_system_message,
    start_conversation,
)
from layanan.dashboard.filters import DashboardFilters, Period
from layanan.dashboard.metrics import Dashboard, compute_dashboard
from layanan.dashboard.models import DailySummary, Span
from layanan.dashboard.summaries import rebuild_summaries
from layanan.people.models import AgentProfile, Requester
from layanan.tickets import workflow
from layanan.tickets.models import (
    EntryKind,
    EntrySource,
    Ticket,
    TicketEntry,
    TicketStatus,
)
from layanan.tickets.replies import record_public_reply
from layanan.tickets.services import create_ticket_from_conversation

CASE = json.loads(
    (Path(__file__).parent / "data" / "15" / "15-events.json").read_text()
)
EVENTS = {event["id"]: event for event in CASE["events"]}
EXPECTED = CASE["expected"]
PERIOD = Period(date(2026, 12, 1), date(2026, 12, 2))
# After the last event, so the dashboard reads a finished history.
NOW = datetime.fromisoformat("2026-12-03T09:00:00+07:00")


def event_time(event_id: str) -> datetime:
    return datetime.fromisoformat(EVENTS[event_id]["at"])


class Clock:
    """A settable replacement for timezone.now."""

    def __init__(self) -> None:
        self.moment = NOW

    def now(self) -> datetime:
        return self.moment

    def set(self, moment: datetime) -> None:
        self.moment = moment


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(timezone, "now", clock.now)
    return clock


@pytest.fixture
def office_hours(admin_team: Team) -> BusinessCalendar:
    """Give Administrasi a calendar open Monday to Friday 08:00-17:00 WIB."""
    calendar = BusinessCalendar.objects.create(
        name="Kantor 08-17", time_zone="Asia/Jakarta", national_holidays=False
    )
    for weekday in range(5):
        BusinessHours.objects.create(
            calendar=calendar, weekday=weekday, start=time(8), end=time(17)
        )
    admin_team.calendar = calendar
    admin_team.save(update_fields=["calendar"])
    return calendar


@pytest.fixture
def rina(admin_team: Team) -> User:
    user = User.objects.create_user(
        username="rina", password="unused-password-0", first_name="Rina"
    )
    AgentProfile.objects.create(user=user)
    admin_team.members.add(user)
    return user


def customer_message(conversation: Conversation, event_id: str) -> None:
    post_message(
        conversation,
        NewMessage(
            sender_kind=SenderKind.REQUESTER,
            sender_name=conversation.requester_name,
            body=EVENTS[event_id]["text"],
            client_id=event_id,
        ),
    )


def replay_chat(
    clock: Clock, service: Service, student: Requester, rina: User
) -> Conversation:
    """Replay E1-E7: the chat up to the agent's first public reply."""
    clock.set(event_time("E1"))
    conversation, _token = start_conversation(
        NewChat(
            requester=student,
            email=student.email,
            service=service,
            topic=EVENTS["E1"]["text"],
            language="id",
        )
    )
    customer_message(conversation, "E1")
    for event_id, key in (("E2", "greeting"), ("E3", "bot-triage")):
        clock.set(event_time(event_id))
        post_system_message(conversation, key, EVENTS[event_id]["text"])
    clock.set(event_time("E4"))
    customer_message(conversation, "E4")
    clock.set(event_time("E5"))
    post_system_message(conversation, "bot-handoff", EVENTS["E5"]["text"])

    clock.set(event_time("E6"))
    accept_conversation(conversation, rina)
    ConversationNote.objects.create(
        conversation=conversation,
        author=rina,
        author_name="Rina",
        body=EVENTS["E6"]["text"],
    )
    clock.set(event_time("E7"))
    post_message(
        conversation,
        NewMessage(
            sender_kind=SenderKind.AGENT,
            sender=rina,
            sender_name="Rina",
            body=EVENTS["E7"]["text"],
            client_id="E7",
        ),
    )
    conversation.refresh_from_db()
    return conversation


def replay_ticket(clock: Clock, conversation: Conversation, rina: User) -> Ticket:
    """Make the ticket after E7, then replay E8-E12 on it."""
    clock.set(event_time("E7").replace(second=30))
    ticket = create_ticket_from_conversation(conversation, rina)
    workflow.claim(ticket, actor=rina)
    clock.set(event_time("E8"))
    workflow.change_status(ticket, TicketStatus.RESOLVED, actor=rina)

    clock.set(event_time("E9"))
    with transaction.atomic():
        TicketEntry.objects.create(
            ticket=ticket,
            kind=EntryKind.PUBLIC,
            source=EntrySource.EMAIL,
            author_name=conversation.requester_name,
            author_email=conversation.requester_email,
            body=EVENTS["E9"]["text"],
        )
        ticket = workflow.requester_replied(
            ticket,
            workflow.RequesterReply(
                sender=conversation.requester_email,
                sender_name=conversation.requester_name,
                message_id="<e9@mail.example>",
                body=EVENTS["E9"]["text"],
            ),
        )
    clock.set(event_time("E10"))
    TicketEntry.objects.create(
        ticket=ticket,
        kind=EntryKind.AUTOMATIC,
        source=EntrySource.SYSTEM,
        author_name="Layanan",
        body=EVENTS["E10"]["text"],
    )
    clock.set(event_time("E11"))
    with transaction.atomic():
        record_public_reply(ticket, rina, EVENTS["E11"]["text"], [])
    clock.set(event_time("E12"))
    workflow.change_status(ticket, TicketStatus.RESOLVED, actor=rina)
    clock.set(NOW)
    ticket.refresh_from_db()
    return ticket


@pytest.fixture
def replayed(
    clock: Clock,
    office_hours: BusinessCalendar,
    admin_service: Service,
    student: Requester,
    rina: User,
) -> dict[str, Any]:
    conversation = replay_chat(clock, admin_service, student, rina)
    ticket = replay_ticket(clock, conversation, rina)
    rebuild_summaries()
    return {"conversation": conversation, "ticket": ticket, "rina": rina}


def compute() -> Dashboard:
    return compute_dashboard(
        DashboardFilters(period=PERIOD, team_scope=None), NOW, {}, {}
    )


def test_case15_chat_first_reply_is_human(replayed: dict[str, Any]) -> None:
    conversation = replayed["conversation"]
    assert conversation.first_agent_reply_at == event_time("E7")


def test_case15_ticket_first_response_from_chat(replayed: dict[str, Any]) -> None:
    ticket = replayed["ticket"]
    expected_seconds = EXPECTED["first_response_seconds"]["if_measured_from_creation"]
    assert ticket.first_response_at == event_time("E7")
    assert ticket.first_response_minutes == expected_seconds / 60


def test_case15_first_response_survives_reopen(replayed: dict[str, Any]) -> None:
    ticket = replayed["ticket"]
    assert ticket.reopen_count == 1
    assert ticket.first_response_at == event_time("E7")


def test_case15_dashboard_first_response(replayed: dict[str, Any]) -> None:
    current = compute().current
    expected_minutes = (
        EXPECTED["first_response_seconds"]["if_measured_from_creation"] / 60
    )
    assert current.first_response_business.median == expected_minutes
    assert current.first_response_calendar.median == expected_minutes
    assert current.chat_first_response.median == 840


def test_case15_dashboard_counts_tickets(replayed: dict[str, Any]) -> None:
    current = compute().current
    distinct = EXPECTED["distinct_conversations_resolved_2026-12-01_to_2026-12-02"]
    assert current.resolved_tickets == distinct
    assert current.reopened_tickets == 1


def test_case15_resolved_on_latest_day(replayed: dict[str, Any]) -> None:
    """Check the product's rule: one count on the day of the latest resolution."""
    resolved_by_day: dict[date, int] = {}
    for summary in DailySummary.objects.filter(span=Span.DAY):
        resolved_by_day[summary.day] = (
            resolved_by_day.get(summary.day, 0) + summary.tickets_resolved
        )
    assert resolved_by_day.get(date(2026, 12, 1), 0) == 0
    assert resolved_by_day.get(date(2026, 12, 2), 0) == 1


def test_case15_resolution_pauses_reopen(replayed: dict[str, Any]) -> None:
    ticket = replayed["ticket"]
    current = compute().current
    first_round_minutes = EXPECTED["resolution_time_seconds"]["first"] / 60
    assert ticket.resolved_at == event_time("E12")
    assert ticket.resolution_minutes == first_round_minutes + 45
    assert current.resolution_business.median == 77


def test_case15_agent_handled_counts(replayed: dict[str, Any]) -> None:
    rina = replayed["rina"]
    row = next(row for row in compute().agents if row.user_id == rina.pk)
    assert row.chats == 1
    assert row.tickets == 1


def test_case15_csv_export_row(replayed: dict[str, Any], supervisor: User) -> None:
    client = Client()
    client.force_login(supervisor)
    response: Any = client.get(
        "/dashboard/export.csv",
        {"period": "custom", "date_from": "2026-12-01", "date_to": "2026-12-02"},
    )
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = {row["type"]: row for row in csv.DictReader(io.StringIO(text))}
    ticket_row, chat_row = rows["ticket"], rows["chat"]
    assert ticket_row["first_response_business_minutes"] == "14.0"
    assert ticket_row["first_response_calendar_minutes"] == "14.0"
    assert ticket_row["resolution_business_minutes"] == "77.0"
    assert ticket_row["reopen_count"] == "1"
    assert ticket_row["resolved_at"] == "2026-12-02 08:45:00+07:00"
    assert chat_row["chat_first_response_seconds"] == "840.0"
    assert chat_row["wait_seconds"] == "600.0"


def test_case15_not_counted_as_responses(replayed: dict[str, Any]) -> None:
    """Check that no automatic, bot or note event set the first response."""
    forbidden = EXPECTED["first_response_seconds"]["must_not_be_any_of"]
    started = replayed["conversation"].created
    seconds = (replayed["ticket"].first_response_at - started).total_seconds()
    assert seconds not in forbidden
