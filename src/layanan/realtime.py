"""Real-time events: the one way services reach open sockets.

Every event goes to a channel-layer group once the current transaction commits, so a
socket never hears of a change that was rolled back.
"""

from functools import partial
from typing import Any, Literal

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

Audience = Literal["requester", "agent", "all"]


def conversation_group(public_id_hex: str) -> str:
    return f"conversation.{public_id_hex}"


def team_group(team_id: int) -> str:
    return f"team.{team_id}"


def agent_group(user_id: int) -> str:
    return f"agent.{user_id}"


def publish(group: str, frame: dict[str, Any], audience: Audience = "all") -> None:
    """Send ``frame`` to every socket in ``group`` after the transaction commits."""
    event = {"type": "relay", "frame": frame, "audience": audience}
    transaction.on_commit(partial(_send, group, event))


def _send(group: str, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, event)
