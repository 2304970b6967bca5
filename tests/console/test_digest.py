"""The weekly digest: its figures, ``send-digest`` and the weekly job.

The hand-built history covers the week of Monday 2026-11-23 to Sunday
2026-11-29 (WIB); the digest is due on Monday 2026-11-30 at 07:00 WIB. The
service "surat-tugas" has a first-response target of 240 and a resolution target
of 2,400 business minutes.

ticket  created (WIB)  first resp.  resolution  state        in the figures
T1      Mon 23 09:00      30 min      600 min   resolved     both met, rated 5
T2      Tue 24 10:00     300 min     1000 min   resolved     late response, rated 3
T3      Wed 25 08:00      60 min            -   in progress  due Fri 27: breached
T4      Fri 20 (before)   90 min     2500 min   resolved 23  late resolution
T5      Tue 10 (before)        -            -   open         due 10th: breached
T6      Fri 27 09:00           -            -   open         due Mon 30 10:00

Volume 4 (T1, T2, T3, T6). Median first response of 30, 60, 300: 60 min.
Median resolution of 600, 1000, 2500 (resolved in the week): 1000 min = 16 h 40 min.
SLA: T1 of T1, T2, T4 met both targets, so 1 of 3 (33%). Chats: C1 accepted and
rated 4, C2 and C3 missed, C4 the week before. Ratings 5, 3 and 4: 4.0 from 3.
Backlog now: T3, T5, T6.
"""

import io
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from pytest_django.fixtures import Settings

from layanan.audit.models import Event
from layanan.catalog.models import Service
from layanan.chat.models import Conversation, ConversationStatus, EndedBy
from layanan.console.digest import (
    DIGEST_KIND,
    SKIPPED_ACTION,
    compute_figures,
    format_minutes,
    median,
    scheduled_moment,
    send_weekly_digest,
    week_before,
)
from layanan.jobs.registry import default_registry
from layanan.mail.models import OutboundEmail
from layanan.mail.outbox import send_due
from layanan.people.models import Requester, RequesterKind
from layanan.tickets.models import Ticket, TicketSource, TicketStatus
from smtp import SmtpSink, smtp_sink  # noqa: F401

pytestmark = pytest.mark.django_db

WIB = ZoneInfo("Asia/Jakarta")
DUE = datetime(2026, 11, 30, 7, 0, tzinfo=WIB)
AFTER_DUE = DUE + timedelta(minutes=5)


def wib(day: int, hour: int = 9, minute: int = 0) -> datetime:
    """Return 2026-11-<day> at hour:minute WIB (days below 1 reach October)."""
    return datetime(2026, 11, 1, hour, minute, tzinfo=WIB) + timedelta(days=day - 1)


@pytest.fixture
def requester(db: None) -> Requester:
    return Requester.objects.create(
        identifier="2275301001",
        kind=RequesterKind.STUDENT,
        name="Budi Santoso",
        email="budi@mail.example",
    )


def make_ticket(
    number: str, service: Service, requester: Requester, **fields: Any
) -> Ticket:
    created = fields.pop("created")
    ticket = Ticket.objects.create(
        number=number,
        subject=f"Subject {number}",
        requester=requester,
        requester_email=requester.email,
        service=service,
        team=service.team,
        source=TicketSource.EMAIL,
        **fields,
    )
    # created is set on insert, so the hand-built moment is written afterwards.
    Ticket.objects.filter(pk=ticket.pk).update(created=created)
    return ticket


def make_chat(
    service: Service, requester: Requester, created: datetime, **fields: Any
) -> Conversation:
    conversation = Conversation.objects.create(
        token_hash=f"{Conversation.objects.count():064d}",
        requester=requester,
        requester_name=requester.name,
        requester_email=requester.email,
        service=service,
        team=service.team,
        topic="Surat tugas",
        status=ConversationStatus.ENDED,
        last_activity_at=created,
        **fields,
    )
    Conversation.objects.filter(pk=conversation.pk).update(created=created)
    return conversation


