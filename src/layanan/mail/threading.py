"""Thread outbound mail into conversations, and keep automatic mail from looping.

Replies find their ticket by the token in the Reply-To address
(``layanan+t.TOKEN@domain``) and by ``In-Reply-To``/``References``, which carry
the Message-IDs of the earlier mail about the same reference.

Automatic mail (acknowledgements, notifications) is the half of a mail loop that
Layanan controls. ``may_send_automatic`` stops it when it would reply to one of
our own automatic mails, or when an address already got many of them.
"""

import logging
import re
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from email.utils import parseaddr

from django.conf import settings
from django.utils import timezone

from layanan.mail.models import (
    AutomaticMailRecipient,
    InboundEmail,
    InboundOutcome,
    OutboundEmail,
    OutboundStatus,
)

logger = logging.getLogger(__name__)

# The outbox keeps Cc addresses in the headers JSON under this key. A header name
# never contains a colon, so no real header can collide with it.
CC_KEY = "layanan:cc"
PLUS_TAG = "t."
# Ticket.reply_token is at most 32 characters: lower-case hexadecimal now, and
# the URL-safe Base64 alphabet in tokens made before that.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}", re.ASCII)
# One Message-ID, angle brackets included, in printable ASCII without spaces.
MESSAGE_ID_PATTERN = re.compile(r"<[!-;=?-~]+>", re.ASCII)
MESSAGE_ID_MAX_LENGTH = 250
# References keep the thread's first id and the most recent ones: enough for every
# mail program to thread, and the header stays a few kilobytes at most.
MAX_REFERENCES = 20
# Inbound mail that is no part of the conversation, so replies do not cite it.
UNTHREADED_OUTCOMES = frozenset(
    {
        InboundOutcome.AUTO_REPLY,
        InboundOutcome.BULK,
        InboundOutcome.BOUNCE,
        InboundOutcome.COMPLAINT,
        InboundOutcome.LOOP,
        InboundOutcome.DUPLICATE,
        InboundOutcome.QUARANTINED,
    }
)


def _split_mail_address() -> tuple[str, str]:
    local, _at, domain = settings.MAIL_ADDRESS.rpartition("@")
    return local, domain


def reply_address(token: str) -> str:
    """Return the plus-address on MAIL_ADDRESS that routes replies to ``token``."""
    if not TOKEN_PATTERN.fullmatch(token):
        raise ValueError(
            "The reply token is invalid: pass a ticket's reply_token, 1 to 32 "
            "letters, digits, '-' or '_'."
        )
    local, domain = _split_mail_address()
    return f"{local}+{PLUS_TAG}{token}@{domain}"


def token_from_address(address: str) -> str | None:
    """Return the reply token in one of our plus-addresses, or None.

    Accepts a bare address or one with a display name. The mailbox and the
    domain match in any letter case, and other plus tags are ignored. The token
    is returned as written, so a server that lowered the address's case lowered
    the token too.
    """
    _name, bare = parseaddr(address)
    local, _at, domain = bare.strip().rpartition("@")
    own_local, own_domain = _split_mail_address()
    if not local or domain.lower() != own_domain.lower():
        return None
    mailbox, *tags = local.split("+")
    if mailbox.lower() != own_local.lower():
        return None
    for tag in tags:
        if tag[: len(PLUS_TAG)].lower() != PLUS_TAG:
            continue
        token = tag[len(PLUS_TAG) :]
        if TOKEN_PATTERN.fullmatch(token):
            return token
    return None


def clean_message_id(value: str) -> str:
    """Return ``value`` as one ``<...>`` Message-ID, or "" if it cannot be one."""
    candidate = value.strip()
    if candidate and not candidate.startswith("<"):
        candidate = f"<{candidate}>"
    if len(candidate) > MESSAGE_ID_MAX_LENGTH:
        return ""
    return candidate if MESSAGE_ID_PATTERN.fullmatch(candidate) else ""


