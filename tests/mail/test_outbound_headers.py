"""Outbound threading headers and the loop guard, against a real SMTP server.

The cast: Dr. Sri Wahyuni, a lecturer who asked the Administrasi team for a letter;
Dewi Anggraini, her colleague in CC; Sari, the Administrasi agent who replies; the
team's own mailbox, which gets the new-ticket notification.
"""

import logging
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from pytest_django.fixtures import Settings

from layanan.catalog.models import Service
from layanan.mail.models import (
    AutomaticMailRecipient,
    InboundEmail,
    InboundOutcome,
    OutboundEmail,
)
from layanan.mail.outbox import build_message, queue_email, send_due
from layanan.mail.threading import (
    MAX_REFERENCES,
    may_send_automatic,
    reply_address,
    thread_ids_for,
    token_from_address,
)
from layanan.people.models import Requester, RequesterKind
from layanan.tickets.models import (
    ParticipantRole,
    Ticket,
    TicketParticipant,
    TicketSource,
)
from layanan.tickets.replies import add_public_reply
from layanan.tickets.services import NewTicket, open_ticket
from smtp import SmtpSink, smtp_sink  # noqa: F401

pytestmark = pytest.mark.django_db

MAIL_ADDRESS = "layanan@helpdesk.example.com"
REQUESTER_NAME = "Dr. Sri Wahyuni, S.E."
REQUESTER_EMAIL = "sri.wahyuni@dosen.example.test"
CC_NAME = "Dewi Anggraini 🙏"
CC_EMAIL = "dewi.anggraini@dosen.example.test"
TEAM_EMAIL = "administrasi@jurusan.example"
INJECTION = "x\r\nBcc: evil@example.net"
PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
PDF_NAME = "Surat tugas \u2013 Sri Wahyuni.pdf"
PNG_PATH = (
    Path(__file__).parent.parent / "chat" / "data" / "uploads" / "bukti_transfer.png"
)


@pytest.fixture(autouse=True)
def mail_settings(settings: Settings, tmp_path: Path) -> None:
    settings.MAIL_ADDRESS = MAIL_ADDRESS
    settings.MAIL_FROM = f"Layanan Jurusan <{MAIL_ADDRESS}>"
    settings.UPLOAD_ROOT = tmp_path / "uploads"
    settings.AUTO_MAIL_LIMIT = 10
    settings.AUTO_MAIL_WINDOW_HOURS = 3


def new_ticket(
    service: Service,
    *,
    name: str = REQUESTER_NAME,
    email: str = REQUESTER_EMAIL,
    subject: str = "Surat tugas seminar nasional",
    **options: object,
) -> Ticket:
    """Open a ticket for a lecturer through the ticket service."""
    requester, _created = Requester.objects.get_or_create(
        email=email,
        defaults={"identifier": None, "kind": RequesterKind.STAFF, "name": name},
    )
    with transaction.atomic():
        return open_ticket(
            NewTicket(
                subject=subject,
                requester=requester,
                email=email,
                service=service,
                source=TicketSource.EMAIL,
                language="id",
                **options,  # type: ignore[arg-type]
            )
        )


def add_cc(ticket: Ticket, name: str = CC_NAME, email: str = CC_EMAIL) -> None:
    TicketParticipant.objects.create(
        ticket=ticket, email=email, name=name, role=ParticipantRole.CC
    )


def reply(
    ticket: Ticket,
    agent: User,
    body: str = "Surat tugas Ibu sudah kami siapkan.",
    files: list[SimpleUploadedFile] | None = None,
) -> OutboundEmail:
    """Post a public reply and return its outbound email."""
    entry = add_public_reply(ticket, agent, body, files or [])
    return OutboundEmail.objects.get(message_id=entry.message_id)


def deliver(sink: SmtpSink, rows: list[OutboundEmail]) -> dict[str, EmailMessage]:
    """Send everything due and return the received messages by Message-ID."""
    send_due()
    received = sink.wait_for(OutboundEmail.objects.count())
    by_id = {str(message["Message-ID"]): message for message in received}
    return {row.message_id: by_id[row.message_id] for row in rows}


def acknowledgement(ticket: Ticket) -> OutboundEmail:
    return OutboundEmail.objects.get(
        reference=f"ticket:{ticket.number}", kind="ticket_created_requester"
    )


