"""Every tile, percentile and chart series on a small history, computed by hand.

The period is 1-2 December 2026 (WIB), "now" is Thursday 3 December 09:00 WIB
and the previous period is 29-30 November. The default calendar is open Monday
to Thursday 07:30-16:00 and Friday 07:30-16:30 WIB.

Tickets in the period (business minutes are what the SLA code recorded):

- T1 Tue 09:00, first reply after 30 min (30 business), resolved after 120 min
  (120 business), rated 5, assigned to Sari, from a chat.
- T2 Tue 15:00, first reply Wed 08:00 (1020 calendar, 300 business: missed the
  240-minute target), reopened once, in progress, Sari, a staff requester.
- T3 Wed 10:00 from the offline form, no reply, first response due Wed 14:00:
  breached.
- T4 Wed 23:30 WIB (16:30 UTC, still Wednesday), first reply after 10 min,
  waiting, Dewi. Its resolution is due Fri 08:00, 450 business minutes from
  now, which is less than 20% of its 2400: at risk.

Chats in the period:

- C1 Tue 08:00, accepted after 120 s, first reply after 180 s, ended after
  1200 s, Sari, rated 4.
- C2 Tue 10:00, accepted after 30 s, first reply after 90 s, ended after 600 s.
- C3 Wed 13:00, never accepted, ended by the wait limit: missed.
- C4 Wed 14:00, the requester left before anyone accepted it: missed.
- C5 Tue 23:30 WIB, accepted after 60 s, first reply after 300 s, still active
  with Sari.
- C6 Tue 17:05 UTC, which is Wed 00:05 WIB, still waiting.

The dashboard reads summary rows, so ``compute`` rebuilds them first. Events
count on the day they happened. T3's overdue first response is not measured
until it is sent, so first-response compliance is 2 of the 3 replies sent. The
reopen rate is over the tickets resolved in the period, which is T1 only.
"""

from datetime import date
from typing import Any

import pytest
from django.contrib.auth.models import User

from layanan.catalog.models import Service
from layanan.chat.models import ConversationStatus, EndedBy
from layanan.dashboard.backlog import AgeBucket, age_bucket
from layanan.dashboard.filters import DashboardFilters, Period
from layanan.dashboard.metrics import Dashboard, compute_dashboard
from layanan.dashboard.statistics import Compliance, percentile, summarise
from layanan.dashboard.summaries import rebuild_summaries
from layanan.people.models import Requester
from layanan.tickets.models import TicketSource, TicketStatus

from .conftest import ChatFactory, TicketFactory, minutes_after, wib

NOW = wib("2026-12-03 09:00")
PERIOD = Period(date(2026, 12, 1), date(2026, 12, 2))


