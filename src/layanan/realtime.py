"""Real-time events: the one way services reach open sockets.

Every event goes to a channel-layer group once the current transaction commits, so a
socket never hears of a change that was rolled back.
"""

import threading
from collections.abc import Callable
from functools import partial
from typing import Any, Literal, ParamSpec, TypeVar

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


Event = tuple[str, dict[str, Any]]
Parameters = ParamSpec("Parameters")
Result = TypeVar("Result")

# Set while a consumer's database call runs, so that events wait for the consumer
# to send them from the event loop instead of blocking the database thread.
_local = threading.local()


def publish(group: str, frame: dict[str, Any], audience: Audience = "all") -> None:
    """Send ``frame`` to every socket in ``group`` after the transaction commits."""
    event = {"type": "relay", "frame": frame, "audience": audience}
    sink: list[Event] | None = getattr(_local, "sink", None)
    if sink is not None:
        transaction.on_commit(partial(sink.append, (group, event)))
    else:
        transaction.on_commit(partial(_send, group, event))


def run_collecting(
    function: Callable[Parameters, Result],
    *args: Parameters.args,
    **kwargs: Parameters.kwargs,
) -> tuple[Result, list[Event]]:
    """Call ``function`` and return its result with the events it committed.

    Run through ``sync_to_async`` and pass the events to ``deliver``.
    """
    sink: list[Event] = []
    previous = getattr(_local, "sink", None)
    _local.sink = sink
    try:
        result = function(*args, **kwargs)
    finally:
        _local.sink = previous
    return result, sink


async def deliver(events: list[Event]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for group, event in events:
        await layer.group_send(group, event)


def _send(group: str, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, event)
