"""The ticket workflow: status, replies that reopen, assignment, priority, auto-close.

The cast comes from tests/conftest.py. ``agent_admin`` (Sari) and
``second_agent_admin`` (Dewi) serve Administrasi, whose ticket this is, and may
change it; ``agent_ti`` (Bayu) serves TI and gets "not found" for all of it;
``supervisor`` reads the ticket but may change nothing. Budi Santoso asked for
the ticket and replies by email.
"""

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from pytest_django.fixtures import Settings

from layanan.audit.models import ActorKind, Event
from layanan.catalog.models import Service, Team
from layanan.jobs.registry import default_registry
from layanan.mail.inbound import ingest
from layanan.mail.models import InboundOutcome, OutboundEmail
from layanan.mail.outbox import send_due
from layanan.mail.threading import reply_address
from layanan.people.models import Requester, RequesterKind
from layanan.tickets.models import (
    EntryKind,
    EntrySource,
    Ticket,
    TicketEntry,
    TicketPriority,
    TicketSource,
    TicketStatus,
)
from layanan.tickets.replies import add_internal_note, add_public_reply
from layanan.tickets.services import NewTicket, open_ticket, requester_thread_ids
from layanan.tickets.workflow import (
    Transfer,
    WorkflowError,
    assign,
    change_priority,
    change_status,
    claim,
    close_resolved_tickets,
    transfer,
)
from smtp import SmtpSink, smtp_sink  # noqa: F401

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

pytestmark = pytest.mark.django_db

REQUESTER_EMAIL = "budi.santoso@mahasiswa.example.test"
SARI_EMAIL = "sari.wulandari@jurusan.example.test"
DEWI_EMAIL = "dewi.lestari@jurusan.example.test"
BAYU_EMAIL = "bayu.pratama@jurusan.example.test"
TI_TEAM_EMAIL = "ti@jurusan.example.test"
NOTE = "Ini soal akun SIAKAD, bukan surat tugas."

OPEN = TicketStatus.OPEN
IN_PROGRESS = TicketStatus.IN_PROGRESS
WAITING = TicketStatus.WAITING
RESOLVED = TicketStatus.RESOLVED
CLOSED = TicketStatus.CLOSED

# Written out here rather than read from workflow.AGENT_TRANSITIONS, so that a
# change to that table fails these tests.
ALLOWED_TRANSITIONS = {
    (OPEN, IN_PROGRESS),
    (OPEN, WAITING),
    (OPEN, RESOLVED),
    (IN_PROGRESS, OPEN),
    (IN_PROGRESS, WAITING),
    (IN_PROGRESS, RESOLVED),
    (WAITING, IN_PROGRESS),
    (WAITING, RESOLVED),
    (RESOLVED, OPEN),
    (RESOLVED, CLOSED),
}
FORBIDDEN_TRANSITIONS = sorted(
    (old, new)
    for old in TicketStatus
    for new in TicketStatus
    if (old, new) not in ALLOWED_TRANSITIONS
)


@pytest.fixture(autouse=True)
def mailbox(settings: Settings, tmp_path: Path) -> None:
    settings.MAIL_ADDRESS = "layanan@helpdesk.example.com"
    settings.MAIL_FROM = "Layanan <layanan@helpdesk.example.com>"
    settings.VAR_DIR = tmp_path / "var"
    settings.UPLOAD_ROOT = tmp_path / "uploads"


@pytest.fixture(autouse=True)
def english(settings: Settings) -> Iterator[None]:
    """Check the agents' messages and emails in English, the msgids."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def sari(agent_admin: User) -> User:
    agent_admin.email = SARI_EMAIL
    agent_admin.save(update_fields=["email"])
    return agent_admin


@pytest.fixture
def dewi(second_agent_admin: User) -> User:
    second_agent_admin.email = DEWI_EMAIL
    second_agent_admin.save(update_fields=["email"])
    return second_agent_admin


@pytest.fixture
def bayu(agent_ti: User) -> User:
    agent_ti.email = BAYU_EMAIL
    agent_ti.save(update_fields=["email"])
    return agent_ti


@pytest.fixture
def ti(ti_team: Team) -> Team:
    ti_team.email = TI_TEAM_EMAIL
    ti_team.save(update_fields=["email"])
    return ti_team


@pytest.fixture
def ticket(admin_service: Service) -> Ticket:
    """Return Budi's open Administrasi ticket, opened by email."""
    requester = Requester.objects.create(
        identifier="2231000001",
        kind=RequesterKind.STUDENT,
        name="Budi Santoso",
        email=REQUESTER_EMAIL,
    )
    with transaction.atomic():
        return open_ticket(
            NewTicket(
                subject="Surat tugas seminar",
                requester=requester,
                email=REQUESTER_EMAIL,
                service=admin_service,
                source=TicketSource.EMAIL,
                language="id",
            )
        )


def put_in(ticket: Ticket, status: str, *, days_ago: float = 0) -> Ticket:
    """Give the ticket ``status`` and the timestamps it would have ``days_ago``."""
    when = timezone.now() - timedelta(days=days_ago)
    Ticket.objects.filter(pk=ticket.pk).update(
        status=status,
        resolved_at=when if status in (RESOLVED, CLOSED) else None,
        closed_at=when if status == CLOSED else None,
    )
    ticket.refresh_from_db()
    return ticket


def fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def events(ticket: Ticket, action: str) -> list[Event]:
    return list(
        Event.objects.filter(
            subject_type="ticket", subject_id=ticket.number, action=action
        )
    )


def assignment_mail() -> list[OutboundEmail]:
    return list(OutboundEmail.objects.filter(kind="ticket_assigned"))


# Status transitions


@pytest.mark.parametrize(("old", "new"), sorted(ALLOWED_TRANSITIONS))
def test_change_status_allowed(
    sari: User, ticket: Ticket, old: TicketStatus, new: TicketStatus
) -> None:
    change_status(put_in(ticket, old), new, actor=sari)
    assert fresh(ticket).status == new


@pytest.mark.parametrize(("old", "new"), FORBIDDEN_TRANSITIONS)
def test_change_status_forbidden(
    sari: User, ticket: Ticket, old: TicketStatus, new: TicketStatus
) -> None:
    with pytest.raises(WorkflowError):
        change_status(put_in(ticket, old), new, actor=sari)
    assert fresh(ticket).status == old
    assert events(ticket, "status_changed") == []


def test_change_status_rejection_names_states(sari: User, ticket: Ticket) -> None:
    with pytest.raises(WorkflowError) as raised:
        change_status(put_in(ticket, WAITING), OPEN, actor=sari)
    assert raised.value.code == "transition_not_allowed"
    assert raised.value.message == (
        f"Ticket {ticket.number} is “Waiting on requester”, so it cannot be set to "
        "“Open”. In “New status”, choose one of: In progress, Resolved."
    )


def test_change_status_closed_rejection_explains_reopen(
    sari: User, ticket: Ticket
) -> None:
    with pytest.raises(WorkflowError) as raised:
        change_status(put_in(ticket, CLOSED), OPEN, actor=sari)
    assert raised.value.code == "ticket_closed"
    assert "“Closed”, so it cannot be set to “Open”" in raised.value.message
    assert "A reply from the requester reopens it" in raised.value.message


def test_change_status_same_state_is_unchanged(sari: User, ticket: Ticket) -> None:
    with pytest.raises(WorkflowError) as raised:
        change_status(ticket, OPEN, actor=sari)
    assert raised.value.code == "unchanged"


def test_change_status_unknown_status_rejected(sari: User, ticket: Ticket) -> None:
    with pytest.raises(WorkflowError) as raised:
        change_status(ticket, "archived", actor=sari)
    assert raised.value.code == "unknown_status"


def test_change_status_checks_database_not_stale_instance(
    sari: User, ticket: Ticket
) -> None:
    # Another agent closed the ticket after this instance was read.
    Ticket.objects.filter(pk=ticket.pk).update(status=CLOSED)
    with pytest.raises(WorkflowError):
        change_status(ticket, IN_PROGRESS, actor=sari)
    assert fresh(ticket).status == CLOSED


def test_change_status_updates_given_instance(sari: User, ticket: Ticket) -> None:
    returned = change_status(ticket, WAITING, actor=sari)
    assert returned is ticket
    assert ticket.status == WAITING


def test_resolve_sets_resolved_at(sari: User, ticket: Ticket) -> None:
    change_status(ticket, RESOLVED, actor=sari)
    resolved = fresh(ticket)
    assert resolved.resolved_at is not None
    assert resolved.closed_at is None


def test_close_sets_closed_at_and_keeps_resolved_at(sari: User, ticket: Ticket) -> None:
    change_status(ticket, RESOLVED, actor=sari)
    resolved_at = fresh(ticket).resolved_at
    change_status(ticket, CLOSED, actor=sari)
    closed = fresh(ticket)
    assert closed.closed_at is not None
    assert closed.resolved_at == resolved_at


def test_reopen_clears_resolved_at(sari: User, ticket: Ticket) -> None:
    change_status(put_in(ticket, RESOLVED), OPEN, actor=sari)
    assert fresh(ticket).resolved_at is None


def test_waiting_leaves_timestamps_empty(sari: User, ticket: Ticket) -> None:
    change_status(ticket, WAITING, actor=sari)
    waiting = fresh(ticket)
    assert (waiting.resolved_at, waiting.closed_at) == (None, None)


def test_change_status_records_old_new_and_actor(sari: User, ticket: Ticket) -> None:
    change_status(ticket, IN_PROGRESS, actor=sari)
    (event,) = events(ticket, "status_changed")
    assert (event.data["old"], event.data["new"]) == ("open", "in_progress")
    assert (event.actor_id, event.actor_kind) == (sari.pk, ActorKind.AGENT)


def test_change_status_note_is_internal_note(sari: User, ticket: Ticket) -> None:
    change_status(ticket, WAITING, actor=sari, note="  Menunggu scan KTM.  ")
    entry = ticket.entries.get()
    assert (entry.kind, entry.body, entry.author_id) == (
        EntryKind.NOTE,
        "Menunggu scan KTM.",
        sari.pk,
    )
    (event,) = events(ticket, "status_changed")
    assert event.data["note"] == entry.pk
    assert "KTM" not in str(event.data)


