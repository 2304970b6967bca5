"""The durable outbox: mail is stored with the change that causes it, sent later.

``queue_email`` writes a row inside the caller's transaction, so a message exists
exactly when the change that caused it commits. The worker calls ``send_due``,
which claims due rows, sends them over one SMTP connection and retries failures
with exponential backoff. Delivery is at least once: a worker that dies between
the SMTP server's "250 OK" and the status update sends that message again.
"""

import logging
import re
import secrets
import smtplib
from datetime import datetime, timedelta
from email.utils import format_datetime

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.smtp import EmailBackend
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from layanan.env import SmtpConfig
from layanan.mail.models import OutboundEmail, OutboundStatus

logger = logging.getLogger(__name__)

SUBJECT_MAX_LENGTH = 250
LAST_ERROR_MAX_LENGTH = 300
# NOTE: an SMTP outage counts towards this too. 20 attempts span about 13 to 14
# hours, after which the rows are FAILED and nothing resends them.
MAX_ATTEMPTS = 20
FIRST_RETRY_SECONDS = 30
LAST_RETRY_SECONDS = 60 * 60
# Other workers skip a claimed row for this long, so the rows of a worker that
# dies while sending become due again when the claim runs out.
CLAIM_SECONDS = 10 * 60
# queue_email sets these headers from its own arguments, so callers may not pass them.
RESERVED_HEADERS = frozenset(
    {
        "bcc",
        "cc",
        "content-transfer-encoding",
        "content-type",
        "date",
        "from",
        "message-id",
        "mime-version",
        "reply-to",
        "subject",
        "to",
    }
)
HEADER_NAME = re.compile(r"[!-9;-~]+")


def queue_email(
    *,
    kind: str,
    reference: str,
    to: list[str],
    template: str,
    context: dict[str, object],
    language: str,
    headers: dict[str, str] | None = None,
    reply_to: str | None = None,
) -> OutboundEmail:
    """Render ``mail/<template>.*`` and store the message as PENDING.

    Call inside the transaction that makes the change the mail is about. Nothing
    is sent here. Raise ValueError for an invalid recipient, Reply-To or header.
    """
    if isinstance(to, str) or not to:
        raise ValueError("The recipient list is empty: pass a list of addresses.")
    for address in to:
        _check_address(address, "recipient")
    extra_headers = dict(headers or {})
    for name, value in extra_headers.items():
        _check_header(name, value)
    if reply_to is not None:
        _check_address(reply_to, "Reply-To")
        extra_headers["Reply-To"] = reply_to
    with translation.override(language):
        subject = render_to_string(f"mail/{template}.subject.txt", context)
        body_text = render_to_string(f"mail/{template}.txt", context)
        body_html = render_to_string(f"mail/{template}.html", context)
    row = OutboundEmail.objects.create(
        kind=kind,
        reference=reference,
        from_email=settings.MAIL_FROM,
        to=list(to),
        subject=one_line_subject(subject),
        body_text=body_text,
        body_html=body_html,
        headers=extra_headers,
        message_id=new_message_id(),
        status=OutboundStatus.PENDING,
        next_attempt_at=timezone.now(),
    )
    logger.info(
        "Queued outbound email outbox=%s kind=%s reference=%s",
        row.id,
        kind,
        reference,
    )
    return row


def _check_address(address: str, role: str) -> None:
    """Raise ValueError unless ``address`` is one line containing an "@"."""
    # The address itself stays out of the message: tracebacks end up in logs.
    if not isinstance(address, str):
        raise ValueError(
            f"A {role} address is not a string: pass each address as a string."
        )
    if "\r" in address or "\n" in address:
        raise ValueError(
            f"A {role} address contains a line break: pass it on one line."
        )
    if "@" not in address:
        raise ValueError(f"A {role} address has no @: pass a full email address.")


def _check_header(name: str, value: str) -> None:
    """Raise ValueError for a header that is malformed or set elsewhere."""
    if not HEADER_NAME.fullmatch(name):
        raise ValueError(
            f"The header name {name!r} is invalid: use printable ASCII without "
            "spaces or colons."
        )
    if name.lower() in RESERVED_HEADERS:
        raise ValueError(
            f"The header {name} is set by queue_email itself: pass it as an "
            "argument or leave it out."
        )
    if "\r" in value or "\n" in value:
        raise ValueError(
            f"The value of the header {name} contains a line break: pass it on "
            "one line."
        )


