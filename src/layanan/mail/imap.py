"""Inbound mail from an IMAP mailbox: fetch new messages and hand each to ingest.

A poll selects the configured folder and fetches its new messages oldest first
with ``BODY.PEEK[]``, which leaves them unseen. Only after ``ingest`` returns
is a message marked processed: flagged ``\\Seen``, or moved to the processed
folder when the configuration names one. A message whose ingest raises stays
as it was and is fetched again at the next poll. Delivery is at least once: if
the connection breaks between ingest and the mark, the next poll hands the
same message to ingest again, so ingest must recognise a repeat.
"""

import base64
import contextlib
import imaplib
import ipaddress
import logging
import re
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from layanan.env import ImapConfig

logger = logging.getLogger(__name__)

ERROR_MAX_LENGTH = 300
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
# Plain-IMAP servers already warned about, so a worker warns once, not every poll.
_warned_plaintext: set[tuple[str, int]] = set()
RESPONSE_CODE = re.compile(rb"^\[([A-Z-]+)")


class ImapUnavailable(Exception):
    """Raised when the IMAP server cannot be reached, logged into or read."""


@dataclass(frozen=True)
class FetchReport:
    """The outcome of one poll: messages handed to ingest, stored and failed."""

    fetched: int
    stored: int
    failed: int
    # One line per failed message or failed mark, naming the UID but never the body.
    errors: list[str]


def fetch_mail(
    config: ImapConfig, ingest: Callable[[bytes], object], *, limit: int = 100
) -> FetchReport:
    """Fetch up to ``limit`` new messages, pass each to ``ingest`` and mark it.

    Raise ImapUnavailable when the server cannot be reached, rejects the login,
    times out or drops the connection. Messages stored before a dropped
    connection stay stored, and the rest wait for the next poll.
    """
    if limit < 1:
        raise ValueError(f"The limit is {limit}: fetch at least 1 message.")
    _warn_if_plaintext(config)
    connection = _connect(config)
    try:
        report = _poll(connection, config, ingest, limit)
    finally:
        _logout(connection)
    logger.info(
        "IMAP poll of %s on %s: fetched=%d stored=%d failed=%d",
        config.folder,
        _address(config),
        report.fetched,
        report.stored,
        report.failed,
    )
    return report


def ingest_from_imap(raw: bytes) -> object:
    """Store ``raw`` with ``layanan.mail.inbound.ingest`` as mail that came by IMAP."""
    # Imported here, at the first message, so that configuring and polling an
    # empty mailbox do not load the inbound pipeline and its models.
    from layanan.mail.inbound import ingest

    return ingest(raw, via="imap")


def _address(config: ImapConfig) -> str:
    return f"{config.host}:{config.port}"


def _warn_if_plaintext(config: ImapConfig) -> None:
    """Warn once per server when the password would cross a network in clear."""
    if config.use_ssl or config.use_starttls or _is_loopback(config.host):
        return
    key = (config.host, config.port)
    if key in _warned_plaintext:
        return
    _warned_plaintext.add(key)
    logger.warning(
        "LAYANAN_IMAP_URL uses plain imap:// to %s, so the password travels in "
        "clear: use imaps:// or imap://...?starttls=1",
        _address(config),
    )


def _is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _connect(config: ImapConfig) -> imaplib.IMAP4:
    """Open a connection, secure it as configured and log in."""
    address = _address(config)
    try:
        if config.use_ssl:
            connection: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                config.host,
                config.port,
                ssl_context=ssl.create_default_context(),
                timeout=config.timeout,
            )
        else:
            connection = imaplib.IMAP4(config.host, config.port, timeout=config.timeout)
    except Exception as error:
        raise _unavailable(config, error, "connecting") from None
    try:
        if config.use_starttls:
            _start_tls(connection, config)
    except ImapUnavailable:
        _logout(connection)
        raise
    except Exception as error:
        _logout(connection)
        raise _unavailable(config, error, "starting TLS") from None
    try:
        connection.login(config.username, config.password)
    except imaplib.IMAP4.abort as error:
        _logout(connection)
        raise _unavailable(config, error, "logging in") from None
    except imaplib.IMAP4.error as error:
        _logout(connection)
        raise ImapUnavailable(
            f"The IMAP server {address} rejected the login of user "
            f"{config.username!r} ({_server_text(error, config)}): check the user "
            "name and password in LAYANAN_IMAP_URL."
        ) from None
    except Exception as error:
        _logout(connection)
        raise _unavailable(config, error, "logging in") from None
    return connection


