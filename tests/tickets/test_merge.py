"""Merging a duplicate ticket: the service, the console form and inbound mail.

Cast (tests/conftest.py): ``agent_admin`` serves Administrasi, ``agent_ti``
serves TI, ``supervisor`` reads every team but changes none.
"""

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import translation
from pytest_django.fixtures import Settings

from layanan.audit.services import history
from layanan.catalog.models import Service, Team
from layanan.chat.models import Attachment, SenderKind
from layanan.mail.inbound import ingest
from layanan.mail.threading import reply_address
from layanan.tickets import merge, replies
from layanan.tickets.models import (
    EntryKind,
    ParticipantRole,
    Ticket,
    TicketEntry,
    TicketParticipant,
    TicketStatus,
)
from layanan.tickets.workflow import WorkflowError, change_status
from ticket_factory import Person, make_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(settings: Settings, tmp_path: Path) -> None:
    settings.LANGUAGE_CODE = "en"
    settings.UPLOAD_ROOT = tmp_path / "uploads"
    settings.VAR_DIR = tmp_path / "var"
    settings.MAIL_ADDRESS = "bantuan@helpdesk.example.com"


def reload(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def test_merge_moves_entries_to_target(
    admin_service: Service, agent_admin: User
) -> None:
    source = make_ticket(admin_service, "Duplikat")
    target = make_ticket(admin_service, "Asli")
    note = replies.add_internal_note(source, agent_admin, "Catatan di duplikat")
    merge.merge(source, target, actor=agent_admin)
    assert TicketEntry.objects.get(pk=note.pk).ticket_id == target.pk
    assert not source.entries.exclude(kind=EntryKind.SYSTEM).exists()


def test_merge_keeps_attachments_on_moved_entries(
    admin_service: Service, agent_admin: User
) -> None:
    source = make_ticket(admin_service, "Duplikat")
    target = make_ticket(admin_service, "Asli")
    entry = replies.add_internal_note(source, agent_admin, "Berkas terlampir")
    attachment = Attachment.objects.create(
        storage_path="tickets/bukti.pdf",
        original_name="bukti.pdf",
        content_type="application/pdf",
        size=10,
        sha256="0" * 64,
        uploaded_by=SenderKind.AGENT,
    )
    entry.attachments.add(attachment)
    merge.merge(source, target, actor=agent_admin)
    assert list(target.entries.filter(attachments=attachment)) == [entry]


def test_merge_closes_source_and_links_target(
    admin_service: Service, agent_admin: User
) -> None:
    source = make_ticket(admin_service, "Duplikat")
    target = make_ticket(admin_service, "Asli")
    merge.merge(source, target, actor=agent_admin)
    source = reload(source)
    assert source.merged_into_id == target.pk
    assert source.status == TicketStatus.CLOSED
    assert source.closed_at is not None


def test_merge_adds_other_requester_as_cc(
    admin_service: Service, agent_admin: User
) -> None:
    source = make_ticket(admin_service, "Duplikat", Person(email="rina@mail.example"))
    target = make_ticket(admin_service, "Asli", Person(email="budi@mail.example"))
    TicketParticipant.objects.create(
        ticket=source, email="dosen@mail.example", role=ParticipantRole.CC
    )
    merge.merge(source, target, actor=agent_admin)
    roles = dict(target.participants.values_list("email", "role"))
    assert roles["rina@mail.example"] == ParticipantRole.CC
    assert roles["dosen@mail.example"] == ParticipantRole.CC
    assert roles["budi@mail.example"] == ParticipantRole.REQUESTER


def test_merge_same_requester_adds_no_participant(
    admin_service: Service, agent_admin: User
) -> None:
    source = make_ticket(admin_service, "Duplikat")
    target = make_ticket(admin_service, "Asli", requester=source.requester)
    merge.merge(source, target, actor=agent_admin)
    assert target.participants.count() == 1


def test_merge_writes_system_entry_on_both(
    admin_service: Service, agent_admin: User
) -> None:
    source = make_ticket(admin_service, "Duplikat")
    target = make_ticket(admin_service, "Asli")
    merge.merge(source, target, actor=agent_admin)
    source_note = source.entries.get(kind=EntryKind.SYSTEM)
    target_note = target.entries.filter(kind=EntryKind.SYSTEM).last()
    assert target.number in source_note.body
    assert target_note is not None
    assert source.number in target_note.body


def test_merge_records_audit_events(admin_service: Service, agent_admin: User) -> None:
    source = make_ticket(admin_service, "Duplikat")
    target = make_ticket(admin_service, "Asli")
    merge.merge(source, target, actor=agent_admin)
    source_events = {event.action: event for event in history("ticket", source.number)}
    target_events = {event.action: event for event in history("ticket", target.number)}
    assert source_events["merged"].data["into"] == target.number
    assert source_events["merged"].actor == agent_admin
    assert source_events["status_changed"].data["new"] == TicketStatus.CLOSED
    assert target_events["merge_received"].data["source"] == source.number


def test_merge_carries_unread_reply(admin_service: Service, agent_admin: User) -> None:
    source = make_ticket(admin_service, "Duplikat")
    target = make_ticket(admin_service, "Asli")
    Ticket.objects.filter(pk=source.pk).update(unread_reply=True)
    merge.merge(source, target, actor=agent_admin)
    assert reload(target).unread_reply


def test_merge_into_itself_rejected(admin_service: Service, agent_admin: User) -> None:
    ticket = make_ticket(admin_service)
    with pytest.raises(WorkflowError) as raised:
        merge.merge(ticket, reload(ticket), actor=agent_admin)
    assert raised.value.code == "merge_into_itself"


def test_merge_into_merged_ticket_rejected(
    admin_service: Service, agent_admin: User
) -> None:
    first, second, third = (make_ticket(admin_service) for _ in range(3))
    merge.merge(second, third, actor=agent_admin)
    with pytest.raises(WorkflowError) as raised:
        merge.merge(first, reload(second), actor=agent_admin)
    assert raised.value.code == "target_merged"
    assert reload(first).merged_into_id is None


def test_merge_of_merged_ticket_rejected(
    admin_service: Service, agent_admin: User
) -> None:
    first, second, third = (make_ticket(admin_service) for _ in range(3))
    merge.merge(first, second, actor=agent_admin)
    with pytest.raises(WorkflowError) as raised:
        merge.merge(reload(first), third, actor=agent_admin)
    assert raised.value.code in ("source_merged", "source_closed")


def test_merge_into_closed_ticket_rejected(
    admin_service: Service, agent_admin: User
) -> None:
    source = make_ticket(admin_service)
    target = make_ticket(admin_service)
    change_status(target, TicketStatus.RESOLVED, actor=agent_admin)
    change_status(target, TicketStatus.CLOSED, actor=agent_admin)
    with pytest.raises(WorkflowError) as raised:
        merge.merge(source, target, actor=agent_admin)
    assert raised.value.code == "target_closed"


def test_merge_flattens_chain(admin_service: Service, agent_admin: User) -> None:
    first, second, third = (make_ticket(admin_service) for _ in range(3))
    merge.merge(first, second, actor=agent_admin)
    merge.merge(reload(second), third, actor=agent_admin)
    assert reload(first).merged_into_id == third.pk
    assert reload(second).merged_into_id == third.pk


# The console form


def merge_url(ticket: Ticket) -> str:
    return reverse("console:ticket_merge", args=[ticket.number])


def test_merge_view_merges_and_redirects(
    client: Client, admin_service: Service, agent_admin: User
) -> None:
    source = make_ticket(admin_service)
    target = make_ticket(admin_service)
    client.force_login(agent_admin)
    response = client.post(merge_url(source), {"target": target.number.lower()})
    assert response.status_code == 302
    assert reload(source).merged_into_id == target.pk


def test_merge_view_target_of_unread_team_rejected(
    client: Client, admin_service: Service, ti_service: Service, agent_admin: User
) -> None:
    source = make_ticket(admin_service)
    target = make_ticket(ti_service)
    client.force_login(agent_admin)
    response = client.post(merge_url(source), {"target": target.number})
    assert response.status_code == 400
    assert "No ticket numbered" in response.content.decode()
    assert reload(source).merged_into_id is None


def test_merge_view_target_read_only_rejected(
    client: Client,
    admin_service: Service,
    ti_service: Service,
    agent_admin: User,
    ti_team: Team,
    supervisor: User,
) -> None:
    # The supervisor reads the TI ticket but changes only their own team's.
    ti_team.members.remove(*ti_team.members.all())
    source = make_ticket(admin_service)
    target = make_ticket(ti_service)
    Team.objects.get(name="Administrasi").members.add(supervisor)
    client.force_login(supervisor)
    response = client.post(merge_url(source), {"target": target.number})
    assert response.status_code == 400
    assert "Only members of the TI team" in response.content.decode()


def test_merge_view_outside_source_team_rejected(
    client: Client, admin_service: Service, agent_ti: User
) -> None:
    source = make_ticket(admin_service)
    target = make_ticket(admin_service)
    client.force_login(agent_ti)
    response = client.post(merge_url(source), {"target": target.number})
    assert response.status_code == 404


def test_merged_ticket_page_links_target(
    client: Client, admin_service: Service, agent_admin: User
) -> None:
    source = make_ticket(admin_service)
    target = make_ticket(admin_service)
    merge.merge(source, target, actor=agent_admin)
    client.force_login(agent_admin)
    page = client.get(reverse("console:ticket", args=[source.number])).content
    target_url = reverse("console:ticket", args=[target.number])
    assert f'href="{target_url}"'.encode() in page
    assert b'action="' + merge_url(source).encode() not in page


# Inbound mail


def reply_to_token(ticket: Ticket, sender: str) -> bytes:
    with translation.override("en"):
        address = reply_address(ticket.reply_token)
    return (
        f"From: {sender}\r\n"
        f"To: {address}\r\n"
        f"Subject: Re: {ticket.subject}\r\n"
        "Message-ID: <balasan-duplikat@mail.example>\r\n"
        "Date: Thu, 03 Dec 2026 09:00:00 +0700\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "Masih menunggu suratnya, terima kasih.\r\n"
    ).encode()


def test_reply_to_merged_ticket_threads_into_target(
    admin_service: Service, agent_admin: User
) -> None:
    source = make_ticket(admin_service, "Duplikat", Person(email="rina@mail.example"))
    target = make_ticket(admin_service, "Asli", Person(email="budi@mail.example"))
    # NOTE: the mail parser lower-cases every address, and with it the token, so
    # a token with capitals finds no ticket. A lower-case token keeps this test
    # about merging.
    Ticket.objects.filter(pk=source.pk).update(reply_token="duplikat-token-0001")
    merge.merge(source, target, actor=agent_admin)
    result = ingest(reply_to_token(reload(source), "rina@mail.example"), via="pipe")
    assert result.ticket == target.number
    assert target.entries.filter(body__contains="Masih menunggu").exists()