@pytest.fixture
def history(admin_service: Service, requester: Requester) -> None:
    """Build the history in the module docstring."""
    service = admin_service
    assert service.first_response_minutes == 240
    assert service.resolution_minutes == 2400
    closed = {"status": TicketStatus.RESOLVED}

    make_ticket(
        "EKB-2026-000001", service, requester, created=wib(23), **closed,
        first_response_at=wib(23, 9, 30), first_response_minutes=30,
        resolved_at=wib(24, 10), resolution_minutes=600, rating=5,
        rated_at=wib(24, 12),
    )  # fmt: skip
    make_ticket(
        "EKB-2026-000002", service, requester, created=wib(24, 10), **closed,
        first_response_at=wib(25, 8), first_response_minutes=300,
        resolved_at=wib(26, 10), resolution_minutes=1000, rating=3,
        rated_at=wib(26, 11),
    )  # fmt: skip
    make_ticket(
        "EKB-2026-000003", service, requester, created=wib(25, 8),
        status=TicketStatus.IN_PROGRESS, first_response_at=wib(25, 9),
        first_response_minutes=60, resolution_due_at=wib(27, 15),
    )  # fmt: skip
    make_ticket(
        "EKB-2026-000004", service, requester, created=wib(20), **closed,
        first_response_at=wib(20, 10, 30), first_response_minutes=90,
        resolved_at=wib(23, 15), resolution_minutes=2500,
    )  # fmt: skip
    make_ticket(
        "EKB-2026-000005", service, requester, created=wib(10),
        status=TicketStatus.OPEN, first_response_due_at=wib(10, 13),
        resolution_due_at=wib(17, 13),
    )  # fmt: skip
    make_ticket(
        "EKB-2026-000006", service, requester, created=wib(27),
        status=TicketStatus.OPEN, first_response_due_at=wib(30, 10),
        resolution_due_at=wib(37, 10),
    )  # fmt: skip

    make_chat(
        service, requester, wib(24, 10), accepted_at=wib(24, 10, 1),
        ended_at=wib(24, 10, 20), ended_by=EndedBy.AGENT, rating=4,
    )  # fmt: skip
    make_chat(
        service, requester, wib(25, 11), ended_at=wib(25, 11, 5),
        ended_by=EndedBy.WAIT_LIMIT,
    )  # fmt: skip
    make_chat(
        service, requester, wib(28, 19), ended_at=wib(28, 19, 2),
        ended_by=EndedBy.REQUESTER,
    )  # fmt: skip
    make_chat(
        service, requester, wib(19, 19), ended_at=wib(19, 19, 2),
        ended_by=EndedBy.REQUESTER,
    )  # fmt: skip


@pytest.fixture
def head(supervisor: User) -> User:
    """Return the head of department, with an email address."""
    supervisor.email = "kajur@jurusan.example"
    supervisor.save(update_fields=["email"])
    return supervisor


@pytest.fixture
def english(settings: Settings) -> None:
    settings.LANGUAGE_CODE = "en"


# The week and the schedule


def test_week_before_monday_morning() -> None:
    start, end = week_before(DUE)
    assert start == wib(23, 0)
    assert end == wib(30, 0)


def test_week_before_sunday_night() -> None:
    start, _end = week_before(wib(29, 23, 59))
    assert start == wib(16, 0)


def test_scheduled_moment_default_monday_seven() -> None:
    assert scheduled_moment(wib(2, 12)) == DUE - timedelta(days=28)
    assert scheduled_moment(wib(30, 12)) == DUE


def test_scheduled_moment_follows_setting(settings: Settings) -> None:
    settings.DIGEST_WEEKDAY = 1
    settings.DIGEST_TIME = (8, 30)
    assert scheduled_moment(wib(30, 6)) == wib(31, 8, 30)


