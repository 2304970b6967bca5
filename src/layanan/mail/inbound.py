"""Inbound email: store the raw message, classify it, thread it onto a ticket.

The order matters. The raw bytes are kept first, so nothing is lost whatever happens
next. Bounces and auto-replies are recognised before threading, because a bounce
often carries the original's References and would otherwise land as a reply.
Threading then tries, in order: the reply token in a recipient address, the
In-Reply-To and References ids, and the ticket number in the subject (only for
senders who belong to that ticket). Mail that matches nothing opens a ticket.
"""

import hashlib
import logging
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from layanan.catalog.models import Service, Team
from layanan.chat.models import Attachment, Conversation, SenderKind
from layanan.chat.uploads import UploadRejected, store_bytes
from layanan.mail.models import (
    InboundEmail,
    InboundOutcome,
    OutboundEmail,
    OutboundStatus,
)
from layanan.mail.outbox import queue_email
from layanan.mail.parsing import (
    ParsedEmail,
    parse_email,
    strip_subject_prefixes,
    ticket_numbers_in,
)
from layanan.mail.threading import may_send_automatic, token_from_address
from layanan.tickets import inbound as ticket_mail
from layanan.tickets import workflow
from layanan.tickets.models import EntryKind, Ticket, TicketSource, TicketStatus
from layanan.tickets.services import NewTicket, open_ticket

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestResult:
    outcome: InboundOutcome
    ticket: str | None
    subject: str
    reason: str
    inbound_id: int

    def as_json(self) -> dict[str, Any]:
        return {
            "outcome": str(self.outcome),
            "ticket": self.ticket,
            "subject": self.subject,
            "reason": self.reason,
            "inbound_id": self.inbound_id,
        }


@dataclass
class Decision:
    outcome: InboundOutcome
    reason: str
    ticket: Ticket | None = None
    notes: list[str] = field(default_factory=list)


def raw_path(digest: str) -> Path:
    return Path(settings.VAR_DIR) / "mail" / digest[:2] / f"{digest}.eml"


def store_raw(raw: bytes, digest: str) -> Path:
    """Write the raw message once, atomically, before any database work."""
    path = raw_path(digest)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".incoming-{uuid.uuid4().hex}"
    try:
        with open(temporary, "xb") as target:
            target.write(raw)
            target.flush()
            os.fsync(target.fileno())
        temporary.chmod(0o640)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def read_raw(row: InboundEmail) -> bytes:
    return raw_path(row.sha256).read_bytes()


def ingest(raw: bytes, *, via: str) -> IngestResult:
    """Store, classify and thread one message; never raise for bad mail.

    A message that cannot be processed is quarantined with the error. Only a
    failure of the database or the disk propagates, so that the caller (the IMAP
    poller or the MTA pipe) leaves the message to be tried again.
    """
    digest = hashlib.sha256(raw).hexdigest()
    store_raw(raw, digest)
    row, _created = InboundEmail.objects.get_or_create(
        sha256=digest, defaults={"size": len(raw), "via": via}
    )
    if row.processed_at is not None:
        return duplicate_of(row, row)
    try:
        parsed = parse_email(
            raw,
            max_attachment_bytes=settings.UPLOAD_MAX_BYTES,
            # A line quoting our own address starts the quoted history.
            own_addresses=(settings.MAIL_ADDRESS,),
        )
    except Exception as error:
        return quarantine(row, error)
    try:
        with transaction.atomic():
            return process(row, parsed)
    except DatabaseError:
        raise
    except Exception as error:
        logger.exception("inbound email failed inbound=%s", row.pk)
        return quarantine(row, error)


def duplicate_of(row: InboundEmail, original: InboundEmail) -> IngestResult:
    reason = f"The same message was received before (inbound email {original.pk})."
    logger.info("inbound email duplicate inbound=%s of=%s", row.pk, original.pk)
    return IngestResult(
        outcome=InboundOutcome.DUPLICATE,
        ticket=original.ticket_number or None,
        subject=original.subject,
        reason=reason,
        inbound_id=original.pk,
    )