def part(message: EmailMessage, content_type: str) -> str:
    found = message.get_body(preferencelist=(content_type.split("/")[1],))
    assert found is not None, f"no {content_type} part"
    # Parts sent as 8bit keep the CRLF line ends of the SMTP transfer.
    return str(found.get_content()).replace("\r\n", "\n")


# Message-ID and threading


def test_acknowledgement_sends_stored_message_id(
    smtp_sink: SmtpSink,  # noqa: F811
    admin_service: Service,
) -> None:
    ticket = new_ticket(admin_service)
    row = acknowledgement(ticket)
    sent = deliver(smtp_sink, [row])
    assert sent[row.message_id]["Message-ID"] == row.message_id


def test_reply_in_reply_to_is_acknowledgement(
    smtp_sink: SmtpSink,  # noqa: F811
    admin_service: Service,
    agent_admin: User,
) -> None:
    ticket = new_ticket(admin_service)
    first = acknowledgement(ticket)
    second = reply(ticket, agent_admin)
    sent = deliver(smtp_sink, [second])
    assert sent[second.message_id]["In-Reply-To"] == first.message_id


def test_reply_references_contain_acknowledgement(
    smtp_sink: SmtpSink,  # noqa: F811
    admin_service: Service,
    agent_admin: User,
) -> None:
    ticket = new_ticket(admin_service)
    first = acknowledgement(ticket)
    second = reply(ticket, agent_admin)
    sent = deliver(smtp_sink, [second])
    assert first.message_id in str(sent[second.message_id]["References"]).split()


def test_reply_thread_leaves_out_team_notification(
    admin_service: Service, agent_admin: User
) -> None:
    ticket = new_ticket(admin_service)
    team_mail = OutboundEmail.objects.get(kind="ticket_created_team")
    second = reply(ticket, agent_admin)
    assert team_mail.message_id not in second.references


def test_third_mail_threads_to_second(
    admin_service: Service, agent_admin: User
) -> None:
    ticket = new_ticket(admin_service)
    first = acknowledgement(ticket)
    second = reply(ticket, agent_admin)
    third = reply(ticket, agent_admin, body="Suratnya sudah ditandatangani.")
    assert (third.in_reply_to, third.references.split()) == (
        second.message_id,
        [first.message_id, second.message_id],
    )


def test_thread_ids_include_inbound_mail_in_time_order(
    admin_service: Service, agent_admin: User
) -> None:
    ticket = new_ticket(admin_service)
    first = acknowledgement(ticket)
    InboundEmail.objects.create(
        sha256="a" * 64,
        size=100,
        message_id="<balasan-sri@dosen.example.test>",
        via="imap",
        outcome=InboundOutcome.REPLY,
        ticket_number=ticket.number,
    )
    assert thread_ids_for(
        f"ticket:{ticket.number}", exclude_kinds={"ticket_created_team"}
    ) == (
        "<balasan-sri@dosen.example.test>",
        [first.message_id, "<balasan-sri@dosen.example.test>"],
    )


def test_thread_ids_skip_inbound_auto_replies(admin_service: Service) -> None:
    ticket = new_ticket(admin_service)
    InboundEmail.objects.create(
        sha256="b" * 64,
        size=100,
        message_id="<cuti@dosen.example.test>",
        via="imap",
        outcome=InboundOutcome.AUTO_REPLY,
        ticket_number=ticket.number,
    )
    _in_reply_to, references = thread_ids_for(f"ticket:{ticket.number}")
    assert "<cuti@dosen.example.test>" not in references


def test_thread_ids_empty_without_mail(db: None) -> None:
    assert thread_ids_for("ticket:EKB-2026-999999") == ("", [])


def test_references_keep_first_and_latest(
    admin_service: Service, agent_admin: User
) -> None:
    ticket = new_ticket(admin_service)
    first = acknowledgement(ticket)
    rows = [reply(ticket, agent_admin, body=f"Balasan {n}") for n in range(25)]
    references = rows[-1].references.split()
    assert len(references) == MAX_REFERENCES
    assert references[0] == first.message_id
    assert references[-1] == rows[-2].message_id


def queue_threaded(in_reply_to: str, references: list[str]) -> OutboundEmail:
    row = queue_email(
        kind="test_reply",
        reference="ticket:EKB-2026-000001",
        to=[REQUESTER_EMAIL],
        template="ticket_reply",
        context={"ticket": {"number": "EKB-2026-000001", "subject": "Uji"}},
        language="id",
        in_reply_to=in_reply_to,
        references=references,
    )
    assert row is not None
    return row


