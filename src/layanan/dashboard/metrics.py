"""Every number on the dashboard, read from the daily summary tables.

The counts, shares and percentiles come from ``aggregates``, which sums the
summary rows of the period in the database. Only these read raw rows: the
open tickets (backlog, SLA risk, agents' load), the active chats and the latest
rating comments.

Each event counts in the period it happened in. Tickets and chats count by the
day they were opened, first responses and resolutions (with their times) by the
day they happened, and chat waits by the day the chat was accepted. Missed chats
count by the day they ended, and ratings by the day they were given. Day and
hour buckets are in settings.TIME_ZONE. A chat that became a ticket counts once
as a chat and once as a ticket. The latest comments count by the day of the
rating too, but are read from the raw rows.
"""

import hashlib
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.cache import cache
from django.db.models import Count
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from layanan.catalog.models import Service, StudyProgramme, Team
from layanan.chat.models import Conversation, ConversationStatus
from layanan.dashboard.aggregates import (
    DurationTotals,
    Histogram,
    SummaryTotals,
    daily_totals,
    duration_totals,
    summary_totals,
    weekday_hour_totals,
)
from layanan.dashboard.backlog import Backlog, compute_backlog
from layanan.dashboard.filters import DashboardFilters
from layanan.dashboard.models import DurationMetric
from layanan.dashboard.rows import TicketRow, load_open_tickets
from layanan.dashboard.statistics import (
    Compliance,
    RatingSummary,
    Summary,
    share,
    summarise_histogram,
)
from layanan.tickets.models import Ticket

logger = logging.getLogger(__name__)

LATEST_COMMENTS = 10
# The page may show figures this many seconds old, so one computation serves
# every view of the same filters within that time. With the summaries refreshed
# every 30 s, a figure is at most about 60 s old.
CACHE_SECONDS = 30


@dataclass(frozen=True)
class PeriodMetrics:
    """The tile values of one period.

    Chat times are in seconds. Ticket times are in minutes, business minutes
    where the name contains "business".
    """

    chat_count: int
    ticket_count: int
    chat_wait: Summary
    chat_first_response: Summary
    chat_duration: Summary
    missed_chats: int
    offline_tickets: int
    first_response_business: Summary
    first_response_calendar: Summary
    resolution_business: Summary
    resolution_calendar: Summary
    resolved_tickets: int
    reopened_tickets: int
    first_response_compliance: Compliance
    resolution_compliance: Compliance
    ratings: RatingSummary
    rating_base: int

    @property
    def volume(self) -> int:
        return self.chat_count + self.ticket_count

    @property
    def missed_total(self) -> int:
        return self.missed_chats + self.offline_tickets

    @property
    def missed_percent(self) -> float | None:
        """Return missed requests as a share of chats plus offline-form tickets."""
        return share(self.missed_total, self.chat_count + self.offline_tickets)

    @property
    def reopen_percent(self) -> float | None:
        """Return the share of the period's resolved tickets ever reopened."""
        return share(self.reopened_tickets, self.resolved_tickets)

    @property
    def sla_compliance(self) -> Compliance:
        """Return first-response and resolution outcomes counted together."""
        return Compliance(
            met=self.first_response_compliance.met + self.resolution_compliance.met,
            measured=self.first_response_compliance.measured
            + self.resolution_compliance.measured,
        )

    @property
    def rating_response_percent(self) -> float | None:
        """Return ratings per resolved ticket or ended accepted chat, in percent."""
        return share(self.ratings.count, self.rating_base)


def ratings_from_counts(counts: Mapping[str, int]) -> RatingSummary:
    """Summarise the rating_1 to rating_5 counters of summary rows."""
    distribution = tuple(counts.get(f"rating_{value}", 0) for value in range(1, 6))
    number = sum(distribution)
    total = sum(value * count for value, count in enumerate(distribution, 1))
    return RatingSummary(
        count=number,
        average=total / number if number else None,
        distribution=(
            distribution[0],
            distribution[1],
            distribution[2],
            distribution[3],
            distribution[4],
        ),
    )


