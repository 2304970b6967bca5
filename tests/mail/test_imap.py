"""Fetching inbound mail over IMAP, against a real Dovecot on 127.0.0.1.

The mailbox is the desk's: students write to it, and each poll hands new
messages to an ``ingest`` callable. These tests pass their own callable, which
records what it is given or raises for a chosen message, so they need no
database.
"""
# The dovecot fixture is imported from tests/imap.py, and each test's parameter of
# that name is what pytest matches it by, which pyflakes reads as a redefinition.
# ruff: noqa: F811

import dataclasses
import email.policy
import io
import logging
import os
import socket
import subprocess
import sys
import types
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation
from pytest_django.fixtures import Settings

from imap import DovecotServer, dovecot, free_port, running_dovecot  # noqa: F401
from layanan.env import ImapConfig
from layanan.mail import jobs
from layanan.mail.imap import (
    FetchReport,
    ImapUnavailable,
    _warn_if_plaintext,
    encode_mailbox,
    fetch_mail,
    ingest_from_imap,
)

PROCESSED = "Sudah Diproses"
# The capabilities Dovecot 2.3 advertises after login, without MOVE.
WITHOUT_MOVE = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ UIDPLUS"
WITHOUT_MOVE_OR_UIDPLUS = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+"


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """Run the commands in English, the language these assertions quote."""
    with translation.override("en"):
        yield


def student_mail(number: int) -> bytes:
    """Return message ``number`` of a student writing to the desk."""
    message = EmailMessage()
    message["From"] = f"Mahasiswa {number} <mahasiswa{number}@student.example.test>"
    message["To"] = "layanan@ekb.example.test"
    message["Subject"] = f"Permohonan surat keterangan {number}"
    message["Message-ID"] = f"<permohonan-{number}@student.example.test>"
    message.set_content(f"Isi rahasia nomor {number}: mohon dibuatkan surat.\n")
    # IMAP stores CRLF line endings, as imaplib's APPEND writes them.
    return message.as_bytes(policy=email.policy.SMTP)


class RecordingIngest:
    """An ingest that records each message and raises for those in ``failing``."""

    def __init__(self, failing: set[bytes] | None = None) -> None:
        self.received: list[bytes] = []
        self.failing = failing or set()

    def __call__(self, raw: bytes) -> object:
        self.received.append(raw)
        if raw in self.failing:
            raise RuntimeError("The database is unavailable.")
        return None


def deliver(server: DovecotServer, count: int) -> list[bytes]:
    """Append ``count`` student messages to the INBOX and return them in order."""
    messages = [student_mail(number) for number in range(1, count + 1)]
    for raw in messages:
        server.append("INBOX", raw)
    return messages


def seen(flag_sets: list[set[str]]) -> list[bool]:
    return ["\\Seen" in flags for flags in flag_sets]


# Flag mode: no processed folder, messages are flagged \Seen.


def test_fetch_mail_flag_mode_ingests_all(dovecot: DovecotServer) -> None:
    messages = deliver(dovecot, 2)
    ingest = RecordingIngest()
    report = fetch_mail(dovecot.config(), ingest)
    assert report == FetchReport(fetched=2, stored=2, failed=0, errors=[])
    assert ingest.received == messages


def test_fetch_mail_flag_mode_flags_seen(dovecot: DovecotServer) -> None:
    deliver(dovecot, 2)
    fetch_mail(dovecot.config(), RecordingIngest())
    assert seen(dovecot.flags("INBOX")) == [True, True]
    assert len(dovecot.messages("INBOX")) == 2


def test_fetch_mail_flag_mode_skips_seen_mail(dovecot: DovecotServer) -> None:
    dovecot.append("INBOX", student_mail(1), flags="\\Seen")
    fresh = student_mail(2)
    dovecot.append("INBOX", fresh)
    ingest = RecordingIngest()
    fetch_mail(dovecot.config(), ingest)
    assert ingest.received == [fresh]