def test_queue_email_drops_invalid_in_reply_to(
    db: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="layanan.mail.outbox"):
        row = queue_threaded("<a b@dosen.example.test>", [])
    assert row.in_reply_to == ""
    assert "Left out 1 invalid Message-IDs" in caplog.text


def test_queue_email_drops_invalid_references(db: None) -> None:
    row = queue_threaded(
        "<b@dosen.example.test>",
        [
            "<a@dosen.example.test>",
            "<x\r\nBcc: evil@example.net>",
            "<b@dosen.example.test>",
        ],
    )
    assert row.references.split() == [
        "<a@dosen.example.test>",
        "<b@dosen.example.test>",
    ]


def test_build_message_emits_thread_headers(db: None) -> None:
    row = queue_threaded(
        "<b@dosen.example.test>", ["<a@dosen.example.test>", "<b@dosen.example.test>"]
    )
    rendered = build_message(row).message().as_string()
    assert "In-Reply-To: <b@dosen.example.test>" in rendered
    assert "References: <a@dosen.example.test> <b@dosen.example.test>" in rendered


def test_acknowledgement_answers_opening_mail(admin_service: Service) -> None:
    ticket = new_ticket(
        admin_service, acknowledge_in_reply_to="<permintaan@dosen.example.test>"
    )
    row = acknowledgement(ticket)
    assert row.in_reply_to == "<permintaan@dosen.example.test>"
    assert row.references.split() == ["<permintaan@dosen.example.test>"]


def test_acknowledge_false_sends_team_only(admin_service: Service) -> None:
    new_ticket(admin_service, acknowledge=False)
    assert list(OutboundEmail.objects.values_list("kind", flat=True)) == [
        "ticket_created_team"
    ]


def test_open_ticket_records_requester_participant(admin_service: Service) -> None:
    ticket = new_ticket(admin_service)
    participants = list(ticket.participants.values_list("email", "name", "role"))
    assert participants == [
        (REQUESTER_EMAIL, REQUESTER_NAME, ParticipantRole.REQUESTER)
    ]


def test_acknowledgement_subject_keeps_ticket_number(admin_service: Service) -> None:
    ticket = new_ticket(admin_service)
    assert acknowledgement(ticket).subject == (
        f"[{ticket.number}] Surat tugas seminar nasional"
    )


# Reply-To and the reply token


def test_acknowledgement_reply_to_carries_token(
    smtp_sink: SmtpSink,  # noqa: F811
    admin_service: Service,
) -> None:
    ticket = new_ticket(admin_service)
    row = acknowledgement(ticket)
    sent = deliver(smtp_sink, [row])
    assert sent[row.message_id]["Reply-To"] == (
        f"layanan+t.{ticket.reply_token}@helpdesk.example.com"
    )


def test_token_from_address_reads_sent_reply_to(
    smtp_sink: SmtpSink,  # noqa: F811
    admin_service: Service,
) -> None:
    ticket = new_ticket(admin_service)
    row = acknowledgement(ticket)
    sent = deliver(smtp_sink, [row])
    assert token_from_address(str(sent[row.message_id]["Reply-To"])) == (
        ticket.reply_token
    )


def test_reply_sends_reply_to_with_token(
    smtp_sink: SmtpSink,  # noqa: F811
    admin_service: Service,
    agent_admin: User,
) -> None:
    ticket = new_ticket(admin_service)
    row = reply(ticket, agent_admin)
    sent = deliver(smtp_sink, [row])
    assert token_from_address(str(sent[row.message_id]["Reply-To"])) == (
        ticket.reply_token
    )


def test_reply_address_is_plus_address() -> None:
    assert reply_address("Ab_c-9") == "layanan+t.Ab_c-9@helpdesk.example.com"


@pytest.mark.parametrize(
    ("address", "token"),
    [
        ("layanan+t.Ab_c-9@helpdesk.example.com", "Ab_c-9"),
        ("LAYANAN+T.Ab_c-9@HelpDesk.Example.com", "Ab_c-9"),
        ("Layanan <layanan+t.Ab_c-9@helpdesk.example.com>", "Ab_c-9"),
        ("layanan+arsip+t.Ab_c-9@helpdesk.example.com", "Ab_c-9"),
        ("layanan+t.Ab_c-9+arsip@helpdesk.example.com", "Ab_c-9"),
        ("layanan@helpdesk.example.com", None),
        ("layanan+arsip@helpdesk.example.com", None),
        ("layanan+t.@helpdesk.example.com", None),
        ("layanan+t.Ab/c@helpdesk.example.com", None),
        ("layanan+t.Ab_c-9@other.example.com", None),
        ("lain+t.Ab_c-9@helpdesk.example.com", None),
        ("not an address", None),
    ],
    ids=[
        "plain",
        "upper-case",
        "display-name",
        "tag-before",
        "tag-after",
        "no-tag",
        "other-tag",
        "empty-token",
        "bad-character",
        "other-domain",
        "other-mailbox",
        "garbage",
    ],
)
def test_token_from_address(address: str, token: str | None) -> None:
    assert token_from_address(address) == token