@pytest.fixture
def history(
    make_ticket: TicketFactory,
    make_chat: ChatFactory,
    agent_admin: User,
    second_agent_admin: User,
    staff: Requester,
) -> dict[str, Any]:
    sari, dewi = agent_admin, second_agent_admin
    t1_created = wib("2026-12-01 09:00")
    t1 = make_ticket(
        t1_created,
        source=TicketSource.CHAT,
        status=TicketStatus.RESOLVED,
        assignee=sari,
        first_response_at=minutes_after(t1_created, 30),
        first_response_minutes=30,
        resolved_at=minutes_after(t1_created, 120),
        resolution_minutes=120,
        rating=5,
        rating_comment="Cepat sekali, terima kasih",
        rated_at=wib("2026-12-01 12:00"),
    )
    t2 = make_ticket(
        wib("2026-12-01 15:00"),
        requester=staff,
        status=TicketStatus.IN_PROGRESS,
        assignee=sari,
        first_response_at=wib("2026-12-02 08:00"),
        first_response_minutes=300,
        reopen_count=1,
    )
    t3 = make_ticket(
        wib("2026-12-02 10:00"),
        source=TicketSource.OFFLINE,
        first_response_due_at=wib("2026-12-02 14:00"),
    )
    t4_created = wib("2026-12-02 23:30")
    t4 = make_ticket(
        t4_created,
        source=TicketSource.AGENT,
        status=TicketStatus.WAITING,
        assignee=dewi,
        first_response_at=minutes_after(t4_created, 10),
        first_response_minutes=10,
        resolution_due_at=wib("2026-12-04 08:00"),
    )
    # Open tickets from before the period, for the backlog only.
    old = make_ticket(
        wib("2026-11-20 10:00"), resolution_due_at=wib("2026-11-27 10:00")
    )
    middle = make_ticket(
        wib("2026-11-27 10:00"), first_response_due_at=wib("2026-12-04 09:00")
    )
    # 48 business minutes of its 240 are left: exactly 80% used, not over.
    today = make_ticket(
        wib("2026-12-03 08:00"), first_response_due_at=wib("2026-12-03 09:48")
    )

    c1 = wib("2026-12-01 08:00")
    make_chat(
        c1,
        agent=sari,
        accepted_at=minutes_after(c1, 2),
        first_agent_reply_at=minutes_after(c1, 3),
        ended_at=minutes_after(c1, 20),
        ended_by=EndedBy.AGENT,
        rating=4,
        rating_comment="Ramah",
    )
    c2 = wib("2026-12-01 10:00")
    make_chat(
        c2,
        agent=sari,
        accepted_at=minutes_after(c2, 0.5),
        first_agent_reply_at=minutes_after(c2, 1.5),
        ended_at=minutes_after(c2, 10),
        ended_by=EndedBy.REQUESTER,
    )
    c3 = wib("2026-12-02 13:00")
    make_chat(c3, ended_at=minutes_after(c3, 5), ended_by=EndedBy.WAIT_LIMIT)
    c4 = wib("2026-12-02 14:00")
    make_chat(c4, ended_at=minutes_after(c4, 1), ended_by=EndedBy.REQUESTER)
    c5 = wib("2026-12-01 23:30")
    make_chat(
        c5,
        status=ConversationStatus.ACTIVE,
        agent=sari,
        accepted_at=minutes_after(c5, 1),
        first_agent_reply_at=minutes_after(c5, 5),
    )
    make_chat(wib("2026-12-02 00:05"), status=ConversationStatus.WAITING)

    # The previous period: one ticket that met both targets, one accepted chat.
    t0_created = wib("2026-11-30 10:00")
    make_ticket(
        t0_created,
        status=TicketStatus.RESOLVED,
        first_response_at=minutes_after(t0_created, 60),
        first_response_minutes=60,
        resolved_at=minutes_after(t0_created, 200),
        resolution_minutes=200,
    )
    c0 = wib("2026-11-29 09:00")
    make_chat(
        c0,
        agent=sari,
        accepted_at=minutes_after(c0, 1.5),
        ended_at=minutes_after(c0, 10),
        ended_by=EndedBy.AGENT,
    )
    return {
        "t1": t1,
        "t2": t2,
        "t3": t3,
        "t4": t4,
        "old": old,
        "middle": middle,
        "today": today,
        "sari": sari,
        "dewi": dewi,
    }


def compute(**filters: Any) -> Dashboard:
    """Rebuild the summary rows from the history, then compute the dashboard."""
    rebuild_summaries()
    return compute_dashboard(
        DashboardFilters(period=PERIOD, team_scope=None, **filters),
        NOW,
        {},
        {},
    )


def test_percentile_nearest_rank() -> None:
    assert percentile([4, 1, 3, 2], 50) == 2
    assert percentile([4, 1, 3, 2], 90) == 4
    assert percentile([7], 90) == 7
    assert percentile([], 50) is None
    assert percentile(list(range(1, 11)), 90) == 9


def test_percentile_rejects_zero() -> None:
    with pytest.raises(ValueError, match="invalid"):
        percentile([1], 0)


def test_summarise_counts_values() -> None:
    summary = summarise([10, 30, 300])
    assert summary.count == 3
    assert summary.median == 30
    assert summary.p90 == 300


