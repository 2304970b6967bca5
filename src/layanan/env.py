"""Typed readers for ``LAYANAN_*`` environment variables that fail loudly."""

import os
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit


class ConfigurationError(Exception):
    """Raised when an environment variable contains a value the product cannot use."""


PREFIX = "LAYANAN_"


def text(name: str, default: str) -> str:
    return os.environ.get(PREFIX + name, default)


def optional_text(name: str) -> str | None:
    value = os.environ.get(PREFIX + name, "").strip()
    return value or None


def flag(name: str, default: bool) -> bool:
    raw = os.environ.get(PREFIX + name)
    if raw is None or raw.strip() == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigurationError(
        f"{PREFIX}{name}={raw!r} is not a boolean: "
        "use 1/0, true/false, yes/no or on/off."
    )


def integer(name: str, default: int, minimum: int, maximum: int) -> int:
    raw = os.environ.get(PREFIX + name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigurationError(
            f"{PREFIX}{name}={raw!r} is not a whole number."
        ) from None
    if not minimum <= value <= maximum:
        raise ConfigurationError(
            f"{PREFIX}{name}={value} is out of range: use {minimum} to {maximum}."
        )
    return value


def word_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(PREFIX + name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str
    password: str
    use_tls: bool
    use_ssl: bool
    timeout: int


def smtp_url(name: str) -> SmtpConfig | None:
    """Parse ``smtp://user:pass@host:587?starttls=1`` (or ``smtps://`` for TLS)."""
    raw = optional_text(name)
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
        raise ConfigurationError(
            f"{PREFIX}{name} must look like smtp://user:password@host:587?starttls=1 "
            "or smtps://user:password@host:465."
        )
    query = parse_qs(parts.query)
    use_ssl = parts.scheme == "smtps"
    starttls = query.get("starttls", ["0"])[0].lower() in {"1", "true", "yes", "on"}
    try:
        port = parts.port or (465 if use_ssl else 25)
    except ValueError:
        raise ConfigurationError(f"{PREFIX}{name} has an invalid port.") from None
    return SmtpConfig(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        use_tls=starttls,
        use_ssl=use_ssl,
        timeout=int(query.get("timeout", ["30"])[0]),
    )


@dataclass(frozen=True)
class ImapConfig:
    host: str
    port: int
    username: str
    # Left out of repr() so that logging a config never writes the password.
    password: str = field(repr=False)
    folder: str
    # The folder processed messages move to; None flags them \Seen instead.
    processed_folder: str | None
    use_ssl: bool
    use_starttls: bool
    # Seconds for connecting and for each command.
    timeout: int


def imap_url(name: str) -> ImapConfig | None:
    """Parse ``imaps://user:pass@host:993/INBOX?processed=Processed`` or
    ``imap://…?starttls=1``. Plain ``imap://`` sends the password in clear."""
    raw = optional_text(name)
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in {"imap", "imaps"} or not parts.hostname:
        raise ConfigurationError(
            f"{PREFIX}{name} must look like "
            "imaps://user:password@host:993/INBOX?processed=Processed "
            "or imap://user:password@host:143/INBOX?starttls=1."
        )
    if not parts.username or parts.password is None:
        raise ConfigurationError(
            f"{PREFIX}{name} names no user or no password: put them before the "
            "host as user:password@, with @ : / written as %40 %3A %2F."
        )
    query = parse_qs(parts.query)
    use_ssl = parts.scheme == "imaps"
    starttls = query.get("starttls", ["0"])[0].lower() in {"1", "true", "yes", "on"}
    if use_ssl and starttls:
        raise ConfigurationError(
            f"{PREFIX}{name} asks for starttls on imaps://, which is TLS already: "
            "drop starttls=1, or use imap:// with port 143."
        )
    try:
        port = parts.port or (993 if use_ssl else 143)
    except ValueError:
        raise ConfigurationError(f"{PREFIX}{name} has an invalid port.") from None
    raw_timeout = query.get("timeout", ["30"])[0]
    try:
        timeout = int(raw_timeout)
    except ValueError:
        timeout = 0
    if not 1 <= timeout <= 600:
        raise ConfigurationError(
            f"{PREFIX}{name} has timeout={raw_timeout!r}: use whole seconds "
            "from 1 to 600."
        )
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    processed = query.get("processed", [""])[0].strip() or None
    # IMAP compares the name INBOX without regard to case, and other names exactly.
    if processed is not None and (
        processed == folder or processed.upper() == folder.upper() == "INBOX"
    ):
        raise ConfigurationError(
            f"{PREFIX}{name} moves processed mail to the folder it reads from: "
            "give processed= another folder."
        )
    return ImapConfig(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username),
        password=unquote(parts.password),
        folder=folder,
        processed_folder=processed,
        use_ssl=use_ssl,
        use_starttls=starttls,
        timeout=timeout,
    )


def database_url(name: str, default_sqlite_path: str) -> dict[str, object]:
    """Turn ``sqlite:///path`` or ``postgres://user:pass@host:port/db`` into a
    Django ``DATABASES`` entry."""
    raw = optional_text(name) or f"sqlite:///{default_sqlite_path}"
    parts = urlsplit(raw)
    if parts.scheme == "sqlite":
        # sqlite:////abs/path gives "//abs/path", sqlite:///rel/path gives "/rel/path".
        path = unquote(parts.path)[1:]
        if not path:
            raise ConfigurationError(f"{PREFIX}{name} names no SQLite file.")
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path,
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    "PRAGMA busy_timeout=20000;"
                ),
            },
            "CONN_MAX_AGE": None,
            "TEST": {"NAME": path + ".test"},
        }
    if parts.scheme in {"postgres", "postgresql"}:
        database = unquote(parts.path.lstrip("/"))
        if not database:
            raise ConfigurationError(
                f"{PREFIX}{name} names no database after the host."
            )
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": database,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": None,
            "CONN_HEALTH_CHECKS": True,
            "TEST": {"NAME": "test_" + database},
        }
    raise ConfigurationError(
        f"{PREFIX}{name} must start with sqlite:/// or postgres://, "
        f"not {parts.scheme!r}."
    )
