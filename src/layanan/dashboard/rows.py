"""The ticket and chat rows that the dashboard and its exports read.

Both read the same columns of the same filtered querysets, so a tile and the
export of the same filters count the same records. Tickets merged into another
ticket are left out: they count once, as the ticket they were merged into.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from layanan.chat.models import Conversation, ConversationStatus
from layanan.dashboard.filters import DashboardFilters
from layanan.tickets.models import Ticket, TicketSource, TicketStatus

OPEN_STATUSES = (TicketStatus.OPEN, TicketStatus.IN_PROGRESS, TicketStatus.WAITING)

TICKET_COLUMNS = (
    "id",
    "number",
    "subject",
    "created",
    "status",
    "priority",
    "source",
    "service_id",
    "team_id",
    "assignee_id",
    "requester__name",
    "requester__kind",
    "requester__study_programme_id",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "first_response_minutes",
    "resolution_minutes",
    "first_response_due_at",
    "update_due_at",
    "resolution_due_at",
    "reopen_count",
    "rating",
    "rating_comment",
    "rated_at",
    "service__first_response_minutes",
    "service__update_minutes",
    "service__resolution_minutes",
    "conversation__created",
)

CHAT_COLUMNS = (
    "id",
    "public_id",
    "topic",
    "created",
    "status",
    "service_id",
    "team_id",
    "agent_id",
    "requester_name",
    "requester__kind",
    "requester__study_programme_id",
    "accepted_at",
    "first_agent_reply_at",
    "ended_at",
    "ended_by",
    "rating",
    "rating_comment",
    "ticket_number",
)


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


@dataclass(frozen=True)
class TicketRow:
    """One ticket, with its service's targets in business minutes."""

    id: int
    number: str
    subject: str
    created: datetime
    status: str
    priority: str
    source: str
    service_id: int
    team_id: int
    assignee_id: int | None
    requester_name: str
    requester_kind: str
    study_programme_id: int | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    first_response_minutes: float | None
    resolution_minutes: float | None
    first_response_due_at: datetime | None
    update_due_at: datetime | None
    resolution_due_at: datetime | None
    reopen_count: int
    rating: int | None
    rating_comment: str
    rated_at: datetime | None
    first_response_target: int | None
    update_target: int | None
    resolution_target: int | None
    chat_started_at: datetime | None = None

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> "TicketRow":
        return cls(
            id=values["id"],
            number=values["number"],
            subject=values["subject"],
            created=values["created"],
            status=values["status"],
            priority=values["priority"],
            source=values["source"],
            service_id=values["service_id"],
            team_id=values["team_id"],
            assignee_id=values["assignee_id"],
            requester_name=values["requester__name"],
            requester_kind=values["requester__kind"],
            study_programme_id=values["requester__study_programme_id"],
            first_response_at=values["first_response_at"],
            resolved_at=values["resolved_at"],
            closed_at=values["closed_at"],
            first_response_minutes=values["first_response_minutes"],
            resolution_minutes=values["resolution_minutes"],
            first_response_due_at=values["first_response_due_at"],
            update_due_at=values["update_due_at"],
            resolution_due_at=values["resolution_due_at"],
            reopen_count=values["reopen_count"],
            rating=values["rating"],
            rating_comment=values["rating_comment"],
            rated_at=values["rated_at"],
            first_response_target=values["service__first_response_minutes"],
            update_target=values["service__update_minutes"],
            resolution_target=values["service__resolution_minutes"],
            chat_started_at=values["conversation__created"],
        )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_offline(self) -> bool:
        return self.source == TicketSource.OFFLINE

    @property
    def first_response_calendar_minutes(self) -> float | None:
        """Return calendar minutes from the request to the first agent response.

        A ticket made from a chat takes its first response from the chat's first
        agent message, which comes before the ticket row exists, so the clock
        starts when the chat started, as the SLA clocks do. A first response
        recorded before the start (a hand-edited row) counts as 0.
        """
        return _calendar_minutes(self.requested_at, self.first_response_at)

    @property
    def resolution_calendar_minutes(self) -> float | None:
        return _calendar_minutes(self.requested_at, self.resolved_at)

    @property
    def requested_at(self) -> datetime:
        """Moment the request arrived: the chat's start or the ticket's creation."""
        return self.chat_started_at or self.created

    def first_response_met(self, now: datetime) -> bool | None:
        """Return whether the first response met its target, None if not known yet.

        A ticket with no recorded first response misses the target once its due
        moment has passed. Before that, or with no target, it is not measured.
        """
        return _target_met(
            self.first_response_target,
            self.first_response_minutes,
            self.first_response_due_at,
            now,
        )

    def resolution_met(self, now: datetime) -> bool | None:
        """Return whether resolution met its target, None if not known yet."""
        return _target_met(
            self.resolution_target,
            self.resolution_minutes,
            self.resolution_due_at,
            now,
        )

    def is_breached(self, now: datetime) -> bool:
        """Return whether an open ticket has a due moment in the past."""
        return self.is_open and any(
            due is not None and due < now
            for due in (
                self.first_response_due_at,
                self.update_due_at,
                self.resolution_due_at,
            )
        )


