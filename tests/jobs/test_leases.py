"""Leases, the periodic-job registry and the ``worker`` command.

The cast: two workers, "alpha:1" and "beta:2", sharing one database.
"""

import logging
import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from layanan.jobs.models import Lease
from layanan.jobs.registry import (
    JobRegistry,
    acquire_lease,
    default_registry,
    release_lease,
)
from layanan.mail.models import OutboundEmail, OutboundStatus
from smtp import SmtpSink, smtp_sink  # noqa: F401

ALPHA = "alpha:1"
BETA = "beta:2"


# Leases


@pytest.mark.django_db
def test_acquire_lease_free_lease_is_taken() -> None:
    assert acquire_lease("digest", ALPHA, 60)


@pytest.mark.django_db
def test_acquire_lease_second_holder_rejected() -> None:
    acquire_lease("digest", ALPHA, 60)
    assert not acquire_lease("digest", BETA, 60)


@pytest.mark.django_db
def test_acquire_lease_rejection_keeps_holder() -> None:
    acquire_lease("digest", ALPHA, 60)
    acquire_lease("digest", BETA, 60)
    assert Lease.objects.get(name="digest").holder == ALPHA


@pytest.mark.django_db
def test_acquire_lease_holder_renews() -> None:
    now = timezone.now()
    acquire_lease("digest", ALPHA, 60, now=now)
    assert acquire_lease("digest", ALPHA, 60, now=now + timedelta(seconds=30))
    assert Lease.objects.get(name="digest").expires_at == now + timedelta(seconds=90)


@pytest.mark.django_db
def test_acquire_lease_expired_lease_is_taken() -> None:
    now = timezone.now()
    acquire_lease("digest", ALPHA, 60, now=now)
    assert acquire_lease("digest", BETA, 60, now=now + timedelta(seconds=61))


@pytest.mark.django_db
def test_release_lease_frees_it() -> None:
    acquire_lease("digest", ALPHA, 60)
    release_lease("digest", ALPHA)
    assert acquire_lease("digest", BETA, 60)


@pytest.mark.django_db
def test_release_lease_by_other_holder_keeps_it() -> None:
    acquire_lease("digest", ALPHA, 60)
    release_lease("digest", BETA)
    assert not acquire_lease("digest", BETA, 60)


@pytest.mark.django_db(transaction=True)
def test_acquire_lease_race_has_one_winner() -> None:
    holders = [f"racer:{number}" for number in range(4)]
    start = threading.Barrier(len(holders))
    results: dict[str, bool] = {}

    def race(holder: str) -> None:
        try:
            start.wait(timeout=5)
            results[holder] = acquire_lease("digest", holder, 60)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=race, args=(holder,)) for holder in holders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results.values()) == [False, False, False, True]


# The registry


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


def explode() -> None:
    raise RuntimeError("the job broke")


@pytest.mark.django_db
def test_run_due_runs_new_job() -> None:
    registry = JobRegistry()
    counter = Counter()
    registry.register("count", 10, counter)
    assert registry.run_due(ALPHA) == ["count"]
    assert counter.calls == 1


@pytest.mark.django_db
def test_run_due_waits_for_interval() -> None:
    registry = JobRegistry()
    registry.register("count", 10, Counter())
    now = timezone.now()
    registry.run_due(ALPHA, now)
    assert registry.run_due(ALPHA, now + timedelta(seconds=9)) == []


@pytest.mark.django_db
def test_run_due_runs_again_after_interval() -> None:
    registry = JobRegistry()
    registry.register("count", 10, Counter())
    now = timezone.now()
    registry.run_due(ALPHA, now)
    assert registry.run_due(ALPHA, now + timedelta(seconds=10)) == ["count"]


@pytest.mark.django_db
def test_run_due_other_worker_waits_for_interval() -> None:
    alpha, beta = JobRegistry(), JobRegistry()
    beta_counter = Counter()
    alpha.register("count", 10, Counter())
    beta.register("count", 10, beta_counter)
    now = timezone.now()
    alpha.run_due(ALPHA, now)
    beta.run_due(BETA, now + timedelta(seconds=5))
    assert beta_counter.calls == 0


@pytest.mark.django_db
def test_run_due_other_worker_takes_over() -> None:
    alpha, beta = JobRegistry(), JobRegistry()
    alpha.register("count", 10, Counter())
    beta.register("count", 10, Counter())
    now = timezone.now()
    alpha.run_due(ALPHA, now)
    assert beta.run_due(BETA, now + timedelta(seconds=11)) == ["count"]


@pytest.mark.django_db
def test_run_due_skips_leased_job() -> None:
    registry = JobRegistry()
    counter = Counter()
    registry.register("count", 10, counter)
    acquire_lease("count", BETA, 60)
    registry.run_due(ALPHA, ignore_intervals=True)
    assert counter.calls == 0


@pytest.mark.django_db
def test_run_due_failure_spares_other_jobs() -> None:
    registry = JobRegistry()
    counter = Counter()
    registry.register("explode", 10, explode)
    registry.register("count", 10, counter)
    assert registry.run_due(ALPHA) == ["explode", "count"]
    assert counter.calls == 1


