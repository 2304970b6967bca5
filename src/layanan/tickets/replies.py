"""Agents' public replies and internal notes on a ticket.

A public reply is stored as an entry and emailed to the requester, with every
CC participant in Cc, threaded into the ticket's mail and answerable through
the ticket's reply address. It moves an open ticket to in progress. An
internal note is stored and never emailed.
"""

import logging
from collections.abc import Sequence

from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from layanan.audit.services import record
from layanan.chat.models import Attachment, SenderKind
from layanan.chat.services import agent_display_name
from layanan.chat.uploads import StoredFile, UploadRejected, delete_stored, store_upload
from layanan.mail.models import OutboundEmail
from layanan.mail.outbox import mailbox, queue_email
from layanan.mail.threading import reply_address
from layanan.tickets.links import create_link, link_url
from layanan.tickets.models import (
    EntryKind,
    EntrySource,
    ParticipantRole,
    Ticket,
    TicketEntry,
)
from layanan.tickets.services import requester_thread_ids
from layanan.tickets.workflow import agent_replied

logger = logging.getLogger(__name__)

MAX_BODY_LENGTH = 10_000
MAX_FILES = 5
# Mail servers commonly refuse messages over 25 MB, and Base64 makes attached
# files a third larger, so one reply carries at most this much.
MAX_ATTACHMENT_BYTES = 15 * 1024 * 1024


class ReplyRejected(Exception):
    """A reply or note that failed a check, with a translated ``message``.

    ``field`` is the form field at fault: "body" or "files".
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def add_public_reply(
    ticket: Ticket, agent: User, body: str, files: Sequence[UploadedFile]
) -> TicketEntry:
    """Store a public reply with its files and queue one email about it.

    The caller checks that ``agent`` serves the ticket's team. Raise
    ReplyRejected for an empty or overlong body or a file that may not be sent;
    then nothing is stored.
    """
    text = clean_body(body, is_note=False)
    check_file_limits(files)
    stored_files = store_files(files)
    try:
        with transaction.atomic():
            entry, email = record_public_reply(ticket, agent, text, stored_files)
    except BaseException:
        for stored in stored_files:
            delete_stored(stored.storage_path)
        raise
    logger.info(
        "ticket replied ticket=%s entry=%s outbox=%s attachments=%s",
        ticket.number,
        entry.pk,
        email.pk,
        len(stored_files),
    )
    return entry


def add_internal_note(ticket: Ticket, agent: User, body: str) -> TicketEntry:
    """Store an internal note, which no email ever carries.

    The caller checks that ``agent`` serves the ticket's team. Raise
    ReplyRejected for an empty or overlong body.
    """
    text = clean_body(body, is_note=True)
    with transaction.atomic():
        entry = TicketEntry.objects.create(
            ticket=ticket,
            kind=EntryKind.NOTE,
            author=agent,
            author_name=agent_display_name(agent),
            author_email=agent.email,
            source=EntrySource.CONSOLE,
            body=text,
        )
        Ticket.objects.filter(pk=ticket.pk).update(updated=timezone.now())
        record("ticket", ticket.number, "note_added", actor=agent, entry=entry.pk)
    logger.info("ticket note added ticket=%s entry=%s", ticket.number, entry.pk)
    return entry


def clean_body(body: str, *, is_note: bool) -> str:
    """Return the body with uniform line ends and no outer blank space.

    Raise ReplyRejected when nothing is left or it is longer than 10,000
    characters.
    """
    text = body.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        if is_note:
            message = _("The note is empty. Type it in “Internal note”, then save it.")
        else:
            message = _(
                "The reply is empty. Type your answer in “Reply”, then send it."
            )
        raise ReplyRejected("body", message)
    if len(text) > MAX_BODY_LENGTH:
        values = {"length": len(text), "max": MAX_BODY_LENGTH}
        if is_note:
            message = _(
                "The note in “Internal note” is %(length)d characters long, more "
                "than the %(max)d allowed. Shorten it or split it into two notes."
            )
        else:
            message = _(
                "The reply in “Reply” is %(length)d characters long, more than the "
                "%(max)d allowed. Shorten it or split it into two replies."
            )
        raise ReplyRejected("body", message % values)
    return text


def check_file_limits(files: Sequence[UploadedFile]) -> None:
    """Raise ReplyRejected for more files, or more bytes, than one reply takes."""
    if len(files) > MAX_FILES:
        raise ReplyRejected(
            "files",
            _(
                "“Attach file” contains %(count)d files, more than the %(max)d one "
                "reply can carry. Remove some and send them in a second reply."
            )
            % {"count": len(files), "max": MAX_FILES},
        )
    if sum(uploaded.size or 0 for uploaded in files) > MAX_ATTACHMENT_BYTES:
        raise too_large_in_total()


def too_large_in_total() -> ReplyRejected:
    return ReplyRejected(
        "files",
        _(
            "The files in “Attach file” add up to more than %(limit)d MiB, which "
            "mail servers refuse. Attach fewer or smaller files, or send them in a "
            "second reply."
        )
        % {"limit": MAX_ATTACHMENT_BYTES // (1024 * 1024)},
    )


def store_files(files: Sequence[UploadedFile]) -> list[StoredFile]:
    """Check and store every file, or store none and raise ReplyRejected."""
    stored_files: list[StoredFile] = []
    try:
        for uploaded in files:
            stored_files.append(store_upload(uploaded))
        # Declared sizes can be wrong, so the stored ones are added up again.
        if sum(stored.size for stored in stored_files) > MAX_ATTACHMENT_BYTES:
            raise too_large_in_total()
    except UploadRejected as rejection:
        for stored in stored_files:
            delete_stored(stored.storage_path)
        raise ReplyRejected(
            "files",
            _("“Attach file”: %(error)s") % {"error": rejection.message},
        ) from rejection
    except BaseException:
        for stored in stored_files:
            delete_stored(stored.storage_path)
        raise
    return stored_files


def record_public_reply(
    ticket: Ticket, agent: User, text: str, stored_files: list[StoredFile]
) -> tuple[TicketEntry, OutboundEmail]:
    """Write the reply's rows and queue its email; call inside a transaction."""
    attachments = [
        Attachment.objects.create(
            conversation=None,
            storage_path=stored.storage_path,
            original_name=stored.original_name,
            content_type=stored.content_type,
            size=stored.size,
            sha256=stored.sha256,
            uploaded_by=SenderKind.AGENT,
        )
        for stored in stored_files
    ]
    email = queue_reply_email(ticket, agent, text, attachments)
    entry = TicketEntry.objects.create(
        ticket=ticket,
        kind=EntryKind.PUBLIC,
        author=agent,
        author_name=agent_display_name(agent),
        author_email=agent.email,
        source=EntrySource.CONSOLE,
        body=text,
        message_id=email.message_id,
    )
    entry.attachments.set(attachments)
    # agent_replied below records the first response.
    Ticket.objects.filter(pk=ticket.pk).update(updated=timezone.now())
    record(
        "ticket",
        ticket.number,
        "replied",
        actor=agent,
        entry=entry.pk,
        outbox=email.pk,
        attachments=len(attachments),
    )
    agent_replied(ticket, agent)
    return entry, email


