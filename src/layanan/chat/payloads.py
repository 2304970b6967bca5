"""JSON shapes of conversations and messages, as ``docs/protocol.md`` defines them."""

from datetime import datetime
from typing import Any

from django.utils import timezone

from layanan.chat.models import Attachment, Conversation, ConversationStatus, Message
from layanan.chat.uploads import INLINE_TYPES


def local_time(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%H:%M")


def attachment_payload(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": attachment.pk,
        "name": attachment.original_name,
        "size": attachment.size,
        "content_type": attachment.content_type,
        "inline": attachment.content_type in INLINE_TYPES,
    }


def message_payload(message: Message) -> dict[str, Any]:
    return {
        "seq": message.seq,
        "client_id": message.client_id,
        "sender_kind": message.sender_kind,
        "sender_name": message.sender_name,
        "body": message.body,
        "created": message.created.isoformat(),
        "time": local_time(message.created),
        "attachment": (
            attachment_payload(message.attachment) if message.attachment else None
        ),
    }


def queue_position(conversation: Conversation) -> int | None:
    """Return 1 for the chat next in its team's queue, or None unless waiting."""
    if conversation.status != ConversationStatus.WAITING:
        return None
    ahead = Conversation.objects.filter(
        team_id=conversation.team_id,
        status=ConversationStatus.WAITING,
        created__lt=conversation.created,
    ).count()
    return ahead + 1


def conversation_payload(
    conversation: Conversation, *, for_agent: bool = False
) -> dict[str, Any]:
    agent = conversation.agent
    peer_read_seq = (
        conversation.requester_read_seq if for_agent else conversation.agent_read_seq
    )
    return {
        "id": str(conversation.public_id),
        "status": conversation.status,
        "service": conversation.service.localized_name(conversation.language),
        "topic": conversation.topic,
        "agent_name": (agent.get_full_name() or agent.get_username())
        if agent
        else None,
        "queue_position": queue_position(conversation),
        "ended_by": conversation.ended_by,
        "peer_read_seq": peer_read_seq,
        "ticket_number": conversation.ticket_number or None,
        "language": conversation.language,
        # The requester's own address, to prefill the transcript form.
        "email": conversation.requester_email,
    }


def queue_item(
    conversation: Conversation, now: datetime | None = None
) -> dict[str, Any]:
    now = now or timezone.now()
    requester = conversation.requester
    programme = requester.study_programme
    return {
        "id": str(conversation.public_id),
        "requester_name": conversation.requester_name,
        "requester_identifier": requester.identifier,
        "requester_kind": requester.get_kind_display(),
        "study_programme": programme.name if programme else None,
        "service": conversation.service.localized_name(),
        "team": conversation.team.name,
        "topic": conversation.topic,
        "created": conversation.created.isoformat(),
        "waiting_seconds": max(0, int((now - conversation.created).total_seconds())),
        # Round-robin teams: only the agent with this user id may accept the chat,
        # and None means the chat waits for an eligible agent.
        "routing": conversation.team.routing,
        "offered_to": conversation.offered_to_id,
    }