@pytest.mark.parametrize("processed_folder", [None, PROCESSED])
def test_fetch_mail_second_poll_fetches_nothing(
    dovecot: DovecotServer, processed_folder: str | None
) -> None:
    messages = deliver(dovecot, 2)
    ingest = RecordingIngest()
    config = dovecot.config(processed_folder=processed_folder)
    fetch_mail(config, ingest)
    second = fetch_mail(config, ingest)
    assert second == FetchReport(fetched=0, stored=0, failed=0, errors=[])
    assert ingest.received == messages


def test_fetch_mail_limit_takes_oldest_first(dovecot: DovecotServer) -> None:
    messages = deliver(dovecot, 3)
    ingest = RecordingIngest()
    first = fetch_mail(dovecot.config(), ingest, limit=2)
    assert first.fetched == 2
    assert ingest.received == messages[:2]
    second = fetch_mail(dovecot.config(), ingest, limit=2)
    assert second.fetched == 1
    assert ingest.received == messages


def test_fetch_mail_limit_below_one_rejected(dovecot: DovecotServer) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        fetch_mail(dovecot.config(), RecordingIngest(), limit=0)


def test_fetch_mail_empty_mailbox(dovecot: DovecotServer) -> None:
    report = fetch_mail(dovecot.config(), RecordingIngest())
    assert report == FetchReport(fetched=0, stored=0, failed=0, errors=[])


# Move mode: processed= names the folder that processed messages move to.


def test_fetch_mail_move_mode_creates_folder(dovecot: DovecotServer) -> None:
    messages = deliver(dovecot, 2)
    report = fetch_mail(dovecot.config(processed_folder=PROCESSED), RecordingIngest())
    assert report.stored == 2
    assert PROCESSED in dovecot.folders()
    assert dovecot.messages(PROCESSED) == messages
    assert dovecot.messages("INBOX") == []


def test_fetch_mail_move_mode_uses_existing_folder(dovecot: DovecotServer) -> None:
    dovecot.create(PROCESSED)
    dovecot.append(PROCESSED, student_mail(9))
    messages = deliver(dovecot, 1)
    fetch_mail(dovecot.config(processed_folder=PROCESSED), RecordingIngest())
    assert dovecot.messages(PROCESSED) == [student_mail(9), *messages]


def test_fetch_mail_move_mode_fetches_seen_mail(dovecot: DovecotServer) -> None:
    # In move mode the folder contains only unprocessed mail, even mail a person read.
    raw = student_mail(1)
    dovecot.append("INBOX", raw, flags="\\Seen")
    ingest = RecordingIngest()
    fetch_mail(dovecot.config(processed_folder=PROCESSED), ingest)
    assert ingest.received == [raw]


def test_fetch_mail_move_mode_non_ascii_folder(dovecot: DovecotServer) -> None:
    deliver(dovecot, 1)
    fetch_mail(dovecot.config(processed_folder="Selesai ✓"), RecordingIngest())
    # IMAP writes non-ASCII folder names in modified UTF-7: U+2713 is "&JxM-".
    assert "Selesai &JxM-" in dovecot.folders()
    assert len(dovecot.messages("Selesai &JxM-")) == 1


@pytest.mark.parametrize("capability", [WITHOUT_MOVE, WITHOUT_MOVE_OR_UIDPLUS])
def test_fetch_mail_move_mode_without_move_command(capability: str) -> None:
    with running_dovecot(capability=capability) as server:
        messages = deliver(server, 2)
        report = fetch_mail(
            server.config(processed_folder=PROCESSED), RecordingIngest()
        )
        assert report.errors == []
        assert server.messages(PROCESSED) == messages
        assert server.messages("INBOX") == []


# A message whose ingest raises stays unprocessed and does not block the others.


