"""Template tags for service-level clocks: ``{% load ticket_sla %}``."""

from datetime import datetime

from django import template
from django.utils import timezone

from layanan.tickets.clocks import NextDue, next_due
from layanan.tickets.models import Ticket

register = template.Library()


@register.simple_tag
def next_due_of(ticket: Ticket, now: datetime | str) -> NextDue:
    """Return the ticket's next due moment and state, with no database query.

    A ``now`` missing from the context arrives as "" and means the current time.
    """
    moment = now if isinstance(now, datetime) else timezone.now()
    return next_due(ticket, moment)