def test_change_status_without_note_adds_no_entry(sari: User, ticket: Ticket) -> None:
    change_status(ticket, WAITING, actor=sari)
    assert not ticket.entries.exists()


def test_change_status_logs_one_line_with_ids(
    sari: User, ticket: Ticket, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="layanan.tickets.workflow"):
        change_status(ticket, RESOLVED, actor=sari)
    (line,) = [
        record.getMessage()
        for record in caplog.records
        if record.name == "layanan.tickets.workflow"
    ]
    assert line == (
        f"ticket status changed ticket={ticket.number} old=open new=resolved "
        f"actor=user:{sari.pk}"
    )


# Agents' replies


def test_public_reply_moves_open_to_in_progress(sari: User, ticket: Ticket) -> None:
    add_public_reply(ticket, sari, "Sedang kami proses.", [])
    assert fresh(ticket).status == IN_PROGRESS


def test_public_reply_keeps_waiting(sari: User, ticket: Ticket) -> None:
    add_public_reply(put_in(ticket, WAITING), sari, "Mohon kirim KTM.", [])
    assert fresh(ticket).status == WAITING


def test_public_reply_keeps_resolved(sari: User, ticket: Ticket) -> None:
    add_public_reply(put_in(ticket, RESOLVED), sari, "Sama-sama.", [])
    assert fresh(ticket).status == RESOLVED


def test_internal_note_keeps_open(sari: User, ticket: Ticket) -> None:
    add_internal_note(ticket, sari, NOTE)
    assert fresh(ticket).status == OPEN


# Replies by email


def reply_eml(ticket: Ticket, serial: int, sender: str = REQUESTER_EMAIL) -> bytes:
    """Return a requester's plain reply to the ticket's reply address."""
    return (
        f"From: Budi Santoso <{sender}>\r\n"
        f"To: {reply_address(ticket.reply_token)}\r\n"
        f"Subject: Re: [{ticket.number}] Surat tugas seminar\r\n"
        f"Message-ID: <balasan-{serial}@mahasiswa.example.test>\r\n"
        "Date: Tue, 01 Dec 2026 09:15:00 +0700\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        "Maaf, suratnya belum saya terima sampai hari ini.\r\n"
    ).encode()


def email_entries(ticket: Ticket) -> int:
    return ticket.entries.filter(source=EntrySource.EMAIL).count()


def test_reply_to_resolved_ticket_reopens(ticket: Ticket) -> None:
    put_in(ticket, RESOLVED, days_ago=1)
    result = ingest(reply_eml(ticket, 1), via="pipe")
    assert result.outcome == InboundOutcome.REOPENED
    assert result.ticket == ticket.number
    reopened = fresh(ticket)
    assert (reopened.status, reopened.resolved_at) == (OPEN, None)
    assert email_entries(ticket) == 1


def test_reply_to_recently_closed_ticket_reopens(ticket: Ticket) -> None:
    put_in(ticket, CLOSED, days_ago=3)
    result = ingest(reply_eml(ticket, 2), via="pipe")
    assert result.outcome == InboundOutcome.REOPENED
    reopened = fresh(ticket)
    assert (reopened.status, reopened.closed_at) == (OPEN, None)


def test_reopen_event_names_requester(ticket: Ticket) -> None:
    put_in(ticket, CLOSED, days_ago=3)
    ingest(reply_eml(ticket, 3), via="pipe")
    (event,) = events(ticket, "status_changed")
    assert (event.data["old"], event.data["new"]) == ("closed", "open")
    assert (event.actor_id, event.actor_kind) == (None, ActorKind.REQUESTER)


def test_reply_to_long_closed_ticket_opens_new_ticket(ticket: Ticket) -> None:
    put_in(ticket, CLOSED, days_ago=20)
    result = ingest(reply_eml(ticket, 4), via="pipe")
    assert result.outcome == InboundOutcome.NEW_TICKET
    follow_up = Ticket.objects.get(number=result.ticket)
    assert follow_up.pk != ticket.pk
    assert (follow_up.status, follow_up.team_id) == (OPEN, ticket.team_id)
    assert follow_up.requester_id == ticket.requester_id
    assert email_entries(follow_up) == 1
    assert email_entries(ticket) == 0
    assert fresh(ticket).status == CLOSED


def test_follow_up_notes_name_each_other(ticket: Ticket) -> None:
    put_in(ticket, CLOSED, days_ago=20)
    result = ingest(reply_eml(ticket, 5), via="pipe")
    follow_up = Ticket.objects.get(number=result.ticket)
    old_note = TicketEntry.objects.get(ticket=ticket, kind=EntryKind.NOTE)
    new_note = TicketEntry.objects.get(ticket=follow_up, kind=EntryKind.NOTE)
    assert follow_up.number in old_note.body
    assert ticket.number in new_note.body
    assert old_note.source == new_note.source == EntrySource.SYSTEM


