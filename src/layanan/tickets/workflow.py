"""The ticket workflow: status, assignment, transfer between teams and priority.

Every change goes through a function here. It locks the ticket's row, checks the
change against the ticket's current state, writes it, records one audit event
with the old and new values and who made it, and logs one line with the ids.

Statuses move along two tables. Agents follow ``AGENT_TRANSITIONS``. A reply by
email from the requester or a participant follows ``REPLY_TRANSITIONS`` (see
``requester_replied``): it reopens a resolved ticket or one closed less than
REOPEN_DAYS ago, and moves a waiting ticket back to in progress. An agent's
public reply moves an open ticket to in progress (see ``agent_replied``). The
``tickets.autoclose`` job closes tickets resolved more than AUTOCLOSE_DAYS ago.

Each change also keeps the service-level clocks current (``layanan.tickets.clocks``),
and a requester's reply is announced to the ticket's owner
(``layanan.tickets.notices``).
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from layanan.audit.models import ActorKind, Event
from layanan.audit.services import record
from layanan.catalog.models import Team
from layanan.chat.services import agent_display_name
from layanan.mail.outbox import queue_email
from layanan.tickets import clocks, notices
from layanan.tickets.inbound import add_system_note, requester_for_address
from layanan.tickets.models import (
    EntryKind,
    EntrySource,
    Ticket,
    TicketEntry,
    TicketPriority,
    TicketSource,
    TicketStatus,
)
from layanan.tickets.services import NewTicket, open_ticket, ticket_console_url

logger = logging.getLogger(__name__)

AGENT_TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    TicketStatus.OPEN: frozenset(
        {TicketStatus.IN_PROGRESS, TicketStatus.WAITING, TicketStatus.RESOLVED}
    ),
    TicketStatus.IN_PROGRESS: frozenset(
        {TicketStatus.OPEN, TicketStatus.WAITING, TicketStatus.RESOLVED}
    ),
    TicketStatus.WAITING: frozenset({TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED}),
    TicketStatus.RESOLVED: frozenset({TicketStatus.OPEN, TicketStatus.CLOSED}),
    # Only a requester's reply brings a closed ticket back (requester_replied).
    TicketStatus.CLOSED: frozenset(),
}

# The status that a reply by email from the requester or a participant moves a
# ticket to. A status that is absent stays as it is. A ticket closed REOPEN_DAYS
# ago or more is not reopened, because the reply opens a new ticket instead.
REPLY_TRANSITIONS: dict[TicketStatus, TicketStatus] = {
    TicketStatus.WAITING: TicketStatus.IN_PROGRESS,
    TicketStatus.RESOLVED: TicketStatus.OPEN,
    TicketStatus.CLOSED: TicketStatus.OPEN,
}

# The same limit as a reply's or an internal note's body in the console.
MAX_NOTE_LENGTH = 10_000
# Tickets the auto-close job closes per run. The next run, 10 minutes later, takes
# the rest.
AUTOCLOSE_BATCH = 500
AUTOCLOSE_EVERY_SECONDS = 10 * 60
# The ticket's fields that the workflow reads under the row lock.
STATE_FIELDS = (
    "status",
    "priority",
    "team_id",
    "assignee_id",
    "resolved_at",
    "closed_at",
    "first_response_at",
    "first_response_minutes",
    "first_response_due_at",
    "update_due_at",
    "resolution_due_at",
    "resolution_minutes",
    "reopen_count",
    "unread_reply",
)
SYSTEM_AUTHOR = "Layanan"


class WorkflowError(Exception):
    """A change the workflow rejects, with a stable ``code`` and a translated
    ``message`` that names the field at fault and the fix."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def lock(ticket: Ticket) -> None:
    """Lock the ticket's row and reload its workflow state into ``ticket``.

    Call inside a transaction. A change is checked against this state, not
    against what the caller read earlier, so two agents acting at once cannot
    make a transition the table forbids.
    """
    current = (
        Ticket.objects.select_for_update()
        .filter(pk=ticket.pk)
        .values(*STATE_FIELDS)
        .get()
    )
    for name, value in current.items():
        setattr(ticket, name, value)


def next_statuses(status: str) -> list[TicketStatus]:
    """Return the statuses an agent may move a ticket to, in the usual order."""
    allowed = AGENT_TRANSITIONS[TicketStatus(status)]
    return [candidate for candidate in TicketStatus if candidate in allowed]


