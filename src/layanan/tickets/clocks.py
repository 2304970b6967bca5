"""A ticket's service-level clocks, kept current as the ticket changes.

Three targets of the ticket's service run on the team's business calendar
(``layanan.tickets.sla`` does the arithmetic):

- first response runs from the moment the request arrived to the first public
  agent reply. That moment is the ticket's creation, or the start of the chat
  for a ticket made from a chat, whose first agent message is its first
  response. Internal notes, system entries and automatic mail never count.
- update runs from the first requester message that no public agent reply has
  followed yet to the next public agent reply. It runs only after the first
  response, because until then the first-response target covers the wait.
- resolution runs from the same start as the first response to the resolution.

Each ``TicketPause`` row stops all three clocks. Waiting on the requester opens
one, and leaving that status ends it. A reopened ticket keeps its original start,
and the interval it spent resolved or closed is stored as an ended pause, so the
resolution clock resumes where it stopped. While a clock stops (paused, resolved,
closed or met) its ``*_due_at`` field is None.

Call the functions that change a ticket inside the transaction of the change,
after ``workflow.lock``.

NOTE: a requester's message in a chat that already became a ticket does not
start the update clock, because the chat app never calls this module.
"""

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from django.db import transaction
from django.db.models import Max, Min
from django.utils.translation import gettext_lazy

from layanan.catalog.calendars import (
    Calendar,
    business_minutes_between,
    calendar_for_team,
)
from layanan.chat.models import Conversation
from layanan.tickets import sla
from layanan.tickets.models import (
    EntryKind,
    SlaTarget,
    Ticket,
    TicketEntry,
    TicketPause,
    TicketStatus,
)

logger = logging.getLogger(__name__)

# Statuses in which the clocks may run.
RUNNING_STATUSES = frozenset({TicketStatus.OPEN, TicketStatus.IN_PROGRESS})
DONE_STATUSES = frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED})
# A target counts as due soon from this share of its business time on, and the
# periodic job warns its owner then.
WARNING_PERCENT = 80
BREACH_PERCENT = 100
DUE_FIELDS = ("first_response_due_at", "update_due_at", "resolution_due_at")
# The ticket field that stores each target's due moment, and the Service field
# that sets its length in business minutes.
DUE_FIELD = {
    SlaTarget.FIRST_RESPONSE: "first_response_due_at",
    SlaTarget.UPDATE: "update_due_at",
    SlaTarget.RESOLUTION: "resolution_due_at",
}
TARGET_MINUTES_FIELD = {
    SlaTarget.FIRST_RESPONSE: "first_response_minutes",
    SlaTarget.UPDATE: "update_minutes",
    SlaTarget.RESOLUTION: "resolution_minutes",
}


@dataclass(frozen=True)
class ClockInputs:
    """The inputs that every clock of one ticket is computed from."""

    start: datetime
    calendar: Calendar
    pauses: list[sla.Pause]


def target_minutes(ticket: Ticket, target: SlaTarget) -> int | None:
    """Return the business minutes the ticket's service allows for target."""
    minutes: int | None = getattr(ticket.service, TARGET_MINUTES_FIELD[target])
    return minutes


def clock_start(ticket: Ticket) -> datetime:
    """Return when the request arrived: the chat's start or the ticket's creation."""
    if ticket.conversation_id is None:
        return ticket.created
    started: datetime | None = (
        Conversation.objects.filter(pk=ticket.conversation_id)
        .values_list("created", flat=True)
        .first()
    )
    return started or ticket.created


def load_inputs(ticket: Ticket, calendar: Calendar | None = None) -> ClockInputs:
    """Read the ticket's clock start, its team's calendar and its pauses."""
    pauses = list(
        TicketPause.objects.filter(ticket_id=ticket.pk).values_list(
            "started_at", "ended_at"
        )
    )
    return ClockInputs(
        start=clock_start(ticket),
        calendar=calendar or calendar_for_team(ticket.team),
        pauses=pauses,
    )


def awaiting_update_since(
    ticket: Ticket, message_at: datetime | None = None
) -> datetime | None:
    """Return when the oldest requester message still unanswered arrived.

    ``message_at`` is a requester message not stored as an entry yet. Returns
    None before the first response and when a public agent reply came after every
    requester message.
    """
    if ticket.first_response_at is None:
        return None
    public = TicketEntry.objects.filter(ticket_id=ticket.pk, kind=EntryKind.PUBLIC)
    last_agent_reply = public.filter(author__isnull=False).aggregate(
        last=Max("created")
    )["last"]
    answered_at = ticket.first_response_at
    if last_agent_reply is not None and last_agent_reply > answered_at:
        answered_at = last_agent_reply
    oldest: datetime | None = public.filter(
        author__isnull=True, created__gt=answered_at
    ).aggregate(oldest=Min("created"))["oldest"]
    candidates = [moment for moment in (oldest, message_at) if moment is not None]
    later = [moment for moment in candidates if moment > answered_at]
    return min(later) if later else None