def test_follow_up_acknowledged_to_requester(ticket: Ticket) -> None:
    put_in(ticket, CLOSED, days_ago=20)
    result = ingest(reply_eml(ticket, 6), via="pipe")
    acknowledgement = OutboundEmail.objects.get(
        kind="ticket_created_requester", reference=f"ticket:{result.ticket}"
    )
    assert acknowledgement.to == [REQUESTER_EMAIL]
    assert acknowledgement.in_reply_to == "<balasan-6@mahasiswa.example.test>"


def test_reopen_days_setting_is_used(settings: Settings, ticket: Ticket) -> None:
    settings.REOPEN_DAYS = 2
    put_in(ticket, CLOSED, days_ago=3)
    result = ingest(reply_eml(ticket, 7), via="pipe")
    assert result.outcome == InboundOutcome.NEW_TICKET


def test_reply_to_waiting_ticket_moves_to_in_progress(ticket: Ticket) -> None:
    put_in(ticket, WAITING)
    result = ingest(reply_eml(ticket, 8), via="pipe")
    assert result.outcome == InboundOutcome.REPLY
    assert fresh(ticket).status == IN_PROGRESS


def test_reply_to_open_ticket_keeps_status(ticket: Ticket) -> None:
    result = ingest(reply_eml(ticket, 9), via="pipe")
    assert result.outcome == InboundOutcome.REPLY
    assert fresh(ticket).status == OPEN
    assert events(ticket, "status_changed") == []


def test_reply_from_agent_does_not_reopen(sari: User, ticket: Ticket) -> None:
    put_in(ticket, RESOLVED)
    result = ingest(reply_eml(ticket, 10, sender=SARI_EMAIL), via="pipe")
    assert result.outcome == InboundOutcome.REPLY
    assert fresh(ticket).status == RESOLVED


def test_reply_from_stranger_with_token_does_not_reopen(ticket: Ticket) -> None:
    put_in(ticket, RESOLVED)
    ingest(reply_eml(ticket, 11, sender="orang.lain@example.net"), via="pipe")
    assert fresh(ticket).status == RESOLVED


# Assignment


def test_claim_assigns_actor(sari: User, ticket: Ticket) -> None:
    claim(ticket, actor=sari)
    assert fresh(ticket).assignee_id == sari.pk


def test_claim_sends_no_email(sari: User, ticket: Ticket) -> None:
    claim(ticket, actor=sari)
    assert assignment_mail() == []


def test_assign_records_old_new_and_actor(
    sari: User, dewi: User, ticket: Ticket
) -> None:
    claim(ticket, actor=sari)
    assign(ticket, dewi, actor=sari)
    first, second = events(ticket, "assigned")
    assert (first.data["old"], first.data["new"]) == (None, sari.pk)
    assert (second.data["old"], second.data["new"]) == (sari.pk, dewi.pk)
    assert second.actor_id == sari.pk


def test_assign_notifies_new_owner(sari: User, dewi: User, ticket: Ticket) -> None:
    assign(ticket, dewi, actor=sari)
    (mail,) = assignment_mail()
    assert mail.to == [DEWI_EMAIL]
    assert mail.subject == f"[{ticket.number}] Assigned to you: Surat tugas seminar"
    assert f"Sari Wulandari assigned ticket {ticket.number} to you." in mail.body_text
    assert reverse("console:ticket", args=[ticket.number]) in mail.body_html


def test_assign_email_reaches_smtp_server(
    smtp_sink: SmtpSink,  # noqa: F811
    sari: User,
    dewi: User,
    ticket: Ticket,
) -> None:
    OutboundEmail.objects.all().delete()
    assign(ticket, dewi, actor=sari)
    send_due()
    (message,) = smtp_sink.wait_for(1)
    assert message["To"].addresses[0].addr_spec == DEWI_EMAIL
    assert message["Auto-Submitted"] is None
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    assert "Sari Wulandari assigned ticket" in text.get_content()
    assert "Sari Wulandari assigned ticket" in html.get_content()


def test_assignment_mail_stays_out_of_requester_thread(
    sari: User, dewi: User, ticket: Ticket
) -> None:
    assign(ticket, dewi, actor=sari)
    (mail,) = assignment_mail()
    in_reply_to, references = requester_thread_ids(ticket)
    assert mail.message_id not in [in_reply_to, *references]


def test_assign_outside_team_rejected(sari: User, bayu: User, ticket: Ticket) -> None:
    with pytest.raises(WorkflowError) as raised:
        assign(ticket, bayu, actor=sari)
    assert raised.value.message == (
        "Bayu Pratama is not a member of the Administrasi team. In “Assignee”, "
        "choose one of its members."
    )
    assert fresh(ticket).assignee_id is None


def test_assign_current_owner_rejected(sari: User, ticket: Ticket) -> None:
    claim(ticket, actor=sari)
    with pytest.raises(WorkflowError) as raised:
        claim(ticket, actor=sari)
    assert raised.value.code == "unchanged"
    assert len(events(ticket, "assigned")) == 1