def period_metrics(
    counts: Mapping[str, int],
    histograms: Mapping[str, Histogram],
) -> PeriodMetrics:
    def durations(metric: str) -> Summary:
        return summarise_histogram(histograms.get(metric, Counter()))

    return PeriodMetrics(
        chat_count=counts.get("chats_started", 0),
        ticket_count=counts.get("tickets_opened", 0),
        chat_wait=durations(DurationMetric.CHAT_WAIT),
        chat_first_response=durations(DurationMetric.CHAT_FIRST_RESPONSE),
        chat_duration=durations(DurationMetric.CHAT_DURATION),
        missed_chats=counts.get("chats_missed", 0),
        offline_tickets=counts.get("offline_tickets", 0),
        first_response_business=durations(DurationMetric.FIRST_RESPONSE_BUSINESS),
        first_response_calendar=durations(DurationMetric.FIRST_RESPONSE_CALENDAR),
        resolution_business=durations(DurationMetric.RESOLUTION_BUSINESS),
        resolution_calendar=durations(DurationMetric.RESOLUTION_CALENDAR),
        resolved_tickets=counts.get("tickets_resolved", 0),
        reopened_tickets=counts.get("tickets_resolved_reopened", 0),
        first_response_compliance=Compliance(
            met=counts.get("first_response_met", 0),
            measured=counts.get("first_response_measured", 0),
        ),
        resolution_compliance=Compliance(
            met=counts.get("resolution_met", 0),
            measured=counts.get("resolution_measured", 0),
        ),
        ratings=ratings_from_counts(counts),
        rating_base=counts.get("tickets_resolved", 0)
        + counts.get("chats_answered_ended", 0),
    )


@dataclass(frozen=True)
class Labels:
    """Display names of the services, teams, agents and study programmes."""

    services: dict[int, str]
    service_codes: dict[int, str]
    teams: dict[int, Team]
    agents: dict[int, str]
    programmes: dict[int, str]

    def agent(self, user_id: int | None) -> str:
        if user_id is None:
            return ""
        return self.agents.get(user_id, str(user_id))


def load_labels(user_ids: Iterable[int]) -> Labels:
    services = list(Service.objects.order_by("order", "id"))
    users = User.objects.filter(pk__in=sorted(set(user_ids))).only(
        "id", "username", "first_name", "last_name"
    )
    return Labels(
        services={service.pk: service.localized_name() for service in services},
        service_codes={service.pk: service.code for service in services},
        teams={team.pk: team for team in Team.objects.order_by("name")},
        agents={user.pk: user.get_full_name() or user.get_username() for user in users},
        programmes=dict(StudyProgramme.objects.values_list("pk", "name")),
    )


@dataclass(frozen=True)
class VolumeRow:
    """Chats and tickets of one service, team, agent or other group."""

    key: str
    label: str
    chats: int
    tickets: int

    @property
    def total(self) -> int:
        return self.chats + self.tickets


def volume_rows(
    groups: Mapping[object, Mapping[str, int]],
    label_of: Mapping[object, str],
    *,
    with_chats: bool = True,
) -> list[VolumeRow]:
    """Return chats and tickets opened per group, largest total first, then by label.

    Groups that opened nothing in the period are left out.
    """
    rows = []
    for key, counts in groups.items():
        chats = counts.get("chats_started", 0) if with_chats else 0
        tickets = counts.get("tickets_opened", 0)
        if chats == 0 and tickets == 0:
            continue
        rows.append(
            VolumeRow(
                key="" if key is None else str(key),
                label=label_of.get(key, "" if key is None else str(key)),
                chats=chats,
                tickets=tickets,
            )
        )
    rows.sort(key=lambda row: (-row.total, row.label))
    return rows


