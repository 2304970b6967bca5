"""Personal links to the requester page, and what a link's holder may do there.

A link is ``BASE_URL/t/<token>/``. The token comes from
``secrets.token_urlsafe(32)`` and only its SHA-256 is stored, so a copy of the
database opens no ticket. A link stops working when it is revoked, or
LINK_DAYS_AFTER_CLOSE days after its ticket closed. Tokens are never logged:
log lines carry the link's id.

Through a link the requester reads the public thread of the ticket, replies
(which goes through ``workflow.requester_replied`` like a reply by email) and
rates a resolved ticket. Anyone may ask for a new link by ticket number and
email address. The page shows the same response whether they matched or not.
"""

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from layanan.access import NotFound, hash_token
from layanan.audit.models import ActorKind
from layanan.audit.services import record
from layanan.chat.models import Attachment, SenderKind
from layanan.chat.uploads import StoredFile, UploadRejected, delete_stored, store_upload
from layanan.mail.models import AutomaticMailRecipient
from layanan.mail.outbox import queue_email
from layanan.mail.threading import bare_address, reply_address
from layanan.tickets.models import (
    EntryKind,
    EntrySource,
    RequesterLink,
    Ticket,
    TicketEntry,
    TicketStatus,
)

logger = logging.getLogger(__name__)

LINK_DAYS_AFTER_CLOSE = 30
# token_urlsafe(32) gives 43 characters. Longer input is rejected before hashing.
MAX_TOKEN_LENGTH = 64
# Mails with a new link that one address may receive per hour.
NEW_LINKS_PER_HOUR = 3
NEW_LINK_MAIL_KIND = "requester_link"
# The same limit as a reply in the console.
MAX_MESSAGE_LENGTH = 10_000
MAX_COMMENT_LENGTH = 2_000
RATING_VALUES = range(1, 6)


class RequesterInputError(Exception):
    """Input from the requester page that failed a check.

    ``field`` is the form field at fault ("body", "file", "rating" or
    "comment") and ``message`` a translated sentence that names it and the fix.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# Tokens


def create_link(ticket: Ticket) -> tuple[RequesterLink, str]:
    """Store a new link to ``ticket`` and return it with its token.

    The token exists only in the return value, so the caller puts it in the
    mail that carries the link.
    """
    token = secrets.token_urlsafe(32)
    link = RequesterLink.objects.create(ticket=ticket, token_hash=hash_token(token))
    logger.info("requester link created ticket=%s link=%s", ticket.number, link.pk)
    return link, token


def link_url(token: str, language: str = "") -> str:
    """Return the absolute URL of the requester page for ``token``.

    A ``language`` other than the default is added as ``?lang=``, so the page
    opens in the language of the mail that carries the link.
    """
    url = settings.BASE_URL + reverse("tickets:requester_page", args=[token])
    if language and language != settings.LANGUAGE_CODE:
        url += f"?lang={language}"
    return url


def expires_at(ticket: Ticket) -> datetime | None:
    """Return when links to ``ticket`` stop working, or None while it is not closed."""
    if ticket.status != TicketStatus.CLOSED or ticket.closed_at is None:
        return None
    return ticket.closed_at + timedelta(days=LINK_DAYS_AFTER_CLOSE)


def is_expired(ticket: Ticket, now: datetime | None = None) -> bool:
    deadline = expires_at(ticket)
    return deadline is not None and (now or timezone.now()) >= deadline


def get_link_for_token(token: str) -> RequesterLink:
    """Return the working link with this token, its ticket loaded.

    Raise NotFound alike for a malformed, unknown, revoked or expired token, so
    that the response reveals nothing to a prober. Record the use in ``last_used_at``.
    """
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise NotFound
    link = (
        RequesterLink.objects.select_related(
            "ticket", "ticket__service", "ticket__requester"
        )
        .filter(token_hash=hash_token(token), revoked_at__isnull=True)
        .first()
    )
    if link is None:
        raise NotFound
    if is_expired(link.ticket):
        logger.info("requester link expired link=%s", link.pk)
        raise NotFound
    now = timezone.now()
    RequesterLink.objects.filter(pk=link.pk).update(last_used_at=now)
    link.last_used_at = now
    return link


def revoke_links(ticket: Ticket, *, actor: User | None = None) -> int:
    """Revoke every working link to ``ticket`` and return how many were revoked.

    With no ``actor`` the system revokes them.
    """
    with transaction.atomic():
        revoked = RequesterLink.objects.filter(
            ticket=ticket, revoked_at__isnull=True
        ).update(revoked_at=timezone.now())
        record(
            "ticket",
            ticket.number,
            "requester_links_revoked",
            actor=actor,
            count=revoked,
        )
    logger.info("requester links revoked ticket=%s count=%s", ticket.number, revoked)
    return revoked


# What the page shows


def transcript_entry_id(ticket: Ticket) -> int | None:
    """Return the id of the chat transcript entry of a ticket made from a chat.

    NOTE: the transcript is recognised as the ticket's first entry when that is
    a system entry, because ``create_ticket_from_conversation`` writes it right
    after opening the ticket. A writer of entries that runs earlier breaks this.
    """
    if ticket.conversation_id is None:
        return None
    first = ticket.entries.order_by("created", "id").values("id", "kind").first()
    if first is None or first["kind"] != EntryKind.SYSTEM:
        return None
    entry_id: int = first["id"]
    return entry_id


def public_entries(ticket: Ticket) -> QuerySet[TicketEntry]:
    """Return the entries the requester may see: public ones and the transcript.

    Internal notes, system notes and automatic entries stay out.
    """
    visible = Q(kind=EntryKind.PUBLIC)
    transcript_id = transcript_entry_id(ticket)
    if transcript_id is not None:
        visible |= Q(pk=transcript_id)
    return ticket.entries.filter(visible).order_by("created", "id")


def get_attachment_for_link(link: RequesterLink, attachment_id: int) -> Attachment:
    """Return a file of one of the link's public entries, or raise NotFound."""
    entries = public_entries(link.ticket)
    attachment = Attachment.objects.filter(
        pk=attachment_id, ticketentry__in=entries
    ).first()
    if attachment is None:
        raise NotFound
    return attachment


