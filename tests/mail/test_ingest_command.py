"""``layanan ingest-email``, the MTA pipe, run as the MTA would run it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CASES = Path(__file__).parent / "cases"
REQUEST = CASES / "05-duplicate-fetch" / "05a-new-request.eml"
BOUNCE = CASES / "04-automated-mail-loops" / "04f-spoofed-bounce-unknown-message-id.eml"


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    variables = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("LAYANAN_")
    }
    variables.update(LAYANAN_VAR_DIR=str(tmp_path), **extra)
    return variables


def run(
    arguments: list[str], stdin: bytes, variables: dict[str, str]
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "layanan.cli", *arguments],
        input=stdin,
        env=variables,
        capture_output=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def migrated(tmp_path: Path) -> dict[str, str]:
    variables = environment(tmp_path)
    result = run(["migrate", "-v0"], b"", variables)
    assert result.returncode == 0, result.stderr
    return variables


def test_ingest_email_new_request_json(migrated: dict[str, str]) -> None:
    result = run(["ingest-email", "--json"], REQUEST.read_bytes(), migrated)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["outcome"] == "new_ticket"
    assert outcome["ticket"].startswith("EKB-")
    assert outcome["subject"] == "Printer lantai 3 macet"
    assert outcome["reason"]


def test_ingest_email_duplicate_exits_zero(migrated: dict[str, str]) -> None:
    run(["ingest-email"], REQUEST.read_bytes(), migrated)
    result = run(["ingest-email", "--json"], REQUEST.read_bytes(), migrated)
    assert result.returncode == 0
    assert json.loads(result.stdout)["outcome"] == "duplicate"


def test_ingest_email_bounce_exits_zero(migrated: dict[str, str]) -> None:
    result = run(["ingest-email", "--json"], BOUNCE.read_bytes(), migrated)
    assert result.returncode == 0
    assert json.loads(result.stdout)["outcome"] == "bounce"


def test_ingest_email_garbage_quarantined_exits_zero(migrated: dict[str, str]) -> None:
    result = run(["ingest-email", "--json"], b"\x00\xff\xfe broken", migrated)
    assert result.returncode == 0
    assert json.loads(result.stdout)["outcome"] in {"quarantined", "new_ticket"}


def test_ingest_email_empty_input_tempfails(migrated: dict[str, str]) -> None:
    result = run(["ingest-email"], b"", migrated)
    assert result.returncode == 75
    assert b"No message on standard input" in result.stderr


def test_ingest_email_database_down_tempfails(tmp_path: Path) -> None:
    variables = environment(
        tmp_path, LAYANAN_DATABASE_URL="sqlite:////nonexistent-dir/layanan.sqlite3"
    )
    result = run(["ingest-email"], REQUEST.read_bytes(), variables)
    assert result.returncode == 75
    assert b"the MTA should retry" in result.stderr