# Auto-Submitted


def test_acknowledgement_is_auto_submitted(
    smtp_sink: SmtpSink,  # noqa: F811
    admin_service: Service,
) -> None:
    row = acknowledgement(new_ticket(admin_service))
    message = deliver(smtp_sink, [row])[row.message_id]
    assert (message["Auto-Submitted"], message["X-Auto-Response-Suppress"]) == (
        "auto-generated",
        "All",
    )


def test_team_notification_is_auto_submitted(
    smtp_sink: SmtpSink,  # noqa: F811
    admin_service: Service,
) -> None:
    new_ticket(admin_service)
    row = OutboundEmail.objects.get(kind="ticket_created_team")
    message = deliver(smtp_sink, [row])[row.message_id]
    assert message["Auto-Submitted"] == "auto-generated"


def test_reply_is_not_auto_submitted(
    smtp_sink: SmtpSink,  # noqa: F811
    admin_service: Service,
    agent_admin: User,
) -> None:
    row = reply(new_ticket(admin_service), agent_admin)
    message = deliver(smtp_sink, [row])[row.message_id]
    assert message["Auto-Submitted"] is None
    assert message["X-Auto-Response-Suppress"] is None


# Names, subjects and header injection


def test_reply_encodes_requester_name(
    smtp_sink: SmtpSink,  # noqa: F811
    admin_service: Service,
    agent_admin: User,
) -> None:
    row = reply(new_ticket(admin_service), agent_admin)
    message = deliver(smtp_sink, [row])[row.message_id]
    (address,) = message["To"].addresses
    assert (address.display_name, address.addr_spec) == (
        REQUESTER_NAME,
        REQUESTER_EMAIL,
    )


def test_reply_encodes_cc_name_with_emoji(
    smtp_sink: SmtpSink,  # noqa: F811
    admin_service: Service,
    agent_admin: User,
) -> None:
    ticket = new_ticket(admin_service)
    add_cc(ticket)
    row = reply(ticket, agent_admin)
    message = deliver(smtp_sink, [row])[row.message_id]
    (address,) = message["Cc"].addresses
    assert (address.display_name, address.addr_spec) == (CC_NAME, CC_EMAIL)


def test_reply_header_block_is_ascii(
    smtp_sink: SmtpSink,  # noqa: F811
    admin_service: Service,
    agent_admin: User,
) -> None:
    ticket = new_ticket(admin_service, subject="Surat tugas ✉️ seminar")
    add_cc(ticket)
    row = reply(ticket, agent_admin)
    deliver(smtp_sink, [row])
    delivery = next(
        item
        for item in smtp_sink.deliveries
        if item.message["Message-ID"] == row.message_id
    )
    assert delivery.content.split(b"\r\n\r\n", 1)[0].isascii()


def test_reply_subject_decodes(
    smtp_sink: SmtpSink,  # noqa: F811
    admin_service: Service,
    agent_admin: User,
) -> None:
    ticket = new_ticket(admin_service, subject="Surat tugas ✉️ seminar")
    row = reply(ticket, agent_admin)
    message = deliver(smtp_sink, [row])[row.message_id]
    assert str(message["Subject"]).strip() == (
        f"Re: [{ticket.number}] Surat tugas ✉️ seminar"
    )


def test_injected_subject_and_name_add_no_recipient(
    smtp_sink: SmtpSink,  # noqa: F811
    admin_service: Service,
    agent_admin: User,
) -> None:
    ticket = new_ticket(admin_service, name=INJECTION, subject=INJECTION)
    add_cc(ticket, name=INJECTION)
    row = reply(ticket, agent_admin)
    deliver(smtp_sink, [row])
    recipients = {
        address for delivery in smtp_sink.deliveries for address in delivery.rcpt_tos
    }
    assert recipients == {REQUESTER_EMAIL, CC_EMAIL, TEAM_EMAIL}


