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
        ("IMAP_URL", "pop3://desk:pw@mail", "must look like imaps://"),
        ("IMAP_URL", "imaps://mail.example/INBOX", "names no user or no password"),
        ("IMAP_POLL_SECONDS", "5", "out of range"),
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


def test_imap_url_unset_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAYANAN_IMAP_URL", raising=False)
    assert env.imap_url("IMAP_URL") is None


def test_imap_url_imaps_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYANAN_IMAP_URL", "imaps://desk:pw@mail.example")
    config = env.imap_url("IMAP_URL")
    assert config is not None
    assert (config.host, config.port) == ("mail.example", 993)
    assert config.use_ssl
    assert not config.use_starttls
    assert config.folder == "INBOX"
    assert config.processed_folder is None
    assert config.timeout == 30


def test_imap_url_imap_default_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYANAN_IMAP_URL", "imap://desk:pw@127.0.0.1/INBOX")
    config = env.imap_url("IMAP_URL")
    assert config is not None
    assert config.port == 143
    assert not config.use_ssl
    assert not config.use_starttls


def test_imap_url_starttls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "LAYANAN_IMAP_URL", "imap://desk:pw@mail.example:1143/INBOX?starttls=1"
    )
    config = env.imap_url("IMAP_URL")
    assert config is not None
    assert config.port == 1143
    assert config.use_starttls
    assert not config.use_ssl


def test_imap_url_processed_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "LAYANAN_IMAP_URL",
        "imaps://desk:pw@mail.example/Layanan%20Masuk?processed=Sudah%20Diproses",
    )
    config = env.imap_url("IMAP_URL")
    assert config is not None
    assert config.folder == "Layanan Masuk"
    assert config.processed_folder == "Sudah Diproses"


def test_imap_url_decodes_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "LAYANAN_IMAP_URL", "imaps://desk%40ekb.example:p%3As%2Fs%40w%25rd@mail.example"
    )
    config = env.imap_url("IMAP_URL")
    assert config is not None
    assert config.username == "desk@ekb.example"
    assert config.password == "p:s/s@w%rd"


def test_imap_url_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYANAN_IMAP_URL", "imaps://desk:pw@mail.example?timeout=90")
    config = env.imap_url("IMAP_URL")
    assert config is not None
    assert config.timeout == 90


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://desk:pw@mail.example", "must look like imaps://"),
        ("imaps://mail.example", "names no user or no password"),
        ("imaps://desk@mail.example", "names no user or no password"),
        ("imaps://desk:pw@mail.example:99999", "invalid port"),
        ("imaps://desk:pw@mail.example?starttls=1", "drop starttls=1"),
        ("imaps://desk:pw@mail.example?timeout=soon", "timeout='soon'"),
        ("imaps://desk:pw@mail.example?timeout=0", "from 1 to 600"),
        ("imaps://desk:pw@mail.example/INBOX?processed=inbox", "another folder"),
    ],
)
def test_imap_url_invalid_names_variable(
    monkeypatch: pytest.MonkeyPatch, url: str, message: str
) -> None:
    monkeypatch.setenv("LAYANAN_IMAP_URL", url)
    with pytest.raises(env.ConfigurationError) as raised:
        env.imap_url("IMAP_URL")
    assert "LAYANAN_IMAP_URL" in str(raised.value)
    assert message in str(raised.value)


def test_imap_url_error_hides_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYANAN_IMAP_URL", "imaps://desk:Rahasia-42@mail.example:x")
    with pytest.raises(env.ConfigurationError) as raised:
        env.imap_url("IMAP_URL")
    assert "Rahasia-42" not in str(raised.value)


def test_settings_imap_loads(tmp_path: Path) -> None:
    result = load_settings(
        tmp_path,
        LAYANAN_IMAP_URL="imaps://desk:pw@mail.example/INBOX?processed=Processed",
        LAYANAN_IMAP_POLL_SECONDS="3600",
    )
    assert result.returncode == 0, result.stderr


def test_database_url_sqlite_absolute_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYANAN_DATABASE_URL", "sqlite:////srv/layanan/db.sqlite3")
    database = env.database_url("DATABASE_URL", "unused")
    assert database["NAME"] == "/srv/layanan/db.sqlite3"


def test_database_url_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYANAN_DATABASE_URL", "postgres://desk:pw@127.0.0.1:5433/desk")
    database = env.database_url("DATABASE_URL", "unused")
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["NAME"], database["PORT"]) == ("desk", "5433")


def test_settings_invalid_npm_pattern_rejected(tmp_path: Path) -> None:
    result = load_settings(tmp_path, LAYANAN_NPM_PATTERN="[0-9")
    assert result.returncode != 0
    assert "LAYANAN_NPM_PATTERN" in result.stderr
    assert "not a valid regular expression" in result.stderr


def test_cli_bad_setting_prints_one_line(tmp_path: Path) -> None:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("LAYANAN_")
    }
    environment.update(LAYANAN_VAR_DIR=str(tmp_path), LAYANAN_PORT="abc")
    result = subprocess.run(
        [sys.executable, "-m", "layanan.cli", "check"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "layanan: LAYANAN_PORT='abc' is not a whole number."
    ]