def _start_tls(connection: imaplib.IMAP4, config: ImapConfig) -> None:
    if "STARTTLS" not in connection.capabilities:
        raise ImapUnavailable(
            f"The IMAP server {_address(config)} does not offer STARTTLS: use "
            "imaps:// (usually port 993) in LAYANAN_IMAP_URL, or enable STARTTLS "
            "on the server."
        )
    connection.starttls(ssl.create_default_context())


def _unavailable(
    config: ImapConfig, error: BaseException, step: str
) -> ImapUnavailable:
    """Return the ImapUnavailable for a network, TLS or protocol failure."""
    address = _address(config)
    if isinstance(error, TimeoutError):
        return ImapUnavailable(
            f"The IMAP server {address} did not answer within {config.timeout} s "
            f"while {step}: check the host, the port and any firewall, or raise "
            "timeout= in LAYANAN_IMAP_URL."
        )
    if isinstance(error, ssl.SSLError):
        return ImapUnavailable(
            f"TLS with the IMAP server {address} failed while {step} "
            f"({_server_text(error, config)}): check that the port speaks TLS "
            "(993 for imaps://, 143 with starttls=1) and that the server's "
            "certificate is valid for the host name."
        )
    if isinstance(error, ConnectionRefusedError):
        return ImapUnavailable(
            f"The IMAP server {address} refused the connection: check the host "
            "and port in LAYANAN_IMAP_URL and that the server is running."
        )
    return ImapUnavailable(
        f"The IMAP server {address} failed while {step} "
        f"({_server_text(error, config)}): check the host and port in "
        "LAYANAN_IMAP_URL and that the server is running."
    )


def _server_text(error: BaseException, config: ImapConfig) -> str:
    """Return the error's text, decoded, shortened and without the password."""
    detail: object = error.args[0] if len(error.args) == 1 else error
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    text = str(detail) or type(error).__name__
    if config.password:
        text = text.replace(config.password, "***")
    return text[:ERROR_MAX_LENGTH]


def _logout(connection: imaplib.IMAP4) -> None:
    # The connection is closed either way, and LOGOUT fails on a broken one.
    with contextlib.suppress(Exception):
        connection.logout()


def _poll(
    connection: imaplib.IMAP4,
    config: ImapConfig,
    ingest: Callable[[bytes], object],
    limit: int,
) -> FetchReport:
    """Run one poll on a logged-in connection."""
    fetched = stored = failed = 0
    errors: list[str] = []
    try:
        capabilities = _capabilities(connection)
        if config.processed_folder is not None:
            # Before any ingest: a message stored but never moved would be
            # fetched again at every poll.
            _ensure_folder(connection, config, config.processed_folder)
        _select(connection, config)
        uids = _new_uids(connection, config)
        if len(uids) > limit:
            logger.info(
                "IMAP folder %s has %d new messages: fetching %d, the rest next poll",
                config.folder,
                len(uids),
                limit,
            )
        for uid in uids[:limit]:
            raw = _fetch(connection, uid)
            if raw is None:
                logger.info("IMAP message uid=%s vanished before it was fetched", uid)
                continue
            fetched += 1
            try:
                ingest(raw)
            except Exception as error:
                failed += 1
                errors.append(f"UID {uid}: ingest failed: {_describe(error)}")
                logger.exception(
                    "Ingest of IMAP message uid=%s failed; it stays unprocessed "
                    "for the next poll",
                    uid,
                )
                continue
            stored += 1
            problem = _mark_processed(connection, config, capabilities, uid)
            if problem is None:
                logger.info("Processed IMAP message uid=%s size=%d", uid, len(raw))
            else:
                errors.append(f"UID {uid}: stored, but {problem}")
                logger.warning("IMAP message uid=%s was stored, but %s", uid, problem)
    except ImapUnavailable:
        raise
    except (OSError, imaplib.IMAP4.error) as error:
        raise ImapUnavailable(
            f"The connection to the IMAP server {_address(config)} failed during "
            f"the poll ({_server_text(error, config)}) after {stored} messages "
            "were stored: the rest are fetched at the next poll."
        ) from None
    return FetchReport(fetched=fetched, stored=stored, failed=failed, errors=errors)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:ERROR_MAX_LENGTH]


def _capabilities(connection: imaplib.IMAP4) -> frozenset[str]:
    """Return the capabilities after login, which often differ from before it."""
    # imaplib reads the list once, at the greeting, so it misses MOVE and UIDPLUS.
    status, data = connection.capability()
    if status != "OK" or not data or not isinstance(data[0], bytes):
        return frozenset(connection.capabilities)
    return frozenset(data[0].decode("ascii", "replace").upper().split())