@pytest.mark.django_db
def test_run_due_logs_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = JobRegistry()
    registry.register("explode", 10, explode)
    registry.run_due(ALPHA)
    errors = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert [record.exc_info is not None for record in errors] == [True]
    assert "explode" in errors[0].getMessage()


@pytest.mark.django_db
def test_run_due_failing_job_waits_for_interval() -> None:
    registry = JobRegistry()
    registry.register("explode", 10, explode)
    now = timezone.now()
    registry.run_due(ALPHA, now)
    assert registry.run_due(ALPHA, now + timedelta(seconds=1)) == []


def test_register_rejects_taken_name() -> None:
    registry = JobRegistry()
    registry.register("count", 10, Counter())
    with pytest.raises(ValueError, match="taken"):
        registry.register("count", 10, Counter())


def test_register_rejects_zero_interval() -> None:
    with pytest.raises(ValueError, match="interval"):
        JobRegistry().register("count", 0, Counter())


def test_mail_app_registers_outbox_job() -> None:
    assert "mail.send_outbox" in default_registry.names()


# The worker command


def store_mail(message_id: str) -> OutboundEmail:
    """Store one pending row directly, so these tests need no templates."""
    return OutboundEmail.objects.create(
        kind="test_note",
        reference="ticket:EKB-2026-000001",
        from_email="Layanan <layanan@ekb.example.test>",
        to=["budi.santoso@student.example.test"],
        subject="Tes pekerja ✅",
        body_text="Halo Budi, pesan ini dikirim oleh pekerja.",
        body_html="<p>Halo Budi, pesan ini dikirim oleh pekerja.</p>",
        message_id=message_id,
        next_attempt_at=timezone.now(),
    )


@pytest.mark.django_db
def test_worker_once_sends_outbox(smtp_sink: SmtpSink) -> None:  # noqa: F811
    store_mail("<once@ekb.example.test>")
    call_command("worker", "--once")
    assert smtp_sink.wait_for(1)[0]["Message-ID"] == "<once@ekb.example.test>"


@pytest.mark.django_db
def test_worker_once_marks_row_sent(smtp_sink: SmtpSink) -> None:  # noqa: F811
    row = store_mail("<once@ekb.example.test>")
    call_command("worker", "--once")
    row.refresh_from_db()
    assert row.status == OutboundStatus.SENT


@pytest.mark.django_db
def test_worker_once_twice_runs_twice(smtp_sink: SmtpSink) -> None:  # noqa: F811
    store_mail("<first@ekb.example.test>")
    call_command("worker", "--once")
    store_mail("<second@ekb.example.test>")
    call_command("worker", "--once")
    assert len(smtp_sink.wait_for(2)) == 2


@pytest.mark.django_db
def test_worker_once_logs_start_and_stop(
    smtp_sink: SmtpSink,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="layanan.jobs"):
        call_command("worker", "--once")
    worker_lines = [
        record.getMessage()
        for record in caplog.records
        if record.name == "layanan.jobs.management.commands.worker"
    ]
    assert worker_lines[0].endswith(
        "started with jobs: mail.send_outbox, tickets.autoclose, "
        "tickets.sla_notices, reports.weekly_digest, dashboard.refresh_summaries"
    )
    assert worker_lines[-1].endswith("stopped")


def run_cli(
    arguments: list[str], environment: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "layanan.cli", *arguments],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_worker_loop_stops_on_sigterm(tmp_path: Path) -> None:
    """Run the real ``layanan worker`` on its own SQLite file until SIGTERM."""
    sink = SmtpSink()
    sink.start()
    environment = {
        **os.environ,
        "LAYANAN_VAR_DIR": str(tmp_path),
        "LAYANAN_SMTP_URL": f"smtp://{sink.host}:{sink.port}?timeout=5",
        "LAYANAN_MAIL_ADDRESS": "layanan@ekb.example.test",
    }
    environment.pop("DATABASE_URL", None)
    environment.pop("LAYANAN_DATABASE_URL", None)
    try:
        # System checks import every URLconf, which is not this test's subject.
        run_cli(["migrate", "--verbosity", "0", "--skip-checks"], environment)
        run_cli(
            [
                "shell",
                "--command",
                "from django.utils import timezone\n"
                "from layanan.mail.models import OutboundEmail\n"
                "OutboundEmail.objects.create(kind='test_note', reference='r',"
                " from_email='layanan@ekb.example.test', to=['budi@example.test'],"
                " subject='Tes', body_text='Halo', body_html='<p>Halo</p>',"
                " message_id='<loop@ekb.example.test>',"
                " next_attempt_at=timezone.now())",
            ],
            environment,
        )
        worker = subprocess.Popen(
            [sys.executable, "-m", "layanan.cli", "worker", "--skip-checks"],
            env=environment,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            message = sink.wait_for(1, timeout=30)[0]
            worker.send_signal(signal.SIGTERM)
            _, errors = worker.communicate(timeout=15)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait(timeout=5)
    finally:
        sink.stop()
    assert message["Message-ID"] == "<loop@ekb.example.test>"
    assert worker.returncode == 0
    assert "stopped" in errors.splitlines()[-1]
