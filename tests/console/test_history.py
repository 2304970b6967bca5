"""The history generator (layanan.console.history) and ``layanan demo-data``."""

import io
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import models

from layanan.catalog.calendars import (
    add_business_minutes,
    business_minutes_between,
    calendar_for_team,
)
from layanan.catalog.models import Service, StudyProgramme, Team
from layanan.chat.models import Conversation, ConversationStatus, EndedBy
from layanan.console.history import (
    BusinessClock,
    HistoryOptions,
    generate_history,
)
from layanan.people.models import Requester, RequesterKind
from layanan.tickets.models import (
    Ticket,
    TicketCounter,
    TicketEntry,
    TicketSource,
    TicketStatus,
)

pytestmark = pytest.mark.django_db

WIB = ZoneInfo("Asia/Jakarta")
END = datetime(2026, 12, 1, tzinfo=WIB)
TICKETS = 600
CHATS = 400


class RecordingWriter:
    """Keep generated rows in memory instead of writing them."""

    def __init__(self) -> None:
        self.rows: dict[str, list[tuple[Any, ...]]] = {}

    def write(self, model: type[models.Model], rows: Any) -> None:
        self.rows.setdefault(model._meta.label, []).extend(rows)


def options(seed: int = 7, **changes: Any) -> HistoryOptions:
    values: dict[str, Any] = {
        "tickets": TICKETS,
        "chats": CHATS,
        "seed": seed,
        "days": 120,
        "end": END,
        **changes,
    }
    return HistoryOptions(**values)


@pytest.fixture
def history(catalogue: dict[str, Team]) -> HistoryOptions:
    """Generate the standard small history and return its options."""
    generated = options()
    generate_history(generated)
    return generated


def local(moment: datetime) -> datetime:
    return moment.astimezone(WIB)


# Determinism


def test_generate_history_same_seed_same_rows(catalogue: dict[str, Team]) -> None:
    first = RecordingWriter()
    second = RecordingWriter()
    generate_history(options(), writer=first)
    generate_history(options(), writer=second)
    assert first.rows == second.rows


def test_generate_history_other_seed_other_rows(catalogue: dict[str, Team]) -> None:
    first = RecordingWriter()
    second = RecordingWriter()
    generate_history(options(seed=7), writer=first)
    generate_history(options(seed=8), writer=second)
    assert first.rows["tickets.Ticket"] != second.rows["tickets.Ticket"]


# Counts


def test_generate_history_ticket_count(history: HistoryOptions) -> None:
    assert Ticket.objects.count() == TICKETS


def test_generate_history_chat_count(history: HistoryOptions) -> None:
    assert Conversation.objects.count() == CHATS


def test_generate_history_every_ticket_has_opening_entry(
    history: HistoryOptions,
) -> None:
    with_entries = TicketEntry.objects.values("ticket_id").distinct().count()
    assert with_entries == TICKETS


def test_generate_history_numbers_unique(history: HistoryOptions) -> None:
    numbers = list(Ticket.objects.values_list("number", flat=True))
    assert len(set(numbers)) == TICKETS


def test_generate_history_counter_at_last_serial(history: HistoryOptions) -> None:
    last = Ticket.objects.filter(number__startswith="EKB-2026-").order_by("number")
    serial = int(last.last().number.rsplit("-", 1)[1])  # type: ignore[union-attr]
    assert TicketCounter.objects.get(year=2026).last_serial == serial


def test_generate_history_second_run_adds_rows(history: HistoryOptions) -> None:
    generate_history(options(seed=9))
    assert Ticket.objects.count() == 2 * TICKETS


def test_generate_history_chat_tickets_linked(history: HistoryOptions) -> None:
    chat_tickets = Ticket.objects.filter(source=TicketSource.CHAT)
    assert chat_tickets.exists()
    for ticket in chat_tickets.select_related("conversation"):
        assert ticket.conversation is not None
        assert ticket.conversation.ticket_number == ticket.number