def test_unassign_records_nobody(sari: User, ticket: Ticket) -> None:
    claim(ticket, actor=sari)
    assign(ticket, None, actor=sari)
    assert fresh(ticket).assignee_id is None
    assert events(ticket, "assigned")[-1].data["new"] is None


def test_assign_logs_ids(
    sari: User, dewi: User, ticket: Ticket, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="layanan.tickets.workflow"):
        assign(ticket, dewi, actor=sari)
    assert (
        f"ticket assigned ticket={ticket.number} old=None new={dewi.pk} actor={sari.pk}"
    ) in caplog.messages


# Transfer


def test_transfer_moves_ticket_to_team(sari: User, ti: Team, ticket: Ticket) -> None:
    transfer(ticket, Transfer(team=ti, note=NOTE), actor=sari)
    moved = fresh(ticket)
    assert (moved.team_id, moved.assignee_id) == (ti.pk, None)


def test_transfer_clears_old_assignee(sari: User, ti: Team, ticket: Ticket) -> None:
    claim(ticket, actor=sari)
    transfer(ticket, Transfer(team=ti, note=NOTE), actor=sari)
    assert fresh(ticket).assignee_id is None


def test_transfer_stores_note_as_internal_note(
    sari: User, ti: Team, ticket: Ticket
) -> None:
    transfer(ticket, Transfer(team=ti, note=NOTE), actor=sari)
    entry = ticket.entries.get()
    assert (entry.kind, entry.body, entry.author_id) == (EntryKind.NOTE, NOTE, sari.pk)


def test_transfer_records_event(
    sari: User, bayu: User, ti: Team, ticket: Ticket
) -> None:
    transfer(ticket, Transfer(team=ti, note=NOTE, assignee=bayu), actor=sari)
    (event,) = events(ticket, "transferred")
    assert (event.data["old_team"], event.data["new_team"]) == (
        ticket.service.team_id,
        ti.pk,
    )
    assert (event.data["old_assignee"], event.data["new_assignee"]) == (None, bayu.pk)
    assert event.actor_id == sari.pk


def test_transfer_with_agent_notifies_agent(
    sari: User, bayu: User, ti: Team, ticket: Ticket
) -> None:
    transfer(ticket, Transfer(team=ti, note=NOTE, assignee=bayu), actor=sari)
    (mail,) = assignment_mail()
    assert mail.to == [BAYU_EMAIL]
    assert "transferred ticket" in mail.body_text
    assert "and assigned it to you." in mail.body_text
    assert NOTE in mail.body_text


def test_transfer_without_agent_notifies_team(
    sari: User, ti: Team, ticket: Ticket
) -> None:
    transfer(ticket, Transfer(team=ti, note=NOTE), actor=sari)
    (mail,) = assignment_mail()
    assert mail.to == [TI_TEAM_EMAIL]
    assert "Transferred to your team" in mail.subject


def test_transfer_to_own_team_rejected(
    sari: User, admin_team: Team, ticket: Ticket
) -> None:
    with pytest.raises(WorkflowError) as raised:
        transfer(ticket, Transfer(team=admin_team, note=NOTE), actor=sari)
    assert raised.value.code == "same_team"


def test_transfer_with_agent_of_other_team_rejected(
    sari: User, dewi: User, ti: Team, ticket: Ticket
) -> None:
    with pytest.raises(WorkflowError) as raised:
        transfer(ticket, Transfer(team=ti, note=NOTE, assignee=dewi), actor=sari)
    assert "In “Agent”, choose one of its members." in raised.value.message
    assert fresh(ticket).team_id == ticket.service.team_id


def test_transfer_without_note_rejected(sari: User, ti: Team, ticket: Ticket) -> None:
    with pytest.raises(WorkflowError) as raised:
        transfer(ticket, Transfer(team=ti, note="  \n "), actor=sari)
    assert raised.value.code == "note_empty"
    assert fresh(ticket).team_id == ticket.service.team_id


# Priority


def test_change_priority_records_old_new_and_actor(sari: User, ticket: Ticket) -> None:
    change_priority(ticket, "urgent", actor=sari)
    assert fresh(ticket).priority == TicketPriority.URGENT
    (event,) = events(ticket, "priority_changed")
    assert (event.data["old"], event.data["new"], event.actor_id) == (
        "normal",
        "urgent",
        sari.pk,
    )


def test_change_priority_unknown_rejected(sari: User, ticket: Ticket) -> None:
    with pytest.raises(WorkflowError) as raised:
        change_priority(ticket, "critical", actor=sari)
    assert raised.value.message == (
        "The priority chosen in “Priority” does not exist. Choose one of: Low, "
        "Normal, High, Urgent."
    )


def test_change_priority_same_rejected(sari: User, ticket: Ticket) -> None:
    with pytest.raises(WorkflowError) as raised:
        change_priority(ticket, "normal", actor=sari)
    assert raised.value.code == "unchanged"


# Auto-close


def move_clock(monkeypatch: pytest.MonkeyPatch, days: float) -> datetime:
    """Make every timezone.now() answer ``days`` later than the real clock."""
    moved = timezone.now() + timedelta(days=days)
    monkeypatch.setattr(timezone, "now", lambda: moved)
    return moved


