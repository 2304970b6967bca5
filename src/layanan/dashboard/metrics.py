"""Every number on the dashboard, computed from the filtered ticket and chat rows.

Each call reads a bounded number of queries: the tickets and chats of the period
and of the period before it (one query each), the open tickets, the active chats,
the labels, and the business calendars of the teams involved. The arithmetic
runs in Python so that percentiles are exact on SQLite and PostgreSQL alike.

NOTE: reading every row of the period costs about 4 s for 30 days of a
100,000-ticket SQLite set on a 2-core machine, far over the 100 ms page target.
cached_dashboard hides that for repeated views; daily summary tables kept up
to date by the chat and ticket services would remove it.

Periods count the chats and tickets created in them. Day and hour buckets are in
settings.TIME_ZONE. A chat that became a ticket counts once as a chat and once as
a ticket.
"""

import hashlib
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from django.contrib.auth.models import User
from django.core.cache import cache
from django.db.models import Count
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from layanan.catalog.models import Service, StudyProgramme, Team
from layanan.chat.models import Conversation, ConversationStatus
from layanan.dashboard.backlog import Backlog, compute_backlog
from layanan.dashboard.filters import DashboardFilters, Period, local_zone
from layanan.dashboard.rows import (
    ChatRow,
    TicketRow,
    load_chats,
    load_open_tickets,
    load_tickets,
)
from layanan.dashboard.statistics import (
    Compliance,
    RatingSummary,
    Summary,
    share,
    summarise,
    summarise_ratings,
)

logger = logging.getLogger(__name__)

LATEST_COMMENTS = 10
# The page may show figures this many seconds old, so one computation serves
# every view of the same filters within that time.
CACHE_SECONDS = 60


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
        return share(self.reopened_tickets, self.ticket_count)

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


def compliance(outcomes: Iterable[bool | None]) -> Compliance:
    measured = [outcome for outcome in outcomes if outcome is not None]
    return Compliance(met=sum(measured), measured=len(measured))


def ratings_of(tickets: Sequence[TicketRow], chats: Sequence[ChatRow]) -> list[int]:
    ratings = [ticket.rating for ticket in tickets if ticket.rating is not None]
    ratings += [chat.rating for chat in chats if chat.rating is not None]
    return ratings


def rating_base(tickets: Sequence[TicketRow], chats: Sequence[ChatRow]) -> int:
    resolved = sum(1 for ticket in tickets if ticket.resolved_at is not None)
    answered = sum(
        1
        for chat in chats
        if chat.accepted_at is not None and chat.status == ConversationStatus.ENDED
    )
    return resolved + answered


def _values(items: Iterable[float | None]) -> list[float]:
    return [item for item in items if item is not None]


def period_metrics(
    tickets: Sequence[TicketRow], chats: Sequence[ChatRow], now: datetime
) -> PeriodMetrics:
    return PeriodMetrics(
        chat_count=len(chats),
        ticket_count=len(tickets),
        chat_wait=summarise(_values(chat.wait_seconds for chat in chats)),
        chat_first_response=summarise(
            _values(chat.first_response_seconds for chat in chats)
        ),
        chat_duration=summarise(_values(chat.duration_seconds for chat in chats)),
        missed_chats=sum(1 for chat in chats if chat.is_missed),
        offline_tickets=sum(1 for ticket in tickets if ticket.is_offline),
        first_response_business=summarise(
            _values(ticket.first_response_minutes for ticket in tickets)
        ),
        first_response_calendar=summarise(
            _values(ticket.first_response_calendar_minutes for ticket in tickets)
        ),
        resolution_business=summarise(
            _values(ticket.resolution_minutes for ticket in tickets)
        ),
        resolution_calendar=summarise(
            _values(ticket.resolution_calendar_minutes for ticket in tickets)
        ),
        reopened_tickets=sum(1 for ticket in tickets if ticket.reopen_count > 0),
        first_response_compliance=compliance(
            ticket.first_response_met(now) for ticket in tickets
        ),
        resolution_compliance=compliance(
            ticket.resolution_met(now) for ticket in tickets
        ),
        ratings=summarise_ratings(ratings_of(tickets, chats)),
        rating_base=rating_base(tickets, chats),
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
    chat_keys: Iterable[object],
    ticket_keys: Iterable[object],
    label_of: dict[object, str],
) -> list[VolumeRow]:
    """Count chats and tickets per key, largest total first, then by label."""
    chats = Counter(chat_keys)
    tickets = Counter(ticket_keys)
    rows = [
        VolumeRow(
            key="" if key is None else str(key),
            label=label_of.get(key, "" if key is None else str(key)),
            chats=chats[key],
            tickets=tickets[key],
        )
        for key in set(chats) | set(tickets)
    ]
    rows.sort(key=lambda row: (-row.total, row.label))
    return rows