def test_age_bucket_lower_bounds() -> None:
    assert age_bucket(0) == AgeBucket.UNDER_1
    assert age_bucket(1) == AgeBucket.FROM_1_TO_3
    assert age_bucket(2) == AgeBucket.FROM_1_TO_3
    assert age_bucket(3) == AgeBucket.FROM_3_TO_7
    assert age_bucket(6) == AgeBucket.FROM_3_TO_7
    assert age_bucket(7) == AgeBucket.OVER_7


def test_volume_counts_period(history: dict[str, Any]) -> None:
    current = compute().current
    assert current.chat_count == 6
    assert current.ticket_count == 4
    assert current.volume == 10


def test_volume_previous_period(history: dict[str, Any]) -> None:
    previous = compute().previous
    assert previous.chat_count == 1
    assert previous.ticket_count == 1


def test_daily_series_local_days(history: dict[str, Any]) -> None:
    daily = compute().daily
    assert [(d.day, d.chats, d.tickets) for d in daily] == [
        (date(2026, 12, 1), 3, 2),
        (date(2026, 12, 2), 3, 2),
    ]


def test_heatmap_local_hours(history: dict[str, Any]) -> None:
    grid = compute().heatmap
    tuesday, wednesday = 1, 2
    assert grid[tuesday][8] == 1  # C1
    assert grid[tuesday][9] == 1  # T1
    assert grid[tuesday][10] == 1  # C2
    assert grid[tuesday][15] == 1  # T2
    assert grid[tuesday][23] == 1  # C5 at 23:30 WIB
    assert grid[wednesday][0] == 1  # C6 at 17:05 UTC
    assert grid[wednesday][10] == 1  # T3
    assert grid[wednesday][13] == 1  # C3
    assert grid[wednesday][14] == 1  # C4
    assert grid[wednesday][23] == 1  # T4 at 23:30 WIB
    assert sum(sum(row) for row in grid) == 10


def test_chat_waiting_time(history: dict[str, Any]) -> None:
    wait = compute().current.chat_wait
    assert wait.count == 3
    assert wait.median == 60
    assert wait.p90 == 120


def test_chat_first_response(history: dict[str, Any]) -> None:
    first_response = compute().current.chat_first_response
    assert first_response.median == 180
    assert first_response.p90 == 300


def test_chat_duration_accepted_only(history: dict[str, Any]) -> None:
    duration = compute().current.chat_duration
    assert duration.count == 2
    assert duration.median == 600
    assert duration.p90 == 1200


def test_missed_chats_and_offline(history: dict[str, Any]) -> None:
    current = compute().current
    assert current.missed_chats == 2
    assert current.offline_tickets == 1
    assert current.missed_total == 3
    assert current.missed_percent == pytest.approx(3 / 7 * 100)


def test_ticket_first_response(history: dict[str, Any]) -> None:
    current = compute().current
    assert current.first_response_business.median == 30
    assert current.first_response_business.p90 == 300
    assert current.first_response_calendar.median == 30
    assert current.first_response_calendar.p90 == 1020


def test_ticket_resolution(history: dict[str, Any]) -> None:
    current = compute().current
    assert current.resolution_business.count == 1
    assert current.resolution_business.median == 120
    assert current.resolution_calendar.median == 120


def test_reopen_rate_resolved_only(history: dict[str, Any]) -> None:
    current = compute().current
    assert current.resolved_tickets == 1
    assert current.reopened_tickets == 0
    assert current.reopen_percent == 0


def test_reopen_rate_counts_reopened(
    history: dict[str, Any], make_ticket: TicketFactory
) -> None:
    created = wib("2026-12-01 13:00")
    make_ticket(
        created,
        status=TicketStatus.RESOLVED,
        resolved_at=minutes_after(created, 60),
        resolution_minutes=60,
        reopen_count=2,
    )
    assert compute().current.reopen_percent == 50


def test_sla_compliance_targets(history: dict[str, Any]) -> None:
    current = compute().current
    assert current.first_response_compliance == Compliance(met=2, measured=3)
    assert current.resolution_compliance == Compliance(met=1, measured=1)
    assert current.sla_compliance.percent == 75


def test_sla_compliance_previous(history: dict[str, Any]) -> None:
    assert compute().previous.sla_compliance.percent == 100