def test_injected_subject_and_name_add_no_header(
    smtp_sink: SmtpSink,  # noqa: F811
    admin_service: Service,
    agent_admin: User,
) -> None:
    ticket = new_ticket(admin_service, name=INJECTION, subject=INJECTION)
    add_cc(ticket, name=INJECTION)
    reply(ticket, agent_admin)
    send_due()
    smtp_sink.wait_for(3)
    for delivery in smtp_sink.deliveries:
        header_lines = delivery.content.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        assert not any(line.lower().startswith(b"bcc:") for line in header_lines)
        assert delivery.message["Bcc"] is None


# Parts and attachments


def test_reply_has_text_and_html_parts(
    smtp_sink: SmtpSink,  # noqa: F811
    admin_service: Service,
    agent_admin: User,
) -> None:
    row = reply(new_ticket(admin_service), agent_admin, body="Baris satu\nBaris dua")
    message = deliver(smtp_sink, [row])[row.message_id]
    assert "Baris satu\nBaris dua" in part(message, "text/plain")
    assert "Baris satu<br>Baris dua" in part(message, "text/html")


def test_reply_html_part_escapes_body(
    smtp_sink: SmtpSink,  # noqa: F811
    admin_service: Service,
    agent_admin: User,
) -> None:
    row = reply(
        new_ticket(admin_service), agent_admin, body="<script>alert(1)</script>"
    )
    message = deliver(smtp_sink, [row])[row.message_id]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in part(message, "text/html")
    assert "<script>" not in part(message, "text/html")


def sent_attachments(message: EmailMessage) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for attachment in message.iter_attachments():
        assert isinstance(attachment, EmailMessage)
        payload = attachment.get_payload(decode=True)
        assert isinstance(payload, bytes)
        files[str(attachment.get_filename())] = payload
    return files


def test_reply_attaches_files_with_names_and_bytes(
    smtp_sink: SmtpSink,  # noqa: F811
    admin_service: Service,
    agent_admin: User,
) -> None:
    png_bytes = PNG_PATH.read_bytes()
    row = reply(
        new_ticket(admin_service),
        agent_admin,
        files=[
            SimpleUploadedFile(PDF_NAME, PDF_BYTES),
            SimpleUploadedFile("bukti_transfer.png", png_bytes),
        ],
    )
    message = deliver(smtp_sink, [row])[row.message_id]
    assert sent_attachments(message) == {
        PDF_NAME: PDF_BYTES,
        "bukti_transfer.png": png_bytes,
    }


def test_reply_attachment_name_rfc2231_encoded(
    smtp_sink: SmtpSink,  # noqa: F811
    admin_service: Service,
    agent_admin: User,
) -> None:
    row = reply(
        new_ticket(admin_service),
        agent_admin,
        files=[SimpleUploadedFile(PDF_NAME, PDF_BYTES)],
    )
    deliver(smtp_sink, [row])
    content = next(
        item.content
        for item in smtp_sink.deliveries
        if item.message["Message-ID"] == row.message_id
    )
    assert b"filename*=utf-8''Surat%20tugas%20%E2%80%93%20Sri%20Wahyuni.pdf" in content


def test_missing_attachment_fails_alone(
    smtp_sink: SmtpSink,  # noqa: F811
    admin_service: Service,
    agent_admin: User,
    settings: Settings,
) -> None:
    ticket = new_ticket(admin_service)
    row = reply(ticket, agent_admin, files=[SimpleUploadedFile(PDF_NAME, PDF_BYTES)])
    for stored in Path(settings.UPLOAD_ROOT).rglob("*"):
        if stored.is_file():
            stored.unlink()
    assert send_due() == 2
    row.refresh_from_db()
    assert "no longer stored" in row.last_error


def test_build_message_without_attachments_reads_no_file(
    admin_service: Service, agent_admin: User, settings: Settings
) -> None:
    row = reply(
        new_ticket(admin_service),
        agent_admin,
        files=[SimpleUploadedFile(PDF_NAME, PDF_BYTES)],
    )
    for stored in Path(settings.UPLOAD_ROOT).rglob("*"):
        if stored.is_file():
            stored.unlink()
    assert build_message(row, with_attachments=False).attachments == []


# The loop guard