@dataclass(frozen=True)
class DayCount:
    day: date
    chats: int
    tickets: int


def daily_counts(
    period: Period, tickets: Sequence[TicketRow], chats: Sequence[ChatRow]
) -> list[DayCount]:
    """Count chats and tickets per local day of the period, empty days included."""
    zone = local_zone()
    chat_days = Counter(chat.created.astimezone(zone).date() for chat in chats)
    ticket_days = Counter(ticket.created.astimezone(zone).date() for ticket in tickets)
    return [
        DayCount(day=day, chats=chat_days[day], tickets=ticket_days[day])
        for day in period.days()
    ]


def weekday_hour_counts(
    tickets: Sequence[TicketRow], chats: Sequence[ChatRow]
) -> list[list[int]]:
    """Count chats plus tickets per local weekday (Monday first) and hour."""
    zone = local_zone()
    grid = [[0] * 24 for _weekday in range(7)]
    moments = [chat.created for chat in chats] + [t.created for t in tickets]
    for moment in moments:
        local = moment.astimezone(zone)
        grid[local.weekday()][local.hour] += 1
    return grid


@dataclass(frozen=True)
class SlaRow:
    key: str
    label: str
    first_response: Compliance
    resolution: Compliance


def sla_rows(
    tickets: Sequence[TicketRow],
    key_of: str,
    label_of: dict[int, str],
    now: datetime,
) -> list[SlaRow]:
    """Return the compliance per service_id or team_id (key_of), by label."""
    groups: dict[int, list[TicketRow]] = defaultdict(list)
    for ticket in tickets:
        groups[getattr(ticket, key_of)].append(ticket)
    rows = [
        SlaRow(
            key=str(key),
            label=label_of.get(key, str(key)),
            first_response=compliance(t.first_response_met(now) for t in members),
            resolution=compliance(t.resolution_met(now) for t in members),
        )
        for key, members in groups.items()
    ]
    rows.sort(key=lambda row: row.label)
    return rows


@dataclass(frozen=True)
class RatingRow:
    key: str
    label: str
    ratings: RatingSummary


def rating_rows(
    pairs: Iterable[tuple[int | None, int | None]], label_of: dict[int, str]
) -> list[RatingRow]:
    """Summarise (key, rating) pairs per key, leaving out unrated ones and no key."""
    groups: dict[int, list[int]] = defaultdict(list)
    for key, rating in pairs:
        if key is not None and rating is not None:
            groups[key].append(rating)
    rows = [
        RatingRow(
            key=str(key),
            label=label_of.get(key, str(key)),
            ratings=summarise_ratings(ratings),
        )
        for key, ratings in groups.items()
    ]
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