def test_generate_history_chat_ticket_share(history: HistoryOptions) -> None:
    share = Ticket.objects.filter(source=TicketSource.CHAT).count() / TICKETS
    assert 0.3 <= share <= 0.45


# Values within bounds


def test_generate_history_created_inside_period(history: HistoryOptions) -> None:
    start = END - timedelta(days=120)
    for created in Ticket.objects.values_list("created", flat=True):
        assert start <= created < END
    for created in Conversation.objects.values_list("created", flat=True):
        assert start <= created < END


def test_generate_history_first_response_minutes_exact(
    history: HistoryOptions,
) -> None:
    answered = Ticket.objects.exclude(first_response_at=None).select_related("team")
    assert answered.exists()
    for ticket in answered:
        calendar = calendar_for_team(ticket.team)
        assert ticket.first_response_at is not None
        expected = business_minutes_between(
            ticket.created, ticket.first_response_at, calendar
        )
        assert ticket.first_response_minutes == pytest.approx(expected, abs=1e-6)


def test_generate_history_resolution_minutes_exclude_pauses(
    history: HistoryOptions,
) -> None:
    resolved = Ticket.objects.exclude(resolved_at=None).prefetch_related("pauses")
    assert resolved.exists()
    for ticket in resolved.select_related("team"):
        calendar = calendar_for_team(ticket.team)
        assert ticket.resolved_at is not None
        paused = sum(
            business_minutes_between(pause.started_at, pause.ended_at, calendar)
            for pause in ticket.pauses.all()
            if pause.ended_at is not None
        )
        expected = (
            business_minutes_between(ticket.created, ticket.resolved_at, calendar)
            - paused
        )
        assert ticket.resolution_minutes == pytest.approx(expected, abs=1e-6)


def test_generate_history_moments_in_order(history: HistoryOptions) -> None:
    for ticket in Ticket.objects.all():
        if ticket.first_response_at is not None:
            assert ticket.created <= ticket.first_response_at
        if ticket.resolved_at is not None:
            assert ticket.first_response_at is not None
            assert ticket.first_response_at <= ticket.resolved_at
            assert ticket.resolved_at < END
        if ticket.closed_at is not None:
            assert ticket.resolved_at is not None
            assert ticket.resolved_at < ticket.closed_at < END


def test_generate_history_status_matches_moments(history: HistoryOptions) -> None:
    for ticket in Ticket.objects.all():
        if ticket.closed_at is not None:
            assert ticket.status == TicketStatus.CLOSED
        elif ticket.resolved_at is not None:
            assert ticket.status == TicketStatus.RESOLVED
        elif ticket.first_response_at is None:
            assert ticket.status == TicketStatus.OPEN
        else:
            assert ticket.status in {TicketStatus.IN_PROGRESS, TicketStatus.WAITING}


def test_generate_history_open_tickets_have_due(history: HistoryOptions) -> None:
    unanswered = Ticket.objects.filter(status=TicketStatus.OPEN)
    for ticket in unanswered.select_related("service"):
        assert ticket.first_response_due_at is not None
        calendar = calendar_for_team(ticket.team)
        target = ticket.service.first_response_minutes
        assert target is not None
        due = add_business_minutes(ticket.created, target, calendar)
        assert abs((ticket.first_response_due_at - due).total_seconds()) <= 1


def test_generate_history_ratings_within_scale(history: HistoryOptions) -> None:
    ticket_ratings = Ticket.objects.exclude(rating=None).values_list(
        "rating", flat=True
    )
    chat_ratings = Conversation.objects.exclude(rating=None).values_list(
        "rating", flat=True
    )
    assert ticket_ratings
    assert chat_ratings
    assert set(ticket_ratings) <= {1, 2, 3, 4, 5}
    assert set(chat_ratings) <= {1, 2, 3, 4, 5}


def test_generate_history_rated_only_when_resolved(history: HistoryOptions) -> None:
    for ticket in Ticket.objects.exclude(rating=None):
        assert ticket.resolved_at is not None
        assert ticket.rated_at is not None
        assert ticket.resolved_at < ticket.rated_at < END