def test_autoclose_job_runs_every_ten_minutes() -> None:
    job = default_registry._jobs["tickets.autoclose"]
    assert (job.every_seconds, job.function) == (600, close_resolved_tickets)


def test_autoclose_job_closes_with_moved_clock(
    monkeypatch: pytest.MonkeyPatch, sari: User, ticket: Ticket
) -> None:
    change_status(ticket, RESOLVED, actor=sari)
    moved = move_clock(monkeypatch, settings.AUTOCLOSE_DAYS + 0.1)
    ran = default_registry.run_due("test-worker", moved, ignore_intervals=True)
    assert "tickets.autoclose" in ran
    assert fresh(ticket).status == CLOSED


def test_autoclose_closes_after_autoclose_days(
    monkeypatch: pytest.MonkeyPatch, sari: User, ticket: Ticket
) -> None:
    change_status(ticket, RESOLVED, actor=sari)
    moved = move_clock(monkeypatch, settings.AUTOCLOSE_DAYS + 0.1)
    assert close_resolved_tickets() == 1
    closed = fresh(ticket)
    assert (closed.status, closed.closed_at) == (CLOSED, moved)


def test_autoclose_leaves_recently_resolved(
    monkeypatch: pytest.MonkeyPatch, sari: User, ticket: Ticket
) -> None:
    change_status(ticket, RESOLVED, actor=sari)
    move_clock(monkeypatch, settings.AUTOCLOSE_DAYS - 0.1)
    assert close_resolved_tickets() == 0
    assert fresh(ticket).status == RESOLVED


def test_autoclose_leaves_other_statuses(
    monkeypatch: pytest.MonkeyPatch, ticket: Ticket
) -> None:
    put_in(ticket, WAITING)
    move_clock(monkeypatch, 30)
    assert close_resolved_tickets() == 0


def test_autoclose_records_system_event(
    monkeypatch: pytest.MonkeyPatch, sari: User, ticket: Ticket
) -> None:
    change_status(ticket, RESOLVED, actor=sari)
    move_clock(monkeypatch, settings.AUTOCLOSE_DAYS + 1)
    close_resolved_tickets()
    closing = events(ticket, "status_changed")[-1]
    assert (closing.data["old"], closing.data["new"]) == ("resolved", "closed")
    assert (closing.actor_id, closing.actor_kind) == (None, ActorKind.SYSTEM)


def test_autoclose_days_setting_is_used(settings: Settings, ticket: Ticket) -> None:
    settings.AUTOCLOSE_DAYS = 1
    put_in(ticket, RESOLVED, days_ago=2)
    assert close_resolved_tickets() == 1


# Console: ticket page actions


def client_for(user: User) -> Client:
    """Log ``user`` in with the console in English, the language of these checks."""
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def flash_texts(response: "TestResponse") -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def post_action(
    user: User, ticket: Ticket, name: str, **data: object
) -> "TestResponse":
    return client_for(user).post(reverse(f"console:{name}", args=[ticket.number]), data)


def ticket_page(user: User, ticket: Ticket) -> str:
    response = client_for(user).get(reverse("console:ticket", args=[ticket.number]))
    assert response.status_code == 200
    return str(response.content.decode())


ACTIONS = [
    ("ticket_status", {"status": "in_progress"}),
    ("ticket_claim", {}),
    ("ticket_assign", {"assignee": ""}),
    ("ticket_transfer", {"team": "1", "note": NOTE}),
    ("ticket_priority", {"priority": "high"}),
]
ACTION_NAMES = [name for name, _data in ACTIONS]


def test_status_view_changes_status(sari: User, ticket: Ticket) -> None:
    response = post_action(sari, ticket, "ticket_status", status="waiting")
    assert response.status_code == 302
    assert fresh(ticket).status == WAITING
    assert flash_texts(response) == [
        f"Ticket {ticket.number} is now “Waiting on requester”."
    ]


def test_status_view_stores_note(sari: User, ticket: Ticket) -> None:
    post_action(sari, ticket, "ticket_status", status="waiting", note=NOTE)
    assert ticket.entries.get().body == NOTE


def test_status_view_rejection_shows_message(sari: User, ticket: Ticket) -> None:
    put_in(ticket, CLOSED)
    response = post_action(sari, ticket, "ticket_status", status="open")
    assert response.status_code == 400
    (text,) = flash_texts(response)
    assert text.startswith(f"Ticket {ticket.number} is “Closed”, so it cannot be")


def test_status_view_rejection_keeps_note(sari: User, ticket: Ticket) -> None:
    response = post_action(
        sari, ticket, "ticket_status", status="closed", note="Catatan <b>saya</b>"
    )
    assert ">Catatan &lt;b&gt;saya&lt;/b&gt;</textarea>" in response.content.decode()


def test_claim_view_assigns_viewer(sari: User, ticket: Ticket) -> None:
    response = post_action(sari, ticket, "ticket_claim")
    assert fresh(ticket).assignee_id == sari.pk
    assert flash_texts(response) == [f"Ticket {ticket.number} is assigned to you."]


