"""Every change to a ticket goes through these functions."""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from layanan.audit.models import ActorKind
from layanan.audit.services import record
from layanan.catalog.models import Service, Team
from layanan.chat.models import Conversation
from layanan.chat.routing import chat_missed
from layanan.chat.services import ChatError, agent_display_name, publish_state
from layanan.mail.outbox import queue_email
from layanan.mail.threading import clean_message_id, reply_address, thread_ids_for
from layanan.people.models import Requester
from layanan.tickets.clocks import start_clocks
from layanan.tickets.links import create_link, link_url
from layanan.tickets.models import (
    EntryKind,
    ParticipantRole,
    Ticket,
    TicketCounter,
    TicketEntry,
    TicketParticipant,
    TicketSource,
)

logger = logging.getLogger(__name__)


def next_ticket_number() -> tuple[int, int, str]:
    """Take the next serial of the current year; call inside a transaction.

    The year is the year in LAYANAN_TIME_ZONE, so a ticket opened at 00:30 WIB on
    1 January belongs to the new year although it is still the old one in UTC.
    """
    year = timezone.localtime().year
    counter, _created = TicketCounter.objects.select_for_update().get_or_create(
        year=year
    )
    counter.last_serial += 1
    counter.save(update_fields=["last_serial"])
    number = f"{settings.TICKET_PREFIX}-{year}-{counter.last_serial:06d}"
    return year, counter.last_serial, number


@dataclass(frozen=True)
class NewTicket:
    subject: str
    requester: Requester
    email: str
    service: Service
    source: TicketSource
    language: str
    conversation: Conversation | None = None
    # False when the loop guards hold the requester's acknowledgement back.
    acknowledge: bool = True
    # The Message-ID of the mail that opened the ticket, which the acknowledgement
    # replies to.
    acknowledge_in_reply_to: str = ""
    # The team whose queue the ticket joins, when not the service's own: a
    # follow-up stays with the team that last had the earlier ticket.
    team: Team | None = None


def open_ticket(new: NewTicket, actor: User | None = None) -> Ticket:
    """Create an OPEN ticket in the service's team and queue its notifications.

    The requester becomes the ticket's first participant. Call inside a
    transaction.
    """
    _year, _serial, number = next_ticket_number()
    ticket = Ticket.objects.create(
        number=number,
        subject=new.subject[:200],
        requester=new.requester,
        requester_email=new.email,
        language=new.language,
        service=new.service,
        team=new.team or new.service.team,
        source=new.source,
        conversation=new.conversation,
    )
    start_clocks(ticket)
    TicketParticipant.objects.create(
        ticket=ticket,
        email=new.email,
        name=new.requester.name[:150],
        role=ParticipantRole.REQUESTER,
    )
    record(
        "ticket",
        ticket.number,
        "created",
        actor=actor,
        actor_kind=ActorKind.AGENT if actor else ActorKind.REQUESTER,
        source=str(new.source),
        team=ticket.team_id,
    )
    notify_ticket_created(
        ticket,
        acknowledge=new.acknowledge,
        in_reply_to=new.acknowledge_in_reply_to,
    )
    logger.info(
        "ticket created ticket=%s source=%s team=%s",
        ticket.number,
        ticket.source,
        ticket.team_id,
    )
    return ticket


def create_ticket_from_conversation(
    conversation: Conversation, agent: User | None
) -> Ticket:
    """Turn a chat into a ticket carrying its transcript and attachments.

    ``agent`` is None when the system makes the ticket, as for a chat that no
    agent accepted within its team's wait limit.
    """
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if locked.ticket_number:
            raise ChatError(
                "already_ticket",
                _("This chat is already ticket %(number)s.")
                % {"number": locked.ticket_number},
            )
        ticket = open_ticket(
            NewTicket(
                subject=conversation.topic,
                requester=conversation.requester,
                email=conversation.requester_email,
                service=conversation.service,
                source=TicketSource.CHAT,
                language=conversation.language,
                conversation=conversation,
            ),
            actor=agent,
        )
        add_transcript_entry(ticket, conversation, agent)
        Conversation.objects.filter(pk=conversation.pk).update(
            ticket_number=ticket.number
        )
        conversation.ticket_number = ticket.number
        record(
            "conversation",
            conversation.public_id,
            "ticket_created",
            actor=agent,
            ticket=ticket.number,
        )
        publish_state(conversation)
    return ticket


def add_transcript_entry(
    ticket: Ticket, conversation: Conversation, agent: User | None
) -> TicketEntry:
    messages = conversation.messages.select_related("attachment").order_by("seq")
    lines = []
    attachments = []
    for message in messages:
        when = timezone.localtime(message.created).strftime("%d/%m/%Y %H:%M %Z")
        text = message.body
        if message.attachment is not None:
            attachments.append(message.attachment)
            text = f"{text} [{message.attachment.original_name}]".strip()
        lines.append(f"[{when}] {message.sender_name}: {text}")
    with translation.override(ticket.language):
        heading = _("Chat transcript")
    entry = TicketEntry.objects.create(
        ticket=ticket,
        kind=EntryKind.SYSTEM,
        author=agent,
        author_name=agent_display_name(agent) if agent else "Layanan",
        body=heading + "\n\n" + "\n".join(lines),
    )
    entry.attachments.set(attachments)
    return entry