def _ensure_folder(connection: imaplib.IMAP4, config: ImapConfig, folder: str) -> None:
    """Create ``folder`` unless it exists; raise ImapUnavailable if that fails."""
    name = encode_mailbox(folder)
    status, data = connection.list('""', name)
    if status == "OK" and any(item is not None for item in data):
        return
    status, data = connection.create(name)
    if status == "OK":
        logger.info("Created IMAP folder %s for processed mail", folder)
        return
    if _response_code(data) == b"ALREADYEXISTS":
        return
    raise ImapUnavailable(
        f"The IMAP server {_address(config)} could not create the folder "
        f"{folder!r} ({_response_text(data)}): create it by hand, or name an "
        "existing folder in processed= of LAYANAN_IMAP_URL."
    )


def _select(connection: imaplib.IMAP4, config: ImapConfig) -> None:
    status, data = connection.select(encode_mailbox(config.folder))
    if status != "OK":
        raise ImapUnavailable(
            f"The IMAP server {_address(config)} cannot open the folder "
            f"{config.folder!r} ({_response_text(data)}): check the folder in the "
            "path of LAYANAN_IMAP_URL, such as /INBOX."
        )


def _new_uids(connection: imaplib.IMAP4, config: ImapConfig) -> list[int]:
    """Return the UIDs of unprocessed messages, oldest first."""
    # UNDELETED skips a message already copied to the processed folder whose
    # expunge failed, so it is not stored twice.
    if config.processed_folder is None:
        criteria = "(UNSEEN UNDELETED)"
    else:
        criteria = "(UNDELETED)"
    status, data = connection.uid("SEARCH", criteria)
    if status != "OK":
        raise ImapUnavailable(
            f"The IMAP server {_address(config)} failed to search the folder "
            f"{config.folder!r} ({_response_text(data)})."
        )
    words = b" ".join(item for item in data if isinstance(item, bytes)).split()
    # UIDs grow with each message added to a folder, so sorting puts the oldest first.
    return sorted(int(word) for word in words)


def _fetch(connection: imaplib.IMAP4, uid: int) -> bytes | None:
    """Return the raw message ``uid`` without setting \\Seen, or None if it is gone."""
    status, data = connection.uid("FETCH", str(uid), "(BODY.PEEK[])")
    if status != "OK":
        return None
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            return bytes(item[1])
    return None


def _mark_processed(
    connection: imaplib.IMAP4,
    config: ImapConfig,
    capabilities: frozenset[str],
    uid: int,
) -> str | None:
    """Flag or move the message ``uid``; return what failed, or None."""
    if config.processed_folder is None:
        status, data = connection.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Seen)")
        if status != "OK":
            return f"flagging it \\Seen failed ({_response_text(data)})"
        return None
    target = encode_mailbox(config.processed_folder)
    if "MOVE" in capabilities:
        status, data = connection.uid("MOVE", str(uid), target)
        if status != "OK":
            return f"moving it failed ({_response_text(data)})"
        return None
    status, data = connection.uid("COPY", str(uid), target)
    if status != "OK":
        return f"copying it failed ({_response_text(data)})"
    status, data = connection.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Deleted)")
    if status != "OK":
        return f"flagging it \\Deleted after the copy failed ({_response_text(data)})"
    # UID EXPUNGE removes this message only; a plain EXPUNGE also removes any
    # other message someone flagged \Deleted in the folder.
    if "UIDPLUS" in capabilities:
        status, data = connection.uid("EXPUNGE", str(uid))
    else:
        status, data = connection.expunge()
    if status != "OK":
        return f"expunging it after the copy failed ({_response_text(data)})"
    return None


def _response_code(data: Sequence[object]) -> bytes | None:
    first = data[0] if data else None
    if not isinstance(first, bytes):
        return None
    match = RESPONSE_CODE.match(first)
    return match.group(1) if match else None


def _response_text(data: Sequence[object]) -> str:
    parts = [
        item.decode("utf-8", "replace") for item in data if isinstance(item, bytes)
    ]
    return " ".join(parts)[:ERROR_MAX_LENGTH] or "no reason given"


def encode_mailbox(name: str) -> str:
    """Return the folder ``name`` as a quoted IMAP string in modified UTF-7.

    IMAP4rev1 (RFC 3501, section 5.1.3) writes non-ASCII folder names as
    base64 of UTF-16 between ``&`` and ``-``, with ``,`` for ``/``, and ``&``
    itself as ``&-``.
    """
    pieces: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            encoded = base64.b64encode("".join(pending).encode("utf-16-be"))
            pieces.append("&" + encoded.decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for character in name:
        if " " <= character <= "~":
            flush()
            pieces.append("&-" if character == "&" else character)
        else:
            pending.append(character)
    flush()
    text = "".join(pieces).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'