def parse_status(value: str) -> TicketStatus:
    if value not in TicketStatus.values:
        raise WorkflowError(
            "unknown_status",
            _(
                "The status chosen in “New status” does not exist. Reload the page "
                "and choose one of the listed statuses."
            ),
        )
    return TicketStatus(value)


def transition_rejected(
    ticket: Ticket, current: TicketStatus, requested: TicketStatus
) -> WorkflowError:
    values = {
        "number": ticket.number,
        "current": current.label,
        "requested": requested.label,
    }
    if current == requested:
        message = _(
            "Ticket %(number)s is already “%(current)s”. In “New status”, choose "
            "the status it should move to."
        )
        return WorkflowError("unchanged", message % values)
    if current == TicketStatus.CLOSED:
        message = _(
            "Ticket %(number)s is “%(current)s”, so it cannot be set to "
            "“%(requested)s”: agents cannot change a closed ticket. A reply from "
            "the requester reopens it or opens a new ticket."
        )
        return WorkflowError("ticket_closed", message % values)
    allowed = ", ".join(str(status.label) for status in next_statuses(current))
    message = _(
        "Ticket %(number)s is “%(current)s”, so it cannot be set to "
        "“%(requested)s”. In “New status”, choose one of: %(allowed)s."
    )
    return WorkflowError(
        "transition_not_allowed", message % {**values, "allowed": allowed}
    )


def clean_note(note: str, *, required: bool) -> str:
    """Return the note with uniform line ends and no outer blank space.

    Raise WorkflowError for a note longer than MAX_NOTE_LENGTH, or an empty one
    when ``required`` (a transfer's).
    """
    text = note.replace("\r\n", "\n").replace("\r", "\n").strip()
    if required and not text:
        raise WorkflowError(
            "note_empty",
            _(
                "The note is empty. Write in “Note” why the ticket moves to the "
                "other team, then transfer it."
            ),
        )
    if len(text) > MAX_NOTE_LENGTH:
        raise WorkflowError(
            "note_too_long",
            _(
                "The note in “Note” is %(length)d characters long, more than the "
                "%(max)d allowed. Shorten it."
            )
            % {"length": len(text), "max": MAX_NOTE_LENGTH},
        )
    return text


def add_note(ticket: Ticket, actor: User | None, text: str) -> TicketEntry:
    """Store an internal note written with a workflow change; never emailed."""
    return TicketEntry.objects.create(
        ticket=ticket,
        kind=EntryKind.NOTE,
        author=actor,
        author_name=agent_display_name(actor) if actor else SYSTEM_AUTHOR,
        author_email=actor.email if actor else "",
        source=EntrySource.CONSOLE if actor else EntrySource.SYSTEM,
        body=text,
    )


def actor_label(actor: User | None, actor_kind: ActorKind) -> str:
    """Return how a log line names who made a change: a user id or a kind."""
    return f"user:{actor.pk}" if actor is not None else str(actor_kind)


# Status


def change_status(
    ticket: Ticket, new_status: str, *, actor: User | None, note: str = ""
) -> Ticket:
    """Move the ticket to ``new_status`` along AGENT_TRANSITIONS and return it.

    ``actor`` None is the system. A ``note`` is stored as an internal note. The
    caller checks that an agent serves the ticket's team. Raise WorkflowError
    for an unknown status, a transition the table does not allow or an overlong
    note; then nothing changes.
    """
    requested = parse_status(new_status)
    text = clean_note(note, required=False)
    actor_kind = ActorKind.AGENT if actor is not None else ActorKind.SYSTEM
    with transaction.atomic():
        lock(ticket)
        current = TicketStatus(ticket.status)
        if requested not in AGENT_TRANSITIONS[current]:
            raise transition_rejected(ticket, current, requested)
        entry = add_note(ticket, actor, text) if text else None
        apply_status(ticket, requested, actor=actor, actor_kind=actor_kind, note=entry)
    return ticket