@dataclass(frozen=True)
class DayCount:
    day: date
    chats: int
    tickets: int


def daily_counts(filters: DashboardFilters) -> list[DayCount]:
    """Count chats and tickets per local day of the period, empty days included."""
    totals = daily_totals(filters)
    return [
        DayCount(
            day=day,
            chats=totals.get(day, (0, 0))[0],
            tickets=totals.get(day, (0, 0))[1],
        )
        for day in filters.period.days()
    ]


@dataclass(frozen=True)
class SlaRow:
    key: str
    label: str
    first_response: Compliance
    resolution: Compliance


def sla_rows(
    groups: Mapping[object, Mapping[str, int]], label_of: Mapping[Any, str]
) -> list[SlaRow]:
    """Return the compliance per service or team measured in the period, by label."""
    rows = []
    for key, counts in groups.items():
        first_response = Compliance(
            met=counts.get("first_response_met", 0),
            measured=counts.get("first_response_measured", 0),
        )
        resolution = Compliance(
            met=counts.get("resolution_met", 0),
            measured=counts.get("resolution_measured", 0),
        )
        if first_response.measured == 0 and resolution.measured == 0:
            continue
        rows.append(
            SlaRow(
                key=str(key),
                label=label_of.get(key, str(key)),
                first_response=first_response,
                resolution=resolution,
            )
        )
    rows.sort(key=lambda row: row.label)
    return rows


@dataclass(frozen=True)
class RatingRow:
    key: str
    label: str
    ratings: RatingSummary


def rating_rows(
    groups: Mapping[object, Mapping[str, int]], label_of: Mapping[Any, str]
) -> list[RatingRow]:
    """Summarise the ratings per key, leaving out unrated groups and no key."""
    rows = []
    for key, counts in groups.items():
        ratings = ratings_from_counts(counts)
        if key is None or ratings.count == 0:
            continue
        rows.append(
            RatingRow(
                key=str(key),
                label=label_of.get(key, str(key)),
                ratings=ratings,
            )
        )
    rows.sort(key=lambda row: row.label)
    return rows


@dataclass(frozen=True)
class Comment:
    """A requester's rating comment, newest first on the page."""

    kind: str
    reference: str
    rating: int
    text: str
    moment: datetime
    service: str
    agent: str


def latest_comments(filters: DashboardFilters, labels: Labels) -> list[Comment]:
    """Return the newest rating comments given in the period, tickets and chats.

    A ticket's comment counts on the day it was rated, a chat's on the day the
    chat ended, because chats do not store when they were rated.
    """
    period = filters.period
    tickets = (
        Ticket.objects.filter(
            filters.ticket_filter(),
            merged_into__isnull=True,
            rating__isnull=False,
            rated_at__gte=period.start,
            rated_at__lt=period.end,
        )
        .exclude(rating_comment="")
        .order_by("-rated_at")
        .values_list(
            "number",
            "rating",
            "rating_comment",
            "rated_at",
            "service_id",
            "assignee_id",
        )[:LATEST_COMMENTS]
    )
    chats = (
        Conversation.objects.filter(
            filters.chat_filter(),
            status=ConversationStatus.ENDED,
            rating__isnull=False,
            ended_at__gte=period.start,
            ended_at__lt=period.end,
        )
        .exclude(rating_comment="")
        .order_by("-ended_at")
        .values_list(
            "public_id",
            "rating",
            "rating_comment",
            "ended_at",
            "service_id",
            "agent_id",
        )[:LATEST_COMMENTS]
    )
    comments = []
    for kind, rows in (("ticket", tickets), ("chat", chats)):
        for reference, rating, text, moment, service_id, agent_id in rows:
            if rating is None or moment is None or not text.strip():
                continue
            comments.append(
                Comment(
                    kind=kind,
                    reference=str(reference),
                    rating=rating,
                    text=text,
                    moment=moment,
                    service=labels.services.get(service_id, ""),
                    agent=labels.agent(agent_id),
                )
            )
    comments.sort(key=lambda comment: comment.moment, reverse=True)
    return comments[:LATEST_COMMENTS]


