"""Every change to a conversation goes through these functions.

Each one validates, writes, records the audit event and publishes the real-time
frames after commit. Views and consumers only parse, authorise and call in here.
"""

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from layanan import realtime
from layanan.audit.models import ActorKind
from layanan.audit.services import record
from layanan.catalog.models import RoutingMode, Service
from layanan.chat.access import hash_token
from layanan.chat.models import (
    Attachment,
    Conversation,
    ConversationStatus,
    EndedBy,
    Message,
    SenderKind,
)
from layanan.chat.payloads import conversation_payload, message_payload, queue_item
from layanan.people.models import Requester

logger = logging.getLogger(__name__)

MAX_BODY_LENGTH = 4000
MAX_CLIENT_ID_LENGTH = 64
SYSTEM_CLIENT_ID_PREFIX = "system:"


class ChatError(Exception):
    """A request the chat cannot carry out, with a stable code and a translated
    message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class NewChat:
    requester: Requester
    email: str
    service: Service
    topic: str
    language: str
    page_url: str = ""


def agent_display_name(user: User) -> str:
    full_name: str = getattr(user, "get_full_name", lambda: "")()
    return full_name or user.get_username()


def start_conversation(chat: NewChat) -> tuple[Conversation, str]:
    """Open a chat in the queue of the service's team; return it and its token.

    The token is shown to the requester once and only its hash is stored.
    """
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        conversation = Conversation.objects.create(
            token_hash=hash_token(token),
            requester=chat.requester,
            requester_name=chat.requester.name,
            requester_email=chat.email,
            service=chat.service,
            team=chat.service.team,
            topic=chat.topic,
            language=chat.language,
            page_url=chat.page_url[:500],
            last_activity_at=timezone.now(),
        )
        record(
            "conversation",
            conversation.public_id,
            "started",
            actor_kind=ActorKind.REQUESTER,
            service=chat.service.code,
            team=chat.service.team_id,
        )
        realtime.publish(
            realtime.team_group(conversation.team_id),
            {"type": "queue.added", "item": queue_item(conversation)},
            audience="agent",
        )
        # Imported here because routing builds on this module.
        from layanan.chat.routing import offer_next

        offer_next(conversation)
    logger.info(
        "conversation started conversation=%s team=%s",
        conversation.public_id,
        conversation.team_id,
    )
    return conversation, token


# Control characters other than line breaks and tabs, and the bidirectional
# overrides that make "gpj.exe" display as "exe.jpg".
_FORBIDDEN_IN_BODY = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]"
)


def validate_body(body: object) -> str:
    if not isinstance(body, str) or not body.strip():
        raise ChatError("empty_message", _("Type a message before sending."))
    if _FORBIDDEN_IN_BODY.search(body):
        raise ChatError(
            "control_character",
            _(
                "The message contains hidden control characters; remove them "
                "(retype the text rather than pasting it) and send again."
            ),
        )
    if len(body) > MAX_BODY_LENGTH:
        raise ChatError(
            "message_too_long",
            _("The message is longer than %(max)d characters: shorten it or split it.")
            % {"max": MAX_BODY_LENGTH},
        )
    return body


def validate_client_id(client_id: object) -> str:
    # The server's own notes use "system:" ids. A client message that took one
    # first would pass for the "joined" note or make the closing note's insert fail.
    if (
        not isinstance(client_id, str)
        or not client_id
        or len(client_id) > MAX_CLIENT_ID_LENGTH
        or client_id.startswith(SYSTEM_CLIENT_ID_PREFIX)
    ):
        raise ChatError(
            "bad_client_id", _("The message has no valid client id; reload the page.")
        )
    return client_id


@dataclass(frozen=True)
class NewMessage:
    sender_kind: SenderKind
    sender_name: str
    body: str
    client_id: str
    sender: User | None = None
    attachment: Attachment | None = None


def post_message(conversation: Conversation, new: NewMessage) -> tuple[Message, bool]:
    """Store a message and broadcast it; return it and whether it is new.

    A message whose ``client_id`` is already stored is returned unchanged, so a
    client that re-sends after a lost acknowledgement creates no duplicate. The
    unique constraint on (conversation, client_id) is the check, so a new message
    costs one UPDATE and one INSERT.
    """
    try:
        with transaction.atomic():
            message = _insert_message(conversation, new)
    except IntegrityError:
        existing = _stored_message(conversation, new.client_id)
        if existing is None:
            raise
        return existing, False
    except ChatError:
        # An ended chat still acknowledges a re-send of what it stored before.
        existing = _stored_message(conversation, new.client_id)
        if existing is None:
            raise
        return existing, False
    return message, True


def _stored_message(conversation: Conversation, client_id: str) -> Message | None:
    return (
        Message.objects.filter(conversation_id=conversation.pk, client_id=client_id)
        .order_by()
        .first()
    )


def _next_seq(
    conversation: Conversation, *, first_agent_reply: bool, allow_ended: bool
) -> int | None:
    """Take the chat's next seq in one statement, or None if it has ended.

    The caller's object can be older than the end (a requester socket loads its
    chat once), so the stored status decides. The UPDATE locks the row until
    commit, which serialises writers on PostgreSQL; SQLite's IMMEDIATE
    transactions serialise them already. Both support RETURNING (SQLite 3.35+).
    """
    table = connection.ops.quote_name(Conversation._meta.db_table)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    assignments = ["last_seq = last_seq + 1", "last_activity_at = %s"]
    parameters: list[str | int | None] = [now]
    if first_agent_reply:
        assignments.append("first_agent_reply_at = COALESCE(first_agent_reply_at, %s)")
        parameters.append(now)
    condition = "id = %s"
    parameters.append(conversation.pk)
    if not allow_ended:
        condition += " AND status <> %s"
        parameters.append(str(ConversationStatus.ENDED))
    sql = (
        f"UPDATE {table} SET {', '.join(assignments)} "  # noqa: S608 (fixed names)
        f"WHERE {condition} RETURNING last_seq"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, parameters)
        row = cursor.fetchone()
    return int(row[0]) if row else None


def _insert_message(
    conversation: Conversation, new: NewMessage, *, allow_ended: bool = False
) -> Message:
    """Take the next seq and insert; call inside a transaction."""
    is_agent = new.sender_kind == SenderKind.AGENT
    seq = _next_seq(conversation, first_agent_reply=is_agent, allow_ended=allow_ended)
    if seq is None:
        conversation.status = ConversationStatus.ENDED
        raise ChatError("chat_ended", _("This chat has ended; start a new one."))
    message = Message.objects.create(
        conversation=conversation,
        seq=seq,
        client_id=new.client_id,
        sender_kind=new.sender_kind,
        sender=new.sender,
        sender_name=new.sender_name[:150],
        body=new.body,
        attachment=new.attachment,
    )
    conversation.last_seq = seq
    conversation.last_activity_at = message.created
    if is_agent and conversation.first_agent_reply_at is None:
        conversation.first_agent_reply_at = message.created
    realtime.publish(
        conversation.group_name,
        {
            "type": "message",
            "conversation": str(conversation.public_id),
            "message": message_payload(message),
        },
    )
    return message


def post_system_message(conversation: Conversation, key: str, text: str) -> Message:
    message, _created = post_message(
        conversation,
        NewMessage(
            sender_kind=SenderKind.SYSTEM,
            sender_name="Layanan",
            body=text,
            client_id=SYSTEM_CLIENT_ID_PREFIX + key,
        ),
    )
    return message


def publish_state(conversation: Conversation) -> None:
    for audience, for_agent in (("requester", False), ("agent", True)):
        realtime.publish(
            conversation.group_name,
            {
                "type": "state",
                "conversation": conversation_payload(conversation, for_agent=for_agent),
            },
            audience=audience,  # type: ignore[arg-type]
        )


def accept_conversation(conversation: Conversation, agent: User) -> None:
    """Give a waiting chat to ``agent``; raise ChatError if someone was faster.

    The conditional UPDATE is the arbiter: of several agents accepting at once,
    exactly one changes the row. In a round-robin team only the agent the chat is
    offered to now may accept it.
    """
    now = timezone.now()
    round_robin = conversation.team.routing == RoutingMode.ROUND_ROBIN
    with transaction.atomic():
        waiting = Conversation.objects.filter(
            pk=conversation.pk, status=ConversationStatus.WAITING, agent__isnull=True
        )
        if round_robin:
            waiting = waiting.filter(offered_to=agent)
        taken = waiting.update(
            status=ConversationStatus.ACTIVE,
            agent=agent,
            accepted_at=now,
            last_activity_at=now,
        )
        if not taken:
            conversation.refresh_from_db(fields=["status"])
            if conversation.status == ConversationStatus.ENDED:
                raise ChatError("chat_ended", _("This chat has ended."))
            if round_robin and conversation.status == ConversationStatus.WAITING:
                raise ChatError(
                    "not_offered",
                    _(
                        "This chat is offered to another agent. Accept a chat when "
                        "the queue marks it as offered to you."
                    ),
                )
            raise ChatError(
                "already_taken", _("Another agent has already accepted this chat.")
            )
        conversation.refresh_from_db()
        record("conversation", conversation.public_id, "accepted", actor=agent)
        name = agent_display_name(agent)
        with translation.override(conversation.language):
            text = _("%(name)s joined the chat.") % {"name": name}
        post_system_message(conversation, "accepted", text)
        realtime.publish(
            realtime.team_group(conversation.team_id),
            {"type": "queue.removed", "conversation": str(conversation.public_id)},
            audience="agent",
        )
        publish_state(conversation)
        _publish_queue_positions(conversation.team_id)
    logger.info(
        "conversation accepted conversation=%s agent=%s",
        conversation.public_id,
        agent.pk,
    )


def _publish_queue_positions(team_id: int) -> None:
    """Tell every chat still waiting in the team's queue its new place."""
    waiting = Conversation.objects.filter(
        team_id=team_id, status=ConversationStatus.WAITING
    ).select_related("service", "agent")
    for conversation in waiting:
        realtime.publish(
            conversation.group_name,
            {"type": "state", "conversation": conversation_payload(conversation)},
            audience="requester",
        )