# Replies


def clean_message(body: str) -> str:
    """Return the message with uniform line ends, or raise RequesterInputError."""
    text = body.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise RequesterInputError(
            "body",
            _("The message is empty. Type it in “Message”, then send it."),
        )
    if len(text) > MAX_MESSAGE_LENGTH:
        raise RequesterInputError(
            "body",
            _(
                "The text in “Message” is %(length)d characters long, more than the "
                "%(max)d allowed. Shorten it or send it in two messages."
            )
            % {"length": len(text), "max": MAX_MESSAGE_LENGTH},
        )
    return text


def store_reply_file(files: Sequence[UploadedFile]) -> StoredFile | None:
    """Check and store the reply's file with the chat's rules, if there is one.

    A reply carries one file at most, as a chat message does.
    """
    if not files:
        return None
    if len(files) > 1:
        raise RequesterInputError(
            "file",
            _(
                "“Attach file” contains %(count)d files, but one message carries "
                "one file. Send the others in further messages."
            )
            % {"count": len(files)},
        )
    try:
        return store_upload(files[0])
    except UploadRejected as rejection:
        raise RequesterInputError(
            "file",
            _("“Attach file”: %(error)s") % {"error": rejection.message},
        ) from rejection


@dataclass(frozen=True)
class ReplyResult:
    """The entry a requester's reply made and the ticket it is on.

    ``ticket`` differs from the link's ticket when that one was closed too long
    ago to reopen, so the reply opened a follow-up ticket.
    """

    entry: TicketEntry
    ticket: Ticket


def add_requester_reply(
    link: RequesterLink, body: str, files: Sequence[UploadedFile]
) -> ReplyResult:
    """Store a reply from the requester page as a public entry from the requester.

    The status moves as for a reply by email. Raise RequesterInputError for an
    empty or overlong message, more than one file or a file the chat would
    reject, and store nothing then.
    """
    text = clean_message(body)
    stored = store_reply_file(files)
    try:
        with transaction.atomic():
            result = record_requester_reply(link, text, stored)
    except BaseException:
        if stored is not None:
            delete_stored(stored.storage_path)
        raise
    logger.info(
        "requester replied on page ticket=%s entry=%s link=%s attachments=%s",
        result.ticket.number,
        result.entry.pk,
        link.pk,
        0 if stored is None else 1,
    )
    return result


def record_requester_reply(
    link: RequesterLink, text: str, stored: StoredFile | None
) -> ReplyResult:
    """Write the reply's rows; call inside a transaction."""
    # Imported here because workflow imports services, which imports this module.
    from layanan.tickets import workflow

    replied_to = link.ticket
    requester = replied_to.requester
    ticket = workflow.requester_replied(
        replied_to,
        workflow.RequesterReply(
            sender=replied_to.requester_email,
            sender_name=requester.name,
            message_id="",
            body=text,
        ),
    )
    # The page is a web form like the chat widget, so the entry's source is CHAT.
    entry = TicketEntry.objects.create(
        ticket=ticket,
        kind=EntryKind.PUBLIC,
        source=EntrySource.CHAT,
        author_name=requester.name[:150],
        author_email=replied_to.requester_email,
        body=text,
    )
    if stored is not None:
        attachment = Attachment.objects.create(
            conversation=None,
            storage_path=stored.storage_path,
            original_name=stored.original_name,
            content_type=stored.content_type,
            size=stored.size,
            sha256=stored.sha256,
            uploaded_by=SenderKind.REQUESTER,
        )
        entry.attachments.set([attachment])
    Ticket.objects.filter(pk=ticket.pk).update(updated=entry.created)
    record(
        "ticket",
        ticket.number,
        "requester_page_reply",
        actor_kind=ActorKind.REQUESTER,
        entry=entry.pk,
        link=link.pk,
        attachments=0 if stored is None else 1,
    )
    return ReplyResult(entry=entry, ticket=ticket)


