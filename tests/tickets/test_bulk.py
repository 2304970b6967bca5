"""Bulk actions on the ticket list: assign, change status, add a tag.

Cast (tests/conftest.py): ``agent_admin`` serves Administrasi. As ``lead`` they
also lead it, so they may assign its tickets to others. ``second_agent_admin``
serves Administrasi, ``agent_ti`` serves TI, and ``supervisor`` reads every team
but changes none.
"""

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings

from layanan.audit.services import history
from layanan.catalog.models import Service, Team
from layanan.mail.models import OutboundEmail
from layanan.tickets import bulk, tags
from layanan.tickets.models import Ticket, TicketStatus
from layanan.tickets.workflow import WorkflowError, change_status
from ticket_factory import make_ticket

pytestmark = pytest.mark.django_db

BULK_URL = reverse("console:tickets_bulk")


@pytest.fixture(autouse=True)
def english(settings: Settings) -> None:
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def lead(agent_admin: User, admin_team: Team) -> User:
    admin_team.leads.add(agent_admin)
    return agent_admin


def reload(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def test_bulk_assign_assigns_each(
    lead: User, second_agent_admin: User, admin_service: Service
) -> None:
    first, second = make_ticket(admin_service), make_ticket(admin_service)
    result = bulk.bulk_assign(
        lead, [first.number, second.number], str(second_agent_admin.pk)
    )
    assert result.changed == [first.number, second.number]
    assert reload(first).assignee == second_agent_admin
    assert reload(second).assignee == second_agent_admin


def test_bulk_assign_records_and_emails_each(
    lead: User, second_agent_admin: User, admin_service: Service
) -> None:
    second_agent_admin.email = "dewi@kampus.example"
    second_agent_admin.save()
    first, second = make_ticket(admin_service), make_ticket(admin_service)
    bulk.bulk_assign(lead, [first.number, second.number], str(second_agent_admin.pk))
    for ticket in (first, second):
        actions = [event.action for event in history("ticket", ticket.number)]
        assert "assigned" in actions
        mail = OutboundEmail.objects.filter(
            kind="ticket_assigned", reference=f"ticket:{ticket.number}"
        )
        assert [row.to for row in mail] == [["dewi@kampus.example"]]


def test_bulk_assign_skips_other_team(
    lead: User,
    second_agent_admin: User,
    admin_service: Service,
    ti_service: Service,
    ti_team: Team,
) -> None:
    # The lead also serves TI, so both tickets are theirs to change, but the
    # chosen agent serves Administrasi only.
    ti_team.members.add(lead)
    own, other = make_ticket(admin_service), make_ticket(ti_service)
    result = bulk.bulk_assign(
        lead, [own.number, other.number], str(second_agent_admin.pk)
    )
    assert result.changed == [own.number]
    assert [skipped.number for skipped in result.skipped] == [other.number]
    assert "not a member of the TI team" in result.skipped[0].reason
    assert reload(other).assignee is None


def test_bulk_assign_to_nobody(lead: User, admin_service: Service) -> None:
    ticket = make_ticket(admin_service)
    Ticket.objects.filter(pk=ticket.pk).update(assignee=lead)
    result = bulk.bulk_assign(lead, [ticket.number], "")
    assert result.changed == [ticket.number]
    assert reload(ticket).assignee is None


def test_bulk_assign_needs_lead_for_others(
    agent_admin: User, second_agent_admin: User, admin_service: Service
) -> None:
    ticket = make_ticket(admin_service)
    result = bulk.bulk_assign(agent_admin, [ticket.number], str(second_agent_admin.pk))
    assert result.changed == []
    assert "Only a lead of the Administrasi team" in result.skipped[0].reason


def test_bulk_status_skips_disallowed_transition(
    agent_admin: User, admin_service: Service
) -> None:
    open_ticket, closed = make_ticket(admin_service), make_ticket(admin_service)
    change_status(closed, TicketStatus.RESOLVED, actor=agent_admin)
    change_status(closed, TicketStatus.CLOSED, actor=agent_admin)
    result = bulk.bulk_change_status(
        agent_admin, [open_ticket.number, closed.number], TicketStatus.RESOLVED
    )
    assert result.changed == [open_ticket.number]
    assert reload(open_ticket).status == TicketStatus.RESOLVED
    assert [skipped.number for skipped in result.skipped] == [closed.number]
    assert "agents cannot change a closed ticket" in result.skipped[0].reason


def test_bulk_status_unknown_status_rejected(
    agent_admin: User, admin_service: Service
) -> None:
    ticket = make_ticket(admin_service)
    with pytest.raises(WorkflowError):
        bulk.bulk_change_status(agent_admin, [ticket.number], "lost")


def test_bulk_tag_skips_tagged_ticket(
    agent_admin: User, admin_service: Service
) -> None:
    tagged, untagged = make_ticket(admin_service), make_ticket(admin_service)
    tags.add_tag(tagged, "wisuda", actor=agent_admin)
    result = bulk.bulk_add_tag(agent_admin, [tagged.number, untagged.number], "Wisuda")
    assert result.changed == [untagged.number]
    assert "already has the tag" in result.skipped[0].reason
    assert list(untagged.tags.values_list("name", flat=True)) == ["wisuda"]


def test_bulk_invalid_tag_rejected(agent_admin: User, admin_service: Service) -> None:
    ticket = make_ticket(admin_service)
    with pytest.raises(WorkflowError):
        bulk.bulk_add_tag(agent_admin, [ticket.number], "a/b")


def test_bulk_skips_unreadable_ticket(
    agent_admin: User, ti_service: Service, admin_service: Service
) -> None:
    other_team = make_ticket(ti_service)
    result = bulk.bulk_add_tag(agent_admin, [other_team.number, "EKB-1-1"], "wisuda")
    reasons = {skipped.number: skipped.reason for skipped in result.skipped}
    assert reasons[other_team.number] == reasons["EKB-1-1"]
    assert "does not exist or you may not read it" in reasons["EKB-1-1"]
    assert not other_team.tags.exists()


def test_bulk_skips_read_only_ticket(supervisor: User, admin_service: Service) -> None:
    ticket = make_ticket(admin_service)
    result = bulk.bulk_add_tag(supervisor, [ticket.number], "wisuda")
    assert result.changed == []
    assert "Only members of the Administrasi team" in result.skipped[0].reason


def test_bulk_without_selection_rejected(agent_admin: User) -> None:
    with pytest.raises(bulk.BulkRejected):
        bulk.bulk_add_tag(agent_admin, [" ", ""], "wisuda")


def test_bulk_too_many_rejected(agent_admin: User) -> None:
    numbers = [f"EKB-2026-{serial:06d}" for serial in range(bulk.MAX_BULK_TICKETS + 1)]
    with pytest.raises(bulk.BulkRejected) as raised:
        bulk.bulk_add_tag(agent_admin, numbers, "wisuda")
    assert "Select fewer tickets" in raised.value.message


# The list's bulk form


def test_bulk_view_reports_and_returns_to_list(
    client: Client, agent_admin: User, admin_service: Service
) -> None:
    open_ticket, closed = make_ticket(admin_service), make_ticket(admin_service)
    change_status(closed, TicketStatus.RESOLVED, actor=agent_admin)
    change_status(closed, TicketStatus.CLOSED, actor=agent_admin)
    client.force_login(agent_admin)
    back = reverse("console:tickets") + "?status=open"
    response = client.post(
        BULK_URL,
        {
            "action": "status",
            "status": "in_progress",
            "tickets": [open_ticket.number, closed.number],
            "next": back,
        },
    )
    assert response.status_code == 302
    assert response["Location"] == back
    shown = [str(message) for message in get_messages(response.wsgi_request)]
    assert shown[0] == f"1 ticket was changed: {open_ticket.number}."
    assert shown[1].startswith(f"Ticket {closed.number} was skipped: ")


def test_bulk_view_ignores_foreign_next(
    client: Client, agent_admin: User, admin_service: Service
) -> None:
    ticket = make_ticket(admin_service)
    client.force_login(agent_admin)
    response = client.post(
        BULK_URL,
        {
            "action": "tag",
            "tag": "wisuda",
            "tickets": [ticket.number],
            "next": "https://elsewhere.example/",
        },
    )
    assert response["Location"] == reverse("console:tickets")


def test_bulk_view_unknown_action_explained(
    client: Client, agent_admin: User, admin_service: Service
) -> None:
    ticket = make_ticket(admin_service)
    client.force_login(agent_admin)
    response = client.post(
        BULK_URL, {"action": "delete", "tickets": [ticket.number]}, follow=True
    )
    assert "The bulk action is unknown" in response.content.decode()