def test_assign_view_assigns_member(sari: User, dewi: User, ticket: Ticket) -> None:
    # Assigning someone else is the team lead's work.
    ticket.team.leads.add(sari)
    response = post_action(sari, ticket, "ticket_assign", assignee=str(dewi.pk))
    assert fresh(ticket).assignee_id == dewi.pk
    assert flash_texts(response) == [
        f"Ticket {ticket.number} is assigned to Dewi Lestari."
    ]


def test_assign_view_rejects_other_team_agent(
    sari: User, bayu: User, ticket: Ticket
) -> None:
    response = post_action(sari, ticket, "ticket_assign", assignee=str(bayu.pk))
    assert response.status_code == 400
    assert "is not a member of the Administrasi team" in flash_texts(response)[0]


def test_assign_view_rejects_unknown_agent(sari: User, ticket: Ticket) -> None:
    response = post_action(sari, ticket, "ticket_assign", assignee="999999")
    assert flash_texts(response) == [
        "The agent chosen in “Assignee” does not exist. Reload the page and "
        "choose again."
    ]


def test_transfer_view_moves_ticket_and_leaves_it(
    sari: User, ti: Team, ticket: Ticket
) -> None:
    response = post_action(sari, ticket, "ticket_transfer", team=str(ti.pk), note=NOTE)
    assert fresh(ticket).team_id == ti.pk
    # Sari no longer serves the ticket's team, so she goes back to her list.
    assert response["Location"] == reverse("console:tickets")
    assert flash_texts(response) == [
        f"Ticket {ticket.number} was transferred to the TI team."
    ]


def test_transfer_view_with_agent(
    sari: User, bayu: User, ti: Team, ticket: Ticket
) -> None:
    post_action(
        sari,
        ticket,
        "ticket_transfer",
        team=str(ti.pk),
        assignee=str(bayu.pk),
        note=NOTE,
    )
    assert fresh(ticket).assignee_id == bayu.pk


def test_transfer_view_without_note_keeps_ticket(
    sari: User, ti: Team, ticket: Ticket
) -> None:
    response = post_action(sari, ticket, "ticket_transfer", team=str(ti.pk), note="")
    assert response.status_code == 400
    assert fresh(ticket).team_id == ticket.service.team_id
    assert "Write in “Note” why" in flash_texts(response)[0]


def test_transfer_view_unknown_team(sari: User, ticket: Ticket) -> None:
    response = post_action(sari, ticket, "ticket_transfer", team="x", note=NOTE)
    assert response.status_code == 400
    assert "The team chosen in “Team” does not exist." in flash_texts(response)[0]


def test_priority_view_changes_priority(sari: User, ticket: Ticket) -> None:
    response = post_action(sari, ticket, "ticket_priority", priority="high")
    assert fresh(ticket).priority == TicketPriority.HIGH
    assert flash_texts(response) == [
        f"Ticket {ticket.number} now has the priority “High”."
    ]


@pytest.mark.parametrize(("name", "data"), ACTIONS, ids=ACTION_NAMES)
def test_actions_other_team_agent_gets_404(
    bayu: User, ticket: Ticket, name: str, data: dict[str, object]
) -> None:
    response = post_action(bayu, ticket, name, **data)
    assert response.status_code == 404


@pytest.mark.parametrize(("name", "data"), ACTIONS, ids=ACTION_NAMES)
def test_actions_supervisor_rejected(
    supervisor: User,
    ti: Team,
    ticket: Ticket,
    name: str,
    data: dict[str, object],
) -> None:
    data = {**data, "team": str(ti.pk)} if "team" in data else data
    response = post_action(supervisor, ticket, name, **data)
    assert response.status_code == 302
    assert flash_texts(response) == [
        "Only members of the Administrasi team can change this ticket's status, "
        "assignee, team or priority. Ask one of them to do it."
    ]
    unchanged = fresh(ticket)
    assert (unchanged.status, unchanged.assignee_id, unchanged.priority) == (
        OPEN,
        None,
        TicketPriority.NORMAL,
    )
    assert unchanged.team_id == ticket.team_id


@pytest.mark.parametrize("name", ACTION_NAMES)
def test_actions_need_post(sari: User, ticket: Ticket, name: str) -> None:
    response = client_for(sari).get(reverse(f"console:{name}", args=[ticket.number]))
    assert response.status_code == 405


@pytest.mark.parametrize(("name", "data"), ACTIONS, ids=ACTION_NAMES)
def test_actions_need_csrf_token(
    sari: User, ticket: Ticket, name: str, data: dict[str, object]
) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(sari)
    response = client.post(reverse(f"console:{name}", args=[ticket.number]), data)
    assert response.status_code == 403
    assert fresh(ticket).assignee_id is None