def latest_comments(
    tickets: Sequence[TicketRow], chats: Sequence[ChatRow], labels: Labels
) -> list[Comment]:
    comments = [
        Comment(
            kind="ticket",
            reference=ticket.number,
            rating=ticket.rating,
            text=ticket.rating_comment,
            moment=ticket.rated_at or ticket.created,
            service=labels.services.get(ticket.service_id, ""),
            agent=labels.agent(ticket.assignee_id),
        )
        for ticket in tickets
        if ticket.rating is not None and ticket.rating_comment.strip()
    ]
    comments += [
        Comment(
            kind="chat",
            reference=chat.public_id,
            rating=chat.rating,
            text=chat.rating_comment,
            moment=chat.ended_at or chat.created,
            service=labels.services.get(chat.service_id, ""),
            agent=labels.agent(chat.agent_id),
        )
        for chat in chats
        if chat.rating is not None and chat.rating_comment.strip()
    ]
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
    tickets: Sequence[TicketRow],
    chats: Sequence[ChatRow],
    open_tickets: Sequence[TicketRow],
    active_chats: dict[int, int],
    labels: Labels,
) -> list[AgentRow]:
    """Return one row per agent who handled a chat or ticket or has a load now.

    Handled chats are the accepted chats of the period, handled tickets the
    period's tickets assigned to the agent.
    """
    chats_by_agent: dict[int, list[ChatRow]] = defaultdict(list)
    for chat in chats:
        if chat.agent_id is not None and chat.accepted_at is not None:
            chats_by_agent[chat.agent_id].append(chat)
    tickets_by_agent: dict[int, list[TicketRow]] = defaultdict(list)
    for ticket in tickets:
        if ticket.assignee_id is not None:
            tickets_by_agent[ticket.assignee_id].append(ticket)
    open_by_agent = Counter(
        ticket.assignee_id for ticket in open_tickets if ticket.assignee_id is not None
    )
    user_ids = set(chats_by_agent) | set(tickets_by_agent) | set(open_by_agent)
    user_ids |= set(active_chats)
    rows = []
    for user_id in user_ids:
        agent_chats = chats_by_agent[user_id]
        agent_tickets = tickets_by_agent[user_id]
        rows.append(
            AgentRow(
                user_id=user_id,
                label=labels.agent(user_id),
                chats=len(agent_chats),
                tickets=len(agent_tickets),
                chat_first_response_median=summarise(
                    _values(chat.first_response_seconds for chat in agent_chats)
                ).median,
                ticket_first_response_median=summarise(
                    _values(ticket.first_response_minutes for ticket in agent_tickets)
                ).median,
                ratings=summarise_ratings(ratings_of(agent_tickets, agent_chats)),
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
    tickets: Sequence[TicketRow],
    chats: Sequence[ChatRow],
    labels: Labels,
    kind_labels: dict[object, str],
    source_labels: dict[object, str],
) -> Volume:
    team_labels: dict[object, str] = {
        key: team.name for key, team in labels.teams.items()
    }
    service_labels = _keyed(labels.services)
    agent_labels = {None: _("Unassigned"), **_keyed(labels.agents)}
    programme_labels = {None: _("No study programme"), **_keyed(labels.programmes)}
    return Volume(
        by_service=volume_rows(
            (chat.service_id for chat in chats),
            (ticket.service_id for ticket in tickets),
            service_labels,
        ),
        by_team=volume_rows(
            (chat.team_id for chat in chats),
            (ticket.team_id for ticket in tickets),
            team_labels,
        ),
        by_agent=volume_rows(
            (chat.agent_id for chat in chats),
            (ticket.assignee_id for ticket in tickets),
            agent_labels,
        ),
        by_kind=volume_rows(
            (chat.requester_kind for chat in chats),
            (ticket.requester_kind for ticket in tickets),
            kind_labels,
        ),
        by_programme=volume_rows(
            (chat.study_programme_id for chat in chats),
            (ticket.study_programme_id for ticket in tickets),
            programme_labels,
        ),
        by_source=volume_rows(
            (),
            (ticket.source for ticket in tickets),
            source_labels,
        ),
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
    """Compute every tile, table and chart series for filters at the moment now."""
    period = filters.period
    previous_period = period.previous()
    all_tickets = load_tickets(filters, previous_period.start, period.end)
    all_chats = load_chats(filters, previous_period.start, period.end)
    tickets = [ticket for ticket in all_tickets if period.contains(ticket.created)]
    chats = [chat for chat in all_chats if period.contains(chat.created)]
    previous_tickets = [t for t in all_tickets if not period.contains(t.created)]
    previous_chats = [c for c in all_chats if not period.contains(c.created)]
    open_tickets = load_open_tickets(filters)
    active_chats = active_chats_by_agent(filters)

    user_ids = {chat.agent_id for chat in chats if chat.agent_id is not None}
    user_ids |= {t.assignee_id for t in tickets if t.assignee_id is not None}
    user_ids |= {t.assignee_id for t in open_tickets if t.assignee_id is not None}
    user_ids |= set(active_chats)
    labels = load_labels(user_ids)
    team_names = {key: team.name for key, team in labels.teams.items()}

    dashboard = Dashboard(
        filters=filters,
        now=now,
        current=period_metrics(tickets, chats, now),
        previous=period_metrics(previous_tickets, previous_chats, now),
        volume=volume_of(tickets, chats, labels, kind_labels, source_labels),
        daily=daily_counts(period, tickets, chats),
        heatmap=weekday_hour_counts(tickets, chats),
        sla_by_service=sla_rows(tickets, "service_id", labels.services, now),
        sla_by_team=sla_rows(tickets, "team_id", team_names, now),
        ratings_by_service=rating_rows(
            [(t.service_id, t.rating) for t in tickets]
            + [(c.service_id, c.rating) for c in chats],
            labels.services,
        ),
        ratings_by_agent=rating_rows(
            [(t.assignee_id, t.rating) for t in tickets]
            + [(c.agent_id, c.rating) for c in chats],
            labels.agents,
        ),
        comments=latest_comments(tickets, chats, labels),
        backlog=compute_backlog(open_tickets, labels.teams, now),
        agents=agent_rows(tickets, chats, open_tickets, active_chats, labels),
        labels=labels,
    )
    logger.debug(
        "dashboard computed tickets=%d chats=%d open=%d",
        len(all_tickets),
        len(all_chats),
        len(open_tickets),
    )
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
