"""Settings read from the environment: safe defaults, loud failures."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from layanan import env


def load_settings(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    """Import the settings module in a fresh interpreter with only these variables."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("LAYANAN_")
    }
    environment.update({"LAYANAN_VAR_DIR": str(tmp_path)}, **variables)
    return subprocess.run(
        [sys.executable, "-c", "import layanan.settings"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_settings_demo_defaults_load(tmp_path: Path) -> None:
    result = load_settings(tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "secret_key").exists()


def test_settings_production_requires_secret_key(tmp_path: Path) -> None:
    result = load_settings(tmp_path, LAYANAN_DEPLOYMENT="production")
    assert result.returncode != 0
    assert "LAYANAN_SECRET_KEY is missing" in result.stderr


def test_settings_production_rejects_debug(tmp_path: Path) -> None:
    result = load_settings(
        tmp_path,
        LAYANAN_DEPLOYMENT="production",
        LAYANAN_SECRET_KEY="x" * 50,
        LAYANAN_DEBUG="1",
    )
    assert result.returncode != 0
    assert "LAYANAN_DEBUG is on in production" in result.stderr


def test_settings_production_rejects_any_widget_origin(tmp_path: Path) -> None:
    result = load_settings(
        tmp_path,
        LAYANAN_DEPLOYMENT="production",
        LAYANAN_SECRET_KEY="x" * 50,
        LAYANAN_BASE_URL="https://layanan.example.ac.id",
        LAYANAN_WIDGET_ORIGINS="*",
    )
    assert result.returncode != 0
    assert "LAYANAN_WIDGET_ORIGINS contains *" in result.stderr


def test_settings_production_starts_when_complete(tmp_path: Path) -> None:
    result = load_settings(
        tmp_path,
        LAYANAN_DEPLOYMENT="production",
        LAYANAN_SECRET_KEY="x" * 50,
        LAYANAN_BASE_URL="https://layanan.example.ac.id",
        LAYANAN_WIDGET_ORIGINS="https://jeb.example.ac.id",
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PORT", "eighty", "is not a whole number"),
        ("PORT", "70000", "out of range"),
        ("DEBUG", "maybe", "is not a boolean"),
        ("BASE_URL", "ftp://example", "is invalid"),
        ("DATABASE_URL", "mysql://x/y", "must start with sqlite:/// or postgres://"),
        ("SMTP_URL", "http://mail", "must look like smtp://"),
        ("LANGUAGE", "fr", "is not supported"),
        ("TICKET_PREFIX", "EK-B", "is invalid"),
    ],
)
def test_settings_bad_value_names_variable(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    result = load_settings(tmp_path, **{f"LAYANAN_{name}": value})
    assert result.returncode != 0
    assert f"LAYANAN_{name}" in result.stderr
    assert message in result.stderr


def test_smtp_url_parses_starttls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "LAYANAN_SMTP_URL", "smtp://user%40x:p%3Ass@mail.example:587?starttls=1"
    )
    config = env.smtp_url("SMTP_URL")
    assert config is not None
    assert (config.host, config.port) == ("mail.example", 587)
    assert config.username == "user@x"
    assert config.password == "p:ss"
    assert config.use_tls
    assert not config.use_ssl


def test_database_url_sqlite_absolute_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYANAN_DATABASE_URL", "sqlite:////srv/layanan/db.sqlite3")
    database = env.database_url("DATABASE_URL", "unused")
    assert database["NAME"] == "/srv/layanan/db.sqlite3"


def test_database_url_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYANAN_DATABASE_URL", "postgres://desk:pw@127.0.0.1:5433/desk")
    database = env.database_url("DATABASE_URL", "unused")
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["NAME"], database["PORT"]) == ("desk", "5433")
