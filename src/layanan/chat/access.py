"""The one door to conversations and attachments: who may see what.

Each helper raises ``NotFound`` both when the object is missing and when the caller
may not see it, so that probing ids tells an outsider nothing.
"""

import hashlib
import uuid

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from layanan.chat.models import Attachment, Conversation
from layanan.people.models import AgentProfile


class NotFound(Exception):
    """The object does not exist or the caller may not see it."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_supervisor(user: User | AnonymousUser) -> bool:
    if not user.is_authenticated:
        return False
    profile = AgentProfile.objects.filter(user_id=user.pk).first()
    return bool(profile and profile.is_supervisor)


def team_ids_for_agent(user: User | AnonymousUser) -> list[int]:
    """Return the ids of the teams whose queues the user serves."""
    if not user.is_authenticated:
        return []
    from layanan.catalog.models import Team

    return list(Team.objects.filter(members__pk=user.pk).values_list("pk", flat=True))


def conversations_for_agent(
    user: User | AnonymousUser,
) -> QuerySet[Conversation]:
    """Return the conversations a console user may read: their teams', or all."""
    queryset = Conversation.objects.select_related("requester", "service", "team")
    if not user.is_authenticated:
        return queryset.none()
    if is_supervisor(user):
        return queryset
    return queryset.filter(team__members__pk=user.pk)


def get_conversation_for_token(token: str) -> Conversation:
    if not token or len(token) > 200:
        raise NotFound
    try:
        return Conversation.objects.select_related("requester", "service", "team").get(
            token_hash=hash_token(token)
        )
    except Conversation.DoesNotExist:
        raise NotFound from None


def get_conversation_for_agent(
    user: User | AnonymousUser, public_id: str | uuid.UUID
) -> Conversation:
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        raise NotFound from None
    conversation = conversations_for_agent(user).filter(public_id=key).first()
    if conversation is None:
        raise NotFound
    return conversation


def get_attachment_for_token(token: str, attachment_id: int) -> Attachment:
    conversation = get_conversation_for_token(token)
    attachment = conversation.attachments.filter(pk=attachment_id).first()
    if attachment is None:
        raise NotFound
    return attachment


def get_attachment_for_agent(
    user: User | AnonymousUser, attachment_id: int
) -> Attachment:
    attachment = (
        Attachment.objects.filter(
            pk=attachment_id, conversation__in=conversations_for_agent(user)
        )
        .select_related("conversation")
        .first()
    )
    if attachment is None:
        raise NotFound
    return attachment