@dataclass(frozen=True)
class AgentRow:
    """One agent's work in the period and their load now."""

    user_id: int
    label: str
    chats: int
    tickets: int
    chat_first_response_median: float | None
    ticket_first_response_median: float | None
    ratings: RatingSummary
    active_chats: int
    open_tickets: int

    @property
    def load(self) -> int:
        return self.active_chats + self.open_tickets


def agent_rows(
    totals: SummaryTotals,
    durations: DurationTotals,
    open_tickets: Iterable[TicketRow],
    active_chats: dict[int, int],
    labels: Labels,
) -> list[AgentRow]:
    """Return one row per agent who handled a chat or ticket or has a load now.

    Handled chats are the chats the agent accepted in the period, handled
    tickets the tickets opened in the period that are assigned to the agent.
    """
    by_agent = totals.by_dimension["agent_id"]
    open_by_agent = Counter(
        ticket.assignee_id for ticket in open_tickets if ticket.assignee_id is not None
    )
    user_ids = {
        key
        for key, counts in by_agent.items()
        if isinstance(key, int)
        and (counts.get("chats_accepted", 0) or counts.get("tickets_opened", 0))
    }
    user_ids |= set(durations.by_agent) | set(open_by_agent) | set(active_chats)
    rows = []
    for user_id in user_ids:
        counts = by_agent.get(user_id, Counter())
        histograms = durations.by_agent.get(user_id, {})
        rows.append(
            AgentRow(
                user_id=user_id,
                label=labels.agent(user_id),
                chats=counts.get("chats_accepted", 0),
                tickets=counts.get("tickets_opened", 0),
                chat_first_response_median=summarise_histogram(
                    histograms.get(DurationMetric.CHAT_FIRST_RESPONSE, Counter())
                ).median,
                ticket_first_response_median=summarise_histogram(
                    histograms.get(DurationMetric.FIRST_RESPONSE_BUSINESS, Counter())
                ).median,
                ratings=ratings_from_counts(counts),
                active_chats=active_chats.get(user_id, 0),
                open_tickets=open_by_agent[user_id],
            )
        )
    rows.sort(key=lambda row: row.label)
    return rows


def active_chats_by_agent(filters: DashboardFilters) -> dict[int, int]:
    """Return the number of active chats per agent now, within the filters."""
    counts = (
        Conversation.objects.filter(
            filters.chat_filter(),
            status=ConversationStatus.ACTIVE,
            agent__isnull=False,
        )
        .values("agent_id")
        .annotate(count=Count("id"))
        .values_list("agent_id", "count")
    )
    return dict(counts)


@dataclass(frozen=True)
class Volume:
    """Chats and tickets of the period by each grouping the page shows."""

    by_service: list[VolumeRow]
    by_team: list[VolumeRow]
    by_agent: list[VolumeRow]
    by_kind: list[VolumeRow]
    by_programme: list[VolumeRow]
    by_source: list[VolumeRow]


def _keyed(labels: dict[int, str]) -> dict[object, str]:
    return {key: label for key, label in labels.items()}


def volume_of(
    totals: SummaryTotals,
    labels: Labels,
    kind_labels: dict[object, str],
    source_labels: dict[object, str],
) -> Volume:
    groups = totals.by_dimension
    team_labels: dict[object, str] = {
        key: team.name for key, team in labels.teams.items()
    }
    service_labels: dict[object, str] = {**_keyed(labels.services)}
    agent_labels: dict[object, str] = {None: _("Unassigned"), **_keyed(labels.agents)}
    programme_labels: dict[object, str] = {
        None: _("No study programme"),
        **_keyed(labels.programmes),
    }
    return Volume(
        by_service=volume_rows(groups["service_id"], service_labels),
        by_team=volume_rows(groups["team_id"], team_labels),
        by_agent=volume_rows(groups["agent_id"], agent_labels),
        by_kind=volume_rows(groups["requester_kind"], kind_labels),
        by_programme=volume_rows(groups["study_programme_id"], programme_labels),
        by_source=volume_rows(groups["source"], source_labels, with_chats=False),
    )