@pytest.mark.parametrize("processed_folder", [None, PROCESSED])
def test_fetch_mail_failure_counts_middle_message(
    dovecot: DovecotServer, processed_folder: str | None
) -> None:
    messages = deliver(dovecot, 3)
    ingest = RecordingIngest(failing={messages[1]})
    report = fetch_mail(dovecot.config(processed_folder=processed_folder), ingest)
    assert (report.fetched, report.stored, report.failed) == (3, 2, 1)
    assert len(report.errors) == 1
    assert report.errors[0].startswith("UID 2: ingest failed: RuntimeError")
    assert ingest.received == messages


def test_fetch_mail_failure_leaves_message_unseen(dovecot: DovecotServer) -> None:
    messages = deliver(dovecot, 3)
    fetch_mail(dovecot.config(), RecordingIngest(failing={messages[1]}))
    assert seen(dovecot.flags("INBOX")) == [True, False, True]


def test_fetch_mail_failure_leaves_message_in_folder(dovecot: DovecotServer) -> None:
    messages = deliver(dovecot, 3)
    ingest = RecordingIngest(failing={messages[1]})
    fetch_mail(dovecot.config(processed_folder=PROCESSED), ingest)
    assert dovecot.messages("INBOX") == [messages[1]]
    assert dovecot.messages(PROCESSED) == [messages[0], messages[2]]


@pytest.mark.parametrize("processed_folder", [None, PROCESSED])
def test_fetch_mail_failed_message_retried_next_poll(
    dovecot: DovecotServer, processed_folder: str | None
) -> None:
    messages = deliver(dovecot, 3)
    config = dovecot.config(processed_folder=processed_folder)
    ingest = RecordingIngest(failing={messages[1]})
    fetch_mail(config, ingest)
    still_failing = fetch_mail(config, ingest)
    assert (still_failing.fetched, still_failing.failed) == (1, 1)
    ingest.failing.clear()
    recovered = fetch_mail(config, ingest)
    assert (recovered.fetched, recovered.stored, recovered.failed) == (1, 1, 0)
    assert ingest.received == [*messages, messages[1], messages[1]]


def test_fetch_mail_failed_message_seen_after_retry(dovecot: DovecotServer) -> None:
    messages = deliver(dovecot, 3)
    ingest = RecordingIngest(failing={messages[1]})
    fetch_mail(dovecot.config(), ingest)
    ingest.failing.clear()
    fetch_mail(dovecot.config(), ingest)
    assert seen(dovecot.flags("INBOX")) == [True, True, True]


# Logging: one line per poll and per processed message, never a body.


def test_fetch_mail_logs_poll_and_messages(
    dovecot: DovecotServer, caplog: pytest.LogCaptureFixture
) -> None:
    messages = deliver(dovecot, 2)
    caplog.set_level(logging.INFO, logger="layanan.mail.imap")
    fetch_mail(dovecot.config(), RecordingIngest())
    lines = [record.getMessage() for record in caplog.records]
    assert f"Processed IMAP message uid=1 size={len(messages[0])}" in lines
    assert f"Processed IMAP message uid=2 size={len(messages[1])}" in lines
    assert lines[-1].endswith("fetched=2 stored=2 failed=0")


def test_fetch_mail_failure_log_names_uid_without_body(
    dovecot: DovecotServer, caplog: pytest.LogCaptureFixture
) -> None:
    messages = deliver(dovecot, 2)
    caplog.set_level(logging.INFO, logger="layanan.mail.imap")
    fetch_mail(dovecot.config(), RecordingIngest(failing={messages[0]}))
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "uid=1" in errors[0].getMessage()
    assert "Isi rahasia" not in caplog.text


def test_fetch_mail_logs_no_password(
    dovecot: DovecotServer, caplog: pytest.LogCaptureFixture
) -> None:
    deliver(dovecot, 1)
    caplog.set_level(logging.DEBUG)
    fetch_mail(dovecot.config(), RecordingIngest())
    assert dovecot.password not in caplog.text


# The server is unreachable, rejects the login or does not answer.