def one_line_subject(text: str) -> str:
    """Return ``text`` on one line, whitespace collapsed, at most 250 characters."""
    # Collapsing every kind of whitespace also removes CR and LF, so a subject
    # built from user input can never start a new header.
    subject = " ".join(text.split())
    if len(subject) > SUBJECT_MAX_LENGTH:
        subject = subject[: SUBJECT_MAX_LENGTH - 1].rstrip() + "…"
    return subject


def new_message_id() -> str:
    """Return a fresh ``<random@domain>`` Message-ID on MAIL_ADDRESS's domain."""
    domain = settings.MAIL_ADDRESS.rpartition("@")[2] or "localhost"
    return f"<{secrets.token_hex(16)}@{domain}>"


def build_message(row: OutboundEmail) -> EmailMultiAlternatives:
    """Return the email message stored in ``row``, as the SMTP server gets it."""
    headers = dict(row.headers)
    reply_to = headers.pop("Reply-To", None)
    created = row.created or timezone.now()
    headers["Message-ID"] = row.message_id
    headers["Date"] = format_datetime(timezone.localtime(created))
    message = EmailMultiAlternatives(
        subject=row.subject,
        body=row.body_text,
        from_email=row.from_email,
        to=list(row.to),
        reply_to=[reply_to] if reply_to else None,
        headers=headers,
    )
    message.attach_alternative(row.body_html, "text/html")
    return message


def retry_delay(attempts: int) -> timedelta:
    """Return how long to wait after the ``attempts``-th failed attempt.

    30 s, 1 min, 2 min, 4 min and so on up to one hour, plus up to a tenth more
    so that messages that failed together do not all retry together.
    """
    exponent = min(max(attempts, 1) - 1, 16)
    seconds = min(FIRST_RETRY_SECONDS * 2**exponent, LAST_RETRY_SECONDS)
    jitter_milliseconds = secrets.randbelow(seconds * 100 + 1)
    return timedelta(seconds=seconds, milliseconds=jitter_milliseconds)


def send_due(*, limit: int = 50, now: datetime | None = None) -> int:
    """Send the PENDING rows that are due, oldest first, and return the number sent.

    Safe to run from several workers at once: each row is claimed before it is
    sent. With no SMTP server configured, send nothing.
    """
    config: SmtpConfig | None = settings.SMTP
    if config is None:
        return 0
    # Built before claiming, so that a configuration it rejects claims nothing.
    backend = EmailBackend(
        host=config.host,
        port=config.port,
        username=config.username,
        password=config.password,
        use_tls=config.use_tls,
        use_ssl=config.use_ssl,
        timeout=config.timeout,
        fail_silently=False,
    )
    now = now or timezone.now()
    rows = _claim_due(limit, now)
    if not rows:
        return 0
    try:
        try:
            backend.open()
        except OSError as error:
            logger.warning(
                "Connecting to the SMTP server %s:%s failed (%s), so %s emails "
                "stay pending",
                config.host,
                config.port,
                _log_label(error),
                len(rows),
            )
            for row in rows:
                _record_failure(row, now, _describe(error, config), _log_label(error))
            return 0
        return _send_rows(backend, rows, config, now)
    finally:
        _close_quietly(backend)


def _claim_due(limit: int, now: datetime) -> list[OutboundEmail]:
    """Claim up to ``limit`` due rows by moving them out of every worker's sight."""
    candidates = list(
        OutboundEmail.objects.filter(
            status=OutboundStatus.PENDING, next_attempt_at__lte=now
        )
        .order_by("created", "id")
        .values_list("id", flat=True)[:limit]
    )
    claim_until = now + timedelta(seconds=CLAIM_SECONDS)
    claimed = []
    with transaction.atomic():
        for row_id in candidates:
            # The conditional UPDATE is the claim: of two workers racing for a
            # row, only the first still finds it due.
            updated = OutboundEmail.objects.filter(
                id=row_id, status=OutboundStatus.PENDING, next_attempt_at__lte=now
            ).update(next_attempt_at=claim_until)
            if updated:
                claimed.append(row_id)
    return list(OutboundEmail.objects.filter(id__in=claimed).order_by("created", "id"))