def apply_status(
    ticket: Ticket,
    new_status: TicketStatus,
    *,
    actor: User | None,
    actor_kind: ActorKind,
    note: TicketEntry | None = None,
) -> None:
    """Write a checked status with its timestamps, the audit event and the log line.

    Resolving stamps ``resolved_at``; closing stamps ``closed_at`` and keeps
    ``resolved_at``, which the auto-close job and reports read; any other status
    clears both. The service-level clocks pause, resume or stop to match. Call
    inside a transaction, after ``lock``.
    """
    old_status = TicketStatus(ticket.status)
    resolved_at_before = ticket.resolved_at
    now = timezone.now()
    if new_status == TicketStatus.RESOLVED:
        ticket.resolved_at, ticket.closed_at = now, None
    elif new_status == TicketStatus.CLOSED:
        ticket.closed_at = now
    else:
        ticket.resolved_at, ticket.closed_at = None, None
    ticket.status = new_status
    ticket.save(update_fields=["status", "resolved_at", "closed_at", "updated"])
    clocks.status_changed(
        ticket, old_status, changed_at=now, resolved_at_before=resolved_at_before
    )
    record(
        "ticket",
        ticket.number,
        "status_changed",
        actor=actor,
        actor_kind=actor_kind,
        old=str(old_status),
        new=str(new_status),
        note=note.pk if note else None,
    )
    logger.info(
        "ticket status changed ticket=%s old=%s new=%s actor=%s",
        ticket.number,
        old_status,
        new_status,
        actor_label(actor, actor_kind),
    )


def agent_replied(ticket: Ticket, agent: User) -> None:
    """Record an agent's public reply: the first response, and a status to match.

    The reply stops the first-response and update clocks. It moves an open
    ticket to in progress, as it starts work. Any other status stays, because a
    reply to a waiting ticket usually requests more information and one to a
    resolved ticket closes the conversation. Call inside a transaction.
    """
    lock(ticket)
    clocks.public_reply_sent(ticket, timezone.now())
    if ticket.status == TicketStatus.OPEN:
        apply_status(
            ticket, TicketStatus.IN_PROGRESS, actor=agent, actor_kind=ActorKind.AGENT
        )


# Replies by email


@dataclass(frozen=True)
class RequesterReply:
    """A reply by email from a ticket's requester or one of its participants."""

    sender: str
    sender_name: str
    message_id: str
    # False when the loop guards hold back the acknowledgement of a new ticket.
    acknowledge: bool = True
    # The reply's new text, which the owner's notice quotes.
    body: str = ""


def requester_replied(ticket: Ticket, reply: RequesterReply) -> Ticket:
    """Move the ticket along REPLY_TRANSITIONS and return the ticket the reply is on.

    That is ``ticket`` itself, except after a ticket closed REOPEN_DAYS ago or
    more. Then the reply opens a new ticket, which is returned, and a note on
    each names the other. On ``ticket`` itself the reply starts the update clock,
    and its owner is notified. Call inside the ingestion transaction.
    """
    with transaction.atomic():
        lock(ticket)
        current = TicketStatus(ticket.status)
        if current == TicketStatus.CLOSED and not closed_recently(ticket):
            return open_follow_up(ticket, reply)
        target = REPLY_TRANSITIONS.get(current)
        if target is not None:
            apply_status(ticket, target, actor=None, actor_kind=ActorKind.REQUESTER)
        clocks.requester_message_arrived(ticket, timezone.now())
        notices.notify_owner_of_reply(
            ticket, reply.sender_name or reply.sender, reply.body
        )
    return ticket


def closed_recently(ticket: Ticket) -> bool:
    """Tell whether the ticket was closed less than REOPEN_DAYS ago."""
    if ticket.closed_at is None:
        return False
    reopen_days: int = settings.REOPEN_DAYS
    return timezone.now() - ticket.closed_at < timedelta(days=reopen_days)


def open_follow_up(closed: Ticket, reply: RequesterReply) -> Ticket:
    """Open a ticket for a reply to a long-closed one, in the same team.

    The sender becomes its requester, who is the old ticket's requester when the
    addresses match. Call inside a transaction.
    """
    if reply.sender.lower() == closed.requester_email.lower():
        requester = closed.requester
    else:
        requester = requester_for_address(reply.sender, reply.sender_name)
    follow_up = open_ticket(
        NewTicket(
            subject=closed.subject,
            requester=requester,
            email=reply.sender,
            service=closed.service,
            source=TicketSource.EMAIL,
            language=closed.language,
            acknowledge=reply.acknowledge,
            acknowledge_in_reply_to=reply.message_id,
            team=closed.team,
        )
    )
    link_follow_up(closed, follow_up)
    logger.info(
        "ticket follow-up opened ticket=%s follows=%s",
        follow_up.number,
        closed.number,
    )
    return follow_up


