"""Builders for hand-made histories: tickets and chats with exact timestamps.

Rows are written straight to the tables, because the dashboard only reads what
the chat, ticket and SLA code has recorded. ``created`` is set after the insert
because the models fill it in automatically.
"""

import itertools
import secrets
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.utils import translation

from layanan.catalog.models import Service
from layanan.chat.models import Conversation, ConversationStatus
from layanan.people.models import Requester, RequesterKind
from layanan.tickets.models import Ticket, TicketSource, TicketStatus

WIB = ZoneInfo("Asia/Jakarta")

TicketFactory = Callable[..., Ticket]
ChatFactory = Callable[..., Conversation]


def wib(text: str) -> datetime:
    """Parse "2026-12-01 09:00" or with seconds as a WIB wall-clock time."""
    return datetime.fromisoformat(text).replace(tzinfo=WIB)


def minutes_after(moment: datetime, minutes: float) -> datetime:
    return moment + timedelta(minutes=minutes)


_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    """Drop cached dashboards, which would outlive the rows of an earlier test."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """Compute labels in English. Page tests pass ?lang=en for the same reason."""
    with translation.override("en"):
        yield


@pytest.fixture
def student(db: None) -> Requester:
    return Requester.objects.create(
        identifier="2231000001",
        kind=RequesterKind.STUDENT,
        name="Budi Santoso",
        email="budi@mail.example",
    )


@pytest.fixture
def staff(db: None) -> Requester:
    return Requester.objects.create(
        identifier="198001012005011001",
        kind=RequesterKind.STAFF,
        name="Ani Rahayu",
        email="ani@mail.example",
    )


@pytest.fixture
def make_ticket(admin_service: Service, student: Requester) -> TicketFactory:
    """Return a factory: make_ticket(created, **fields) with any Ticket field."""

    def create(created: datetime, **fields: Any) -> Ticket:
        serial = next(_numbers)
        service = fields.pop("service", admin_service)
        requester = fields.pop("requester", student)
        values: dict[str, Any] = {
            "number": f"EKB-2026-{serial:06d}",
            "subject": f"Permohonan {serial}",
            "requester": requester,
            "requester_email": requester.email,
            "service": service,
            "team": service.team,
            "status": TicketStatus.OPEN,
            "source": TicketSource.EMAIL,
        }
        values.update(fields)
        ticket = Ticket.objects.create(**values)
        Ticket.objects.filter(pk=ticket.pk).update(created=created)
        ticket.refresh_from_db()
        return ticket

    return create


@pytest.fixture
def make_chat(admin_service: Service, student: Requester) -> ChatFactory:
    """Return a factory: make_chat(created, **fields) with any Conversation field."""

    def create(created: datetime, **fields: Any) -> Conversation:
        service = fields.pop("service", admin_service)
        requester = fields.pop("requester", student)
        values: dict[str, Any] = {
            "token_hash": secrets.token_hex(32),
            "requester": requester,
            "requester_name": requester.name,
            "requester_email": requester.email,
            "service": service,
            "team": service.team,
            "topic": "Surat tugas",
            "status": ConversationStatus.ENDED,
            "last_activity_at": created,
        }
        values.update(fields)
        conversation = Conversation.objects.create(**values)
        Conversation.objects.filter(pk=conversation.pk).update(created=created)
        conversation.refresh_from_db()
        return conversation

    return create


@pytest.fixture
def team_lead(admin_team: Any) -> User:
    """Return "lina", lead of Administrasi only, who may read that team's data."""
    from layanan.people.models import AgentProfile

    user = User.objects.create_user(
        username="lina", password="unused-password-0", first_name="Lina"
    )
    AgentProfile.objects.create(user=user)
    admin_team.members.add(user)
    admin_team.leads.add(user)
    return user
