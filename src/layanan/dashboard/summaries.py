"""Build the summary rows from the raw tickets and chats.

``refresh_days`` recomputes the rows of a few local days. It reads the tickets
and chats with an event on those days, replaces the days' rows and then the
month rows of their months, in one transaction. ``rebuild_summaries`` streams
every ticket and chat once and replaces all rows. Both count through
``SummaryBuilder``, so a rebuild and a refresh of every day give the same rows.
"""

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import IntegerField, Min, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from layanan.chat.models import Conversation, ConversationStatus
from layanan.dashboard.filters import local_date, local_midnight, local_zone
from layanan.dashboard.models import (
    DailyDuration,
    DailySummary,
    DurationMetric,
    HourlyVolume,
    ProgrammeVolume,
    Span,
)
from layanan.tickets.models import Ticket, TicketSource

logger = logging.getLogger(__name__)

# The refresh job's interval. With the page cache it bounds staleness at about
# twice this.
REFRESH_EVERY_SECONDS = 30
BATCH_SIZE = 2000
STREAM_CHUNK = 5000

TICKET_FIELDS = (
    "created",
    "service_id",
    "team_id",
    "assignee_id",
    "requester__kind",
    "requester__study_programme_id",
    "source",
    "first_response_at",
    "first_response_minutes",
    "resolved_at",
    "resolution_minutes",
    "reopen_count",
    "rating",
    "rated_at",
    "service__first_response_minutes",
    "service__resolution_minutes",
    "conversation__created",
)

CHAT_FIELDS = (
    "created",
    "status",
    "service_id",
    "team_id",
    "agent_id",
    "requester__kind",
    "requester__study_programme_id",
    "accepted_at",
    "first_agent_reply_at",
    "ended_at",
    "rating",
)

# service_id, team_id, agent_id, requester_kind
SummaryKey = tuple[int, int, int | None, str]
SOURCE_COLUMNS = {
    TicketSource.CHAT: "tickets_from_chat",
    TicketSource.EMAIL: "tickets_from_email",
    TicketSource.OFFLINE: "tickets_from_offline",
    TicketSource.AGENT: "tickets_from_agent",
}


def duration_bucket(value: float) -> float:
    """Round a non-negative duration to three significant digits.

    Whole numbers below 1,000 stay exact, so 1,020 stays 1,020 and 12,345 becomes
    12,300: a percentile read from the buckets is within 0.5% of the exact one.
    """
    if value < 0:
        value = 0.0
    rounded = round(value)
    if rounded < 1000:
        return float(rounded)
    return float(f"{value:.3g}")