def link_follow_up(closed: Ticket, follow_up: Ticket) -> None:
    """Write the system note and audit event on each ticket that name the other."""
    days: int = settings.REOPEN_DAYS
    with translation.override(follow_up.language):
        add_system_note(
            follow_up,
            _(
                "This ticket follows ticket %(number)s: the requester replied to it "
                "after it had been closed for %(days)d days or more."
            )
            % {"number": closed.number, "days": days},
        )
    with translation.override(closed.language):
        add_system_note(
            closed,
            _(
                "The requester replied after this ticket had been closed for "
                "%(days)d days or more, so the reply opened ticket %(number)s."
            )
            % {"number": follow_up.number, "days": days},
        )
    record(
        "ticket",
        closed.number,
        "follow_up_opened",
        actor_kind=ActorKind.REQUESTER,
        follow_up=follow_up.number,
    )
    record(
        "ticket",
        follow_up.number,
        "follows",
        actor_kind=ActorKind.REQUESTER,
        previous=closed.number,
    )


# Auto-close


def close_resolved_tickets() -> int:
    """Close tickets resolved more than AUTOCLOSE_DAYS ago and return how many.

    At most AUTOCLOSE_BATCH are closed per call, each in its own transaction, as
    the system, with an audit event. The periodic job ``tickets.autoclose`` calls
    this.
    """
    autoclose_days: int = settings.AUTOCLOSE_DAYS
    cutoff = timezone.now() - timedelta(days=autoclose_days)
    due = list(
        Ticket.objects.filter(status=TicketStatus.RESOLVED, resolved_at__lt=cutoff)
        .order_by("resolved_at", "pk")
        .values_list("pk", flat=True)[:AUTOCLOSE_BATCH]
    )
    closed = sum(1 for pk in due if close_if_due(pk, cutoff))
    if due:
        logger.info("tickets auto-closed count=%d due=%d", closed, len(due))
    return closed


def close_if_due(pk: int, cutoff: datetime) -> bool:
    """Close one ticket if it is still resolved since before ``cutoff``."""
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=pk)
        # The requester may have reopened it since the query, or an agent
        # resolved it again.
        still_due = (
            ticket.status == TicketStatus.RESOLVED
            and ticket.resolved_at is not None
            and ticket.resolved_at < cutoff
        )
        if still_due:
            apply_status(
                ticket, TicketStatus.CLOSED, actor=None, actor_kind=ActorKind.SYSTEM
            )
    return still_due


# Assignment and transfer


def team_members(team_id: int) -> list[User]:
    """Return the active members of a team, by name: whom a ticket may go to."""
    return list(
        User.objects.filter(teams__pk=team_id, is_active=True).order_by(
            "first_name", "last_name", "username"
        )
    )


def transfer_teams(ticket: Ticket) -> list[Team]:
    """Return the other teams, each with its active members prefetched."""
    members = User.objects.filter(is_active=True).order_by(
        "first_name", "last_name", "username"
    )
    return list(
        Team.objects.exclude(pk=ticket.team_id).prefetch_related(
            Prefetch("members", queryset=members)
        )
    )


def find_team(value: str) -> Team:
    """Return the team a form chose by id, or raise WorkflowError if none has it."""
    team = Team.objects.filter(pk=int(value)).first() if value.isdigit() else None
    if team is None:
        raise WorkflowError(
            "unknown_team",
            _(
                "The team chosen in “Team” does not exist. Reload the page and "
                "choose again."
            ),
        )
    return team


def find_member(value: str, team: Team, *, field: str) -> User | None:
    """Return the member of ``team`` a form chose by id, or None for no one.

    ``field`` is the form field's label, which the error names. Raise
    WorkflowError for an unknown user or one outside the team.
    """
    if not value:
        return None
    user = User.objects.filter(pk=int(value)).first() if value.isdigit() else None
    if user is None:
        raise WorkflowError(
            "unknown_agent",
            _(
                "The agent chosen in “%(field)s” does not exist. Reload the page "
                "and choose again."
            )
            % {"field": field},
        )
    check_member(user, team, field=field)
    return user


def check_member(user: User, team: Team, *, field: str) -> None:
    if user.is_active and team.members.filter(pk=user.pk).exists():
        return
    raise WorkflowError(
        "not_team_member",
        _(
            "%(name)s is not a member of the %(team)s team. In “%(field)s”, choose "
            "one of its members."
        )
        % {"name": agent_display_name(user), "team": team.name, "field": field},
    )


def claim(ticket: Ticket, *, actor: User) -> Ticket:
    """Assign the ticket to ``actor`` ("Assign to me"); see ``assign``."""
    return assign(ticket, actor, actor=actor)


