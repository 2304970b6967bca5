"""The daily summary rows: the refresh job, the full rebuild and their agreement.

"now" is Thursday 3 December 2026 10:00 WIB, so the refresh job recomputes
2 and 3 December.
"""

import io
from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from layanan.chat.models import ConversationStatus, EndedBy
from layanan.dashboard.aggregates import span_condition
from layanan.dashboard.filters import DashboardFilters, Period
from layanan.dashboard.jobs import REFRESH_JOB
from layanan.dashboard.metrics import compute_dashboard
from layanan.dashboard.models import (
    DailyDuration,
    DailySummary,
    DurationMetric,
    HourlyVolume,
    ProgrammeVolume,
    Span,
)
from layanan.dashboard.statistics import histogram_percentile, percentile
from layanan.dashboard.summaries import (
    duration_bucket,
    rebuild_summaries,
    refresh_days,
    refresh_recent_days,
)
from layanan.jobs.registry import acquire_lease, default_registry
from layanan.tickets.models import TicketStatus

from .conftest import ChatFactory, TicketFactory, minutes_after, wib

NOW = wib("2026-12-03 10:00")
TODAY = date(2026, 12, 3)


def day_totals(day: date) -> dict[str, int]:
    """Sum every counter of the day's summary rows."""
    totals: dict[str, int] = {}
    for row in DailySummary.objects.filter(day=day, span=Span.DAY).values():
        for name, value in row.items():
            if isinstance(value, int) and name.startswith(
                ("tickets_", "chats_", "first_", "resolution_", "rating_")
            ):
                totals[name] = totals.get(name, 0) + value
    return totals


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Return every summary, duration and hour row as sorted tuples, ids left out."""
    tables = {}
    for model in (DailySummary, ProgrammeVolume, DailyDuration, HourlyVolume):
        names = [f.name for f in model._meta.fields if f.name != "id"]
        rows = model.objects.values_list(*names)
        tables[model.__name__] = sorted(
            (tuple("" if v is None else v for v in row) for row in rows),
            key=repr,
        )
    return tables


@pytest.fixture
def varied_history(
    make_ticket: TicketFactory, make_chat: ChatFactory, agent_admin: User
) -> None:
    """Tickets and chats whose events fall on later days than their creation."""
    opened = wib("2026-11-28 15:00")
    make_ticket(
        opened,
        assignee=agent_admin,
        status=TicketStatus.RESOLVED,
        first_response_at=wib("2026-11-30 08:00"),
        first_response_minutes=300,
        resolved_at=wib("2026-12-02 09:00"),
        resolution_minutes=1500,
        reopen_count=1,
        rating=3,
        rated_at=wib("2026-12-03 08:00"),
    )
    make_ticket(wib("2026-12-01 09:00"), first_response_due_at=wib("2026-12-01 13:00"))
    chat = wib("2026-11-30 23:58")
    make_chat(
        chat,
        agent=agent_admin,
        accepted_at=minutes_after(chat, 4),
        first_agent_reply_at=minutes_after(chat, 5),
        ended_at=minutes_after(chat, 30),
        ended_by=EndedBy.AGENT,
        rating=5,
    )
    make_chat(
        wib("2026-12-02 16:59"),
        ended_at=wib("2026-12-02 17:10"),
        ended_by=EndedBy.WAIT_LIMIT,
    )


def test_duration_bucket_three_digits() -> None:
    assert duration_bucket(59.6) == 60
    assert duration_bucket(1020) == 1020
    assert duration_bucket(12345) == 12300
    assert duration_bucket(-3) == 0


def test_histogram_percentile_matches_exact() -> None:
    values = [30, 300, 10, 30, 1020, 90, 90]
    histogram = {10.0: 1, 30.0: 2, 90.0: 2, 300.0: 1, 1020.0: 1}
    for percent in (10, 50, 90, 100):
        assert histogram_percentile(histogram, 7, percent) == percentile(
            values, percent
        )


def test_histogram_percentile_empty() -> None:
    assert histogram_percentile({}, 0, 50) is None


def test_rebuild_equals_refresh_every_day(varied_history: None) -> None:
    rebuild_summaries()
    rebuilt = snapshot()
    for model in (DailySummary, ProgrammeVolume, DailyDuration, HourlyVolume):
        model.objects.all().delete()
    for offset in range(8):
        refresh_days({date(2026, 11, 27) + timedelta(days=offset)})
    assert snapshot() == rebuilt


def test_rebuild_equals_refresh_two_days(varied_history: None) -> None:
    rebuild_summaries()
    rebuilt = snapshot()
    refresh_days({date(2026, 12, 2), date(2026, 12, 3)})
    assert snapshot() == rebuilt


def test_events_count_on_their_day(varied_history: None) -> None:
    rebuild_summaries()
    assert day_totals(date(2026, 11, 28))["tickets_opened"] == 1
    assert day_totals(date(2026, 11, 30))["first_response_measured"] == 1
    assert day_totals(date(2026, 11, 30))["first_response_met"] == 0
    assert day_totals(date(2026, 12, 2))["tickets_resolved"] == 1
    assert day_totals(date(2026, 12, 2))["tickets_resolved_reopened"] == 1
    assert day_totals(date(2026, 12, 3))["rating_3"] == 1


def test_chat_at_2358_wib_counts_that_day(varied_history: None) -> None:
    rebuild_summaries()
    assert day_totals(date(2026, 11, 30))["chats_started"] == 1
    # Accepted four minutes later, after local midnight.
    assert day_totals(date(2026, 12, 1))["chats_accepted"] == 1
    hours = HourlyVolume.objects.filter(day=date(2026, 11, 30), hour=23)
    assert sum(row.count for row in hours) == 1


def test_chat_at_2330_wib_on_its_day(make_chat: ChatFactory) -> None:
    # 23:30 WIB is 16:30 UTC of the same date.
    make_chat(wib("2026-12-02 23:30"), status=ConversationStatus.WAITING)
    rebuild_summaries()
    dashboard = compute_dashboard(
        DashboardFilters(Period(TODAY, TODAY).previous(), team_scope=None),
        NOW,
        {},
        {},
    )
    assert dashboard.current.chat_count == 1
    assert dashboard.heatmap[2][23] == 1


def test_missed_chat_counts_on_end_day(varied_history: None) -> None:
    rebuild_summaries()
    # Started 16:59 WIB on 2 December, ended unanswered at 17:10.
    assert day_totals(date(2026, 12, 2))["chats_missed"] == 1


def test_refresh_rebuilds_empty_table(varied_history: None) -> None:
    refresh_recent_days(NOW)
    assert day_totals(date(2026, 11, 28))["tickets_opened"] == 1


def test_refresh_picks_up_new_ticket(
    varied_history: None, make_ticket: TicketFactory
) -> None:
    refresh_recent_days(NOW)
    make_ticket(wib("2026-12-03 09:30"))
    assert day_totals(TODAY).get("tickets_opened", 0) == 0
    refresh_recent_days(NOW)
    assert day_totals(TODAY)["tickets_opened"] == 1


def test_refresh_picks_up_new_chat(
    varied_history: None, make_chat: ChatFactory, agent_admin: User
) -> None:
    refresh_recent_days(NOW)
    started = wib("2026-12-03 09:00")
    make_chat(
        started,
        status=ConversationStatus.ACTIVE,
        agent=agent_admin,
        accepted_at=minutes_after(started, 2),
    )
    refresh_recent_days(NOW)
    assert day_totals(TODAY)["chats_started"] == 1
    assert day_totals(TODAY)["chats_accepted"] == 1
    waits = DailyDuration.objects.filter(day=TODAY, metric=DurationMetric.CHAT_WAIT)
    assert [(row.bucket, row.count) for row in waits] == [(120.0, 1)]


def test_refresh_picks_up_resolution(
    varied_history: None, make_ticket: TicketFactory
) -> None:
    opened = wib("2026-11-25 10:00")
    ticket = make_ticket(opened, status=TicketStatus.IN_PROGRESS)
    refresh_recent_days(NOW)
    assert day_totals(TODAY).get("tickets_resolved", 0) == 0
    ticket.status = TicketStatus.RESOLVED
    ticket.resolved_at = wib("2026-12-03 09:45")
    ticket.resolution_minutes = 900
    ticket.save()
    refresh_recent_days(NOW)
    assert day_totals(TODAY)["tickets_resolved"] == 1
    assert day_totals(TODAY)["resolution_measured"] == 1
    assert day_totals(date(2026, 11, 25))["tickets_opened"] == 1


def test_refresh_leaves_older_days(
    varied_history: None, make_ticket: TicketFactory
) -> None:
    refresh_recent_days(NOW)
    make_ticket(wib("2026-11-29 09:00"))
    refresh_recent_days(NOW)
    assert day_totals(date(2026, 11, 29)).get("tickets_opened", 0) == 0


def test_refresh_job_registered() -> None:
    assert REFRESH_JOB in default_registry.names()


def test_rebuild_command_progress(varied_history: None) -> None:
    output = io.StringIO()
    call_command("dashboard-rebuild", stdout=output)
    text = output.getvalue()
    assert "tickets read" in text
    assert "chats read" in text
    assert "Rebuilt" in text
    assert DailySummary.objects.exists()


def test_month_rows_sum_day_rows(varied_history: None) -> None:
    rebuild_summaries()
    month = DailySummary.objects.filter(span=Span.MONTH, day=date(2026, 11, 1))
    assert sum(row.tickets_opened for row in month) == 1
    assert sum(row.chats_started for row in month) == 1
    assert sum(row.first_response_measured for row in month) == 1


def selected_rows(first_day: date, last_day: date) -> list[tuple[str, str]]:
    """Return (span, day) of the rows span_condition picks from a fixed set."""
    spans = [(Span.MONTH, date(2026, month, 1)) for month in (10, 11, 12)]
    spans += [(Span.DAY, date(2026, 10, 14)), (Span.DAY, date(2026, 10, 15))]
    spans += [(Span.DAY, date(2026, 11, 20)), (Span.DAY, date(2026, 12, 3))]
    for span, day in spans:
        DailySummary.objects.create(
            span=span, day=day, service_id=1, team_id=1, requester_kind="student"
        )
    rows = DailySummary.objects.filter(span_condition(first_day, last_day))
    return sorted((row.span, row.day.isoformat()) for row in rows)


def test_span_condition_whole_months(db: None) -> None:
    assert selected_rows(date(2026, 10, 15), date(2026, 12, 3)) == [
        ("day", "2026-10-15"),
        ("day", "2026-12-03"),
        ("month", "2026-11-01"),
    ]


def test_span_condition_days_only(db: None) -> None:
    assert selected_rows(date(2026, 11, 5), date(2026, 12, 3)) == [
        ("day", "2026-11-20"),
        ("day", "2026-12-03"),
    ]


def test_year_window_matches_days(
    varied_history: None, make_ticket: TicketFactory
) -> None:
    make_ticket(wib("2026-10-10 09:00"))
    rebuild_summaries()
    year = DashboardFilters(Period(date(2025, 12, 4), date(2026, 12, 3)), None)
    dashboard = compute_dashboard(year, NOW, {}, {})
    assert dashboard.current.ticket_count == 3
    assert dashboard.current.chat_count == 2
    assert sum(day.tickets for day in dashboard.daily) == 3


def test_rebuild_command_waits_for_lease(varied_history: None) -> None:
    acquire_lease(REFRESH_JOB, "worker-1", 600)
    with pytest.raises(CommandError, match="still held"):
        call_command("dashboard-rebuild", "--wait", "0", stdout=io.StringIO())
    assert not DailySummary.objects.exists()


def test_rebuild_command_releases_lease(varied_history: None) -> None:
    call_command("dashboard-rebuild", stdout=io.StringIO())
    assert acquire_lease(REFRESH_JOB, "worker-1", 600)