def queue_reply_email(
    ticket: Ticket, agent: User, text: str, attachments: list[Attachment]
) -> OutboundEmail:
    """Queue the reply's email to the requester, CC participants in Cc.

    The email carries a new personal link to the requester page.
    """
    requester_address = ticket.requester_email.strip().lower()
    copied = [
        mailbox(participant.name, participant.email)
        for participant in ticket.participants.filter(role=ParticipantRole.CC)
        if participant.email.strip().lower() != requester_address
    ]
    in_reply_to, references = requester_thread_ids(ticket)
    _link, token = create_link(ticket)
    email = queue_email(
        kind="ticket_reply",
        reference=f"ticket:{ticket.number}",
        to=[mailbox(ticket.requester.name, ticket.requester_email)],
        cc=copied,
        template="ticket_reply",
        context={
            "ticket": ticket,
            "body": text,
            "agent_name": agent_display_name(agent),
            "team_name": ticket.team.name,
            "attachment_names": [item.original_name for item in attachments],
            "requester_url": link_url(token, ticket.language),
        },
        language=ticket.language,
        reply_to=reply_address(ticket.reply_token),
        in_reply_to=in_reply_to,
        references=references,
        attachments=attachments,
    )
    if email is None:
        # Only automatic mail is ever held back, and a reply is not automatic.
        raise RuntimeError(f"The reply to ticket {ticket.number} was not queued.")
    return email