def assign(ticket: Ticket, assignee: User | None, *, actor: User) -> Ticket:
    """Make ``assignee`` the ticket's owner (None: no one) and return the ticket.

    The assignee must be an active member of the ticket's team. The new owner is
    emailed unless they assigned the ticket to themselves. Raise WorkflowError
    for someone outside the team or the owner the ticket already has.
    """
    with transaction.atomic():
        lock(ticket)
        if assignee is not None:
            check_member(assignee, ticket.team, field=_("Assignee"))
        old_assignee = ticket.assignee_id
        new_assignee = assignee.pk if assignee else None
        if old_assignee == new_assignee:
            raise assignee_unchanged(ticket)
        ticket.assignee = assignee
        ticket.save(update_fields=["assignee", "updated"])
        record(
            "ticket",
            ticket.number,
            "assigned",
            actor=actor,
            old=old_assignee,
            new=new_assignee,
        )
        if assignee is not None and assignee.pk != actor.pk:
            notify_new_owner(ticket, OwnerNotice(actor=actor, recipient=assignee))
    logger.info(
        "ticket assigned ticket=%s old=%s new=%s actor=%s",
        ticket.number,
        old_assignee,
        new_assignee,
        actor.pk,
    )
    return ticket


def assignee_unchanged(ticket: Ticket) -> WorkflowError:
    if ticket.assignee is None:
        message = _(
            "Ticket %(number)s is already unassigned. In “Assignee”, choose an agent."
        ) % {"number": ticket.number}
    else:
        message = _(
            "Ticket %(number)s is already assigned to %(name)s. In “Assignee”, "
            "choose someone else."
        ) % {"number": ticket.number, "name": agent_display_name(ticket.assignee)}
    return WorkflowError("unchanged", message)


@dataclass(frozen=True)
class Transfer:
    """A move of a ticket to another team, optionally to one of its agents."""

    team: Team
    note: str
    assignee: User | None = None


def transfer(ticket: Ticket, move: Transfer, *, actor: User) -> Ticket:
    """Move the ticket to another team with an internal note; return it.

    The ticket goes to ``move.assignee``, who must serve that team, or to no one.
    That agent is emailed, or the team's address when there is none. Raise
    WorkflowError for the ticket's own team, an agent outside the new team or an
    empty or overlong note.
    """
    text = clean_note(move.note, required=True)
    with transaction.atomic():
        lock(ticket)
        if move.team.pk == ticket.team_id:
            raise WorkflowError(
                "same_team",
                _(
                    "Ticket %(number)s already belongs to the %(team)s team. In "
                    "“Team”, choose another team."
                )
                % {"number": ticket.number, "team": move.team.name},
            )
        if move.assignee is not None:
            check_member(move.assignee, move.team, field=_("Agent"))
        old_team, old_assignee = ticket.team_id, ticket.assignee_id
        ticket.team, ticket.assignee = move.team, move.assignee
        ticket.save(update_fields=["team", "assignee", "updated"])
        # The new team's calendar may differ, which moves the due moments.
        clocks.refresh_due_times(ticket)
        entry = add_note(ticket, actor, text)
        record(
            "ticket",
            ticket.number,
            "transferred",
            actor=actor,
            old_team=old_team,
            new_team=move.team.pk,
            old_assignee=old_assignee,
            new_assignee=move.assignee.pk if move.assignee else None,
            note=entry.pk,
        )
        notify_transfer(ticket, move, actor=actor, note=text)
    logger.info(
        "ticket transferred ticket=%s old_team=%s new_team=%s assignee=%s actor=%s",
        ticket.number,
        old_team,
        move.team.pk,
        ticket.assignee_id,
        actor.pk,
    )
    return ticket


def notify_transfer(ticket: Ticket, move: Transfer, *, actor: User, note: str) -> None:
    if move.assignee is not None:
        if move.assignee.pk != actor.pk:
            notice = OwnerNotice(
                actor=actor, recipient=move.assignee, transferred=True, note=note
            )
            notify_new_owner(ticket, notice)
    elif move.team.email:
        notice = OwnerNotice(actor=actor, transferred=True, note=note)
        notify_new_owner(ticket, notice)
    else:
        logger.warning(
            "team has no notification address ticket=%s team=%s",
            ticket.number,
            move.team.pk,
        )


@dataclass(frozen=True)
class OwnerNotice:
    """The hand-over of a ticket: by whom, to whom (None: the team's address), why."""

    actor: User
    recipient: User | None = None
    transferred: bool = False
    note: str = ""