def queue_acknowledgement(
    to: str = REQUESTER_EMAIL, trigger: list[str] | None = None
) -> OutboundEmail | None:
    """Queue an automatic mail as an acknowledgement would be queued."""
    return queue_email(
        kind="test_automatic",
        reference="ticket:EKB-2026-000001",
        to=[to],
        template="ticket_reply",
        context={"ticket": {"number": "EKB-2026-000001", "subject": "Uji"}},
        language="id",
        automatic=True,
        trigger_in_reply_to=trigger,
    )


def test_guard_holds_back_answer_to_our_automatic_mail(
    admin_service: Service,
) -> None:
    ours = acknowledgement(new_ticket(admin_service))
    assert queue_acknowledgement(trigger=[ours.message_id]) is None


def test_guard_stores_nothing_when_holding_back(admin_service: Service) -> None:
    ours = acknowledgement(new_ticket(admin_service))
    before = OutboundEmail.objects.count()
    queue_acknowledgement(trigger=[ours.message_id])
    assert OutboundEmail.objects.count() == before


def test_guard_reason_names_the_rule(admin_service: Service) -> None:
    ours = acknowledgement(new_ticket(admin_service))
    allowed, reason = may_send_automatic(
        REQUESTER_EMAIL, in_reply_to_ids=[ours.message_id]
    )
    assert (allowed, reason) == (False, "it would reply to an automatic mail of ours")


def test_guard_allows_answer_to_agent_reply(
    admin_service: Service, agent_admin: User
) -> None:
    agent_mail = reply(new_ticket(admin_service), agent_admin)
    assert queue_acknowledgement(trigger=[agent_mail.message_id]) is not None


def test_guard_logs_reason_without_address(
    admin_service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    ours = acknowledgement(new_ticket(admin_service))
    with caplog.at_level(logging.INFO, logger="layanan.mail.outbox"):
        queue_acknowledgement(trigger=[ours.message_id])
    held = [record for record in caplog.records if "Held back" in record.getMessage()]
    assert len(held) == 1
    assert held[0].levelno == logging.INFO
    assert "automatic mail of ours" in held[0].getMessage()
    assert REQUESTER_EMAIL not in held[0].getMessage()


def test_guard_allows_tenth_automatic_mail(db: None) -> None:
    for _ in range(9):
        queue_acknowledgement()
    assert queue_acknowledgement() is not None


def test_guard_holds_back_eleventh_automatic_mail(db: None) -> None:
    for _ in range(10):
        queue_acknowledgement()
    assert queue_acknowledgement() is None


def test_guard_cap_reason_names_the_rule(db: None) -> None:
    for _ in range(10):
        queue_acknowledgement()
    assert may_send_automatic(REQUESTER_EMAIL, in_reply_to_ids=[]) == (
        False,
        "10 automatic mails went to the address in 3 h",
    )


def test_guard_cap_counts_address_without_regard_to_case(db: None) -> None:
    for _ in range(10):
        queue_acknowledgement()
    assert queue_acknowledgement(to=f"Sri <{REQUESTER_EMAIL.upper()}>") is None


def test_guard_cap_is_per_address(db: None) -> None:
    for _ in range(10):
        queue_acknowledgement()
    assert queue_acknowledgement(to=CC_EMAIL) is not None


def test_guard_cap_forgets_mail_older_than_window(db: None) -> None:
    for _ in range(10):
        queue_acknowledgement()
    earlier = timezone.now() - timedelta(hours=3, minutes=1)
    OutboundEmail.objects.update(created=earlier)
    AutomaticMailRecipient.objects.update(created=earlier)
    assert queue_acknowledgement() is not None


def test_guard_cap_follows_settings(db: None, settings: Settings) -> None:
    settings.AUTO_MAIL_LIMIT = 2
    queue_acknowledgement()
    queue_acknowledgement()
    assert queue_acknowledgement() is None


def test_agent_replies_not_capped(admin_service: Service, agent_admin: User) -> None:
    ticket = new_ticket(admin_service)
    for _ in range(10):
        queue_acknowledgement()
    rows = [reply(ticket, agent_admin, body=f"Balasan {n}") for n in range(12)]
    assert len({row.pk for row in rows}) == 12


def test_team_notifications_not_capped(admin_service: Service) -> None:
    for number in range(12):
        new_ticket(admin_service, subject=f"Permintaan {number}")
    assert OutboundEmail.objects.filter(kind="ticket_created_team").count() == 12


def test_acknowledgements_capped_per_requester(admin_service: Service) -> None:
    for number in range(12):
        new_ticket(admin_service, subject=f"Permintaan {number}")
    assert OutboundEmail.objects.filter(kind="ticket_created_requester").count() == 10