def clean_message_ids(values: Iterable[str]) -> list[str]:
    """Return the usable Message-IDs of ``values``, in order, each once.

    An id that appears twice keeps its last place, where it is most recent.
    """
    cleaned = [clean_message_id(value) for value in values]
    last_place = {message_id: index for index, message_id in enumerate(cleaned)}
    return [
        message_id
        for index, message_id in enumerate(cleaned)
        if message_id and last_place[message_id] == index
    ]


def trim_references(message_ids: list[str]) -> list[str]:
    """Return the first id and the most recent ones, at most MAX_REFERENCES."""
    if len(message_ids) <= MAX_REFERENCES:
        return list(message_ids)
    return [message_ids[0], *message_ids[-(MAX_REFERENCES - 1) :]]


def thread_ids_for(
    reference: str, *, exclude_kinds: Collection[str] = ()
) -> tuple[str, list[str]]:
    """Return (In-Reply-To, References) for the next mail about ``reference``.

    The ids are those of the outbound mail stored with that reference (failed
    mail and ``exclude_kinds`` left out) and, for "ticket:NUMBER", of the inbound
    mail matched to that ticket, in the order they were stored. In-Reply-To is
    the most recent one; both are empty for a reference with no mail yet.
    """
    timeline: list[tuple[datetime, int, str]] = [
        (created, 1, message_id)
        for created, message_id in OutboundEmail.objects.filter(reference=reference)
        .exclude(status=OutboundStatus.FAILED)
        .exclude(kind__in=list(exclude_kinds))
        .values_list("created", "message_id")
    ]
    kind, _separator, key = reference.partition(":")
    if kind == "ticket" and key:
        timeline.extend(
            (received, 0, message_id)
            for received, message_id in InboundEmail.objects.filter(ticket_number=key)
            .exclude(message_id="")
            .exclude(outcome__in=list(UNTHREADED_OUTCOMES))
            .values_list("received_at", "message_id")
        )
    timeline.sort()
    message_ids = clean_message_ids(message_id for _when, _side, message_id in timeline)
    if not message_ids:
        return "", []
    return message_ids[-1], trim_references(message_ids)


def bare_address(address: str) -> str:
    """Return the address without its display name, in lower case."""
    return parseaddr(address)[1].strip().lower()


def may_send_automatic(
    address: str, *, in_reply_to_ids: list[str], rate_limited: bool = True
) -> tuple[bool, str]:
    """Tell whether an automatic mail may go to ``address``, and if not, why.

    ``in_reply_to_ids`` are the In-Reply-To ids of the mail that triggers this
    one. Hold the mail back when one of them is an automatic mail of
    ours, or, unless ``rate_limited`` is False, when AUTO_MAIL_LIMIT automatic
    mails went to the address in the last AUTO_MAIL_WINDOW_HOURS hours.
    """
    answered = clean_message_ids(in_reply_to_ids)
    if (
        answered
        and OutboundEmail.objects.filter(
            automatic=True, message_id__in=answered
        ).exists()
    ):
        return False, "it would reply to an automatic mail of ours"
    if not rate_limited:
        return True, ""
    limit: int = settings.AUTO_MAIL_LIMIT
    hours: int = settings.AUTO_MAIL_WINDOW_HOURS
    if automatic_mails_sent_to(address, hours=hours) >= limit:
        return False, f"{limit} automatic mails went to the address in {hours} h"
    return True, ""


def automatic_mails_sent_to(address: str, *, hours: int) -> int:
    """Count the automatic mails queued for ``address`` (To or Cc) lately.

    One indexed count, so the cost does not grow with the mail others receive.
    """
    since = timezone.now() - timedelta(hours=hours)
    return AutomaticMailRecipient.objects.filter(
        address=bare_address(address), created__gte=since
    ).count()


def record_automatic_recipients(row: OutboundEmail, addresses: list[str]) -> None:
    """Store each address of an automatic mail for ``automatic_mails_sent_to``."""
    unique = {bare_address(address) for address in addresses}
    AutomaticMailRecipient.objects.bulk_create(
        [
            AutomaticMailRecipient(outbound=row, address=address)
            for address in sorted(unique)
            if address
        ]
    )
