"""Bulk actions on the ticket list: assign, change status or add a tag at once.

Each ticket goes through the same function as the single-ticket form
(``workflow.assign``, ``workflow.change_status``, ``tags.add_tag``), one ticket
and one transaction at a time, so each gets its own audit event and email. A
ticket that the action rejects is skipped with the reason, and the others go
ahead.
"""

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.utils.translation import gettext as _

from layanan import access
from layanan.tickets import tags, workflow
from layanan.tickets.models import Ticket

logger = logging.getLogger(__name__)

# More than one list page (50 rows), so "select all on this page" always fits.
MAX_BULK_TICKETS = 100


@dataclass(frozen=True)
class Skipped:
    """A ticket the bulk action left as it was, and why."""

    number: str
    reason: str


@dataclass
class BulkResult:
    """The numbers of the tickets changed and of those skipped."""

    changed: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


class BulkRejected(Exception):
    """A bulk request that cannot run at all, with a message naming the fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def selected_tickets(
    user: User, numbers: Sequence[str]
) -> tuple[list[Ticket], list[Skipped]]:
    """Return the chosen tickets the user may change, and the others as skipped.

    A number the user may not read is reported like a missing one, so that the
    result reveals nothing about other teams' tickets. Raise BulkRejected for no
    selection or more than MAX_BULK_TICKETS.
    """
    unique = list(dict.fromkeys(number.strip() for number in numbers if number.strip()))
    if not unique:
        raise BulkRejected(
            _("No ticket is selected. Tick the tickets to change, then try again.")
        )
    if len(unique) > MAX_BULK_TICKETS:
        raise BulkRejected(
            _(
                "%(count)d tickets are selected, more than the %(max)d that one bulk "
                "action may change. Select fewer tickets."
            )
            % {"count": len(unique), "max": MAX_BULK_TICKETS}
        )
    found = {
        ticket.number: ticket
        for ticket in access.tickets_for_agent(user).filter(number__in=unique)
    }
    chosen: list[Ticket] = []
    skipped: list[Skipped] = []
    for number in unique:
        ticket = found.get(number)
        if ticket is None:
            reason = _("This ticket does not exist or you may not read it.")
            skipped.append(Skipped(number[:32], reason))
        elif not access.may_act_on_ticket(user, ticket):
            reason = _("Only members of the %(team)s team can change this ticket.") % {
                "team": ticket.team.name
            }
            skipped.append(Skipped(number, reason))
        else:
            chosen.append(ticket)
    return chosen, skipped


def apply_to_each(
    user: User,
    numbers: Sequence[str],
    action: Callable[[Ticket], object],
    name: str,
) -> BulkResult:
    """Run ``action`` on each chosen ticket. A WorkflowError skips that ticket."""
    chosen, skipped = selected_tickets(user, numbers)
    result = BulkResult(skipped=skipped)
    for ticket in chosen:
        try:
            action(ticket)
        except workflow.WorkflowError as error:
            result.skipped.append(Skipped(ticket.number, error.message))
        else:
            result.changed.append(ticket.number)
    logger.info(
        "bulk action done action=%s changed=%d skipped=%d actor=%s",
        name,
        len(result.changed),
        len(result.skipped),
        user.pk,
    )
    return result


def bulk_assign(user: User, numbers: Sequence[str], assignee_value: str) -> BulkResult:
    """Assign each ticket to the agent with id ``assignee_value``, "" for nobody.

    The agent must serve each ticket's own team, so a ticket of another team is
    skipped.
    """

    def assign(ticket: Ticket) -> None:
        assignee = workflow.find_member(
            assignee_value, ticket.team, field=_("Assignee")
        )
        # The same rule as the ticket page's "Assign": only a team lead gives a
        # ticket to someone else.
        if refusal := access.assignment_refusal(user, ticket, assignee):
            raise workflow.WorkflowError("not_allowed", refusal)
        workflow.assign(ticket, assignee, actor=user)

    return apply_to_each(user, numbers, assign, "assign")


def bulk_change_status(user: User, numbers: Sequence[str], status: str) -> BulkResult:
    """Move each ticket to ``status`` where the workflow allows that transition."""
    workflow.parse_status(status)

    def change(ticket: Ticket) -> None:
        workflow.change_status(ticket, status, actor=user)

    return apply_to_each(user, numbers, change, "status")


def bulk_add_tag(user: User, numbers: Sequence[str], tag: str) -> BulkResult:
    """Put the tag on each ticket. A ticket that has it already is skipped."""
    tags.clean_tag_name(tag)

    def add(ticket: Ticket) -> None:
        tags.add_tag(ticket, tag, actor=user)

    return apply_to_each(user, numbers, add, "tag")