def _calendar_minutes(start: datetime, end: datetime | None) -> float | None:
    seconds = seconds_between(start, end)
    return None if seconds is None else max(seconds, 0.0) / 60


def _target_met(
    target: int | None,
    minutes: float | None,
    due_at: datetime | None,
    now: datetime,
) -> bool | None:
    if target is None:
        return None
    if minutes is not None:
        return minutes <= target
    if due_at is not None and due_at < now:
        return False
    return None


@dataclass(frozen=True)
class ChatRow:
    """One chat with the moments its timings are measured between."""

    id: int
    public_id: str
    topic: str
    created: datetime
    status: str
    service_id: int
    team_id: int
    agent_id: int | None
    requester_name: str
    requester_kind: str
    study_programme_id: int | None
    accepted_at: datetime | None
    first_agent_reply_at: datetime | None
    ended_at: datetime | None
    ended_by: str
    rating: int | None
    rating_comment: str
    ticket_number: str

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> "ChatRow":
        return cls(
            id=values["id"],
            public_id=str(values["public_id"]),
            topic=values["topic"],
            created=values["created"],
            status=values["status"],
            service_id=values["service_id"],
            team_id=values["team_id"],
            agent_id=values["agent_id"],
            requester_name=values["requester_name"],
            requester_kind=values["requester__kind"],
            study_programme_id=values["requester__study_programme_id"],
            accepted_at=values["accepted_at"],
            first_agent_reply_at=values["first_agent_reply_at"],
            ended_at=values["ended_at"],
            ended_by=values["ended_by"],
            rating=values["rating"],
            rating_comment=values["rating_comment"],
            ticket_number=values["ticket_number"],
        )

    @property
    def is_missed(self) -> bool:
        """Return whether the chat ended before any agent accepted it."""
        return self.status == ConversationStatus.ENDED and self.accepted_at is None

    @property
    def wait_seconds(self) -> float | None:
        return seconds_between(self.created, self.accepted_at)

    @property
    def first_response_seconds(self) -> float | None:
        return seconds_between(self.created, self.first_agent_reply_at)

    @property
    def duration_seconds(self) -> float | None:
        """Return start to end of a chat an agent accepted, None for other chats."""
        if self.accepted_at is None:
            return None
        return seconds_between(self.created, self.ended_at)


def ticket_queryset(
    filters: DashboardFilters, start: datetime, end: datetime
) -> QuerySet[Ticket, dict[str, Any]]:
    """Return the filtered tickets created in [start, end), oldest first."""
    return (
        Ticket.objects.filter(
            filters.ticket_filter(),
            created__gte=start,
            created__lt=end,
            merged_into__isnull=True,
        )
        .order_by("created", "id")
        .values(*TICKET_COLUMNS)
    )


def chat_queryset(
    filters: DashboardFilters, start: datetime, end: datetime
) -> QuerySet[Conversation, dict[str, Any]]:
    """Return the filtered chats created in [start, end), oldest first."""
    return (
        Conversation.objects.filter(
            filters.chat_filter(), created__gte=start, created__lt=end
        )
        .order_by("created", "id")
        .values(*CHAT_COLUMNS)
    )


def open_ticket_queryset(
    filters: DashboardFilters,
) -> QuerySet[Ticket, dict[str, Any]]:
    """Return every filtered ticket that is not resolved or closed, whenever made."""
    return (
        Ticket.objects.filter(
            filters.ticket_filter(),
            status__in=OPEN_STATUSES,
            merged_into__isnull=True,
        )
        .order_by("created", "id")
        .values(*TICKET_COLUMNS)
    )


def load_tickets(
    filters: DashboardFilters, start: datetime, end: datetime
) -> list[TicketRow]:
    return [
        TicketRow.from_values(values) for values in ticket_queryset(filters, start, end)
    ]


def load_chats(
    filters: DashboardFilters, start: datetime, end: datetime
) -> list[ChatRow]:
    return [
        ChatRow.from_values(values) for values in chat_queryset(filters, start, end)
    ]


def load_open_tickets(filters: DashboardFilters) -> list[TicketRow]:
    return [TicketRow.from_values(values) for values in open_ticket_queryset(filters)]
