"""The outbox against a real SMTP server (aiosmtpd on 127.0.0.1).

The cast: Budi, a student who opened a request, and the desk that writes to him.
"""

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone
from pytest_django.fixtures import Settings

from layanan.mail.models import OutboundEmail, OutboundStatus
from layanan.mail.outbox import (
    MAX_ATTEMPTS,
    build_message,
    queue_email,
    retry_delay,
    send_due,
)
from smtp import Delivery, SmtpSink, smtp_sink, unstarted_smtp_sink  # noqa: F401

TEMPLATES = Path(__file__).parent / "templates"
REQUESTER = "budi.santoso@student.example.test"
SUBJECT = "[EKB-2026-000001] Catatan layanan 📨 Ganti kata sandi"


@pytest.fixture(autouse=True)
def note_template(settings: Settings) -> None:
    """Add the tests' own templates, so no product template is needed."""
    engine = settings.TEMPLATES[0]
    settings.TEMPLATES = [{**engine, "DIRS": [*engine["DIRS"], TEMPLATES]}]
    settings.MAIL_ADDRESS = "layanan@ekb.example.test"
    settings.MAIL_FROM = "Layanan EKB <layanan@ekb.example.test>"


def queue_note(
    context: dict[str, object] | None = None, **overrides: Any
) -> OutboundEmail:
    """Queue the test note to Budi; arguments replace the defaults."""
    arguments: dict[str, Any] = {
        "kind": "test_note",
        "reference": "ticket:EKB-2026-000001",
        "to": [REQUESTER],
        "template": "test_note",
        "context": {
            "reference": "EKB-2026-000001",
            "title": "Ganti kata sandi",
            "name": "Budi",
            "note": "Kata sandi SIAKAD Anda sudah diatur ulang.",
            **(context or {}),
        },
        "language": "id",
        **overrides,
    }
    return queue_email(**arguments)


@dataclass
class Sent:
    row: OutboundEmail
    count: int
    delivery: Delivery
    message: EmailMessage


@pytest.fixture
def sent(smtp_sink: SmtpSink) -> Sent:  # noqa: F811
    """Queue one note and send it."""
    row = queue_note(headers={"Auto-Submitted": "auto-generated"})
    count = send_due()
    smtp_sink.wait_for(1)
    row.refresh_from_db()
    return Sent(row, count, smtp_sink.deliveries[0], smtp_sink.messages[0])


def text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


def html_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


# Queueing


@pytest.mark.django_db
def test_queue_email_stores_pending_row() -> None:
    before = timezone.now()
    row = queue_note()
    assert (row.status, row.attempts) == (OutboundStatus.PENDING, 0)
    assert before <= row.next_attempt_at <= timezone.now()


@pytest.mark.django_db
def test_queue_email_message_id_domain() -> None:
    row = queue_note()
    assert row.message_id.startswith("<")
    assert row.message_id.endswith("@ekb.example.test>")


@pytest.mark.django_db
def test_queue_email_message_ids_unique() -> None:
    assert queue_note().message_id != queue_note().message_id


@pytest.mark.django_db
def test_queue_email_renders_language() -> None:
    assert "Bahasa: en" in queue_note(language="en").body_text


@pytest.mark.django_db
def test_queue_email_subject_newlines_stripped() -> None:
    row = queue_note(context={"title": "Baris satu\r\nBcc: penyusup@example.test\n"})
    assert row.subject == (
        "[EKB-2026-000001] Catatan layanan 📨 Baris satu Bcc: penyusup@example.test"
    )


@pytest.mark.django_db
def test_queue_email_subject_cut_at_250() -> None:
    row = queue_note(context={"title": "panjang " * 60})
    assert len(row.subject) == 250


@pytest.mark.django_db
def test_queue_email_escapes_html_part_only() -> None:
    row = queue_note(context={"note": "<script>alert(1)</script>"})
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in row.body_html
    assert "<script>" not in row.body_html
    assert "<script>alert(1)</script>" in row.body_text


@pytest.mark.django_db
def test_queue_email_logs_ids_without_address(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="layanan.mail.outbox"):
        row = queue_note()
    assert caplog.messages == [
        f"Queued outbound email outbox={row.id} kind=test_note "
        "reference=ticket:EKB-2026-000001"
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "to",
    [
        [],
        ["budi@example.test\r\nBcc: penyusup@example.test"],
        ["budi@example.test\n"],
        ["budi.example.test"],
        "budi@example.test",
    ],
    ids=["empty", "crlf", "lf", "no-at", "bare-string"],
)
def test_queue_email_rejects_bad_recipients(to: object) -> None:
    with pytest.raises(ValueError):
        queue_note(to=to)
    assert not OutboundEmail.objects.exists()