def test_sla_by_service(history: dict[str, Any], admin_service: Service) -> None:
    rows = compute().sla_by_service
    assert [row.key for row in rows] == [str(admin_service.pk)]
    assert rows[0].first_response == Compliance(met=2, measured=3)


def test_satisfaction(history: dict[str, Any]) -> None:
    current = compute().current
    assert current.ratings.count == 2
    assert current.ratings.average == 4.5
    assert current.ratings.distribution == (0, 0, 0, 1, 1)
    assert current.rating_base == 3
    assert current.rating_response_percent == pytest.approx(200 / 3)


def test_satisfaction_per_agent(history: dict[str, Any]) -> None:
    rows = compute().ratings_by_agent
    assert [(row.label, row.ratings.average) for row in rows] == [
        ("Sari Wulandari", 4.5)
    ]


def test_comments_newest_first(history: dict[str, Any]) -> None:
    comments = compute().comments
    assert [comment.text for comment in comments] == [
        "Cepat sekali, terima kasih",
        "Ramah",
    ]


def test_volume_by_kind(history: dict[str, Any]) -> None:
    rows = compute().volume.by_kind
    assert [(row.key, row.chats, row.tickets) for row in rows] == [
        ("student", 6, 3),
        ("staff", 0, 1),
    ]


def test_volume_by_source(history: dict[str, Any]) -> None:
    rows = compute().volume.by_source
    assert sorted((row.key, row.tickets) for row in rows) == [
        ("agent", 1),
        ("chat", 1),
        ("email", 1),
        ("offline", 1),
    ]


def test_volume_by_agent(history: dict[str, Any]) -> None:
    rows = compute().volume.by_agent
    assert [(row.label, row.chats, row.tickets) for row in rows] == [
        ("Sari Wulandari", 3, 2),
        ("Unassigned", 3, 1),
        ("Dewi Lestari", 0, 1),
    ]


def test_backlog_states_and_ages(history: dict[str, Any]) -> None:
    backlog = compute().backlog
    assert backlog.total == 6
    assert backlog.by_state["open"] == {
        "under_1": 1,
        "1_3": 1,
        "3_7": 1,
        "over_7": 1,
    }
    assert backlog.by_state["in_progress"]["1_3"] == 1
    assert backlog.by_state["waiting"]["1_3"] == 1


def test_backlog_oldest_first(history: dict[str, Any]) -> None:
    oldest = compute().backlog.oldest
    assert [item.row.number for item in oldest] == [
        history[key].number for key in ("old", "middle", "t2", "t3", "t4", "today")
    ]
    assert [item.working_days for item in oldest] == [9, 4, 2, 1, 1, 0]


def test_backlog_at_risk_business_hours(history: dict[str, Any]) -> None:
    backlog = compute().backlog
    assert backlog.at_risk == 1
    assert backlog.breached == 2


def test_agent_rows(history: dict[str, Any]) -> None:
    rows = {row.label: row for row in compute().agents}
    sari = rows["Sari Wulandari"]
    assert sari.chats == 3
    assert sari.tickets == 2
    assert sari.chat_first_response_median == 180
    assert sari.ticket_first_response_median == 30
    assert sari.ratings.average == 4.5
    assert sari.active_chats == 1
    assert sari.open_tickets == 1
    assert sari.load == 2
    dewi = rows["Dewi Lestari"]
    assert dewi.tickets == 1
    assert dewi.open_tickets == 1


def test_agent_filter_narrows(history: dict[str, Any]) -> None:
    current = compute(agent_id=history["dewi"].pk).current
    assert current.ticket_count == 1
    assert current.chat_count == 0


def test_kind_filter_narrows(history: dict[str, Any]) -> None:
    current = compute(requester_kind="staff").current
    assert current.ticket_count == 1
    assert current.chat_count == 0


def test_merged_tickets_left_out(
    history: dict[str, Any], make_ticket: TicketFactory
) -> None:
    make_ticket(wib("2026-12-01 11:00"), merged_into=history["t1"])
    assert compute().current.ticket_count == 4