@pytest.mark.parametrize("name", ACTION_NAMES)
def test_actions_anonymous_redirected_to_login(
    client: Client, ticket: Ticket, name: str
) -> None:
    response = client.post(reverse(f"console:{name}", args=[ticket.number]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("console:login"))


def status_options(content: str) -> str:
    """Return the option tags of the page's "New status" select."""
    start = content.index('id="status-select"')
    return content[start : content.index("</select>", start)]


def test_ticket_page_offers_only_allowed_statuses(sari: User, ticket: Ticket) -> None:
    options = status_options(ticket_page(sari, ticket))
    assert 'value="in_progress"' in options
    assert 'value="waiting"' in options
    assert 'value="resolved"' in options
    assert 'value="open"' not in options
    assert 'value="closed"' not in options


def test_ticket_page_closed_offers_no_status(sari: User, ticket: Ticket) -> None:
    put_in(ticket, CLOSED)
    content = ticket_page(sari, ticket)
    assert 'id="status-select"' not in content
    assert "A closed ticket cannot change." in content


def test_ticket_page_lists_team_members_for_assignee(
    sari: User, dewi: User, bayu: User, ticket: Ticket
) -> None:
    # Only a team lead gets the list; other members get "Assign to me".
    ticket.team.leads.add(sari)
    content = ticket_page(sari, ticket)
    start = content.index('id="assignee-select"')
    options = content[start : content.index("</select>", start)]
    assert "Dewi Lestari" in options
    assert "Bayu Pratama" not in options


def test_ticket_page_member_only_claims(sari: User, dewi: User, ticket: Ticket) -> None:
    content = ticket_page(sari, ticket)
    assert 'id="assignee-select"' not in content
    assert "Assign to me" in content


def test_ticket_page_offers_other_teams_for_transfer(
    sari: User, ti: Team, ticket: Ticket
) -> None:
    content = ticket_page(sari, ticket)
    start = content.index('id="transfer-team"')
    options = content[start : content.index("</select>", start)]
    assert f'<option value="{ti.pk}">TI</option>' in options
    assert ">Administrasi</option>" not in options


def test_ticket_page_supervisor_sees_no_action_forms(
    supervisor: User, ticket: Ticket
) -> None:
    content = ticket_page(supervisor, ticket)
    assert reverse("console:ticket_status", args=[ticket.number]) not in content
    assert reverse("console:ticket_transfer", args=[ticket.number]) not in content


def test_ticket_page_history_shows_old_and_new(sari: User, ticket: Ticket) -> None:
    change_status(ticket, IN_PROGRESS, actor=sari)
    claim(ticket, actor=sari)
    content = ticket_page(sari, ticket)
    assert "Status changed: " in content
    assert "Open → In progress" in content
    assert "nobody → Sari Wulandari" in content


# Console: ticket list


def make_tickets(count: int, service: Service, assignee: User | None) -> None:
    requester = Requester.objects.create(
        identifier=None, kind=RequesterKind.UNKNOWN, name="Budi", email="b@x.example"
    )
    with transaction.atomic():
        for number in range(count):
            opened = open_ticket(
                NewTicket(
                    subject=f"Permintaan {number}",
                    requester=requester,
                    email=requester.email,
                    service=service,
                    source=TicketSource.AGENT,
                    language="id",
                )
            )
            if assignee is not None:
                Ticket.objects.filter(pk=opened.pk).update(assignee=assignee)


def list_page(user: User, **query: str) -> str:
    response = client_for(user).get(reverse("console:tickets"), query)
    assert response.status_code == 200
    return str(response.content.decode())


def test_ticket_list_shows_priority_and_assignee(
    sari: User, admin_service: Service
) -> None:
    make_tickets(1, admin_service, sari)
    Ticket.objects.update(priority=TicketPriority.URGENT)
    content = list_page(sari)
    assert ">Urgent</span>" in content
    assert "<td>Sari Wulandari</td>" in content


def test_ticket_list_filters_mine(
    sari: User, dewi: User, admin_service: Service
) -> None:
    make_tickets(2, admin_service, sari)
    make_tickets(3, admin_service, dewi)
    assert list_page(sari, assignee="mine").count("<td>Sari Wulandari</td>") == 2
    assert "Dewi Lestari</td>" not in list_page(sari, assignee="mine")


def test_ticket_list_filters_unassigned(sari: User, admin_service: Service) -> None:
    make_tickets(2, admin_service, sari)
    make_tickets(1, admin_service, None)
    assert list_page(sari, assignee="nobody").count("<tr>") == 2


def test_ticket_list_filters_status_and_assignee(
    sari: User, admin_service: Service
) -> None:
    make_tickets(2, admin_service, sari)
    Ticket.objects.filter(subject="Permintaan 0").update(status=WAITING)
    assert list_page(sari, status="waiting", assignee="mine").count("<tr>") == 2


def test_ticket_list_pages_keep_filters(sari: User, admin_service: Service) -> None:
    make_tickets(51, admin_service, sari)
    content = list_page(sari, status="open", assignee="mine")
    assert "?status=open&amp;assignee=mine&amp;page=2" in content


def list_queries(user: User) -> int:
    client = client_for(user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("console:tickets"))
    assert response.status_code == 200
    return len(queries)


def test_ticket_list_query_count_constant_with_assignees(
    sari: User, dewi: User, admin_service: Service
) -> None:
    make_tickets(2, admin_service, sari)
    with_two = list_queries(sari)
    make_tickets(20, admin_service, dewi)
    assert list_queries(sari) == with_two