# Rating


def may_rate(ticket: Ticket) -> bool:
    """Tell whether the requester may rate the ticket now.

    A resolved ticket may be rated and rated again. A closed one may be rated
    once, if it was not rated while resolved.
    """
    if ticket.status == TicketStatus.RESOLVED:
        return True
    return ticket.status == TicketStatus.CLOSED and ticket.rating is None


def parse_rating(value: str, comment: str) -> tuple[int, str]:
    """Return the rating and the comment, or raise RequesterInputError."""
    try:
        rating = int(value)
    except ValueError:
        rating = 0
    if rating not in RATING_VALUES:
        raise RequesterInputError(
            "rating",
            _("Choose a rating from 1 to 5 in “Rating”, then send it."),
        )
    text = comment.strip()
    if len(text) > MAX_COMMENT_LENGTH:
        raise RequesterInputError(
            "comment",
            _(
                "The text in “Comment” is %(length)d characters long, more than the "
                "%(max)d allowed. Shorten it, then send the rating again."
            )
            % {"length": len(text), "max": MAX_COMMENT_LENGTH},
        )
    return rating, text


def rate_ticket(link: RequesterLink, value: str, comment: str) -> Ticket:
    """Store the requester's rating of a resolved or closed ticket.

    Raise RequesterInputError for a rating outside 1 to 5, an overlong comment,
    or a ticket that may not be rated now (see ``may_rate``).
    """
    rating, text = parse_rating(value, comment)
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=link.ticket_id)
        if not may_rate(ticket):
            raise RequesterInputError("rating", rating_closed_message(ticket))
        previous = ticket.rating
        ticket.rating = rating
        ticket.rating_comment = text
        ticket.rated_at = timezone.now()
        ticket.save(update_fields=["rating", "rating_comment", "rated_at"])
        record(
            "ticket",
            ticket.number,
            "rated",
            actor_kind=ActorKind.REQUESTER,
            old=previous,
            new=rating,
            link=link.pk,
        )
    logger.info(
        "ticket rated ticket=%s rating=%s link=%s", ticket.number, rating, link.pk
    )
    return ticket


def rating_closed_message(ticket: Ticket) -> str:
    if ticket.status == TicketStatus.CLOSED:
        return _(
            "Ticket %(number)s is closed and already rated, so the rating can no "
            "longer change."
        ) % {"number": ticket.number}
    return _(
        "Ticket %(number)s is not resolved yet. You can rate it once the team "
        "resolves it."
    ) % {"number": ticket.number}


# New links on request


def new_links_sent_to(address: str) -> int:
    """Count the mails with a new link queued for ``address`` in the last hour."""
    since = timezone.now() - timedelta(hours=1)
    return AutomaticMailRecipient.objects.filter(
        address=bare_address(address),
        outbound__kind=NEW_LINK_MAIL_KIND,
        created__gte=since,
    ).count()


def ticket_for_request(number: str, address: str) -> Ticket | None:
    """Return the ticket whose number is ``number`` and whose requester or a
    participant has ``address``; None when they do not match."""
    ticket = Ticket.objects.filter(number=number.strip().upper()).first()
    if ticket is None:
        return None
    if ticket.requester_email.strip().lower() == address:
        return ticket
    if ticket.participants.filter(email__iexact=address).exists():
        return ticket
    return None


def send_new_link(number: str, email: str) -> bool:
    """Email a new link to ``email`` if it belongs to ticket ``number``.

    Return whether a mail was queued; the page shows the same response either way.
    Nothing is sent after NEW_LINKS_PER_HOUR such mails to the address in the
    last hour, nor for a ticket whose links have expired.
    """
    address = email.strip().lower()
    if new_links_sent_to(address) >= NEW_LINKS_PER_HOUR:
        logger.warning("new requester link rejected: hourly limit reached")
        return False
    ticket = ticket_for_request(number, address)
    if ticket is None or is_expired(ticket):
        logger.info("new requester link requested: no matching ticket")
        return False
    with transaction.atomic():
        link, token = create_link(ticket)
        queued = queue_email(
            kind=NEW_LINK_MAIL_KIND,
            reference=f"ticket:{ticket.number}",
            to=[address],
            template="requester_link",
            context={
                "ticket": ticket,
                "requester_url": link_url(token, ticket.language),
                "valid_days": LINK_DAYS_AFTER_CLOSE,
            },
            language=ticket.language,
            reply_to=reply_address(ticket.reply_token),
            automatic=True,
        )
        if queued is None:
            # The loop guard held the mail back, so nobody can ever use the link.
            link.delete()
            return False
        record(
            "ticket",
            ticket.number,
            "requester_link_sent",
            actor_kind=ActorKind.REQUESTER,
            link=link.pk,
            outbox=queued.pk,
        )
    logger.info(
        "new requester link sent ticket=%s link=%s outbox=%s",
        ticket.number,
        link.pk,
        queued.pk,
    )
    return True