@dataclass(frozen=True)
class Dashboard:
    """Everything the dashboard page shows for one set of filters."""

    filters: DashboardFilters
    now: datetime
    current: PeriodMetrics
    previous: PeriodMetrics
    volume: Volume
    daily: list[DayCount]
    heatmap: list[list[int]]
    sla_by_service: list[SlaRow]
    sla_by_team: list[SlaRow]
    ratings_by_service: list[RatingRow]
    ratings_by_agent: list[RatingRow]
    comments: list[Comment]
    backlog: Backlog
    agents: list[AgentRow]
    labels: Labels = field(repr=False)


def compute_dashboard(
    filters: DashboardFilters,
    now: datetime,
    kind_labels: dict[object, str],
    source_labels: dict[object, str],
) -> Dashboard:
    """Compute every tile, table and chart series for filters at the moment now.

    The period's figures are as fresh as the summary rows: see
    ``summaries.refresh_recent_days``.
    """
    totals = summary_totals(filters)
    durations = duration_totals(filters)
    open_tickets = load_open_tickets(filters)
    active_chats = active_chats_by_agent(filters)

    user_ids = {key for key in totals.by_dimension["agent_id"] if isinstance(key, int)}
    user_ids |= {t.assignee_id for t in open_tickets if t.assignee_id is not None}
    user_ids |= set(active_chats)
    labels = load_labels(user_ids)
    team_names = {key: team.name for key, team in labels.teams.items()}

    dashboard = Dashboard(
        filters=filters,
        now=now,
        current=period_metrics(totals.current, durations.current),
        previous=period_metrics(totals.previous, durations.previous),
        volume=volume_of(totals, labels, kind_labels, source_labels),
        daily=daily_counts(filters),
        heatmap=weekday_hour_totals(filters),
        sla_by_service=sla_rows(totals.by_dimension["service_id"], labels.services),
        sla_by_team=sla_rows(totals.by_dimension["team_id"], team_names),
        ratings_by_service=rating_rows(
            totals.by_dimension["service_id"], labels.services
        ),
        ratings_by_agent=rating_rows(totals.by_dimension["agent_id"], labels.agents),
        comments=latest_comments(filters, labels),
        backlog=compute_backlog(open_tickets, labels.teams, now),
        agents=agent_rows(totals, durations, open_tickets, active_chats, labels),
        labels=labels,
    )
    logger.debug("dashboard computed open=%d", len(open_tickets))
    return dashboard


def dashboard_cache_key(filters: DashboardFilters, language: str) -> str:
    scope = "all" if filters.team_scope is None else sorted(filters.team_scope)
    parts = [
        filters.period.first_day.isoformat(),
        filters.period.last_day.isoformat(),
        str(scope),
        str(filters.service_id),
        str(filters.team_id),
        str(filters.agent_id),
        filters.requester_kind,
        language,
    ]
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()
    return f"layanan:dashboard:{digest}"


def cached_dashboard(
    filters: DashboardFilters,
    now: datetime,
    kind_labels: dict[object, str],
    source_labels: dict[object, str],
) -> Dashboard:
    """Return the dashboard for filters, computed at most CACHE_SECONDS ago.

    The key includes the active language, because labels are translated.
    """
    key = dashboard_cache_key(filters, get_language() or "")
    found = cache.get(key)
    if isinstance(found, Dashboard):
        return found
    dashboard = compute_dashboard(filters, now, kind_labels, source_labels)
    cache.set(key, dashboard, CACHE_SECONDS)
    return dashboard