def _send_rows(
    backend: EmailBackend,
    rows: list[OutboundEmail],
    config: SmtpConfig,
    now: datetime,
) -> int:
    """Send ``rows`` over the open ``backend``; stop when the connection breaks."""
    sent = 0
    for index, row in enumerate(rows):
        try:
            delivered = backend.send_messages([build_message(row)])
        except Exception as error:
            _record_failure(row, now, _describe(error, config), _log_label(error))
            if _breaks_connection(error):
                _release(rows[index + 1 :], now)
                break
            continue
        if delivered:
            _record_success(row, now)
            sent += 1
        else:
            _record_failure(row, now, "The message has no recipients.", "no recipients")
    return sent


def _breaks_connection(error: Exception) -> bool:
    """Tell whether ``error`` leaves the SMTP connection unusable."""
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return True
    return isinstance(error, OSError) and not isinstance(error, smtplib.SMTPException)


def _release(rows: list[OutboundEmail], now: datetime) -> None:
    """Give back claimed rows that were never tried, due again at once."""
    if rows:
        OutboundEmail.objects.filter(
            id__in=[row.id for row in rows], status=OutboundStatus.PENDING
        ).update(next_attempt_at=now)


def _record_success(row: OutboundEmail, now: datetime) -> None:
    attempts = row.attempts + 1
    OutboundEmail.objects.filter(id=row.id).update(
        status=OutboundStatus.SENT, sent_at=now, attempts=attempts, last_error=""
    )
    logger.info(
        "Sent outbound email outbox=%s kind=%s reference=%s attempts=%s",
        row.id,
        row.kind,
        row.reference,
        attempts,
    )


def _record_failure(
    row: OutboundEmail, now: datetime, error_text: str, log_label: str
) -> None:
    """Count a failed attempt: retry later, or give up after MAX_ATTEMPTS."""
    attempts = row.attempts + 1
    if attempts >= MAX_ATTEMPTS:
        OutboundEmail.objects.filter(id=row.id).update(
            status=OutboundStatus.FAILED, attempts=attempts, last_error=error_text
        )
        logger.error(
            "Outbound email outbox=%s kind=%s reference=%s failed %s times (%s) "
            "and will not be retried",
            row.id,
            row.kind,
            row.reference,
            attempts,
            log_label,
        )
        return
    next_attempt_at = now + retry_delay(attempts)
    OutboundEmail.objects.filter(id=row.id).update(
        attempts=attempts, last_error=error_text, next_attempt_at=next_attempt_at
    )
    logger.warning(
        "Outbound email outbox=%s attempt %s failed (%s); next attempt at %s",
        row.id,
        attempts,
        log_label,
        next_attempt_at.isoformat(),
    )


def _describe(error: BaseException, config: SmtpConfig) -> str:
    """Return a short description of ``error`` for last_error, without secrets."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        replies = [
            _reply_text(code, reply) for code, reply in error.recipients.values()
        ]
        text = "Recipients refused: " + "; ".join(replies)
    elif isinstance(error, smtplib.SMTPResponseException):
        text = (
            f"{type(error).__name__}: {_reply_text(error.smtp_code, error.smtp_error)}"
        )
    else:
        text = f"{type(error).__name__}: {error}"
    if config.password:
        text = text.replace(config.password, "********")
    return text[:LAST_ERROR_MAX_LENGTH]


def _reply_text(code: int, reply: bytes | str) -> str:
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", "replace")
    return f"{code} {' '.join(reply.split())}"


def _log_label(error: BaseException) -> str:
    """Return the error's class and SMTP code: server replies may name people."""
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{type(error).__name__} {error.smtp_code}"
    if isinstance(error, smtplib.SMTPException):
        return type(error).__name__
    return f"{type(error).__name__}: {error}"


def _close_quietly(backend: EmailBackend) -> None:
    """Close the SMTP connection; the batch is already recorded either way."""
    try:
        backend.close()
    except OSError as error:
        logger.debug("Closing the SMTP connection failed (%s)", _log_label(error))
