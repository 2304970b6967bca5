"""Mail to agents about a ticket's service level and its requester's replies.

The ``tickets.sla_notices`` job runs every minute. For each target it warns the
owner (the assignee, else the team's address) once 80% of the business time is
used, and notifies the team leads and the supervisors once the due moment passes.
Each notice goes once per due moment: its ``SlaNotice`` row is inserted first,
and the email is queued in the same transaction, so a second worker or a second
run finds the row and sends nothing. A due moment that moves (after a pause or a
reopening) is a new moment and may be warned about again. A breach whose due
moment passed more than STALE_AFTER ago gets its row but no email.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.utils import timezone, translation

from layanan.audit.models import ActorKind
from layanan.audit.services import record
from layanan.catalog.calendars import (
    Calendar,
    business_minutes_between,
    calendar_for_team,
)
from layanan.chat.services import agent_display_name
from layanan.mail.outbox import queue_email
from layanan.tickets import clocks
from layanan.tickets.models import (
    SlaNotice,
    SlaNoticeKind,
    SlaTarget,
    Ticket,
)
from layanan.tickets.services import ticket_console_url

logger = logging.getLogger(__name__)

SLA_NOTICES_EVERY_SECONDS = 60
# Tickets examined per target and notice kind in one run. The earliest due come
# first, and the next run, a minute later, takes the rest.
SLA_BATCH = 200
# A breach notice whose due moment passed longer ago than this is recorded but
# not mailed. Tickets created by ``layanan demo-data``, imported, or left while
# the worker was stopped for days would otherwise flood the leads with mail that
# nobody can act on any more. The row is still inserted so that the notice is
# never sent later either.
STALE_AFTER = timedelta(hours=24)
# Characters of a requester's reply quoted in the owner's email.
EXCERPT_LENGTH = 500


@dataclass(frozen=True)
class Notice:
    """One warning or breach notice about one due moment of one ticket."""

    ticket: Ticket
    target: SlaTarget
    kind: SlaNoticeKind
    due_at: datetime
    recipients: list[str]
    percent: float


def send_sla_notices() -> int:
    """Send the warnings and breach notices that are due and return how many.

    The periodic job ``tickets.sla_notices`` calls this. Reads a constant
    number of queries per batch, plus one per distinct calendar.
    """
    now = timezone.now()
    clocks.record_chat_first_responses(SLA_BATCH)
    supervisors = supervisor_addresses()
    calendars: dict[int | None, Calendar] = {}
    sent = 0
    stale = 0
    for target in SlaTarget:
        for ticket in breach_candidates(target, now):
            notice = breach_notice(ticket, target, supervisors)
            if now - notice.due_at > STALE_AFTER:
                stale += record_unsent_notice(notice)
            else:
                sent += send_notice(notice)
        for ticket in warning_candidates(target, now):
            warning = warning_notice(ticket, target, now, calendars)
            if warning is not None:
                sent += send_notice(warning)
    if stale:
        logger.info(
            "sla notices recorded without email count=%d older_than_hours=%d",
            stale,
            int(STALE_AFTER / timedelta(hours=1)),
        )
    if sent:
        logger.info("sla notices sent count=%d", sent)
    return sent


def notice_sent(target: SlaTarget, kind: SlaNoticeKind) -> Exists:
    """Return the condition that a notice of kind went out for the current due."""
    field = clocks.DUE_FIELD[target]
    return Exists(
        SlaNotice.objects.filter(
            ticket=OuterRef("pk"), target=target, kind=kind, due_at=OuterRef(field)
        )
    )


def candidates(target: SlaTarget) -> QuerySet[Ticket]:
    active_users = User.objects.filter(is_active=True).order_by("pk")
    return (
        Ticket.objects.filter(status__in=clocks.RUNNING_STATUSES)
        .select_related("team", "service", "assignee", "requester")
        .prefetch_related(Prefetch("team__leads", queryset=active_users))
        .order_by(clocks.DUE_FIELD[target], "pk")
    )


def breach_candidates(target: SlaTarget, now: datetime) -> list[Ticket]:
    field = clocks.DUE_FIELD[target]
    return list(
        candidates(target)
        .filter(**{f"{field}__lte": now})
        .exclude(notice_sent(target, SlaNoticeKind.BREACH))[:SLA_BATCH]
    )


def warning_candidates(target: SlaTarget, now: datetime) -> list[Ticket]:
    """Return tickets with the target still ahead and not warned about yet.

    NOTE: the earliest SLA_BATCH due moments are examined, because the share
    used needs business time and cannot be filtered in SQL. A ticket further
    down the list waits until enough earlier ones are warned, replied to or due,
    which takes more than SLA_BATCH running tickets ahead of it.
    """
    field = clocks.DUE_FIELD[target]
    return list(
        candidates(target)
        .filter(**{f"{field}__gt": now})
        .exclude(notice_sent(target, SlaNoticeKind.WARNING))[:SLA_BATCH]
    )


def supervisor_addresses() -> list[str]:
    return list(
        User.objects.filter(is_active=True, agent__is_supervisor=True)
        .exclude(email="")
        .order_by("pk")
        .values_list("email", flat=True)
    )


def unique_addresses(addresses: list[str]) -> list[str]:
    seen: set[str] = set()
    unique = []
    for address in addresses:
        if address and address.lower() not in seen:
            seen.add(address.lower())
            unique.append(address)
    return unique


def owner_address(ticket: Ticket) -> str:
    """Return the assignee's address, or the team's when unassigned or empty."""
    assignee = ticket.assignee
    if assignee is not None and assignee.is_active and assignee.email:
        return assignee.email
    return ticket.team.email


def breach_notice(ticket: Ticket, target: SlaTarget, supervisors: list[str]) -> Notice:
    leads = [lead.email for lead in ticket.team.leads.all()]
    due: datetime = getattr(ticket, clocks.DUE_FIELD[target])
    return Notice(
        ticket=ticket,
        target=target,
        kind=SlaNoticeKind.BREACH,
        due_at=due,
        recipients=unique_addresses([*leads, *supervisors]),
        percent=clocks.BREACH_PERCENT,
    )


def warning_notice(
    ticket: Ticket,
    target: SlaTarget,
    now: datetime,
    calendars: dict[int | None, Calendar],
) -> Notice | None:
    """Return the warning for a ticket past WARNING_PERCENT, else None.

    A running clock has no pause before its due moment, so the business time
    left is the time from now to due.
    """
    minutes = clocks.target_minutes(ticket, target)
    due: datetime = getattr(ticket, clocks.DUE_FIELD[target])
    if not minutes:
        return None
    calendar_id = ticket.team.calendar_id
    if calendar_id not in calendars:
        calendars[calendar_id] = calendar_for_team(ticket.team)
    left = business_minutes_between(now, due, calendars[calendar_id])
    percent = (minutes - left) / minutes * 100
    if percent < clocks.WARNING_PERCENT:
        return None
    return Notice(
        ticket=ticket,
        target=target,
        kind=SlaNoticeKind.WARNING,
        due_at=due,
        recipients=unique_addresses([owner_address(ticket)]),
        percent=percent,
    )


def send_notice(notice: Notice) -> int:
    """Insert the notice's row, queue its email and return 1, or 0 if not sent.

    Nothing is sent when the due moment changed since the batch was read, or
    another run inserted the row first.
    """
    ticket = notice.ticket
    with transaction.atomic():
        if not insert_notice_row(notice):
            return 0
        if notice.recipients:
            queue_notice_email(notice)
        record(
            "ticket",
            ticket.number,
            f"sla_{notice.kind}",
            actor_kind=ActorKind.SYSTEM,
            target=str(notice.target),
            due_at=notice.due_at.isoformat(),
            recipients=len(notice.recipients),
        )
    if not notice.recipients:
        logger.warning(
            "sla notice has no recipient ticket=%s target=%s kind=%s team=%s",
            ticket.number,
            notice.target,
            notice.kind,
            ticket.team_id,
        )
    logger.info(
        "sla notice ticket=%s target=%s kind=%s due_at=%s recipients=%d",
        ticket.number,
        notice.target,
        notice.kind,
        notice.due_at.isoformat(),
        len(notice.recipients),
    )
    return 1


def record_unsent_notice(notice: Notice) -> int:
    """Insert the notice's row without any email and return 1, or 0 if not inserted.

    The row keeps a later run from sending the notice, as send_notice's does.
    """
    with transaction.atomic():
        if not insert_notice_row(notice):
            return 0
    logger.info(
        "sla notice recorded without email ticket=%s target=%s kind=%s due_at=%s",
        notice.ticket.number,
        notice.target,
        notice.kind,
        notice.due_at.isoformat(),
    )
    return 1


def insert_notice_row(notice: Notice) -> bool:
    """Lock the ticket, insert the notice's SlaNotice row and return whether it did.

    Inserts nothing when the due moment changed since the batch was read, or
    another run inserted the row first. Call inside a transaction.
    """
    field = clocks.DUE_FIELD[notice.target]
    current = (
        Ticket.objects.select_for_update()
        .filter(pk=notice.ticket.pk, status__in=clocks.RUNNING_STATUSES)
        .values_list(field, flat=True)
        .first()
    )
    if current != notice.due_at:
        return False
    try:
        with transaction.atomic():
            SlaNotice.objects.create(
                ticket=notice.ticket,
                target=notice.target,
                kind=notice.kind,
                due_at=notice.due_at,
            )
    except IntegrityError:
        return False
    return True


def queue_notice_email(notice: Notice) -> None:
    ticket = notice.ticket
    language: str = settings.LANGUAGE_CODE
    with translation.override(language):
        context = {
            "ticket": ticket,
            "target_name": str(SlaTarget(notice.target).label),
            "due_at": wib_text(notice.due_at),
            "percent": round(notice.percent),
            "team_name": ticket.team.name,
            "assignee_name": agent_display_name(ticket.assignee)
            if ticket.assignee
            else "",
            "service_name": ticket.service.localized_name(language),
            "console_url": ticket_console_url(ticket),
        }
    queue_email(
        kind=f"sla_{notice.kind}",
        reference=f"ticket:{ticket.number}",
        to=notice.recipients,
        template=f"sla_{notice.kind}",
        context=context,
        language=language,
        automatic=True,
        rate_limited=False,
    )


def wib_text(moment: datetime) -> str:
    """Return moment in LAYANAN_TIME_ZONE (WIB by default) as the console shows it."""
    return timezone.localtime(moment).strftime("%d/%m/%Y %H:%M %Z")


# Requester replies


def notify_owner_of_reply(ticket: Ticket, sender_name: str, body: str) -> None:
    """Mark the ticket as having an unread reply and email its owner about it.

    The owner is the assignee, or the team's address when there is none. Call
    inside the transaction that records the reply.
    """
    Ticket.objects.filter(pk=ticket.pk).update(unread_reply=True)
    ticket.unread_reply = True
    address = owner_address(ticket)
    if not address:
        logger.warning(
            "reply notice has no recipient ticket=%s team=%s",
            ticket.number,
            ticket.team_id,
        )
        return
    language: str = settings.LANGUAGE_CODE
    queue_email(
        kind="requester_replied",
        reference=f"ticket:{ticket.number}",
        to=[address],
        template="requester_replied",
        context={
            "ticket": ticket,
            "sender_name": sender_name,
            "excerpt": excerpt(body),
            "to_agent": address != ticket.team.email,
            "console_url": ticket_console_url(ticket),
        },
        language=language,
        automatic=True,
        rate_limited=False,
    )
    logger.info("reply notice queued ticket=%s", ticket.number)


def excerpt(body: str) -> str:
    """Return the first EXCERPT_LENGTH characters of body, marked when cut."""
    text = body.strip()
    if len(text) <= EXCERPT_LENGTH:
        return text
    return text[:EXCERPT_LENGTH].rstrip() + "…"