def due_times(
    ticket: Ticket, inputs: ClockInputs, *, update_since: datetime | None
) -> dict[str, datetime | None]:
    """Return the three due moments for the ticket's current state.

    All are None unless the status is open or in progress.
    """
    due: dict[str, datetime | None] = dict.fromkeys(DUE_FIELDS)
    if ticket.status not in RUNNING_STATUSES:
        return due
    if ticket.first_response_at is None:
        due["first_response_due_at"] = sla.due_at(
            inputs.start,
            target_minutes(ticket, SlaTarget.FIRST_RESPONSE),
            inputs.calendar,
            inputs.pauses,
        )
    if update_since is not None:
        due["update_due_at"] = sla.due_at(
            update_since,
            target_minutes(ticket, SlaTarget.UPDATE),
            inputs.calendar,
            inputs.pauses,
        )
    due["resolution_due_at"] = sla.due_at(
        inputs.start,
        target_minutes(ticket, SlaTarget.RESOLUTION),
        inputs.calendar,
        inputs.pauses,
    )
    return due


def refresh_due_times(
    ticket: Ticket,
    *,
    message_at: datetime | None = None,
    calendar: Calendar | None = None,
) -> None:
    """Recompute and save the ticket's three due moments.

    ``message_at`` is a requester message that arrives with this change and is
    not stored as an entry yet.
    """
    inputs = load_inputs(ticket, calendar)
    update_since = None
    if ticket.status in RUNNING_STATUSES:
        update_since = awaiting_update_since(ticket, message_at)
    for name, value in due_times(ticket, inputs, update_since=update_since).items():
        setattr(ticket, name, value)
    ticket.save(update_fields=[*DUE_FIELDS, "updated"])


# Changes of the ticket


def start_clocks(ticket: Ticket) -> None:
    """Set a new ticket's due moments, or record the first response of its chat."""
    first_reply_at: datetime | None = None
    if ticket.conversation_id is not None:
        first_reply_at = (
            Conversation.objects.filter(pk=ticket.conversation_id)
            .values_list("first_agent_reply_at", flat=True)
            .first()
        )
    inputs = load_inputs(ticket)
    if first_reply_at is not None:
        record_first_response(ticket, first_reply_at, inputs)
    for name, value in due_times(ticket, inputs, update_since=None).items():
        setattr(ticket, name, value)
    ticket.save(
        update_fields=[*DUE_FIELDS, "first_response_at", "first_response_minutes"]
    )


def record_first_response(
    ticket: Ticket, responded_at: datetime, inputs: ClockInputs
) -> None:
    """Set first_response_at and the business minutes it took. The caller saves."""
    ticket.first_response_at = responded_at
    ticket.first_response_minutes = sla.elapsed_business_minutes(
        inputs.start, responded_at, inputs.calendar, inputs.pauses
    )
    ticket.first_response_due_at = None


def public_reply_sent(ticket: Ticket, sent_at: datetime) -> None:
    """Stop the first-response and update clocks at an agent's public reply."""
    update_fields = ["update_due_at"]
    if ticket.first_response_at is None:
        record_first_response(ticket, sent_at, load_inputs(ticket))
        update_fields += [
            "first_response_at",
            "first_response_minutes",
            "first_response_due_at",
        ]
        logger.info(
            "ticket first response ticket=%s minutes=%.1f",
            ticket.number,
            ticket.first_response_minutes,
        )
    ticket.update_due_at = None
    ticket.save(update_fields=update_fields)


def requester_message_arrived(ticket: Ticket, received_at: datetime) -> None:
    """Start the update clock for a requester's message, unless it already runs."""
    if ticket.status in RUNNING_STATUSES:
        refresh_due_times(ticket, message_at=received_at)


def status_changed(
    ticket: Ticket,
    old_status: TicketStatus,
    *,
    changed_at: datetime,
    resolved_at_before: datetime | None,
) -> None:
    """Open or end pauses for a status change and update the clocks to match.

    ``resolved_at_before`` is the ticket's ``resolved_at`` before the change,
    where a reopened ticket's resolved interval begins.
    """
    new_status = TicketStatus(ticket.status)
    if new_status == old_status:
        return
    if new_status == TicketStatus.WAITING:
        TicketPause.objects.create(ticket=ticket, started_at=changed_at)
    elif old_status == TicketStatus.WAITING:
        TicketPause.objects.filter(ticket=ticket, ended_at__isnull=True).update(
            ended_at=changed_at
        )
    reopened = old_status in DONE_STATUSES and new_status in RUNNING_STATUSES
    if reopened:
        record_reopen(ticket, changed_at, resolved_at_before)
    if old_status == TicketStatus.RESOLVED and new_status == TicketStatus.CLOSED:
        # Resolving already stopped the clocks and recorded the resolution.
        return
    calendar = None
    if new_status == TicketStatus.RESOLVED:
        inputs = load_inputs(ticket)
        calendar = inputs.calendar
        ticket.resolution_minutes = sla.elapsed_business_minutes(
            inputs.start, changed_at, inputs.calendar, inputs.pauses
        )
        ticket.save(update_fields=["resolution_minutes"])
    leaves_running = new_status not in RUNNING_STATUSES
    if old_status == TicketStatus.WAITING or reopened or leaves_running:
        refresh_due_times(ticket, calendar=calendar)