def test_generate_history_missed_chats_have_no_agent(
    history: HistoryOptions,
) -> None:
    missed = Conversation.objects.filter(
        status=ConversationStatus.ENDED, accepted_at=None
    )
    assert missed.exists()
    assert not missed.exclude(agent=None).exists()
    assert missed.filter(ended_by=EndedBy.WAIT_LIMIT).exists()


def test_generate_history_accepted_chats_in_order(history: HistoryOptions) -> None:
    accepted = Conversation.objects.exclude(accepted_at=None)
    assert accepted.exists()
    for conversation in accepted:
        assert conversation.agent_id is not None
        assert conversation.accepted_at is not None
        assert conversation.created <= conversation.accepted_at
        if conversation.ended_at is not None:
            assert conversation.accepted_at <= conversation.ended_at


def test_generate_history_has_breaches_and_backlog(history: HistoryOptions) -> None:
    breached = Ticket.objects.filter(first_response_minutes__gt=240).count()
    open_tickets = Ticket.objects.exclude(
        status__in=[TicketStatus.RESOLVED, TicketStatus.CLOSED]
    ).count()
    assert 0.02 * TICKETS <= breached <= 0.25 * TICKETS
    assert open_tickets > 0


def test_generate_history_has_reopens(history: HistoryOptions) -> None:
    assert Ticket.objects.filter(reopen_count__gt=0).exists()


# Coverage of the catalogue and of requesters


def test_generate_history_uses_every_service(history: HistoryOptions) -> None:
    used = set(Ticket.objects.values_list("service_id", flat=True))
    assert used == set(Service.objects.active().values_list("id", flat=True))


def test_generate_history_uses_every_team(history: HistoryOptions) -> None:
    used = set(Ticket.objects.values_list("team_id", flat=True))
    assert used == set(Team.objects.values_list("id", flat=True))


def test_generate_history_uses_every_source(history: HistoryOptions) -> None:
    used = set(Ticket.objects.values_list("source", flat=True))
    assert used == set(TicketSource.values)


def test_generate_history_uses_every_requester_kind(history: HistoryOptions) -> None:
    used = set(Requester.objects.values_list("kind", flat=True))
    assert used == set(RequesterKind.values)


def test_generate_history_students_have_programmes(history: HistoryOptions) -> None:
    students = Requester.objects.filter(kind=RequesterKind.STUDENT)
    assert not students.filter(study_programme=None).exists()
    used = set(students.values_list("study_programme_id", flat=True))
    assert used == set(StudyProgramme.objects.values_list("id", flat=True))


def test_generate_history_teams_get_agents(history: HistoryOptions) -> None:
    for team in Team.objects.all():
        assert team.members.exists(), team.name


# Office hours


def test_generate_history_office_hours_peak(history: HistoryOptions) -> None:
    moments = [
        local(created) for created in Ticket.objects.values_list("created", flat=True)
    ]
    office = sum(
        1 for moment in moments if moment.weekday() < 5 and 8 <= moment.hour < 16
    )
    assert office / len(moments) > 0.6


def test_generate_history_weekends_rare(history: HistoryOptions) -> None:
    moments = [
        local(created)
        for created in Conversation.objects.values_list("created", flat=True)
    ]
    weekend = sum(1 for moment in moments if moment.weekday() >= 5)
    assert weekend / len(moments) < 0.05


def test_generate_history_nights_rare(history: HistoryOptions) -> None:
    hours = Counter(
        local(created).hour
        for created in Ticket.objects.values_list("created", flat=True)
    )
    night = sum(hours[hour] for hour in range(6))
    assert night / TICKETS < 0.02


def test_generate_history_evenings_lighter_than_mornings(
    history: HistoryOptions,
) -> None:
    hours = Counter(
        local(created).hour
        for created in Ticket.objects.values_list("created", flat=True)
    )
    assert hours[19] * 3 < hours[10]


# The business clock


