"""Warnings and breach notices of the ``tickets.sla_notices`` job.

The cast: Sari serves Administrasi and owns Budi's ticket, Dewi leads the team,
Hendra (``supervisor``) is the head of department, and Bayu serves TI and
receives nothing. Office hours are WIB, Monday to Thursday 07:30-16:00, and Monday
13 July 2026 is an ordinary working day. The first response of the ticket, opened
at 08:00, is due at 09:00, so its 80% mark is 08:48.
"""

from datetime import datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from pytest_django.fixtures import Settings

from layanan.audit.models import Event
from layanan.catalog.models import Service, Team
from layanan.jobs.registry import default_registry
from layanan.mail.models import OutboundEmail
from layanan.mail.outbox import send_due
from layanan.people.models import Requester, RequesterKind
from layanan.tickets.models import (
    SlaNotice,
    SlaNoticeKind,
    SlaTarget,
    Ticket,
    TicketSource,
    TicketStatus,
)
from layanan.tickets.notices import send_sla_notices
from layanan.tickets.replies import add_public_reply
from layanan.tickets.services import NewTicket, open_ticket
from layanan.tickets.workflow import change_status
from smtp import SmtpSink, smtp_sink  # noqa: F401

JAKARTA = ZoneInfo("Asia/Jakarta")
REQUESTER_EMAIL = "budi@mail.example"
TEAM_EMAIL = "administrasi@helpdesk.example.com"


def wib(day: int, hour: int, minute: int = 0) -> datetime:
    """Return that time of July 2026 in WIB."""
    return datetime(2026, 7, day, hour, minute, tzinfo=JAKARTA)


class Clock:
    """The moment ``timezone.now()`` returns while a test runs."""

    def __init__(self) -> None:
        self.moment = wib(13, 8)

    def set(self, moment: datetime) -> None:
        self.moment = moment


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moved = Clock()
    monkeypatch.setattr(timezone, "now", lambda: moved.moment)
    return moved


@pytest.fixture(autouse=True)
def english(settings: Settings) -> None:
    """Send notices in English, the msgid language of these checks."""
    settings.LANGUAGE_CODE = "en"
    settings.MAIL_ADDRESS = "layanan@helpdesk.example.com"


@pytest.fixture
def team(admin_team: Team, second_agent_admin: User) -> Team:
    """Return Administrasi with its address and Dewi as its lead."""
    admin_team.email = TEAM_EMAIL
    admin_team.save()
    second_agent_admin.email = "dewi@helpdesk.example.com"
    second_agent_admin.save()
    admin_team.leads.add(second_agent_admin)
    return admin_team


@pytest.fixture
def sari(agent_admin: User) -> User:
    agent_admin.email = "sari@helpdesk.example.com"
    agent_admin.save()
    return agent_admin


@pytest.fixture
def head(supervisor: User) -> User:
    supervisor.email = "kajur@helpdesk.example.com"
    supervisor.save()
    return supervisor


@pytest.fixture
def service(admin_service: Service) -> Service:
    admin_service.first_response_minutes = 60
    admin_service.update_minutes = 60
    admin_service.resolution_minutes = 480
    admin_service.save()
    return admin_service


@pytest.fixture
def ticket(service: Service, team: Team, clock: Clock) -> Ticket:
    """Return Budi's ticket, opened on Monday at 08:00 and not assigned."""
    clock.set(wib(13, 8))
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
                service=service,
                source=TicketSource.EMAIL,
                language="id",
            )
        )


@pytest.fixture
def owned(ticket: Ticket, sari: User) -> Ticket:
    """Return the ticket assigned to Sari."""
    Ticket.objects.filter(pk=ticket.pk).update(assignee=sari)
    return Ticket.objects.get(pk=ticket.pk)


def notices_of(kind: str) -> list[OutboundEmail]:
    return list(OutboundEmail.objects.filter(kind=kind).order_by("pk"))


def text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def test_sla_job_runs_every_minute() -> None:
    job = default_registry._jobs["tickets.sla_notices"]

    assert job.every_seconds == 60
    assert job.function is send_sla_notices


# Warnings


def test_warning_not_sent_before_80_percent(owned: Ticket, clock: Clock) -> None:
    clock.set(wib(13, 8, 47))

    send_sla_notices()

    assert notices_of("sla_warning") == []


