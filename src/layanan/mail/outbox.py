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
from email.utils import format_datetime, formataddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.smtp import EmailBackend
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from layanan.chat.models import Attachment
from layanan.chat.uploads import open_stored
from layanan.env import SmtpConfig
from layanan.mail.models import OutboundEmail, OutboundStatus
from layanan.mail.threading import (
    CC_KEY,
    clean_message_id,
    clean_message_ids,
    may_send_automatic,
    record_automatic_recipients,
    trim_references,
)

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
# The ids of the files to attach, kept in the headers JSON like CC_KEY.
ATTACHMENTS_KEY = "layanan:attachments"
AUTOMATIC_HEADERS = {
    "Auto-Submitted": "auto-generated",
    "X-Auto-Response-Suppress": "All",
}


class MissingAttachment(ValueError):
    """A file the message should carry is no longer stored."""


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
    cc: list[str] | None = None,
    in_reply_to: str = "",
    references: list[str] | None = None,
    attachments: list[Attachment] | None = None,
    automatic: bool = False,
    trigger_in_reply_to: list[str] | None = None,
    rate_limited: bool = True,
) -> OutboundEmail | None:
    """Render ``mail/<template>.*`` and store the message as PENDING.

    Call inside the transaction that makes the change the mail is about. Nothing
    is sent here. Raise ValueError for an invalid recipient, Reply-To or header.
    Invalid Message-IDs in ``in_reply_to`` and ``references`` are left out.

    ``automatic`` marks mail the system sends on its own. It carries
    Auto-Submitted and goes through ``may_send_automatic`` for every recipient,
    with ``trigger_in_reply_to`` (the In-Reply-To of the mail that triggered
    it) and ``rate_limited``. When that holds it back, nothing is stored and the
    result is None; mail that is not automatic is always stored.
    """
    if isinstance(to, str) or not to:
        raise ValueError("The recipient list is empty: pass a list of addresses.")
    if isinstance(cc, str):
        raise ValueError("The Cc list is a string: pass a list of addresses.")
    for address in to:
        _check_address(address, "recipient")
    for address in cc or []:
        _check_address(address, "Cc")
    extra_headers = _extra_headers(headers, reply_to, cc, attachments)
    thread_in_reply_to, thread_references = _thread_ids(
        in_reply_to, references, kind, reference
    )
    if automatic and _held_back(
        kind, reference, [*to, *(cc or [])], trigger_in_reply_to, rate_limited
    ):
        return None
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
        automatic=automatic,
        in_reply_to=thread_in_reply_to,
        references=" ".join(thread_references),
    )
    if automatic:
        record_automatic_recipients(row, [*to, *(cc or [])])
    logger.info(
        "Queued outbound email outbox=%s kind=%s reference=%s",
        row.id,
        kind,
        reference,
    )
    return row


def _extra_headers(
    headers: dict[str, str] | None,
    reply_to: str | None,
    cc: list[str] | None,
    attachments: list[Attachment] | None,
) -> dict[str, object]:
    """Return the headers JSON of a new row: the caller's, checked, plus ours."""
    extra_headers: dict[str, object] = {}
    for name, value in (headers or {}).items():
        _check_header(name, value)
        extra_headers[name] = value
    if reply_to is not None:
        _check_address(reply_to, "Reply-To")
        extra_headers["Reply-To"] = reply_to
    if cc:
        extra_headers[CC_KEY] = list(cc)
    if attachments:
        if any(attachment.pk is None for attachment in attachments):
            raise ValueError("An attachment is not saved: save it before queuing.")
        extra_headers[ATTACHMENTS_KEY] = [attachment.pk for attachment in attachments]
    return extra_headers


def _thread_ids(
    in_reply_to: str, references: list[str] | None, kind: str, reference: str
) -> tuple[str, list[str]]:
    """Return In-Reply-To and the trimmed References, invalid ids left out.

    The ids mostly come from received mail, so a malformed one is dropped with a
    warning instead of failing the change that queues the mail.
    """
    if not isinstance(in_reply_to, str):
        raise ValueError("In-Reply-To is not a string: pass one Message-ID.")
    if isinstance(references, str):
        raise ValueError("References is a string: pass a list of Message-IDs.")
    passed = [in_reply_to, *(references or [])] if in_reply_to else references or []
    invalid = [
        value
        for value in passed
        if not (isinstance(value, str) and clean_message_id(value))
    ]
    cleaned = clean_message_id(in_reply_to) if in_reply_to else ""
    cleaned_references = clean_message_ids(
        value for value in references or [] if isinstance(value, str)
    )
    if invalid:
        logger.warning(
            "Left out %s invalid Message-IDs of outbound email kind=%s reference=%s",
            len(invalid),
            kind,
            reference,
        )
    return cleaned, trim_references(cleaned_references)