def ticket_for_missed_chat(
    sender: object, conversation: Conversation, **kwargs: object
) -> str:
    """Turn a chat that waited past its wait limit into a ticket; return its number.

    A chat that an agent turned into a ticket while it waited keeps that ticket.
    """
    if conversation.ticket_number:
        return conversation.ticket_number
    return create_ticket_from_conversation(conversation, None).number


# Connected when the module loads. TicketsConfig.ready imports this module through
# tickets.jobs and tickets.workflow, so the receiver is in place in every process.
chat_missed.connect(ticket_for_missed_chat, dispatch_uid="tickets.missed_chat")


@dataclass(frozen=True)
class OfflineRequest:
    requester: Requester
    email: str
    service: Service
    topic: str
    message: str
    language: str


def create_offline_ticket(request: OfflineRequest) -> Ticket:
    """Open a ticket from the widget's offline form (no agent was online)."""
    with transaction.atomic():
        ticket = open_ticket(
            NewTicket(
                subject=request.topic,
                requester=request.requester,
                email=request.email,
                service=request.service,
                source=TicketSource.OFFLINE,
                language=request.language,
            )
        )
        TicketEntry.objects.create(
            ticket=ticket,
            kind=EntryKind.PUBLIC,
            author_name=request.requester.name,
            body=request.message,
        )
    return ticket


def ticket_console_url(ticket: Ticket) -> str:
    return settings.BASE_URL + reverse("console:ticket", args=[ticket.number])


# Mail to the team or its agents: left out of the requester's thread. The team's
# notifications are not rate-limited, because a busy day must not silence them.
INTERNAL_MAIL_KINDS = frozenset(
    {
        "ticket_created_team",
        "ticket_assigned",
        "requester_replied",
        "sla_warning",
        "sla_breach",
    }
)


def requester_thread_ids(ticket: Ticket) -> tuple[str, list[str]]:
    """Return (In-Reply-To, References) for the next mail to the requester."""
    return thread_ids_for(f"ticket:{ticket.number}", exclude_kinds=INTERNAL_MAIL_KINDS)


def notify_ticket_created(
    ticket: Ticket, *, acknowledge: bool = True, in_reply_to: str = ""
) -> None:
    """Queue the requester's acknowledgement and the team's notification.

    Both are automatic mail. The acknowledgement replies to ``in_reply_to`` (the
    mail that opened the ticket, if any) and carries the ticket's reply address
    and a new personal link to the requester page.
    With ``acknowledge`` False only the team's notification is queued. Call
    inside a transaction.
    """
    context = {
        "ticket": ticket,
        "service_name": ticket.service.localized_name(ticket.language),
        "status": ticket.get_status_display,
        "console_url": ticket_console_url(ticket),
    }
    reference = f"ticket:{ticket.number}"
    if acknowledge:
        thread_in_reply_to, references = requester_thread_ids(ticket)
        opening_id = clean_message_id(in_reply_to)
        if opening_id:
            thread_in_reply_to = opening_id
            references = [item for item in references if item != opening_id]
            references.append(opening_id)
        link, token = create_link(ticket)
        acknowledgement = queue_email(
            kind="ticket_created_requester",
            reference=reference,
            to=[ticket.requester_email],
            template="ticket_created_requester",
            context={**context, "requester_url": link_url(token, ticket.language)},
            language=ticket.language,
            reply_to=reply_address(ticket.reply_token),
            in_reply_to=thread_in_reply_to,
            references=references,
            automatic=True,
        )
        if acknowledgement is None:
            # The loop guard held the mail back, so nobody can ever use the link.
            link.delete()
    else:
        logger.info("acknowledgement held back ticket=%s", ticket.number)
    if ticket.team.email:
        queue_email(
            kind="ticket_created_team",
            reference=reference,
            to=[ticket.team.email],
            template="ticket_created_team",
            context=context,
            language=settings.LANGUAGE_CODE,
            automatic=True,
            rate_limited=False,
        )
    else:
        logger.warning(
            "team has no notification address ticket=%s team=%s",
            ticket.number,
            ticket.team_id,
        )


def record_transcript_on_ticket(conversation: Conversation, email: str) -> None:
    ticket = Ticket.objects.filter(conversation=conversation).first()
    if ticket is None:
        return
    with translation.override(ticket.language):
        body = _("The chat transcript was queued for the requester's email.")
    TicketEntry.objects.create(
        ticket=ticket, kind=EntryKind.SYSTEM, author_name="Layanan", body=body
    )
    record("ticket", ticket.number, "transcript_sent", actor_kind=ActorKind.SYSTEM)