def test_warning_at_80_percent(owned: Ticket, clock: Clock) -> None:
    clock.set(wib(13, 8, 48))

    send_sla_notices()

    [warning] = notices_of("sla_warning")
    assert warning.to == ["sari@helpdesk.example.com"]
    assert warning.automatic is True


def test_warning_subject_names_target(owned: Ticket, clock: Clock) -> None:
    clock.set(wib(13, 8, 48))

    send_sla_notices()

    [warning] = notices_of("sla_warning")
    assert warning.subject == (
        f"[{owned.number}] First response due soon: Surat tugas seminar"
    )


def test_warning_text_names_due_time(owned: Ticket, clock: Clock) -> None:
    clock.set(wib(13, 8, 48))

    send_sla_notices()

    [warning] = notices_of("sla_warning")
    assert (
        f"Ticket {owned.number} has used 80% of its first response target, which "
        "is due at 13/07/2026 09:00 WIB."
    ) in warning.body_text


def test_warning_sent_once(owned: Ticket, clock: Clock) -> None:
    clock.set(wib(13, 8, 48))
    send_sla_notices()
    clock.set(wib(13, 8, 52))

    send_sla_notices()

    assert len(notices_of("sla_warning")) == 1
    assert SlaNotice.objects.filter(kind=SlaNoticeKind.WARNING).count() == 1


def test_warning_unassigned_to_team(ticket: Ticket, clock: Clock) -> None:
    clock.set(wib(13, 8, 48))

    send_sla_notices()

    [warning] = notices_of("sla_warning")
    assert warning.to == [TEAM_EMAIL]


def test_warning_records_audit_event(owned: Ticket, clock: Clock) -> None:
    clock.set(wib(13, 8, 48))

    send_sla_notices()

    event = Event.objects.get(subject_id=owned.number, action="sla_warning")
    assert event.data["target"] == "first_response"
    assert event.data["recipients"] == 1


def test_paused_ticket_not_warned(owned: Ticket, clock: Clock, sari: User) -> None:
    clock.set(wib(13, 8, 40))
    change_status(owned, TicketStatus.WAITING, actor=sari)
    clock.set(wib(13, 8, 55))

    send_sla_notices()

    assert notices_of("sla_warning") == []


def test_answered_ticket_not_warned(owned: Ticket, clock: Clock, sari: User) -> None:
    clock.set(wib(13, 8, 30))
    add_public_reply(owned, sari, "Sedang kami proses.", [])
    clock.set(wib(13, 8, 55))

    send_sla_notices()

    assert notices_of("sla_warning") == []


def test_moved_due_warned_again(owned: Ticket, clock: Clock, sari: User) -> None:
    clock.set(wib(13, 8, 50))
    send_sla_notices()
    change_status(owned, TicketStatus.WAITING, actor=sari)
    clock.set(wib(13, 10))
    change_status(owned, TicketStatus.IN_PROGRESS, actor=sari)
    clock.set(wib(13, 10, 2))

    send_sla_notices()

    due_moments = list(
        SlaNotice.objects.filter(
            target=SlaTarget.FIRST_RESPONSE, kind=SlaNoticeKind.WARNING
        ).values_list("due_at", flat=True)
    )
    assert due_moments == [wib(13, 9), wib(13, 10, 10)]


# Breaches


def test_breach_sent_to_leads_and_supervisors(
    owned: Ticket, clock: Clock, head: User
) -> None:
    clock.set(wib(13, 9))

    send_sla_notices()

    [breach] = notices_of("sla_breach")
    assert breach.to == ["dewi@helpdesk.example.com", "kajur@helpdesk.example.com"]


def test_breach_not_sent_to_other_team(
    owned: Ticket, clock: Clock, head: User, agent_ti: User
) -> None:
    agent_ti.email = "bayu@helpdesk.example.com"
    agent_ti.save()
    clock.set(wib(13, 9))

    send_sla_notices()

    [breach] = notices_of("sla_breach")
    assert "bayu@helpdesk.example.com" not in breach.to


def test_breach_sent_once(owned: Ticket, clock: Clock, head: User) -> None:
    clock.set(wib(13, 9))
    send_sla_notices()
    clock.set(wib(13, 9, 5))

    send_sla_notices()

    assert len(notices_of("sla_breach")) == 1


def test_late_run_sends_breach_only(owned: Ticket, clock: Clock, head: User) -> None:
    # The job did not run between 80% and the due moment, as on a stopped worker.
    clock.set(wib(13, 9, 30))

    send_sla_notices()

    assert notices_of("sla_warning") == []
    assert len(notices_of("sla_breach")) == 1