def test_fetch_mail_server_down_raises(dovecot: DovecotServer) -> None:
    dovecot.stop()
    with pytest.raises(ImapUnavailable) as raised:
        fetch_mail(dovecot.config(), RecordingIngest())
    message = str(raised.value)
    assert f"127.0.0.1:{dovecot.port}" in message
    assert "refused the connection" in message


def test_fetch_mail_server_down_loses_nothing(dovecot: DovecotServer) -> None:
    messages = deliver(dovecot, 1)
    dovecot.stop()
    ingest = RecordingIngest()
    with pytest.raises(ImapUnavailable):
        fetch_mail(dovecot.config(), ingest)
    dovecot.restart()
    report = fetch_mail(dovecot.config(), ingest)
    assert report.stored == 1
    assert ingest.received == messages


def test_fetch_mail_wrong_password_raises(dovecot: DovecotServer) -> None:
    wrong = "Salah-Kata-Sandi-77"
    with pytest.raises(ImapUnavailable) as raised:
        fetch_mail(dovecot.config(password=wrong), RecordingIngest())
    message = str(raised.value)
    assert "rejected the login" in message
    assert f"127.0.0.1:{dovecot.port}" in message
    assert "password in LAYANAN_IMAP_URL" in message
    assert wrong not in message


def test_fetch_mail_wrong_password_not_logged(
    dovecot: DovecotServer, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "Salah-Kata-Sandi-77"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ImapUnavailable):
        fetch_mail(dovecot.config(password=wrong), RecordingIngest())
    assert wrong not in caplog.text


def test_fetch_mail_missing_folder_raises(dovecot: DovecotServer) -> None:
    with pytest.raises(ImapUnavailable, match="cannot open the folder 'Arsip'"):
        fetch_mail(dovecot.config(folder="Arsip"), RecordingIngest())


def test_fetch_mail_starttls_not_offered_raises(dovecot: DovecotServer) -> None:
    starttls = dataclasses.replace(dovecot.config(), use_starttls=True)
    with pytest.raises(ImapUnavailable, match="does not offer STARTTLS"):
        fetch_mail(starttls, RecordingIngest())


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Yield the port of a socket on 127.0.0.1 that accepts but never greets."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    try:
        yield int(listener.getsockname()[1])
    finally:
        listener.close()


def test_fetch_mail_timeout_raises(silent_server: int) -> None:
    config = ImapConfig(
        host="127.0.0.1",
        port=silent_server,
        username="desk@example.test",
        password="unused",
        folder="INBOX",
        processed_folder=None,
        use_ssl=False,
        use_starttls=False,
        timeout=1,
    )
    with pytest.raises(ImapUnavailable) as raised:
        fetch_mail(config, RecordingIngest())
    assert f"127.0.0.1:{silent_server} did not answer within 1 s" in str(raised.value)


# The plain-text warning and folder name encoding.


def plain_config(host: str) -> ImapConfig:
    return ImapConfig(
        host=host,
        port=143,
        username="desk@example.test",
        password="Rahasia-Sekali-1",
        folder="INBOX",
        processed_folder=None,
        use_ssl=False,
        use_starttls=False,
        timeout=30,
    )


def test_plaintext_warning_once_per_server(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="layanan.mail.imap")
    config = plain_config("mail-warning-test.example.test")
    _warn_if_plaintext(config)
    _warn_if_plaintext(config)
    assert len(caplog.records) == 1
    assert "password travels in clear" in caplog.records[0].getMessage()
    assert config.password not in caplog.text


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_plaintext_warning_not_for_loopback(
    caplog: pytest.LogCaptureFixture, host: str
) -> None:
    caplog.set_level(logging.WARNING, logger="layanan.mail.imap")
    _warn_if_plaintext(plain_config(host))
    assert caplog.records == []


def test_imap_config_repr_hides_password() -> None:
    assert "Rahasia-Sekali-1" not in repr(plain_config("mail.example.test"))


