"""Tickets for the list, merge, bulk and tag tests, opened through the services."""

import itertools
from dataclasses import dataclass

from django.db import transaction

from layanan.catalog.models import Service
from layanan.people.models import Requester, RequesterKind
from layanan.tickets.models import Ticket, TicketSource
from layanan.tickets.services import NewTicket, open_ticket

_serials = itertools.count(1)


@dataclass(frozen=True)
class Person:
    """A requester's details; empty fields get a unique value per ticket."""

    name: str = "Budi Santoso"
    identifier: str = ""
    email: str = ""
    kind: RequesterKind = RequesterKind.STUDENT


def make_ticket(
    service: Service,
    subject: str = "Surat tugas seminar",
    person: Person | None = None,
    requester: Requester | None = None,
) -> Ticket:
    """Open an email ticket for a new requester, or for ``requester``."""
    serial = next(_serials)
    if requester is None:
        person = person or Person()
        requester = Requester.objects.create(
            identifier=person.identifier or f"2231{serial:06d}",
            kind=person.kind,
            name=person.name,
            email=person.email or f"pemohon{serial}@mail.example",
        )
    with transaction.atomic():
        return open_ticket(
            NewTicket(
                subject=subject,
                requester=requester,
                email=requester.email,
                service=service,
                source=TicketSource.EMAIL,
                language="id",
            )
        )