def digest_settings(tmp_path: Path, schedule: str) -> subprocess.CompletedProcess[str]:
    """Print DIGEST_WEEKDAY and DIGEST_TIME as a fresh interpreter reads them."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("LAYANAN_")
    }
    environment.update(LAYANAN_VAR_DIR=str(tmp_path), LAYANAN_DIGEST_SCHEDULE=schedule)
    return subprocess.run(
        [
            sys.executable, "-c",
            "from layanan import settings; "
            "print(settings.DIGEST_WEEKDAY, settings.DIGEST_TIME)",
        ],
        env=environment, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_digest_schedule_setting_parsed(tmp_path: Path) -> None:
    result = digest_settings(tmp_path, "tue 08:30")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1 (8, 30)"


def test_digest_schedule_setting_invalid_rejected(tmp_path: Path) -> None:
    result = digest_settings(tmp_path, "Monday 7am")
    assert result.returncode != 0
    assert "LAYANAN_DIGEST_SCHEDULE='Monday 7am' is invalid" in result.stderr
    assert "such as MON 07:00" in result.stderr


# Figures


def test_median_nearest_rank_odd() -> None:
    assert median([300, 30, 60]) == 60


def test_median_nearest_rank_even_takes_lower() -> None:
    assert median([10, 40, 20, 30]) == 20


def test_median_of_nothing_is_none() -> None:
    assert median([]) is None


def test_format_minutes_hours(english: None) -> None:
    assert format_minutes(1000) == "16 h 40 min"


def test_format_minutes_under_an_hour(english: None) -> None:
    assert format_minutes(45.4) == "45 min"


def test_compute_figures_volumes(history: None) -> None:
    figures = compute_figures(DUE)
    assert figures.tickets == 4
    assert figures.chats == 3
    assert figures.missed_chats == 2


def test_compute_figures_medians(history: None) -> None:
    figures = compute_figures(DUE)
    assert figures.median_first_response_minutes == 60
    assert figures.median_resolution_minutes == 1000


def test_compute_figures_sla(history: None) -> None:
    figures = compute_figures(DUE)
    assert figures.sla_met == 1
    assert figures.sla_total == 3


def test_compute_figures_rating(history: None) -> None:
    figures = compute_figures(DUE)
    assert figures.rating_average == 4.0
    assert figures.rating_count == 3


def test_compute_figures_backlog(history: None) -> None:
    figures = compute_figures(DUE)
    assert figures.backlog == 3
    assert [line.number for line in figures.breached] == [
        "EKB-2026-000005",
        "EKB-2026-000003",
    ]
    assert [line.number for line in figures.oldest] == [
        "EKB-2026-000005",
        "EKB-2026-000003",
        "EKB-2026-000006",
    ]


# send-digest


def test_send_digest_dry_run_text(history: None, english: None) -> None:
    output = io.StringIO()
    call_command(
        "send-digest", "--dry-run", "--now=2026-11-30T07:00+07:00", stdout=output
    )
    text = output.getvalue()
    lines = text.splitlines()
    assert lines[0] == "Subject: Weekly digest 2026-W48: service desk figures"
    assert "Service desk figures for 2026-11-23 to 2026-11-29." in lines
    assert "Tickets created: 4" in lines
    assert "Chats started: 3" in lines
    assert "Median first response (business hours): 1 h 00 min" in lines
    assert "Median resolution (business hours): 16 h 40 min" in lines
    assert "SLA compliance: 33% (1 of 3 resolved tickets met their targets)" in lines
    assert "Missed chats: 2" in lines
    assert "Average rating: 4.0 (3 ratings)" in lines
    assert "Backlog (open tickets now): 3" in lines
    assert (
        "- EKB-2026-000005 Subject EKB-2026-000005 (Open, due 2026-11-10 13:00)"
        in lines
    )
    assert (
        "- EKB-2026-000003 Subject EKB-2026-000003 (In progress, due 2026-11-27 "
        "15:00)" in lines
    )
    assert (
        "- EKB-2026-000006 Subject EKB-2026-000006 (Open, since 2026-11-27 09:00)"
        in lines
    )


def test_send_digest_dry_run_queues_nothing(history: None, head: User) -> None:
    call_command("send-digest", "--dry-run", stdout=io.StringIO())
    assert not OutboundEmail.objects.exists()


def test_send_digest_queues_for_supervisors(history: None, head: User) -> None:
    call_command("send-digest", "--now=2026-11-30T07:00+07:00", stdout=io.StringIO())
    row = OutboundEmail.objects.get(kind=DIGEST_KIND)
    assert row.to == ["kajur@jurusan.example"]
    assert row.reference == "digest:2026-W48"


def test_send_digest_without_supervisor_email_rejected(
    history: None, supervisor: User
) -> None:
    with pytest.raises(CommandError, match="No supervisor has an email address"):
        call_command("send-digest", stdout=io.StringIO())


def test_send_digest_naive_now_rejected(history: None) -> None:
    with pytest.raises(CommandError, match="has no UTC offset"):
        call_command("send-digest", "--dry-run", "--now=2026-11-30T07:00")


# The weekly job


def test_weekly_digest_job_registered() -> None:
    assert "reports.weekly_digest" in default_registry.names()


def test_weekly_digest_not_before_schedule(history: None, head: User) -> None:
    assert not send_weekly_digest(DUE - timedelta(minutes=1))
    assert not OutboundEmail.objects.exists()


def test_weekly_digest_sent_once_through_smtp(
    history: None,
    head: User,
    english: None,
    smtp_sink: SmtpSink,  # noqa: F811
) -> None:
    assert send_weekly_digest(AFTER_DUE)
    assert send_due() == 1
    messages = smtp_sink.wait_for(1)
    assert messages[0]["To"] == "kajur@jurusan.example"
    assert messages[0]["Subject"] == "Weekly digest 2026-W48: service desk figures"
    text = messages[0].get_body(preferencelist=("plain",))
    html = messages[0].get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert "Tickets created: 4" in text.get_content()
    assert "EKB-2026-000005" in html.get_content()
    # A restarted worker checks again later the same week: nothing more is sent.
    assert not send_weekly_digest(AFTER_DUE + timedelta(hours=3))
    assert not send_weekly_digest(DUE + timedelta(days=6))
    assert send_due() == 0
    assert len(smtp_sink.deliveries) == 1


def test_weekly_digest_next_week_sent_again(history: None, head: User) -> None:
    assert send_weekly_digest(AFTER_DUE)
    assert send_weekly_digest(AFTER_DUE + timedelta(days=7))
    references = set(
        OutboundEmail.objects.filter(kind=DIGEST_KIND).values_list(
            "reference", flat=True
        )
    )
    assert references == {"digest:2026-W48", "digest:2026-W49"}


def test_weekly_digest_without_recipients_skipped(
    history: None, supervisor: User
) -> None:
    assert not send_weekly_digest(AFTER_DUE)
    assert not OutboundEmail.objects.exists()


# Weeks before any data


def test_weekly_digest_empty_install_skipped(head: User) -> None:
    assert not send_weekly_digest(AFTER_DUE)
    assert not OutboundEmail.objects.exists()


def test_weekly_digest_empty_week_recorded_skipped(head: User) -> None:
    send_weekly_digest(AFTER_DUE)
    events = Event.objects.filter(subject_type="digest", subject_id="2026-W48")
    assert [event.action for event in events] == [SKIPPED_ACTION]


def test_weekly_digest_data_after_week_skipped(
    head: User, admin_service: Service, requester: Requester
) -> None:
    make_ticket("EKB-2026-000007", admin_service, requester, created=wib(30, 8))
    make_chat(admin_service, requester, wib(30, 8))
    assert not send_weekly_digest(AFTER_DUE)
    assert not OutboundEmail.objects.exists()


def test_weekly_digest_skipped_week_not_retried(
    head: User, admin_service: Service, requester: Requester
) -> None:
    assert not send_weekly_digest(AFTER_DUE)
    # Data that appears later dated inside the week, as an import would, does not
    # bring the skipped week back.
    make_ticket("EKB-2026-000008", admin_service, requester, created=wib(24))
    assert not send_weekly_digest(AFTER_DUE + timedelta(hours=1))
    assert not OutboundEmail.objects.exists()


def test_weekly_digest_chat_only_sent(
    head: User, admin_service: Service, requester: Requester
) -> None:
    make_chat(admin_service, requester, wib(24))
    assert send_weekly_digest(AFTER_DUE)


def test_weekly_digest_week_after_skip_sent(
    head: User, admin_service: Service, requester: Requester
) -> None:
    assert not send_weekly_digest(AFTER_DUE)
    make_ticket("EKB-2026-000009", admin_service, requester, created=wib(30, 8))
    assert send_weekly_digest(AFTER_DUE + timedelta(days=7))