def _minutes(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 60


def _seconds(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds()


@dataclass
class SummaryBuilder:
    """Counts the events of tickets and chats into rows, one local day at a time.

    With ``days`` set, only events on those local dates are counted.
    """

    days: Collection[date] | None = None
    summaries: dict[tuple[date, SummaryKey], Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    programmes: dict[tuple[date, SummaryKey, int | None], Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    durations: Counter[tuple[date, SummaryKey, str, float]] = field(
        default_factory=Counter
    )
    hours: Counter[tuple[date, int, SummaryKey]] = field(default_factory=Counter)

    def _day(self, moment: datetime | None) -> date | None:
        if moment is None:
            return None
        day = local_date(moment)
        if self.days is not None and day not in self.days:
            return None
        return day

    def _opened(
        self,
        moment: datetime,
        key: SummaryKey,
        programme_id: int | None,
        counters: tuple[str, ...],
    ) -> None:
        day = self._day(moment)
        if day is None:
            return
        for counter in counters:
            self.summaries[(day, key)][counter] += 1
        self.programmes[(day, key, programme_id)][counters[0]] += 1
        hour = moment.astimezone(local_zone()).hour
        self.hours[(day, hour, key)] += 1

    def _duration(
        self, day: date, key: SummaryKey, metric: str, value: float | None
    ) -> None:
        if value is not None:
            self.durations[(day, key, metric, duration_bucket(value))] += 1

    def add_ticket(self, values: dict[str, Any]) -> None:
        key: SummaryKey = (
            values["service_id"],
            values["team_id"],
            values["assignee_id"],
            values["requester__kind"],
        )
        created = values["created"]
        # NOTE: a source missing from SOURCE_COLUMNS counts in no source column.
        source_column = SOURCE_COLUMNS.get(values["source"])
        counters = ("tickets_opened",) + ((source_column,) if source_column else ())
        self._opened(created, key, values["requester__study_programme_id"], counters)
        # Calendar times start when the request arrived, as the SLA clocks do. For
        # a ticket made from a chat that is the chat's start, because the chat's
        # first agent message is its first response and predates the ticket.
        requested = values["conversation__created"] or created

        responded = self._day(values["first_response_at"])
        if responded is not None:
            counts = self.summaries[(responded, key)]
            business = values["first_response_minutes"]
            target = values["service__first_response_minutes"]
            if target is not None and business is not None:
                counts["first_response_measured"] += 1
                counts["first_response_met"] += int(business <= target)
            self._duration(
                responded, key, DurationMetric.FIRST_RESPONSE_BUSINESS, business
            )
            self._duration(
                responded,
                key,
                DurationMetric.FIRST_RESPONSE_CALENDAR,
                _minutes(requested, values["first_response_at"]),
            )

        resolved = self._day(values["resolved_at"])
        if resolved is not None:
            counts = self.summaries[(resolved, key)]
            counts["tickets_resolved"] += 1
            counts["tickets_resolved_reopened"] += int(values["reopen_count"] > 0)
            business = values["resolution_minutes"]
            target = values["service__resolution_minutes"]
            if target is not None and business is not None:
                counts["resolution_measured"] += 1
                counts["resolution_met"] += int(business <= target)
            self._duration(resolved, key, DurationMetric.RESOLUTION_BUSINESS, business)
            self._duration(
                resolved,
                key,
                DurationMetric.RESOLUTION_CALENDAR,
                _minutes(requested, values["resolved_at"]),
            )

        rating = values["rating"]
        if rating is not None and 1 <= rating <= 5:
            rated = self._day(values["rated_at"] or values["resolved_at"] or created)
            if rated is not None:
                self.summaries[(rated, key)][f"rating_{rating}"] += 1

    def add_chat(self, values: dict[str, Any]) -> None:
        key: SummaryKey = (
            values["service_id"],
            values["team_id"],
            values["agent_id"],
            values["requester__kind"],
        )
        created = values["created"]
        accepted_at = values["accepted_at"]
        self._opened(
            created, key, values["requester__study_programme_id"], ("chats_started",)
        )

        accepted = self._day(accepted_at)
        if accepted is not None:
            self.summaries[(accepted, key)]["chats_accepted"] += 1
            self._duration(
                accepted, key, DurationMetric.CHAT_WAIT, _seconds(created, accepted_at)
            )

        replied = self._day(values["first_agent_reply_at"])
        if replied is not None:
            self._duration(
                replied,
                key,
                DurationMetric.CHAT_FIRST_RESPONSE,
                _seconds(created, values["first_agent_reply_at"]),
            )

        if values["status"] != ConversationStatus.ENDED:
            return
        ended_at = values["ended_at"] or created
        ended = self._day(ended_at)
        if ended is None:
            return
        counts = self.summaries[(ended, key)]
        if accepted_at is None:
            counts["chats_missed"] += 1
            return
        counts["chats_answered_ended"] += 1
        if values["ended_at"] is not None:
            self._duration(
                ended, key, DurationMetric.CHAT_DURATION, _seconds(created, ended_at)
            )
        rating = values["rating"]
        if rating is not None and 1 <= rating <= 5:
            counts[f"rating_{rating}"] += 1

    def summary_rows(self) -> Iterator[DailySummary]:
        for (day, key), counts in self.summaries.items():
            service_id, team_id, agent_id, kind = key
            yield DailySummary(
                day=day,
                service_id=service_id,
                team_id=team_id,
                agent_id=agent_id,
                requester_kind=kind,
                **counts,
            )

    def programme_rows(self) -> Iterator[ProgrammeVolume]:
        for (day, key, programme_id), counts in self.programmes.items():
            service_id, team_id, agent_id, kind = key
            yield ProgrammeVolume(
                day=day,
                service_id=service_id,
                team_id=team_id,
                agent_id=agent_id,
                requester_kind=kind,
                study_programme_id=programme_id,
                **counts,
            )

    def duration_rows(self) -> Iterator[DailyDuration]:
        for (day, key, metric, bucket), count in self.durations.items():
            service_id, team_id, agent_id, kind = key
            yield DailyDuration(
                day=day,
                service_id=service_id,
                team_id=team_id,
                agent_id=agent_id,
                requester_kind=kind,
                metric=metric,
                bucket=bucket,
                count=count,
            )

    def hour_rows(self) -> Iterator[HourlyVolume]:
        for (day, hour, key), count in self.hours.items():
            service_id, team_id, agent_id, kind = key
            yield HourlyVolume(
                day=day,
                hour=hour,
                service_id=service_id,
                team_id=team_id,
                agent_id=agent_id,
                requester_kind=kind,
                count=count,
            )

    def write(self) -> int:
        """Insert the counted rows and return how many summary rows there are."""
        summaries = list(self.summary_rows())
        DailySummary.objects.bulk_create(summaries, batch_size=BATCH_SIZE)
        ProgrammeVolume.objects.bulk_create(
            self.programme_rows(), batch_size=BATCH_SIZE
        )
        DailyDuration.objects.bulk_create(self.duration_rows(), batch_size=BATCH_SIZE)
        HourlyVolume.objects.bulk_create(self.hour_rows(), batch_size=BATCH_SIZE)
        return len(summaries)


def _in_days(field_name: str, start: datetime, end: datetime) -> Q:
    return Q(**{f"{field_name}__gte": start, f"{field_name}__lt": end})


def _tickets_with_events(start: datetime, end: datetime) -> Iterable[dict[str, Any]]:
    # NOTE: only created is indexed, so this reads the whole ticket table. Indexes
    # on first_response_at, resolved_at and rated_at would bound it.
    condition = (
        _in_days("created", start, end)
        | _in_days("first_response_at", start, end)
        | _in_days("resolved_at", start, end)
        | _in_days("rated_at", start, end)
    )
    return Ticket.objects.filter(condition, merged_into__isnull=True).values(
        *TICKET_FIELDS
    )


def _chats_with_events(start: datetime, end: datetime) -> Iterable[dict[str, Any]]:
    condition = (
        _in_days("created", start, end)
        | _in_days("accepted_at", start, end)
        | _in_days("first_agent_reply_at", start, end)
        | _in_days("ended_at", start, end)
    )
    return Conversation.objects.filter(condition).values(*CHAT_FIELDS)


SUMMARY_DIMENSIONS = ("service_id", "team_id", "agent_id", "requester_kind")
SUMMARY_COUNTERS = tuple(
    field.name
    for field in DailySummary._meta.fields
    if isinstance(field, IntegerField)
    and not field.primary_key
    and field.name not in SUMMARY_DIMENSIONS
)


def _delete_days(days: Collection[date] | None) -> None:
    """Delete the day rows of days (every row when days is None)."""
    selected = Q() if days is None else Q(day__in=sorted(days))
    DailySummary.objects.filter(selected, span=Span.DAY).delete()
    ProgrammeVolume.objects.filter(selected, span=Span.DAY).delete()
    DailyDuration.objects.filter(selected).delete()
    HourlyVolume.objects.filter(selected).delete()


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _roll_up(
    model: Any,
    dimensions: tuple[str, ...],
    counters: tuple[str, ...],
    months: Collection[date] | None,
) -> None:
    """Replace the month rows of model with sums of its day rows.

    model is DailySummary or ProgrammeVolume, the tables with a span column.
    """
    month_rows = model.objects.filter(span=Span.MONTH)
    day_rows = model.objects.filter(span=Span.DAY)
    if months is not None:
        month_rows = month_rows.filter(day__in=sorted(months))
        selected = Q()
        for month in months:
            selected |= Q(day__gte=month, day__lt=next_month(month))
        day_rows = day_rows.filter(selected)
    month_rows.delete()
    sums = (
        day_rows.annotate(month=TruncMonth("day"))
        .values("month", *dimensions)
        .annotate(**{name: Sum(name) for name in counters})
        .order_by()
    )
    model.objects.bulk_create(
        (
            model(
                span=Span.MONTH,
                day=values.pop("month"),
                **values,
            )
            for values in sums.iterator(chunk_size=STREAM_CHUNK)
        ),
        batch_size=BATCH_SIZE,
    )


def roll_up_months(months: Collection[date] | None) -> None:
    """Recompute the month rows of the given months (first days), or of all."""
    _roll_up(DailySummary, SUMMARY_DIMENSIONS, SUMMARY_COUNTERS, months)
    _roll_up(
        ProgrammeVolume,
        (*SUMMARY_DIMENSIONS, "study_programme_id"),
        ("chats_started", "tickets_opened"),
        months,
    )


def refresh_days(days: Collection[date]) -> int:
    """Recompute the summary rows of the given local days; return the row count."""
    if not days:
        return 0
    start = local_midnight(min(days))
    end = local_midnight(max(days) + timedelta(days=1))
    builder = SummaryBuilder(days=set(days))
    for values in _tickets_with_events(start, end):
        builder.add_ticket(values)
    for values in _chats_with_events(start, end):
        builder.add_chat(values)
    with transaction.atomic():
        _delete_days(days)
        rows = builder.write()
        roll_up_months({month_start(day) for day in days})
    return rows


def rebuild_summaries(progress: Callable[[str], None] | None = None) -> int:
    """Recompute every summary row from all tickets and chats; return the row count.

    ``progress`` receives a line of text after each step.
    """

    def report(text: str) -> None:
        if progress is not None:
            progress(text)

    builder = SummaryBuilder()
    tickets = Ticket.objects.filter(merged_into__isnull=True).values(*TICKET_FIELDS)
    for number, values in enumerate(tickets.iterator(chunk_size=STREAM_CHUNK), 1):
        builder.add_ticket(values)
        if number % 20000 == 0:
            report(f"{number} tickets read")
    report("tickets read")
    chats = Conversation.objects.values(*CHAT_FIELDS)
    for number, values in enumerate(chats.iterator(chunk_size=STREAM_CHUNK), 1):
        builder.add_chat(values)
        if number % 20000 == 0:
            report(f"{number} chats read")
    report("chats read")
    with transaction.atomic():
        _delete_days(None)
        rows = builder.write()
        report(f"{rows} day summary rows written")
        roll_up_months(None)
    report("month summary rows written")
    return rows


def first_event_day() -> date | None:
    """Return the local day of the oldest ticket or chat, None when there is none."""
    moments = [
        Ticket.objects.aggregate(first=Min("created"))["first"],
        Conversation.objects.aggregate(first=Min("created"))["first"],
    ]
    known = [moment for moment in moments if moment is not None]
    return local_date(min(known)) if known else None


def refresh_recent_days(now: datetime | None = None) -> int:
    """Recompute today's and yesterday's rows, or rebuild all when there are none.

    Yesterday is included so that events recorded just after midnight, and
    edits within a day of an event, still reach the right day.

    NOTE: older days are not revisited. A later change to an old event, such
    as a second resolution, a reassignment or a merge, leaves the old day's
    count as it was until ``rebuild_summaries`` runs again.
    """
    now = now or timezone.now()
    if not DailySummary.objects.exists() and first_event_day() is not None:
        logger.info("dashboard summaries empty: rebuilding all days")
        return rebuild_summaries()
    today = local_date(now)
    rows = refresh_days({today - timedelta(days=1), today})
    logger.debug("dashboard summaries refreshed days=2 rows=%d", rows)
    return rows
