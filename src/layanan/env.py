"""Typed readers for ``LAYANAN_*`` environment variables that fail loudly."""

import os
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit


class ConfigurationError(Exception):
    """Raised when an environment variable holds a value the product cannot use."""


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