def quarantine(row: InboundEmail, error: BaseException) -> IngestResult:
    row.outcome = InboundOutcome.QUARANTINED
    row.reason = f"{type(error).__name__}: {error}"[:2000]
    row.processed_at = timezone.now()
    row.save(update_fields=["outcome", "reason", "processed_at"])
    logger.error("inbound email quarantined inbound=%s error=%s", row.pk, row.reason)
    return result_for(row)


def result_for(row: InboundEmail) -> IngestResult:
    return IngestResult(
        outcome=InboundOutcome(row.outcome),
        ticket=row.ticket_number or None,
        subject=row.subject,
        reason=row.reason,
        inbound_id=row.pk,
    )


def process(row: InboundEmail, parsed: ParsedEmail) -> IngestResult:
    """Decide what the message is and apply it; call inside a transaction."""
    row = InboundEmail.objects.select_for_update().get(pk=row.pk)
    if row.processed_at is not None:
        return duplicate_of(row, row)
    row.message_id = (parsed.message_id or "")[:250]
    row.from_address = (parsed.from_address or "")[:254]
    row.subject = (parsed.subject or "")[:300]
    earlier = same_message_id(row)
    if earlier is not None:
        row.outcome = InboundOutcome.DUPLICATE
        row.reason = f"Message-ID already received (inbound email {earlier.pk})."
        row.ticket_number = earlier.ticket_number
        row.processed_at = timezone.now()
        row.save()
        return duplicate_of(row, earlier)
    decision = decide(row, parsed)
    row.outcome = decision.outcome
    row.reason = " ".join([decision.reason, *decision.notes]).strip()[:2000]
    row.ticket_number = decision.ticket.number if decision.ticket else ""
    row.processed_at = timezone.now()
    row.save()
    logger.info(
        "inbound email processed inbound=%s outcome=%s ticket=%s",
        row.pk,
        row.outcome,
        row.ticket_number or "-",
    )
    return result_for(row)


def same_message_id(row: InboundEmail) -> InboundEmail | None:
    """Return an earlier message with the same Message-ID, if one was processed.

    The same mail reaches the product twice when it is fetched again after a
    failed flag, or piped as well as polled; its bytes may differ (a Received line)
    but its Message-ID does not.
    """
    if not row.message_id:
        return None
    return (
        InboundEmail.objects.filter(
            message_id=row.message_id, processed_at__isnull=False
        )
        .exclude(pk=row.pk)
        .exclude(outcome=InboundOutcome.QUARANTINED)
        .order_by("pk")
        .first()
    )


def decide(row: InboundEmail, parsed: ParsedEmail) -> Decision:
    if (
        parsed.message_id
        and OutboundEmail.objects.filter(message_id=parsed.message_id).exists()
    ):
        return Decision(InboundOutcome.LOOP, "Our own outbound mail came back.")
    if parsed.kind == "bounce":
        return handle_bounce(parsed)
    if parsed.kind == "complaint":
        return Decision(InboundOutcome.COMPLAINT, parsed.kind_reason)
    ticket, matched_by, foreign = find_ticket(parsed)
    # Mail to a merged duplicate belongs to the ticket it was merged into.
    ticket = ticket.merged_into if ticket and ticket.merged_into_id else ticket
    if parsed.kind in ("auto_reply", "bulk"):
        return handle_automatic(row, parsed, ticket)
    if ticket is not None:
        return handle_reply(row, parsed, ticket, matched_by)
    return handle_new_request(row, parsed, foreign)


def reply_token_ticket(parsed: ParsedEmail) -> Ticket | None:
    for address in parsed.recipients:
        token = token_from_address(address)
        if token:
            # Tokens are stored in lower case (see new_reply_token).
            ticket = Ticket.objects.filter(reply_token=token.lower()).first()
            if ticket is not None:
                return ticket
    return None


