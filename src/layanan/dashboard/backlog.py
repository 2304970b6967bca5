"""The backlog: open tickets by state and age in working days, and their SLA risk.

A ticket's age is the number of working days of its team's business calendar
after the day it was created, up to and including today, in that calendar's time
zone. A ticket created today is 0 working days old, and one created on Friday
is 1 day old on Monday.
"""

from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import models
from django.utils.translation import gettext_lazy

from layanan.catalog.calendars import (
    Calendar,
    business_minutes_between,
    calendar_for_team,
)
from layanan.catalog.models import Team
from layanan.dashboard.rows import OPEN_STATUSES, TicketRow

OLDEST_LISTED = 10
# A target counts as at risk once more than this share of it is used up.
AT_RISK_USED_SHARE = 0.8


class AgeBucket(models.TextChoices):
    """Age ranges in working days. Each includes its lower bound but not its upper."""

    UNDER_1 = "under_1", gettext_lazy("< 1 day")
    # The dash is written as itself: makemessages cannot read a \u escape.
    FROM_1_TO_3 = "1_3", gettext_lazy("1–3 days")  # noqa: RUF001
    FROM_3_TO_7 = "3_7", gettext_lazy("3–7 days")  # noqa: RUF001
    OVER_7 = "over_7", gettext_lazy("> 7 days")


def age_bucket(working_days: int) -> AgeBucket:
    if working_days < 1:
        return AgeBucket.UNDER_1
    if working_days < 3:
        return AgeBucket.FROM_1_TO_3
    if working_days < 7:
        return AgeBucket.FROM_3_TO_7
    return AgeBucket.OVER_7


class WorkingDayCounter:
    """Count a calendar's working days between dates with one pass over the days."""

    def __init__(self, calendar: Calendar, first_day: date, last_day: date) -> None:
        self.calendar = calendar
        self.working_days: list[date] = []
        day = first_day
        while day <= last_day:
            if calendar.day_spans(day):
                self.working_days.append(day)
            day += timedelta(days=1)

    def after(self, created: datetime, today: date) -> int:
        """Return the working days after the local date of created, up to today."""
        created_day = created.astimezone(self.calendar.time_zone).date()
        up_to_today = bisect_right(self.working_days, today)
        up_to_created = bisect_right(self.working_days, created_day)
        return max(up_to_today - up_to_created, 0)


@dataclass(frozen=True)
class BacklogTicket:
    row: TicketRow
    working_days: int
    bucket: AgeBucket


@dataclass(frozen=True)
class Backlog:
    """Open tickets now: counts by state and age bucket, the oldest, and SLA risk."""

    total: int
    by_state: dict[str, dict[str, int]]
    by_bucket: dict[str, int]
    oldest: list[BacklogTicket]
    at_risk: int
    breached: int


def _targets(ticket: TicketRow) -> list[tuple[datetime, int]]:
    pairs = [
        (ticket.first_response_due_at, ticket.first_response_target),
        (ticket.update_due_at, ticket.update_target),
        (ticket.resolution_due_at, ticket.resolution_target),
    ]
    return [(due, target) for due, target in pairs if due is not None and target]


def is_at_risk(ticket: TicketRow, calendar: Calendar, now: datetime) -> bool:
    """Return whether a target of an open, unbreached ticket is over 80% used.

    The used share is read from the due moment, which already allows for pauses:
    a target is at risk when less than 20% of it remains in business minutes.
    """
    if ticket.is_breached(now):
        return False
    for due, target in _targets(ticket):
        remaining = business_minutes_between(now, due, calendar)
        if remaining < (1 - AT_RISK_USED_SHARE) * target:
            return True
    return False


def compute_backlog(
    open_tickets: Sequence[TicketRow], teams: dict[int, Team], now: datetime
) -> Backlog:
    """Sort the open tickets into states and age buckets and count SLA risk."""
    calendars: dict[int | None, Calendar] = {}
    counters: dict[int | None, WorkingDayCounter] = {}
    aged: list[BacklogTicket] = []
    at_risk = 0
    breached = 0
    first_day = min((t.created for t in open_tickets), default=now).date()
    first_day -= timedelta(days=1)
    for ticket in open_tickets:
        team = teams.get(ticket.team_id)
        calendar_id = team.calendar_id if team is not None else None
        if calendar_id not in calendars:
            calendars[calendar_id] = calendar_for_team(team)
        calendar = calendars[calendar_id]
        today = now.astimezone(calendar.time_zone).date()
        if calendar_id not in counters:
            counters[calendar_id] = WorkingDayCounter(calendar, first_day, today)
        working_days = counters[calendar_id].after(ticket.created, today)
        aged.append(BacklogTicket(ticket, working_days, age_bucket(working_days)))
        if ticket.is_breached(now):
            breached += 1
        elif is_at_risk(ticket, calendar, now):
            at_risk += 1

    by_state = {
        str(status): {str(bucket): 0 for bucket in AgeBucket}
        for status in OPEN_STATUSES
    }
    for item in aged:
        by_state[item.row.status][item.bucket] += 1
    bucket_counts = Counter(str(item.bucket) for item in aged)
    aged.sort(key=lambda item: (item.row.created, item.row.id))
    return Backlog(
        total=len(aged),
        by_state=by_state,
        by_bucket={str(bucket): bucket_counts[str(bucket)] for bucket in AgeBucket},
        oldest=aged[:OLDEST_LISTED],
        at_risk=at_risk,
        breached=breached,
    )
