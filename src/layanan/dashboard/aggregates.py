"""Totals of the dashboard's summary rows for one set of filters.

Every query sums in the database, so the rows returned depend on the number of
services, teams, agents and duration buckets, not on the tickets and chats of
the period. Whole months of a period are read from the month rows, the days
around them from the day rows. One query reads the current period and the one
before it, and its ``current`` column marks the rows of the current one.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Case, IntegerField, Q, Sum, Value, When
from django.db.models.functions import ExtractIsoWeekDay

from layanan.dashboard.filters import DashboardFilters, Period
from layanan.dashboard.models import (
    DailyDuration,
    DailySummary,
    DurationMetric,
    HourlyVolume,
    ProgrammeVolume,
    Span,
)
from layanan.dashboard.summaries import (
    SOURCE_COLUMNS,
    SUMMARY_COUNTERS,
    SUMMARY_DIMENSIONS,
    month_start,
    next_month,
)

Histogram = Counter[float]

# The agents table shows these medians per agent.
AGENT_METRICS = (
    DurationMetric.CHAT_FIRST_RESPONSE,
    DurationMetric.FIRST_RESPONSE_BUSINESS,
)


def span_condition(first_day: date, last_day: date) -> Q:
    """Select the rows covering first_day to last_day: whole months, then days.

    A month is read from its month row when the range includes every day of
    it. The days before the first whole month and after the last are read from
    day rows.
    """
    months = Q()
    first_whole = month_start(first_day)
    if first_whole < first_day:
        first_whole = next_month(first_whole)
    month = first_whole
    while next_month(month) - timedelta(days=1) <= last_day:
        months |= Q(span=Span.MONTH, day=month)
        month = next_month(month)
    if month == first_whole:
        return Q(span=Span.DAY, day__gte=first_day, day__lte=last_day)
    condition = months
    if first_day < first_whole:
        condition |= Q(span=Span.DAY, day__gte=first_day, day__lt=first_whole)
    if month <= last_day:
        condition |= Q(span=Span.DAY, day__gte=month, day__lte=last_day)
    return condition


def _current_flag(period: Period) -> Case:
    return Case(
        When(day__gte=period.first_day, then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )


def _both_periods(filters: DashboardFilters) -> Q:
    period = filters.period
    previous = period.previous()
    return filters.summary_filter() & (
        span_condition(previous.first_day, previous.last_day)
        | span_condition(period.first_day, period.last_day)
    )


@dataclass
class SummaryTotals:
    """Summed counters of both periods, and of the current one by dimension.

    Besides the summary columns, offline_tickets counts the tickets opened
    through the offline form. by_dimension also has "source", the tickets
    opened per ticket source, and "study_programme_id".
    """

    current: Counter[str] = field(default_factory=Counter)
    previous: Counter[str] = field(default_factory=Counter)
    by_dimension: dict[str, dict[object, Counter[str]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(Counter))
    )


def summary_totals(filters: DashboardFilters) -> SummaryTotals:
    """Sum the summary counters over the filters' period and the previous one."""
    rows = (
        DailySummary.objects.filter(_both_periods(filters))
        .annotate(current=_current_flag(filters.period))
        .values("current", *SUMMARY_DIMENSIONS)
        .annotate(**{name: Sum(name) for name in SUMMARY_COUNTERS})
        .order_by()
    )
    totals = SummaryTotals()
    for row in rows:
        counts = Counter({name: row[name] for name in SUMMARY_COUNTERS if row[name]})
        counts["offline_tickets"] = counts["tickets_from_offline"]
        if not row["current"]:
            totals.previous.update(counts)
            continue
        totals.current.update(counts)
        for name in SUMMARY_DIMENSIONS:
            totals.by_dimension[name][row[name]].update(counts)
    for source, column in SOURCE_COLUMNS.items():
        tickets = totals.current[column]
        if tickets:
            totals.by_dimension["source"][str(source)]["tickets_opened"] = tickets
    period = filters.period
    programmes = (
        ProgrammeVolume.objects.filter(
            filters.summary_filter(),
            span_condition(period.first_day, period.last_day),
        )
        .values_list("study_programme_id")
        .annotate(chats=Sum("chats_started"), tickets=Sum("tickets_opened"))
        .order_by()
    )
    for programme_id, chats, tickets in programmes:
        counts = totals.by_dimension["study_programme_id"][programme_id]
        counts["chats_started"] = chats or 0
        counts["tickets_opened"] = tickets or 0
    return totals


@dataclass
class DurationTotals:
    """Duration histograms of both periods, and the current one's per agent."""

    current: dict[str, Histogram] = field(default_factory=lambda: defaultdict(Counter))
    previous: dict[str, Histogram] = field(default_factory=lambda: defaultdict(Counter))
    by_agent: dict[int, dict[str, Histogram]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(Counter))
    )


def duration_totals(filters: DashboardFilters) -> DurationTotals:
    """Sum the duration buckets over the filters' period and the previous one."""
    period = filters.period
    previous = period.previous()
    rows = (
        DailyDuration.objects.filter(
            filters.summary_filter(),
            day__gte=previous.first_day,
            day__lte=period.last_day,
        )
        .annotate(current=_current_flag(period))
        .values_list("current", "metric", "bucket")
        .annotate(total=Sum("count"))
        .order_by()
    )
    totals = DurationTotals()
    for current, metric, bucket, total in rows:
        histograms = totals.current if current else totals.previous
        histograms[metric][bucket] += total
    per_agent = (
        DailyDuration.objects.filter(
            filters.summary_filter(),
            day__gte=period.first_day,
            day__lte=period.last_day,
            metric__in=AGENT_METRICS,
            agent_id__isnull=False,
        )
        .values_list("agent_id", "metric", "bucket")
        .annotate(total=Sum("count"))
        .order_by()
    )
    for agent_id, metric, bucket, total in per_agent:
        totals.by_agent[agent_id][metric][bucket] += total
    return totals


def daily_totals(filters: DashboardFilters) -> dict[date, tuple[int, int]]:
    """Return (chats started, tickets opened) per local day of the period."""
    period = filters.period
    rows = (
        DailySummary.objects.filter(
            filters.summary_filter(),
            span=Span.DAY,
            day__gte=period.first_day,
            day__lte=period.last_day,
        )
        .values_list("day")
        .annotate(chats=Sum("chats_started"), tickets=Sum("tickets_opened"))
        .order_by()
    )
    return {day: (chats or 0, tickets or 0) for day, chats, tickets in rows}


def weekday_hour_totals(filters: DashboardFilters) -> list[list[int]]:
    """Count chats plus tickets opened per local weekday (Monday first) and hour."""
    period = filters.period
    rows = (
        HourlyVolume.objects.filter(
            filters.summary_filter(),
            day__gte=period.first_day,
            day__lte=period.last_day,
        )
        .annotate(weekday=ExtractIsoWeekDay("day"))
        .values_list("weekday", "hour")
        .annotate(total=Sum("count"))
        .order_by()
    )
    grid = [[0] * 24 for _weekday in range(7)]
    for weekday, hour, total in rows:
        grid[weekday - 1][hour] += total
    return grid