def referenced_ticket(parsed: ParsedEmail) -> Ticket | None:
    """Return the ticket that In-Reply-To or References point into, if any."""
    ids = [*parsed.in_reply_to, *reversed(parsed.references)]
    if not ids:
        return None
    number = None
    for outbound in OutboundEmail.objects.filter(message_id__in=ids):
        number = number_for_reference(outbound.reference)
        if number:
            break
    if number is None:
        inbound = (
            InboundEmail.objects.filter(message_id__in=ids)
            .exclude(ticket_number="")
            .first()
        )
        number = inbound.ticket_number if inbound else None
    return Ticket.objects.filter(number=number).first() if number else None


def number_for_reference(reference: str) -> str | None:
    kind, _separator, key = reference.partition(":")
    if kind == "ticket":
        return key
    if kind == "conversation":
        # A reply to a chat transcript belongs to the chat's ticket, if it has one.
        conversation = Conversation.objects.filter(public_id=key).first()
        return conversation.ticket_number or None if conversation else None
    return None


def find_ticket(parsed: ParsedEmail) -> tuple[Ticket | None, str, list[str]]:
    """Return the ticket, the rule that matched it, and numbers the sender may
    not use."""
    ticket = reply_token_ticket(parsed)
    if ticket is not None:
        return ticket, "reply token", []
    ticket = referenced_ticket(parsed)
    if ticket is not None:
        return ticket, "In-Reply-To/References", []
    foreign = []
    for number in ticket_numbers_in(parsed.subject or "", settings.TICKET_PREFIX):
        candidate = Ticket.objects.filter(number=number).first()
        if candidate is None:
            continue
        sender = parsed.from_address
        if sender and (
            ticket_mail.may_write_to(candidate, sender)
            or received_mail_about(candidate, sender)
        ):
            return candidate, "ticket number in the subject", []
        foreign.append(number)
    return None, "", foreign


def received_mail_about(ticket: Ticket, address: str) -> bool:
    """Return whether this system mailed ``address`` about the ticket.

    Someone an agent wrote to (a vendor the request was forwarded to, say) may
    reply by subject alone, because many systems drop In-Reply-To.
    """
    address = address.lower()
    sent = OutboundEmail.objects.filter(reference=f"ticket:{ticket.number}")
    return any(address in [to.lower() for to in row.to] for row in sent)


def handle_bounce(parsed: ParsedEmail) -> Decision:
    """Attach a delivery failure to the mail and ticket it concerns.

    A bounce acts only when it cites a Message-ID this system sent; anything else
    could be forged to mark an innocent address as broken.
    """
    bounce = parsed.bounce
    cited = (
        [bounce.original_message_id] if bounce and bounce.original_message_id else []
    )
    cited += [*parsed.in_reply_to, *parsed.references]
    outbound = OutboundEmail.objects.filter(message_id__in=cited).first()
    if outbound is None or bounce is None:
        return Decision(
            InboundOutcome.BOUNCE,
            "Delivery failure that cites no message we sent; ignored.",
        )
    reason = f"{bounce.status} {bounce.diagnostic}".strip()
    outbound.bounced_at = timezone.now()
    outbound.bounce_reason = reason[:2000]
    outbound.status = OutboundStatus.FAILED
    outbound.last_error = f"Bounced: {reason}"[:2000]
    outbound.save(update_fields=["bounced_at", "bounce_reason", "status", "last_error"])
    number = number_for_reference(outbound.reference)
    ticket = Ticket.objects.filter(number=number).first() if number else None
    recipients = bounce.recipients or list(outbound.to)
    for recipient in recipients:
        if ticket is not None:
            ticket_mail.note_delivery_failure(
                ticket, recipient, bounce.status, bounce.diagnostic
            )
        if bounce.permanent:
            ticket_mail.flag_bouncing_address(recipient, reason)
    return Decision(
        InboundOutcome.BOUNCE,
        f"Delivery of outbound email {outbound.pk} failed ({bounce.status}).",
        ticket=ticket,
    )