def test_business_clock_matches_calendars(catalogue: dict[str, Team]) -> None:
    calendar = calendar_for_team(None)
    clock = BusinessClock(
        calendar, datetime(2026, 11, 1).date(), datetime(2027, 1, 31).date()
    )
    starts = [
        datetime(2026, 12, 4, 16, 20, tzinfo=WIB),  # Friday, open until 16:30
        datetime(2026, 12, 5, 10, 0, tzinfo=WIB),  # Saturday
        datetime(2026, 12, 24, 23, 0, tzinfo=WIB),  # Christmas Eve, late
        datetime(2026, 12, 7, 7, 30, tzinfo=WIB),  # Monday opening
    ]
    for start in starts:
        for minutes in (0, 1, 10, 510, 2400):
            expected = add_business_minutes(start, minutes, calendar)
            moment = clock.add_minutes(start.timestamp(), minutes)
            assert datetime.fromtimestamp(moment, UTC) == expected, (start, minutes)


def test_business_clock_minutes_match_calendars(catalogue: dict[str, Team]) -> None:
    calendar = calendar_for_team(None)
    clock = BusinessClock(
        calendar, datetime(2026, 11, 1).date(), datetime(2027, 1, 31).date()
    )
    start = datetime(2026, 12, 4, 15, 0, tzinfo=WIB)
    for hours in (0.5, 3, 20, 100, 400):
        end = start + timedelta(hours=hours)
        expected = business_minutes_between(start, end, calendar)
        measured = clock.minutes_between(start.timestamp(), end.timestamp())
        assert measured == pytest.approx(expected, abs=1e-6), hours


# The command


def test_demo_data_command_prints_progress(catalogue: dict[str, Team]) -> None:
    output = io.StringIO()
    call_command(
        "demo-data",
        "--tickets=50",
        "--chats=30",
        "--seed=2",
        "--end=2026-12-01",
        stdout=output,
    )
    lines = output.getvalue().splitlines()
    progress = [line for line in lines if "% (" in line]
    assert len(progress) == 10
    assert progress[-1].startswith("100% (80 of 80")
    assert any(
        line.startswith("Generated 30 chats and 50 tickets in") for line in lines
    )


def test_demo_data_command_creates_rows(catalogue: dict[str, Team]) -> None:
    call_command(
        "demo-data",
        "--tickets=50",
        "--chats=30",
        "--end=2026-12-01",
        stdout=io.StringIO(),
    )
    assert Ticket.objects.count() == 50


def test_demo_data_command_invalid_end_rejected(catalogue: dict[str, Team]) -> None:
    with pytest.raises(CommandError, match="--end '1 Dec' is not a date"):
        call_command("demo-data", "--tickets=1", "--chats=1", "--end=1 Dec")


def test_demo_data_command_negative_count_rejected(
    catalogue: dict[str, Team],
) -> None:
    with pytest.raises(CommandError, match="--tickets is -1: use 0 or more"):
        call_command("demo-data", "--tickets=-1", "--chats=1")


def test_demo_data_command_other_database(tmp_path: Path) -> None:
    target = tmp_path / "other.sqlite3"
    environment = {
        **os.environ,
        "LAYANAN_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "layanan.settings",
    }
    environment.pop("LAYANAN_DATABASE_URL", None)
    completed = subprocess.run(
        [
            sys.executable, "-m", "layanan.cli", "demo-data", "--tickets=20",
            "--chats=10", "--end=2026-12-01", f"--database-url=sqlite:///{target}",
        ],
        env=environment, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    with sqlite3.connect(target) as connection:
        count = connection.execute("SELECT count(*) FROM tickets_ticket").fetchone()
    assert count == (20,)
    assert not (tmp_path / "var" / "layanan.sqlite3").exists()


def test_demo_data_command_invalid_url_rejected(catalogue: dict[str, Team]) -> None:
    with pytest.raises(CommandError, match="--database-url is invalid"):
        call_command(
            "demo-data", "--tickets=1", "--chats=1", "--database-url=mysql://x/y"
        )
