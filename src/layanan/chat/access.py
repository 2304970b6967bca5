"""The chat's doors to conversations and attachments, from ``layanan.access``.

Each ``get_*`` helper raises ``NotFound`` both when the object is missing and when
the caller may not see it, so that probing ids reveals nothing to an outsider.
"""

from layanan.access import (
    NotFound,
    conversations_for_agent,
    get_attachment_for_agent,
    get_attachment_for_token,
    get_conversation_for_agent,
    get_conversation_for_token,
    hash_token,
    is_admin,
    is_supervisor,
    may_act_on_conversation,
    reads_every_team,
    team_ids_for_agent,
)

__all__ = [
    "NotFound",
    "conversations_for_agent",
    "get_attachment_for_agent",
    "get_attachment_for_token",
    "get_conversation_for_agent",
    "get_conversation_for_token",
    "hash_token",
    "is_admin",
    "is_supervisor",
    "may_act_on_conversation",
    "reads_every_team",
    "team_ids_for_agent",
]