def handle_automatic(
    row: InboundEmail, parsed: ParsedEmail, ticket: Ticket | None
) -> Decision:
    """Record an auto-reply or list mail on its ticket, if any, and send nothing."""
    outcome = (
        InboundOutcome.AUTO_REPLY
        if parsed.kind == "auto_reply"
        else InboundOutcome.BULK
    )
    if ticket is not None:
        ticket_mail.add_email_entry(
            ticket, email_entry(row, parsed, ticket, kind=EntryKind.AUTOMATIC)
        )
    return Decision(outcome, parsed.kind_reason, ticket=ticket)


def handle_reply(
    row: InboundEmail, parsed: ParsedEmail, ticket: Ticket, matched_by: str
) -> Decision:
    sender = parsed.from_address or ""
    agent = ticket_mail.agent_with_address(sender) if sender else None
    # Agents reply to requesters from the console, so their mail stays internal.
    kind = EntryKind.NOTE if agent is not None else EntryKind.PUBLIC
    outcome, reason = InboundOutcome.REPLY, f"Threaded by {matched_by}."
    if agent is None and sender and ticket_mail.is_participant(ticket, sender):
        status_before, replied_to = ticket.status, ticket.number
        ticket = workflow.requester_replied(
            ticket,
            workflow.RequesterReply(
                sender=sender,
                sender_name=parsed.from_name,
                message_id=parsed.message_id or "",
                acknowledge=acknowledgement_allowed(parsed, sender)[0],
                body=parsed.reply_text or parsed.text or "",
            ),
        )
        if ticket.number != replied_to:
            outcome = InboundOutcome.NEW_TICKET
            reason = (
                f"Threaded by {matched_by} to {replied_to}, which was closed too long "
                "ago to reopen, so a new ticket was opened."
            )
        elif status_before in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
            outcome = InboundOutcome.REOPENED
    entry = email_entry(row, parsed, ticket, kind=kind)
    ticket_mail.add_email_entry(ticket, entry)
    notes = keep_out_oversized(ticket, parsed)
    if sender and ticket_mail.is_participant(ticket, sender):
        others = [
            address
            for address in [*parsed.to, *parsed.cc]
            if address != sender and not is_own_address(address)
        ]
        ticket_mail.add_participants(ticket, others)
    return Decision(outcome, reason, ticket=ticket, notes=notes)


def is_own_address(address: str) -> bool:
    own = settings.MAIL_ADDRESS.lower()
    local, _at, domain = own.partition("@")
    address = address.lower()
    return address == own or (
        address.endswith("@" + domain) and address.startswith(local + "+")
    )


def handle_new_request(
    row: InboundEmail, parsed: ParsedEmail, foreign: list[str]
) -> Decision:
    sender = parsed.from_address
    if not sender:
        return Decision(
            InboundOutcome.QUARANTINED,
            "The message has no sender address, so no ticket can be opened for it.",
        )
    acknowledge, hold_reason = acknowledgement_allowed(parsed, sender)
    requester = ticket_mail.requester_for_address(sender, parsed.from_name)
    subject = strip_subject_prefixes(parsed.subject or "") or _("(no subject)")
    ticket = open_ticket(
        NewTicket(
            subject=subject,
            requester=requester,
            email=sender,
            service=triage_service(),
            source=TicketSource.EMAIL,
            language=settings.LANGUAGE_CODE,
            acknowledge=acknowledge,
            acknowledge_in_reply_to=parsed.message_id or "",
        )
    )
    ticket_mail.add_email_entry(
        ticket, email_entry(row, parsed, ticket, kind=EntryKind.PUBLIC)
    )
    notes = keep_out_oversized(ticket, parsed)
    for number in foreign:
        with translation.override(ticket.language):
            ticket_mail.add_system_note(
                ticket,
                _(
                    "The subject of this mail names ticket %(number)s, which belongs "
                    "to another requester, so it was opened as a new ticket."
                )
                % {"number": number},
            )
        notes.append(f"Subject names {number}, which belongs to another requester.")
    if hold_reason:
        notes.append(f"Acknowledgement held back: {hold_reason}")
    return Decision(
        InboundOutcome.NEW_TICKET, "Opened a new ticket.", ticket=ticket, notes=notes
    )


