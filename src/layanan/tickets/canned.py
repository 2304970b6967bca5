"""Canned responses: ready replies an agent inserts into a ticket's reply box.

Admins write them in the Django admin. A body may contain the placeholders
{name} (the requester's name), {ticket} (the ticket number) and {service} (the
service's name in the ticket's language). The text is filled in here as plain
text; the templates that show it escape it like any other value.
"""

from dataclasses import dataclass

from django.db.models import Q
from django.utils.translation import gettext as _

from layanan.tickets.models import CannedResponse, Ticket
from layanan.tickets.workflow import WorkflowError


@dataclass(frozen=True)
class FilledResponse:
    """A canned response with its placeholders replaced for one ticket."""

    pk: int
    title: str
    text: str


def responses_for(ticket: Ticket) -> list[CannedResponse]:
    """Return the active responses for the ticket's team and for every team."""
    return list(
        CannedResponse.objects.filter(active=True).filter(
            Q(team__isnull=True) | Q(team_id=ticket.team_id)
        )
    )


def fill(response: CannedResponse, ticket: Ticket) -> str:
    """Return the response's body with the ticket's values in its placeholders.

    Only the three known placeholders are replaced, so other braces in the text
    stay as they are. ``str.format`` would reject them and would let an admin
    reach the attributes of the values.
    """
    values = {
        "{name}": ticket.requester.name,
        "{ticket}": ticket.number,
        "{service}": ticket.service.localized_name(ticket.language),
    }
    text = response.body
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text


def filled_responses(ticket: Ticket) -> list[FilledResponse]:
    """Return every response the ticket's agents may insert, filled in."""
    return [
        FilledResponse(
            pk=response.pk, title=response.title, text=fill(response, ticket)
        )
        for response in responses_for(ticket)
    ]


def find_response(value: str, ticket: Ticket) -> FilledResponse:
    """Return the response a form chose by id, filled in for ``ticket``.

    Raise WorkflowError for an unknown id, an inactive response or one of
    another team.
    """
    chosen = None
    if value.isdigit():
        chosen = next(
            (item for item in responses_for(ticket) if item.pk == int(value)), None
        )
    if chosen is None:
        raise WorkflowError(
            "unknown_canned_response",
            _(
                "The response chosen in “Canned response” does not exist or is not "
                "available for this ticket's team. Reload the page and choose "
                "again."
            ),
        )
    return FilledResponse(pk=chosen.pk, title=chosen.title, text=fill(chosen, ticket))