def mark_read(conversation: Conversation, reader: SenderKind, seq: int) -> None:
    # The stored last_seq, because the caller's object may predate the other
    # side's latest messages.
    last_seq = Conversation.objects.values_list("last_seq", flat=True).get(
        pk=conversation.pk
    )
    seq = max(0, min(seq, last_seq))
    field = "requester_read_seq" if reader == SenderKind.REQUESTER else "agent_read_seq"
    updated = Conversation.objects.filter(
        pk=conversation.pk, **{f"{field}__lt": seq}
    ).update(**{field: seq})
    if updated:
        setattr(conversation, field, seq)
        other = "agent" if reader == SenderKind.REQUESTER else "requester"
        realtime.publish(
            conversation.group_name,
            {
                "type": "read",
                "conversation": str(conversation.public_id),
                "sender_kind": str(reader),
                "seq": seq,
            },
            audience=other,  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class Ending:
    ended_by: EndedBy
    actor: User | None = None
    transcript_email: str | None = None
    rating: int | None = None
    comment: str = ""


def end_conversation(conversation: Conversation, ending: Ending) -> bool:
    """End a chat once; return False if it had ended already.

    The rating and transcript request of a requester who ends a chat that the agent
    or the idle timer ended a moment before are still recorded.
    """
    now = timezone.now()
    with transaction.atomic():
        ended = (
            Conversation.objects.filter(pk=conversation.pk)
            .exclude(status=ConversationStatus.ENDED)
            .update(
                status=ConversationStatus.ENDED, ended_at=now, ended_by=ending.ended_by
            )
        )
        conversation.refresh_from_db()
        if ending.rating is not None or ending.comment:
            _store_rating(conversation, ending)
        if ended:
            _announce_end(conversation, ending)
        if ending.transcript_email:
            from layanan.chat.transcripts import send_transcript

            send_transcript(conversation, ending.transcript_email, actor=ending.actor)
    if ended:
        logger.info(
            "conversation ended conversation=%s by=%s",
            conversation.public_id,
            ending.ended_by,
        )
    return bool(ended)


def _store_rating(conversation: Conversation, ending: Ending) -> None:
    if conversation.rating is not None:
        return
    conversation.rating = ending.rating
    conversation.rating_comment = ending.comment[:2000]
    conversation.save(update_fields=["rating", "rating_comment"])
    record(
        "conversation",
        conversation.public_id,
        "rated",
        actor_kind=ActorKind.REQUESTER,
        rating=ending.rating,
    )


def _announce_end(conversation: Conversation, ending: Ending) -> None:
    actor_kind = {
        EndedBy.REQUESTER: ActorKind.REQUESTER,
        EndedBy.AGENT: ActorKind.AGENT,
        EndedBy.IDLE: ActorKind.SYSTEM,
        EndedBy.WAIT_LIMIT: ActorKind.SYSTEM,
    }[ending.ended_by]
    record(
        "conversation",
        conversation.public_id,
        "ended",
        actor=ending.actor,
        actor_kind=actor_kind,
        ended_by=str(ending.ended_by),
    )
    with translation.override(conversation.language):
        if ending.ended_by == EndedBy.IDLE:
            text = _(
                "The chat ended because no message was sent for %(minutes)d minutes."
            ) % {"minutes": settings.CHAT_IDLE_MINUTES}
        elif ending.ended_by == EndedBy.WAIT_LIMIT:
            text = wait_limit_text(conversation)
        elif ending.ended_by == EndedBy.AGENT:
            text = _("The agent ended the chat.")
        else:
            text = _("The requester ended the chat.")
    post_system_message_after_end(conversation, text)
    realtime.publish(
        realtime.team_group(conversation.team_id),
        {"type": "queue.removed", "conversation": str(conversation.public_id)},
        audience="agent",
    )
    publish_state(conversation)
    _publish_queue_positions(conversation.team_id)
    if conversation.agent_id is not None:
        # The agent has one active chat fewer, so a round-robin chat may fit now.
        from layanan.chat.routing import route_for_agent

        route_for_agent(conversation.agent_id)


def wait_limit_text(conversation: Conversation) -> str:
    """Return the closing message of a chat that no agent accepted in time.

    Call it with the chat's language active.
    """
    if conversation.ticket_number:
        return _(
            "No agent was free to answer this chat, so it became ticket "
            "%(number)s. We will answer it by email at %(email)s."
        ) % {
            "number": conversation.ticket_number,
            "email": conversation.requester_email,
        }
    return _(
        "No agent was free to answer this chat. Send the question again later, or "
        "use the offline form to get the answer by email."
    )


def post_system_message_after_end(conversation: Conversation, text: str) -> None:
    """Store the closing note; ``post_message`` refuses ended chats, this one not."""
    _insert_message(
        conversation,
        NewMessage(
            sender_kind=SenderKind.SYSTEM,
            sender_name="Layanan",
            body=text,
            client_id=SYSTEM_CLIENT_ID_PREFIX + "ended",
        ),
        allow_ended=True,
    )


def end_idle_conversations(now: datetime | None = None) -> int:
    """End every open chat with no message for CHAT_IDLE_MINUTES; return how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.CHAT_IDLE_MINUTES)
    idle = Conversation.objects.filter(
        status__in=[ConversationStatus.WAITING, ConversationStatus.ACTIVE],
        last_activity_at__lt=cutoff,
    ).select_related("service", "agent", "requester", "team")
    count = 0
    for conversation in idle:
        if end_conversation(conversation, Ending(ended_by=EndedBy.IDLE)):
            count += 1
    return count