@pytest.mark.django_db
def test_queue_email_rejects_reply_to_with_newline() -> None:
    with pytest.raises(ValueError, match="Reply-To"):
        queue_note(reply_to="desk@example.test\r\nBcc: penyusup@example.test")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "headers",
    [
        {"In-Reply-To": "<a@example.test>\r\nBcc: penyusup@example.test"},
        {"Bcc": "penyusup@example.test"},
        {"Bad Name": "x"},
    ],
    ids=["newline-value", "reserved", "space-in-name"],
)
def test_queue_email_rejects_bad_headers(headers: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        queue_note(headers=headers)


@pytest.mark.django_db
def test_build_message_shows_headers() -> None:
    row = queue_note(
        reply_to="desk@ekb.example.test",
        headers={"In-Reply-To": "<earlier@ekb.example.test>"},
    )
    rendered = build_message(row).message().as_string()
    assert "Reply-To: desk@ekb.example.test" in rendered
    assert "In-Reply-To: <earlier@ekb.example.test>" in rendered
    assert f"Message-ID: {row.message_id}" in rendered


# Sending


@pytest.mark.django_db
def test_send_due_returns_count_sent(sent: Sent) -> None:
    assert sent.count == 1


@pytest.mark.django_db
def test_send_due_marks_row_sent(sent: Sent) -> None:
    assert (sent.row.status, sent.row.attempts) == (OutboundStatus.SENT, 1)
    assert sent.row.sent_at is not None


@pytest.mark.django_db
def test_send_due_sends_stored_message_id(sent: Sent) -> None:
    assert sent.message["Message-ID"] == sent.row.message_id


@pytest.mark.django_db
def test_send_due_sends_to_recipient(sent: Sent) -> None:
    assert sent.delivery.rcpt_tos == [REQUESTER]
    assert sent.message["To"] == REQUESTER


@pytest.mark.django_db
def test_send_due_sends_from_mail_from(sent: Sent) -> None:
    assert sent.message["From"] == "Layanan EKB <layanan@ekb.example.test>"


@pytest.mark.django_db
def test_send_due_sends_extra_headers(sent: Sent) -> None:
    assert sent.message["Auto-Submitted"] == "auto-generated"


@pytest.mark.django_db
def test_send_due_decodes_non_ascii_subject(sent: Sent) -> None:
    # Django folds a long encoded Subject right after the colon, which is valid.
    # Python 3.11's parser keeps that fold as a leading space.
    assert sent.message["Subject"].strip() == SUBJECT


@pytest.mark.django_db
def test_send_due_encodes_subject_as_ascii(sent: Sent) -> None:
    header_block = sent.delivery.content.split(b"\r\n\r\n", 1)[0]
    assert header_block.isascii()
    assert b"=?utf-8?q?=5BEKB-2026-000001=5D_Catatan_layanan_=F0=9F=93=A8" in (
        header_block
    )


@pytest.mark.django_db
def test_send_due_sends_multipart_alternative(sent: Sent) -> None:
    assert sent.message.get_content_type() == "multipart/alternative"


@pytest.mark.django_db
def test_send_due_text_part_indonesian(sent: Sent) -> None:
    assert "Permintaan Anda sudah kami terima ✅." in text_part(sent.message)


@pytest.mark.django_db
def test_send_due_html_part_indonesian(sent: Sent) -> None:
    html = html_part(sent.message)
    assert '<p class="note">Kata sandi SIAKAD Anda sudah diatur ulang.</p>' in html


@pytest.mark.django_db
def test_send_due_html_escapes_script(smtp_sink: SmtpSink) -> None:  # noqa: F811
    queue_note(context={"note": "<script>alert(1)</script>"})
    send_due()
    html = html_part(smtp_sink.wait_for(1)[0])
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in html


@pytest.mark.django_db
def test_send_due_sends_no_injected_bcc(smtp_sink: SmtpSink) -> None:  # noqa: F811
    queue_note(context={"title": "Halo\r\nBcc: penyusup@example.test"})
    send_due()
    smtp_sink.wait_for(1)
    delivery = smtp_sink.deliveries[0]
    assert delivery.rcpt_tos == [REQUESTER]
    assert delivery.message["Bcc"] is None


@pytest.mark.django_db
def test_send_due_one_connection_per_batch(smtp_sink: SmtpSink) -> None:  # noqa: F811
    for _ in range(3):
        queue_note()
    assert send_due() == 3
    smtp_sink.wait_for(3)
    assert smtp_sink.connections == 1


@pytest.mark.django_db
def test_send_due_sends_nothing_twice(smtp_sink: SmtpSink) -> None:  # noqa: F811
    queue_note()
    send_due()
    assert send_due(now=timezone.now() + timedelta(hours=2)) == 0
    assert len(smtp_sink.deliveries) == 1


@pytest.mark.django_db
def test_send_due_respects_limit(smtp_sink: SmtpSink) -> None:  # noqa: F811
    for _ in range(3):
        queue_note()
    assert send_due(limit=2) == 2


@pytest.mark.django_db
def test_send_due_without_smtp_sends_nothing(
    smtp_sink: SmtpSink,  # noqa: F811
    settings: Settings,
) -> None:
    row = queue_note()
    settings.SMTP = None
    assert send_due() == 0
    row.refresh_from_db()
    assert (row.status, row.attempts) == (OutboundStatus.PENDING, 0)
    assert smtp_sink.deliveries == []


@pytest.mark.django_db
def test_send_due_rejected_recipient_fails_alone(smtp_sink: SmtpSink) -> None:  # noqa: F811
    smtp_sink.rejected_recipients.add("tolak@example.test")
    rejected = queue_note(to=["tolak@example.test"])
    queue_note()
    assert send_due() == 1
    rejected.refresh_from_db()
    assert (rejected.status, rejected.attempts) == (OutboundStatus.PENDING, 1)
    assert "550" in rejected.last_error


# An outage: nothing listens on the configured port, then the server comes back.


@dataclass
class Outage:
    row: OutboundEmail
    count: int
    failed_at: datetime
    sink: SmtpSink


@pytest.fixture
def outage(unstarted_smtp_sink: SmtpSink) -> Outage:  # noqa: F811
    row = queue_note()
    failed_at = timezone.now()
    count = send_due(now=failed_at)
    row.refresh_from_db()
    return Outage(row, count, failed_at, unstarted_smtp_sink)


@pytest.mark.django_db
def test_send_due_smtp_down_sends_nothing(outage: Outage) -> None:
    assert outage.count == 0


@pytest.mark.django_db
def test_send_due_smtp_down_keeps_row_pending(outage: Outage) -> None:
    assert outage.row.status == OutboundStatus.PENDING


@pytest.mark.django_db
def test_send_due_smtp_down_counts_attempt(outage: Outage) -> None:
    assert outage.row.attempts == 1


@pytest.mark.django_db
def test_send_due_smtp_down_records_error(outage: Outage) -> None:
    assert outage.row.last_error.startswith("ConnectionRefusedError")


@pytest.mark.django_db
def test_send_due_smtp_down_retry_in_30s(outage: Outage) -> None:
    delay = outage.row.next_attempt_at - outage.failed_at
    assert timedelta(seconds=30) <= delay <= timedelta(seconds=33)


@pytest.mark.django_db
def test_send_due_before_retry_time_sends_nothing(outage: Outage) -> None:
    outage.sink.start()
    assert send_due(now=outage.failed_at + timedelta(seconds=5)) == 0


@pytest.mark.django_db
def test_send_due_after_outage_delivers_once(outage: Outage) -> None:
    outage.sink.start()
    later = outage.failed_at + timedelta(minutes=2)
    assert send_due(now=later) == 1
    assert send_due(now=later + timedelta(minutes=5)) == 0
    assert len(outage.sink.wait_for(1)) == 1


@pytest.mark.django_db
def test_send_due_after_outage_keeps_message_id(outage: Outage) -> None:
    outage.sink.start()
    send_due(now=outage.failed_at + timedelta(minutes=2))
    assert outage.sink.wait_for(1)[0]["Message-ID"] == outage.row.message_id


@pytest.mark.django_db
def test_send_due_gives_up_after_max_attempts(
    unstarted_smtp_sink: SmtpSink,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    row = queue_note()
    OutboundEmail.objects.filter(id=row.id).update(attempts=MAX_ATTEMPTS - 1)
    send_due()
    row.refresh_from_db()
    assert (row.status, row.attempts) == (OutboundStatus.FAILED, MAX_ATTEMPTS)
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert [f"outbox={row.id}" in record.getMessage() for record in errors] == [True]


@pytest.mark.django_db
def test_send_due_never_retries_failed_row(smtp_sink: SmtpSink) -> None:  # noqa: F811
    row = queue_note()
    OutboundEmail.objects.filter(id=row.id).update(status=OutboundStatus.FAILED)
    assert send_due(now=timezone.now() + timedelta(days=1)) == 0


@pytest.mark.django_db
def test_send_due_logs_no_address_or_body(
    unstarted_smtp_sink: SmtpSink,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG, logger="layanan"):
        row = queue_note()
        send_due()
        unstarted_smtp_sink.start()
        send_due(now=timezone.now() + timedelta(minutes=2))
    logged = "\n".join(caplog.messages)
    assert f"outbox={row.id}" in logged
    assert REQUESTER not in logged
    assert "SIAKAD" not in logged


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [(1, 30), (2, 60), (3, 120), (4, 240), (7, 1920), (8, 3600), (19, 3600)],
)
def test_retry_delay_doubles_up_to_an_hour(attempts: int, seconds: int) -> None:
    delay = retry_delay(attempts)
    assert timedelta(seconds=seconds) <= delay <= timedelta(seconds=seconds * 1.1)


# Several workers at once, each thread on its own database connection.


@pytest.mark.django_db(transaction=True)
def test_send_due_two_workers_no_duplicates(smtp_sink: SmtpSink) -> None:  # noqa: F811
    rows = [queue_note() for _ in range(8)]
    start = threading.Barrier(2)
    counts: list[int] = []

    def work() -> None:
        try:
            start.wait(timeout=5)
            counts.append(send_due(limit=8))
        finally:
            connections.close_all()

    workers = [threading.Thread(target=work) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    smtp_sink.wait_for(8)
    sent_ids = sorted(message["Message-ID"] for message in smtp_sink.messages)
    assert sum(counts) == 8
    assert sent_ids == sorted(row.message_id for row in rows)
