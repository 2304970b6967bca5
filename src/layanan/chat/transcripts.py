"""The chat transcript email."""

import logging

from django.contrib.auth.models import User
from django.dispatch import Signal
from django.utils import timezone

from layanan.audit.models import ActorKind
from layanan.audit.services import record
from layanan.chat.models import Conversation
from layanan.mail.outbox import queue_email

logger = logging.getLogger(__name__)

# Sent inside the transaction after a transcript is queued, with ``conversation``
# and ``email``; the tickets app records it on the chat's ticket.
transcript_sent = Signal()


def transcript_context(conversation: Conversation) -> dict[str, object]:
    messages = list(conversation.messages.select_related("attachment").order_by("seq"))
    return {
        "conversation": conversation,
        "requester": conversation.requester,
        "service_name": conversation.service.localized_name(conversation.language),
        "messages": [
            {
                "time": timezone.localtime(message.created),
                "sender_name": message.sender_name,
                "sender_kind": message.sender_kind,
                "body": message.body,
                "attachment_name": (
                    message.attachment.original_name if message.attachment else ""
                ),
            }
            for message in messages
        ],
    }


def send_transcript(
    conversation: Conversation, email: str, actor: User | None = None
) -> None:
    """Queue the transcript for ``email`` and record it; call inside a transaction."""
    queue_email(
        kind="transcript",
        reference=f"conversation:{conversation.public_id}",
        to=[email],
        template="transcript",
        context=transcript_context(conversation),
        language=conversation.language,
    )
    conversation.transcript_sent_at = timezone.now()
    conversation.save(update_fields=["transcript_sent_at"])
    record(
        "conversation",
        conversation.public_id,
        "transcript_sent",
        actor=actor,
        actor_kind=ActorKind.AGENT if actor else ActorKind.REQUESTER,
    )
    transcript_sent.send(sender=Conversation, conversation=conversation, email=email)
    logger.info("transcript queued conversation=%s", conversation.public_id)