def _held_back(
    kind: str,
    reference: str,
    recipients: list[str],
    trigger_in_reply_to: list[str] | None,
    rate_limited: bool,
) -> bool:
    """Tell whether the loop guard stops an automatic mail to ``recipients``."""
    for address in recipients:
        allowed, reason = may_send_automatic(
            address,
            in_reply_to_ids=list(trigger_in_reply_to or []),
            rate_limited=rate_limited,
        )
        if not allowed:
            logger.info(
                "Held back automatic email kind=%s reference=%s: %s",
                kind,
                reference,
                reason,
            )
            return True
    return False


def mailbox(name: str, address: str) -> str:
    """Return ``"Name" <address>`` for To or Cc, the name on one line."""
    # Collapsing whitespace removes CR and LF, so a name can never start a header.
    return formataddr((" ".join(name.split()), address.strip()))


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


def build_message(
    row: OutboundEmail, *, with_attachments: bool = True
) -> EmailMultiAlternatives:
    """Return the email message stored in ``row``, as the SMTP server gets it.

    The attached files are read from UPLOAD_ROOT unless ``with_attachments`` is
    False; a file that is gone raises MissingAttachment.
    """
    stored = dict(row.headers)
    reply_to = stored.pop("Reply-To", None)
    copied = stored.pop(CC_KEY, None) or []
    stored.pop(ATTACHMENTS_KEY, None)
    headers = {str(name): str(value) for name, value in stored.items()}
    if row.in_reply_to:
        _set_header(headers, "In-Reply-To", row.in_reply_to)
    if row.references:
        _set_header(headers, "References", row.references)
    if row.automatic:
        for name, value in AUTOMATIC_HEADERS.items():
            _set_header(headers, name, value)
    created = row.created or timezone.now()
    headers["Message-ID"] = row.message_id
    headers["Date"] = format_datetime(timezone.localtime(created))
    message = EmailMultiAlternatives(
        subject=row.subject,
        body=row.body_text,
        from_email=row.from_email,
        to=list(row.to),
        cc=list(copied) or None,
        reply_to=[str(reply_to)] if reply_to else None,
        headers=headers,
    )
    message.attach_alternative(row.body_html, "text/html")
    if with_attachments:
        for attachment in attachments_of(row):
            _attach_file(message, attachment)
    return message


def _set_header(headers: dict[str, str], name: str, value: str) -> None:
    """Set ``name`` once, dropping any spelling of it in another case."""
    for existing in [key for key in headers if key.lower() == name.lower()]:
        del headers[existing]
    headers[name] = value


def attachments_of(row: OutboundEmail) -> list[Attachment]:
    """Return the attachments of ``row`` in the order they were queued."""
    ids = row.headers.get(ATTACHMENTS_KEY) or []
    found = Attachment.objects.in_bulk(ids)
    missing = [attachment_id for attachment_id in ids if attachment_id not in found]
    if missing:
        raise MissingAttachment(
            f"Attachments {missing} of outbound email {row.id} no longer exist."
        )
    return [found[attachment_id] for attachment_id in ids]


def _attach_file(message: EmailMultiAlternatives, attachment: Attachment) -> None:
    # The stored type may carry "; charset=...", which Django's attach() expects
    # without parameters; text that is not UTF-8 then goes as octet-stream.
    mimetype = attachment.content_type.split(";", 1)[0].strip()
    try:
        with open_stored(attachment.storage_path) as stored_file:
            content = stored_file.read()
    except FileNotFoundError:
        raise MissingAttachment(
            f"The file of attachment {attachment.pk} is no longer stored."
        ) from None
    message.attach(attachment.original_name, content, mimetype or None)


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
            message = build_message(row)
        except (OSError, ValueError) as error:
            # The message cannot be built, but the connection is still fine.
            _record_failure(row, now, _describe(error, config), _log_label(error))
            continue
        try:
            delivered = backend.send_messages([message])
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