def notify_new_owner(ticket: Ticket, notice: OwnerNotice) -> None:
    """Queue the email that informs the ticket's new owner.

    It goes to the agent, or to the team's address for a ticket transferred to
    no one in particular. Call inside the transaction of the change.
    """
    address = notice.recipient.email if notice.recipient else ticket.team.email
    if not address:
        logger.warning(
            "new owner has no email address ticket=%s user=%s",
            ticket.number,
            notice.recipient.pk if notice.recipient else None,
        )
        return
    language: str = settings.LANGUAGE_CODE
    with translation.override(language):
        context = {
            "ticket": ticket,
            "actor_name": agent_display_name(notice.actor),
            "team_name": ticket.team.name,
            "to_agent": notice.recipient is not None,
            "transferred": notice.transferred,
            "note": notice.note,
            "service_name": ticket.service.localized_name(language),
            "status": ticket.get_status_display(),
            "priority": ticket.get_priority_display(),
            "console_url": ticket_console_url(ticket),
        }
    queue_email(
        kind="ticket_assigned",
        reference=f"ticket:{ticket.number}",
        to=[address],
        template="ticket_assigned",
        context=context,
        language=language,
    )


# Priority


def change_priority(ticket: Ticket, priority: str, *, actor: User) -> Ticket:
    """Set the ticket's priority and return it.

    Raise WorkflowError for an unknown priority or the one it already has.
    """
    if priority not in TicketPriority.values:
        labels = ", ".join(str(label) for label in TicketPriority.labels)
        raise WorkflowError(
            "unknown_priority",
            _(
                "The priority chosen in “Priority” does not exist. Choose one of: "
                "%(allowed)s."
            )
            % {"allowed": labels},
        )
    requested = TicketPriority(priority)
    with transaction.atomic():
        lock(ticket)
        old_priority = TicketPriority(ticket.priority)
        if old_priority == requested:
            raise WorkflowError(
                "unchanged",
                _(
                    "Ticket %(number)s already has the priority “%(priority)s”. In "
                    "“Priority”, choose another one."
                )
                % {"number": ticket.number, "priority": requested.label},
            )
        ticket.priority = requested
        ticket.save(update_fields=["priority", "updated"])
        record(
            "ticket",
            ticket.number,
            "priority_changed",
            actor=actor,
            old=str(old_priority),
            new=str(requested),
        )
    logger.info(
        "ticket priority changed ticket=%s old=%s new=%s actor=%s",
        ticket.number,
        old_priority,
        requested,
        actor.pk,
    )
    return ticket


# History


def event_details(events: list[Event]) -> dict[int, str]:
    """Return "old → new" for each workflow event of a ticket's history, by id.

    Names of agents and teams are read with one query each.
    """
    user_ids: set[int] = set()
    team_ids: set[int] = set()
    for event in events:
        if event.action in ("assigned", "transferred"):
            user_ids.update(event_values(event, "old", "new", "old_assignee"))
            user_ids.update(event_values(event, "new_assignee"))
        if event.action == "transferred":
            team_ids.update(event_values(event, "old_team", "new_team"))
    users = {
        user.pk: agent_display_name(user)
        for user in User.objects.filter(pk__in=user_ids)
    }
    teams = dict(Team.objects.filter(pk__in=team_ids).values_list("pk", "name"))
    details = {}
    for event in events:
        detail = event_detail(event, users, teams)
        if detail:
            details[event.pk] = detail
    return details


def event_values(event: Event, *keys: str) -> list[int]:
    return [value for key in keys if isinstance(value := event.data.get(key), int)]


def event_detail(event: Event, users: dict[int, str], teams: dict[int, str]) -> str:
    data = event.data
    if event.action == "status_changed":
        old, new = status_label(data.get("old")), status_label(data.get("new"))
    elif event.action == "priority_changed":
        old, new = priority_label(data.get("old")), priority_label(data.get("new"))
    elif event.action == "assigned":
        old = users.get(data.get("old"), _("nobody"))
        new = users.get(data.get("new"), _("nobody"))
    elif event.action == "transferred":
        old = teams.get(data.get("old_team"), "?")
        new = teams.get(data.get("new_team"), "?")
        if data.get("new_assignee") in users:
            new = f"{new} ({users[data['new_assignee']]})"
    else:
        return ""
    return f"{old} → {new}"


def status_label(value: object) -> str:
    if isinstance(value, str) and value in TicketStatus.values:
        return str(TicketStatus(value).label)
    return str(value)


def priority_label(value: object) -> str:
    if isinstance(value, str) and value in TicketPriority.values:
        return str(TicketPriority(value).label)
    return str(value)