def test_breach_records_audit_event(owned: Ticket, clock: Clock, head: User) -> None:
    clock.set(wib(13, 9))

    send_sla_notices()

    event = Event.objects.get(subject_id=owned.number, action="sla_breach")
    assert event.data["due_at"] == "2026-07-13T02:00:00+00:00"
    assert event.data["recipients"] == 2


def test_breach_without_recipients_once(
    owned: Ticket, clock: Clock, team: Team
) -> None:
    team.leads.clear()
    clock.set(wib(13, 9))
    send_sla_notices()
    clock.set(wib(13, 9, 5))

    send_sla_notices()

    assert notices_of("sla_breach") == []
    assert SlaNotice.objects.filter(kind=SlaNoticeKind.BREACH).count() == 1


def test_resolution_breach_for_each_target(
    owned: Ticket, clock: Clock, sari: User, head: User
) -> None:
    clock.set(wib(13, 8, 10))
    add_public_reply(owned, sari, "Sedang kami proses.", [])
    # 480 business minutes from Monday 08:00 end at 16:00 on Monday.
    clock.set(wib(13, 16))

    send_sla_notices()

    [notice] = SlaNotice.objects.filter(kind=SlaNoticeKind.BREACH)
    assert notice.target == SlaTarget.RESOLUTION


def test_stale_breach_not_mailed(owned: Ticket, clock: Clock, head: User) -> None:
    # First response was due on Monday at 09:00 and resolution at 16:00. The
    # first run after a worker stopped since Monday is on Wednesday morning.
    clock.set(wib(15, 9))

    send_sla_notices()

    assert notices_of("sla_breach") == []


def test_stale_breach_rows_recorded(owned: Ticket, clock: Clock, head: User) -> None:
    clock.set(wib(15, 9))

    send_sla_notices()

    rows = SlaNotice.objects.filter(kind=SlaNoticeKind.BREACH).order_by("due_at")
    assert [row.due_at for row in rows] == [wib(13, 9), wib(13, 16)]


def test_stale_breach_never_sent_later(owned: Ticket, clock: Clock, head: User) -> None:
    clock.set(wib(15, 9))
    send_sla_notices()
    clock.set(wib(15, 9, 1))

    send_sla_notices()

    assert notices_of("sla_breach") == []


def test_breach_within_a_day_mailed(owned: Ticket, clock: Clock, head: User) -> None:
    # Tuesday 08:59 is 23 h 59 min after the first response was due.
    clock.set(wib(14, 8, 59))

    send_sla_notices()

    subjects = [row.subject for row in notices_of("sla_breach")]
    assert any("First response overdue" in subject for subject in subjects)


def test_only_stale_breach_skipped(owned: Ticket, clock: Clock, head: User) -> None:
    # Tuesday 09:01: the first response is a day late, the resolution is not.
    clock.set(wib(14, 9, 1))

    send_sla_notices()

    [breach] = notices_of("sla_breach")
    assert "Resolution overdue" in breach.subject


# Delivery


def test_notices_delivered_through_smtp(
    owned: Ticket,
    clock: Clock,
    head: User,
    smtp_sink: SmtpSink,  # noqa: F811
) -> None:
    clock.set(wib(13, 8, 48))
    send_sla_notices()
    clock.set(wib(13, 9))
    send_sla_notices()

    send_due(now=timezone.now())

    messages = smtp_sink.wait_for(2)
    by_subject = {str(message["Subject"]): message for message in messages}
    warning = by_subject[
        f"[{owned.number}] First response due soon: Surat tugas seminar"
    ]
    breach = by_subject[f"[{owned.number}] First response overdue: Surat tugas seminar"]
    assert warning["To"] == "sari@helpdesk.example.com"
    assert warning["Auto-Submitted"] == "auto-generated"
    assert f"/console/tickets/{owned.number}/" in text_part(warning)
    assert "which is due at 13/07/2026 09:00 WIB" in html_part(warning)
    assert breach["To"] == "dewi@helpdesk.example.com, kajur@helpdesk.example.com"
    assert (
        f"Ticket {owned.number} of the Administrasi team missed its first response "
        "target, which was due at 13/07/2026 09:00 WIB."
    ) in text_part(breach)
    assert "missed its first response target" in html_part(breach)
