"""Merging a duplicate ticket into the ticket that carries on.

The duplicate (the source) gives up its entries, and with them their
attachments, to the target. Its participants and its requester join the target
as CC participants unless they take part already. The source is then closed
with ``merged_into`` set, and both tickets get a system entry and an audit
event.

Chains stay one step long. A ticket that is merged cannot receive another merge,
and when a ticket that others were merged into is merged itself, those tickets
are pointed at the new target too. So ``merged_into`` always names a ticket that
is not merged, and inbound mail follows it in one step.
"""

import logging

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from layanan.audit.models import ActorKind
from layanan.audit.services import record
from layanan.chat.services import agent_display_name
from layanan.tickets.models import (
    EntryKind,
    EntrySource,
    ParticipantRole,
    Ticket,
    TicketEntry,
    TicketParticipant,
    TicketStatus,
)
from layanan.tickets.workflow import SYSTEM_AUTHOR, WorkflowError, apply_status

logger = logging.getLogger(__name__)


def check_merge(source: Ticket, target: Ticket) -> None:
    """Raise WorkflowError unless ``source`` may be merged into ``target``.

    Call with both rows locked, so that the state checked is the current one.
    """
    values = {"source": source.number, "target": target.number}
    if source.pk == target.pk:
        message = _(
            "A ticket cannot be merged into itself. In “Merge into”, enter the "
            "number of the ticket that %(source)s duplicates."
        )
        raise WorkflowError("merge_into_itself", message % values)
    if source.merged_into_id is not None:
        message = _(
            "Ticket %(source)s was already merged into another ticket, so it "
            "cannot be merged again."
        )
        raise WorkflowError("source_merged", message % values)
    if target.merged_into_id is not None:
        message = _(
            "Ticket %(target)s was itself merged into another ticket. In “Merge "
            "into”, enter the number of the ticket it was merged into."
        )
        raise WorkflowError("target_merged", message % values)
    for ticket, code in ((source, "source_closed"), (target, "target_closed")):
        if ticket.status == TicketStatus.CLOSED:
            message = _(
                "Ticket %(number)s is closed, and agents cannot change a closed "
                "ticket, so it cannot take part in a merge."
            )
            raise WorkflowError(code, message % {"number": ticket.number})


def merge(source: Ticket, target: Ticket, *, actor: User) -> Ticket:
    """Merge the duplicate ``source`` into ``target`` and return the target.

    The caller checks that ``actor`` may read and change both tickets. Raise
    WorkflowError for a merge that ``check_merge`` rejects, and then nothing
    changes.
    """
    with transaction.atomic():
        lock_both(source, target)
        check_merge(source, target)
        # NOTE: moved public entries appear on the target's requester page, even
        # when the source had another requester. A moved chat transcript is an
        # authored system entry, which links.transcript_entry_id may take for the
        # target's own transcript when the target came from a chat too.
        moved = TicketEntry.objects.filter(ticket=source).update(ticket=target)
        added = copy_participants(source, target)
        repointed = Ticket.objects.filter(merged_into=source).update(merged_into=target)
        source.merged_into = target
        source.save(update_fields=["merged_into", "updated"])
        apply_status(
            source, TicketStatus.CLOSED, actor=actor, actor_kind=ActorKind.AGENT
        )
        if source.unread_reply and not target.unread_reply:
            target.unread_reply = True
        target.save(update_fields=["unread_reply", "updated"])
        add_merge_entries(source, target, actor=actor, moved=moved)
        record(
            "ticket",
            source.number,
            "merged",
            actor=actor,
            into=target.number,
            entries=moved,
        )
        record(
            "ticket",
            target.number,
            "merge_received",
            actor=actor,
            source=source.number,
            entries=moved,
            participants=added,
            repointed=repointed,
        )
    logger.info(
        "ticket merged ticket=%s into=%s entries=%d participants=%d repointed=%d "
        "actor=%s",
        source.number,
        target.number,
        moved,
        added,
        repointed,
        actor.pk,
    )
    return target


def lock_both(source: Ticket, target: Ticket) -> None:
    """Lock both rows in id order and reload what the merge checks.

    Two merges of the same pair in opposite directions then wait for each other
    instead of deadlocking.
    """
    fields = ("status", "merged_into_id", "unread_reply", "resolved_at", "closed_at")
    rows = (
        Ticket.objects.select_for_update()
        .filter(pk__in=[source.pk, target.pk])
        .order_by("pk")
        .values("pk", *fields)
    )
    for row in rows:
        for ticket in (source, target):
            if ticket.pk == row["pk"]:
                for name in fields:
                    setattr(ticket, name, row[name])


def copy_participants(source: Ticket, target: Ticket) -> int:
    """Add the source's requester and participants to the target as CC.

    Return how many were added. An address that takes part in the target already
    keeps its role there.
    """
    present = {
        email.lower() for email in target.participants.values_list("email", flat=True)
    }
    present.add(target.requester_email.lower())
    candidates = [(source.requester_email, source.requester.name)]
    candidates += list(source.participants.values_list("email", "name"))
    added = 0
    for email, name in candidates:
        address = email.lower()
        if not address or address in present:
            continue
        TicketParticipant.objects.create(
            ticket=target, email=address, name=name[:150], role=ParticipantRole.CC
        )
        present.add(address)
        added += 1
    return added


def add_merge_entries(
    source: Ticket, target: Ticket, *, actor: User, moved: int
) -> None:
    """Write the system entry that explains the merge on each ticket."""
    values = {
        "source": source.number,
        "target": target.number,
        "name": agent_display_name(actor),
        "count": moved,
    }
    with translation.override(source.language):
        source_text = (
            _("%(name)s merged this ticket into ticket %(target)s as a duplicate.")
            % values
        )
    with translation.override(target.language):
        target_text = (
            _(
                "%(name)s merged ticket %(source)s into this ticket as a duplicate. "
                "Its %(count)d entries now appear here."
            )
            % values
        )
    for ticket, text in ((source, source_text), (target, target_text)):
        TicketEntry.objects.create(
            ticket=ticket,
            kind=EntryKind.SYSTEM,
            source=EntrySource.SYSTEM,
            author_name=SYSTEM_AUTHOR,
            body=text,
        )