@pytest.mark.parametrize(
    ("name", "encoded"),
    [
        ("INBOX", '"INBOX"'),
        ("Sudah Diproses", '"Sudah Diproses"'),
        ("Surat & Izin", '"Surat &- Izin"'),
        ("Selesai ✓", '"Selesai &JxM-"'),
        ('Kata "kutip"', '"Kata \\"kutip\\""'),
    ],
)
def test_encode_mailbox(name: str, encoded: str) -> None:
    assert encode_mailbox(name) == encoded


# ingest_from_imap, the fetch-mail command and the worker job.


class FakeInbound:
    """A stand-in for layanan.mail.inbound, recording each ingest call."""

    def __init__(self, failing: set[bytes] | None = None) -> None:
        self.calls: list[tuple[bytes, str]] = []
        self.failing = failing or set()
        self.module = types.ModuleType("layanan.mail.inbound")
        self.module.ingest = self.ingest  # type: ignore[attr-defined]

    def ingest(self, raw: bytes, *, via: str) -> object:
        self.calls.append((raw, via))
        if raw in self.failing:
            raise RuntimeError("The database is unavailable.")
        return None


@pytest.fixture
def fake_inbound(monkeypatch: pytest.MonkeyPatch) -> FakeInbound:
    fake = FakeInbound()
    monkeypatch.setitem(sys.modules, "layanan.mail.inbound", fake.module)
    return fake


def test_ingest_from_imap_passes_via(fake_inbound: FakeInbound) -> None:
    ingest_from_imap(b"Subject: x\r\n\r\ny\r\n")
    assert fake_inbound.calls == [(b"Subject: x\r\n\r\ny\r\n", "imap")]


