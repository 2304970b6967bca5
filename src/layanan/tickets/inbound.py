"""Ticket changes caused by inbound email: entries, participants, bounce notes."""

import logging
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext as _

from layanan.audit.models import ActorKind
from layanan.audit.services import record
from layanan.chat.models import Attachment
from layanan.people.models import Requester
from layanan.tickets.models import (
    EntryKind,
    EntrySource,
    ParticipantRole,
    Ticket,
    TicketEntry,
    TicketParticipant,
)

logger = logging.getLogger(__name__)


def agent_with_address(address: str) -> User | None:
    """Return the active console user whose account has this email address."""
    return (
        User.objects.filter(email__iexact=address, is_active=True)
        .filter(Q(teams__isnull=False) | Q(agent__is_supervisor=True))
        .distinct()
        .first()
    )


def is_participant(ticket: Ticket, address: str) -> bool:
    if ticket.requester_email.lower() == address.lower():
        return True
    return ticket.participants.filter(email__iexact=address).exists()


def may_write_to(ticket: Ticket, address: str) -> bool:
    """Return whether mail from ``address`` may land on ``ticket`` by its subject.

    A ticket number in a subject is easy to guess, so it counts only for the
    requester, a participant, or an agent of the ticket's team.
    """
    if is_participant(ticket, address):
        return True
    agent = agent_with_address(address)
    return agent is not None and agent.teams.filter(pk=ticket.team_id).exists()


@dataclass(frozen=True)
class EmailEntry:
    """One message that arrived by email, to be recorded on a ticket."""

    sender_address: str
    sender_name: str
    body: str
    full_body: str
    body_html: str
    message_id: str
    inbound_email_id: int
    kind: EntryKind = EntryKind.PUBLIC
    attachments: list[Attachment] = field(default_factory=list)


def add_email_entry(ticket: Ticket, entry: EmailEntry) -> TicketEntry:
    """Record a message on the ticket; call inside the ingestion transaction."""
    created = TicketEntry.objects.create(
        ticket=ticket,
        kind=entry.kind,
        source=EntrySource.EMAIL,
        author=agent_with_address(entry.sender_address)
        if entry.kind == EntryKind.NOTE
        else None,
        author_name=(entry.sender_name or entry.sender_address)[:150],
        author_email=entry.sender_address[:254],
        body=entry.body,
        full_body=entry.full_body,
        body_html=entry.body_html,
        message_id=entry.message_id[:250],
        inbound_email_id=entry.inbound_email_id,
    )
    created.attachments.set(entry.attachments)
    record(
        "ticket",
        ticket.number,
        "email_received",
        actor_kind=ActorKind.REQUESTER
        if entry.kind == EntryKind.PUBLIC
        else ActorKind.SYSTEM,
        entry=created.pk,
        kind=str(entry.kind),
    )
    Ticket.objects.filter(pk=ticket.pk).update(updated=created.created)
    return created


def add_participants(ticket: Ticket, addresses: list[str]) -> list[str]:
    """Add CC addresses that a participant's mail carried; return the new ones."""
    added = []
    for address in addresses:
        if is_participant(ticket, address):
            continue
        TicketParticipant.objects.get_or_create(
            ticket=ticket, email=address.lower(), defaults={"role": ParticipantRole.CC}
        )
        added.append(address.lower())
    if added:
        record("ticket", ticket.number, "participants_added", count=len(added))
    return added


def add_system_note(ticket: Ticket, text: str) -> TicketEntry:
    """Add an agent-only note written by the system (never emailed)."""
    return TicketEntry.objects.create(
        ticket=ticket,
        kind=EntryKind.NOTE,
        source=EntrySource.SYSTEM,
        author_name="Layanan",
        body=text,
    )


def note_delivery_failure(
    ticket: Ticket, recipient: str, status: str, diagnostic: str
) -> TicketEntry:
    with translation.override(ticket.language):
        text = _(
            "Email to %(address)s could not be delivered (status %(status)s). "
            "Check the address with the requester. Server's reason: %(reason)s"
        ) % {
            "address": recipient,
            "status": status or "?",
            "reason": diagnostic or "-",
        }
    record("ticket", ticket.number, "delivery_failed", status=status)
    return add_system_note(ticket, text)


def flag_bouncing_address(address: str, reason: str) -> int:
    """Mark requesters whose address bounced permanently; return how many."""
    flagged = Requester.objects.filter(email__iexact=address).update(
        email_bouncing=True, email_bounce_reason=reason[:1000]
    )
    if flagged:
        logger.info("requester address bouncing requesters=%d", flagged)
    return flagged


def requester_for_address(address: str, name: str) -> Requester:
    """Return the requester with this address, or create one known by it alone."""
    from layanan.people.models import RequesterEmail, RequesterKind

    requester = Requester.objects.filter(email__iexact=address).first()
    if requester is None:
        history = (
            RequesterEmail.objects.filter(email__iexact=address)
            .select_related("requester")
            .first()
        )
        requester = history.requester if history else None
    if requester is None:
        requester = Requester.objects.create(
            identifier=None,
            kind=RequesterKind.UNKNOWN,
            name=(name or address.split("@")[0])[:100],
            email=address,
        )
        RequesterEmail.objects.create(requester=requester, email=address)
        logger.info("requester created from email requester=%s", requester.pk)
    return requester