def record_reopen(
    ticket: Ticket, reopened_at: datetime, resolved_at_before: datetime | None
) -> None:
    """Count the reopening and store the resolved interval as an ended pause."""
    ticket.reopen_count += 1
    ticket.save(update_fields=["reopen_count"])
    if resolved_at_before is not None and resolved_at_before < reopened_at:
        TicketPause.objects.create(
            ticket=ticket, started_at=resolved_at_before, ended_at=reopened_at
        )
    logger.info(
        "ticket reopened ticket=%s reopen_count=%d", ticket.number, ticket.reopen_count
    )


def record_chat_first_responses(limit: int) -> int:
    """Record the first response of chat tickets whose chat got one later.

    An agent may make a ticket from a chat before writing in it. The chat app
    does not call the tickets app, so the periodic job picks up the first agent
    message here. Returns how many tickets changed, at most ``limit``.
    """
    pending = list(
        Ticket.objects.filter(
            first_response_at__isnull=True,
            conversation__first_agent_reply_at__isnull=False,
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(1 for pk in pending if record_chat_first_response(pk))


def record_chat_first_response(pk: int) -> bool:
    """Record one chat ticket's first response unless a console reply came first."""
    with transaction.atomic():
        ticket = (
            Ticket.objects.select_for_update()
            .select_related("service", "team", "conversation")
            .get(pk=pk)
        )
        conversation = ticket.conversation
        if ticket.first_response_at is not None or conversation is None:
            return False
        if conversation.first_agent_reply_at is None:
            return False
        inputs = load_inputs(ticket)
        record_first_response(ticket, conversation.first_agent_reply_at, inputs)
        ticket.save(
            update_fields=[
                "first_response_at",
                "first_response_minutes",
                "first_response_due_at",
            ]
        )
    logger.info(
        "ticket first response from chat ticket=%s conversation=%s",
        ticket.number,
        conversation.public_id,
    )
    return True


# Display


class ClockState(StrEnum):
    """The state of one target, also the CSS class suffix ``sla-<state>``."""

    OK = "ok"
    WARNING = "warning"
    BREACHED = "breached"
    PAUSED = "paused"
    MET = "met"
    # No target, or the clock is not running (no message awaits an update).
    NONE = "none"


STATE_LABELS = {
    ClockState.OK: gettext_lazy("On time"),
    ClockState.WARNING: gettext_lazy("Due soon"),
    ClockState.BREACHED: gettext_lazy("Overdue"),
    ClockState.PAUSED: gettext_lazy("Paused"),
    ClockState.MET: gettext_lazy("Met"),
    ClockState.NONE: gettext_lazy("Not running"),
}


def state_for_percent(percent: float) -> ClockState:
    if percent >= BREACH_PERCENT:
        return ClockState.BREACHED
    if percent >= WARNING_PERCENT:
        return ClockState.WARNING
    return ClockState.OK


@dataclass(frozen=True)
class TargetClock:
    """One target of a ticket as the ticket page shows it."""

    target: SlaTarget
    state: ClockState
    due_at: datetime | None
    # Business time used as a percentage of the target; over 100 when overdue.
    percent: float | None
    minutes: int | None

    @property
    def label(self) -> str:
        return str(SlaTarget(self.target).label)

    @property
    def state_label(self) -> str:
        return str(STATE_LABELS[self.state])


def target_clocks(ticket: Ticket, now: datetime) -> list[TargetClock]:
    """Return the state of the ticket's three targets at now, for the ticket page.

    Reads the calendar, the pauses and the entries, so call it for one ticket.
    """
    inputs = load_inputs(ticket)
    status = TicketStatus(ticket.status)
    update_since = None
    if status not in DONE_STATUSES:
        update_since = awaiting_update_since(ticket)
    return [
        first_response_clock(ticket, now, inputs),
        running_clock(
            ticket,
            SlaTarget.UPDATE,
            now,
            replace(inputs, start=update_since) if update_since else None,
        ),
        resolution_clock(ticket, now, inputs),
    ]


def first_response_clock(
    ticket: Ticket, now: datetime, inputs: ClockInputs
) -> TargetClock:
    minutes = target_minutes(ticket, SlaTarget.FIRST_RESPONSE)
    if ticket.first_response_at is not None:
        return met_clock(
            SlaTarget.FIRST_RESPONSE, minutes, ticket.first_response_minutes
        )
    if ticket.status in DONE_STATUSES:
        return TargetClock(
            SlaTarget.FIRST_RESPONSE, ClockState.NONE, None, None, minutes
        )
    return running_clock(ticket, SlaTarget.FIRST_RESPONSE, now, inputs)


def resolution_clock(ticket: Ticket, now: datetime, inputs: ClockInputs) -> TargetClock:
    minutes = target_minutes(ticket, SlaTarget.RESOLUTION)
    if ticket.status in DONE_STATUSES:
        return met_clock(SlaTarget.RESOLUTION, minutes, ticket.resolution_minutes)
    return running_clock(ticket, SlaTarget.RESOLUTION, now, inputs)


def met_clock(
    target: SlaTarget, minutes: int | None, used_minutes: float | None
) -> TargetClock:
    percent = None
    if minutes is not None and used_minutes is not None:
        percent = 100.0 if minutes == 0 else used_minutes / minutes * 100
    return TargetClock(target, ClockState.MET, None, percent, minutes)


def running_clock(
    ticket: Ticket, target: SlaTarget, now: datetime, inputs: ClockInputs | None
) -> TargetClock:
    """Return a target whose clock runs or is paused; None inputs: not started."""
    minutes = target_minutes(ticket, target)
    if minutes is None or inputs is None:
        return TargetClock(target, ClockState.NONE, None, None, minutes)
    percent = sla.percent_used(
        inputs.start, now, minutes, inputs.calendar, inputs.pauses
    )
    if percent is None:
        return TargetClock(target, ClockState.NONE, None, None, minutes)
    if ticket.status == TicketStatus.WAITING:
        state = ClockState.PAUSED
    else:
        state = state_for_percent(percent)
    due: datetime | None = getattr(ticket, DUE_FIELD[target])
    return TargetClock(target, state, due, percent, minutes)


@dataclass(frozen=True)
class NextDue:
    """The ticket's next due moment and its state, as a list row shows it."""

    state: ClockState
    target: SlaTarget | None
    due_at: datetime | None

    @property
    def state_label(self) -> str:
        return str(STATE_LABELS[self.state])

    @property
    def target_label(self) -> str:
        return str(SlaTarget(self.target).label) if self.target else ""


def next_due(ticket: Ticket, now: datetime) -> NextDue:
    """Return the earliest due moment of the ticket from its fields alone.

    Makes no query. "Due soon" needs business time, so it shows only when
    ``annotate_percent_used`` set ``ticket.sla_percent_used`` beforehand.
    """
    if ticket.status in DONE_STATUSES:
        return NextDue(ClockState.MET, SlaTarget.RESOLUTION, None)
    pending = [
        (due, target)
        for target, name in DUE_FIELD.items()
        if (due := getattr(ticket, name)) is not None
    ]
    if ticket.status == TicketStatus.WAITING:
        return NextDue(ClockState.PAUSED, None, None)
    if not pending:
        return NextDue(ClockState.NONE, None, None)
    due, target = min(pending, key=lambda item: item[0])
    if due <= now:
        return NextDue(ClockState.BREACHED, target, due)
    percent: float | None = getattr(ticket, "sla_percent_used", None)
    if percent is not None and percent >= WARNING_PERCENT:
        return NextDue(ClockState.WARNING, target, due)
    return NextDue(ClockState.OK, target, due)


def annotate_percent_used(tickets: list[Ticket], now: datetime) -> None:
    """Set ``sla_percent_used`` on each ticket for its next due moment.

    Loads each distinct calendar once. Select ``team`` and ``service`` with the
    tickets, or each ticket costs two more queries. A running clock has no pause
    before its due moment, so the business time left is the time from now to due.
    """
    calendars: dict[int | None, Calendar] = {}
    for ticket in tickets:
        upcoming = [
            (due, target)
            for target, name in DUE_FIELD.items()
            if (due := getattr(ticket, name)) is not None and due > now
        ]
        if ticket.status not in RUNNING_STATUSES or not upcoming:
            continue
        due, target = min(upcoming, key=lambda item: item[0])
        minutes = target_minutes(ticket, target)
        if not minutes:
            continue
        calendar_id = ticket.team.calendar_id
        if calendar_id not in calendars:
            calendars[calendar_id] = calendar_for_team(ticket.team)
        left = business_minutes_between(now, due, calendars[calendar_id])
        percent = (minutes - left) / minutes * 100
        ticket.sla_percent_used = percent  # type: ignore[attr-defined]