def run_fetch_mail(*arguments: str) -> tuple[str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("fetch-mail", *arguments, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def test_command_without_url_exits_2(settings: Settings) -> None:
    settings.IMAP = None
    with pytest.raises(CommandError) as raised:
        run_fetch_mail()
    assert raised.value.returncode == 2
    assert "LAYANAN_IMAP_URL is not set" in str(raised.value)


def test_command_server_down_exits_1(
    settings: Settings, dovecot: DovecotServer
) -> None:
    settings.IMAP = dovecot.config()
    dovecot.stop()
    with pytest.raises(CommandError) as raised:
        run_fetch_mail()
    assert raised.value.returncode == 1
    assert f"127.0.0.1:{dovecot.port}" in str(raised.value)


def test_command_prints_report(
    settings: Settings, dovecot: DovecotServer, fake_inbound: FakeInbound
) -> None:
    messages = deliver(dovecot, 2)
    settings.IMAP = dovecot.config()
    stdout, stderr = run_fetch_mail()
    assert stdout.strip() == (
        f"Fetched 2, stored 2, failed 0 from INBOX on 127.0.0.1:{dovecot.port}."
    )
    assert stderr == ""
    assert fake_inbound.calls == [(raw, "imap") for raw in messages]


def test_command_reports_failed_messages(
    settings: Settings, dovecot: DovecotServer, fake_inbound: FakeInbound
) -> None:
    messages = deliver(dovecot, 2)
    fake_inbound.failing.add(messages[0])
    settings.IMAP = dovecot.config()
    stdout, stderr = run_fetch_mail()
    assert "Fetched 2, stored 1, failed 1" in stdout
    assert "UID 1: ingest failed" in stderr
    assert "1 message failed and stays in the mailbox" in stderr


def test_command_limit(
    settings: Settings, dovecot: DovecotServer, fake_inbound: FakeInbound
) -> None:
    deliver(dovecot, 3)
    settings.IMAP = dovecot.config()
    stdout, _stderr = run_fetch_mail("--limit", "1")
    assert "Fetched 1," in stdout


def test_command_limit_zero_rejected(settings: Settings) -> None:
    settings.IMAP = None
    with pytest.raises(CommandError, match="--limit '0' is invalid"):
        run_fetch_mail("--limit", "0")


def run_cli(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    """Run ``layanan fetch-mail`` in a fresh process with only these variables."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("LAYANAN_")
    }
    # English, the language the assertions below are written in.
    environment.update(
        {"LAYANAN_VAR_DIR": str(tmp_path), "LAYANAN_LANGUAGE": "en"}, **variables
    )
    return subprocess.run(
        [sys.executable, "-m", "layanan.cli", "fetch-mail"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_without_url_exits_2(tmp_path: Path) -> None:
    result = run_cli(tmp_path)
    assert result.returncode == 2, result.stderr
    assert "LAYANAN_IMAP_URL is not set" in result.stderr


def test_cli_server_down_exits_1(tmp_path: Path) -> None:
    port = free_port()
    result = run_cli(
        tmp_path, LAYANAN_IMAP_URL=f"imap://desk:Rahasia-99@127.0.0.1:{port}/INBOX"
    )
    assert result.returncode == 1, result.stderr
    assert f"127.0.0.1:{port} refused the connection" in result.stderr
    assert "Rahasia-99" not in result.stderr + result.stdout


def test_cli_empty_mailbox_exits_0(tmp_path: Path, dovecot: DovecotServer) -> None:
    result = run_cli(tmp_path, LAYANAN_IMAP_URL=dovecot.url())
    assert result.returncode == 0, result.stderr
    assert "Fetched 0, stored 0, failed 0" in result.stdout
    assert dovecot.password not in result.stderr + result.stdout


def test_job_fetch_imap_stores_mail(
    settings: Settings, dovecot: DovecotServer, fake_inbound: FakeInbound
) -> None:
    messages = deliver(dovecot, 1)
    settings.IMAP = dovecot.config(processed_folder=PROCESSED)
    jobs.fetch_imap()
    assert fake_inbound.calls == [(messages[0], "imap")]
    assert dovecot.messages(PROCESSED) == messages


def test_job_fetch_imap_outage_logged(
    settings: Settings, dovecot: DovecotServer, caplog: pytest.LogCaptureFixture
) -> None:
    settings.IMAP = dovecot.config()
    dovecot.stop()
    caplog.set_level(logging.WARNING, logger="layanan.mail.jobs")
    jobs.fetch_imap()
    assert len(caplog.records) == 1
    assert "IMAP poll failed" in caplog.records[0].getMessage()


def test_job_fetch_imap_unconfigured_does_nothing(settings: Settings) -> None:
    settings.IMAP = None
    jobs.fetch_imap()


JOB_PROBE = (
    "import django; django.setup(); "
    "from layanan.jobs.registry import default_registry as r; "
    "job = r._jobs.get('mail.fetch_imap'); "
    "print(job.every_seconds if job else 'absent')"
)


def registered_interval(tmp_path: Path, **variables: str) -> str:
    """Return the fetch job's interval in a fresh process, or ``absent``."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("LAYANAN_")
    }
    environment.update(
        {
            "LAYANAN_VAR_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "layanan.settings",
        },
        **variables,
    )
    result = subprocess.run(
        [sys.executable, "-c", JOB_PROBE],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_job_registered_when_configured(tmp_path: Path) -> None:
    interval = registered_interval(
        tmp_path,
        LAYANAN_IMAP_URL="imaps://desk:pw@mail.example.test/INBOX",
        LAYANAN_IMAP_POLL_SECONDS="45",
    )
    assert interval == "45"


def test_job_absent_without_url(tmp_path: Path) -> None:
    assert registered_interval(tmp_path) == "absent"


@pytest.mark.django_db
def test_fetch_mail_real_ingest_stores_row(
    settings: Settings, tmp_path: Path, dovecot: DovecotServer, catalogue: object
) -> None:
    from layanan.mail.models import InboundEmail

    settings.VAR_DIR = tmp_path
    messages = deliver(dovecot, 1)
    report = fetch_mail(dovecot.config(), ingest_from_imap)
    assert report.stored == 1
    row = InboundEmail.objects.get()
    assert row.via == "imap"
    assert row.size == len(messages[0])
    assert seen(dovecot.flags("INBOX")) == [True]