def acknowledgement_allowed(parsed: ParsedEmail, sender: str) -> tuple[bool, str]:
    if parsed.suppress_auto_response:
        # The sender requested no automatic replies (X-Auto-Response-Suppress).
        return False, "the sender asked for no automatic replies."
    allowed, reason = may_send_automatic(
        sender, in_reply_to_ids=[*parsed.in_reply_to, *parsed.references]
    )
    return allowed, "" if allowed else reason


def triage_service() -> Service:
    service = Service.objects.filter(code="lainnya").first()
    if service is None:
        team = Team.objects.filter(is_triage=True).first()
        service = Service.objects.filter(team=team).order_by("order").first()
    if service is None:
        raise LookupError("No service for mail without one: add the Lainnya service.")
    return service


def email_entry(
    row: InboundEmail, parsed: ParsedEmail, ticket: Ticket, *, kind: EntryKind
) -> ticket_mail.EmailEntry:
    attachments = store_attachments(parsed)
    return ticket_mail.EmailEntry(
        sender_address=parsed.from_address or "",
        sender_name=parsed.from_name,
        body=parsed.reply_text or parsed.text,
        full_body=parsed.text,
        body_html=link_inline_images(parsed.html or "", ticket, attachments),
        message_id=parsed.message_id or "",
        inbound_email_id=row.pk,
        kind=kind,
        attachments=attachments,
    )


def link_inline_images(html: str, ticket: Ticket, attachments: list[Attachment]) -> str:
    """Point each cid: image of the HTML at its stored file in the console.

    The console URL checks access like any attachment, and the cid: form would not
    load in a browser anyway.
    """
    for attachment in attachments:
        if not attachment.content_id:
            continue
        url = reverse("console:ticket_attachment", args=[ticket.number, attachment.pk])
        html = html.replace(f"cid:{attachment.content_id}", f"{url}?inline=1")
    return html


def store_attachments(parsed: ParsedEmail) -> list[Attachment]:
    stored = []
    for index, attachment in enumerate(parsed.attachments, start=1):
        name = attachment.filename or f"attachment-{index}.bin"
        try:
            saved = store_bytes(name, attachment.payload)
        except UploadRejected:
            saved = store_bytes(f"attachment-{index}.bin", attachment.payload)
        stored.append(
            Attachment.objects.create(
                conversation=None,
                storage_path=saved.storage_path,
                original_name=saved.original_name,
                content_type=saved.content_type,
                size=saved.size,
                sha256=saved.sha256,
                uploaded_by=SenderKind.REQUESTER,
                # Only images the HTML shows carry their Content-ID; the others
                # are listed as files.
                content_id=(attachment.content_id or "")[:250]
                if attachment.inline
                else "",
            )
        )
    return stored


def keep_out_oversized(ticket: Ticket, parsed: ParsedEmail) -> list[str]:
    """Record attachments kept out for size and tell the sender, once per mail."""
    if not parsed.oversized:
        return []
    names = ", ".join(name for name, _size in parsed.oversized)
    with translation.override(ticket.language):
        ticket_mail.add_system_note(
            ticket,
            _(
                "These attachments were over the limit of %(limit)d MiB and were not "
                "kept: %(names)s."
            )
            % {"limit": settings.UPLOAD_MAX_MB, "names": names},
        )
    sender = parsed.from_address
    if sender and not parsed.suppress_auto_response:
        queue_email(
            kind="attachment_refused",
            reference=f"ticket:{ticket.number}",
            to=[sender],
            template="attachment_refused",
            context={
                "ticket": ticket,
                "names": [name for name, _size in parsed.oversized],
                "limit": settings.UPLOAD_MAX_MB,
            },
            language=ticket.language,
            automatic=True,
            in_reply_to=parsed.message_id or "",
        )
    return [f"Attachments over the size limit kept out: {names}."]
