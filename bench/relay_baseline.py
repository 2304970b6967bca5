"""Raw ASGI WebSocket relay: the benchmark's baseline, with no Django or Channels.

Sockets pair up by path, ``/pair/<n>/agent`` and ``/pair/<n>/requester``. Each text
frame a requester sends goes unchanged to the agent socket of the same pair, and
the requester gets nothing back. Serve it with ``uvicorn relay_baseline:application
--app-dir bench``.
"""

from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

CLOSE_NOT_FOUND = 4404
ROLES = ("agent", "requester")

# The send callable of each pair's agent socket. All sockets share one process
# and one event loop, so a plain dict is enough.
agent_senders: dict[str, Send] = {}


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await serve_lifespan(receive, send)
    elif scope["type"] == "websocket":
        await serve_websocket(scope, receive, send)
    else:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def serve_lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def parse_pair_path(path: str) -> tuple[str, str] | None:
    """Return (pair, role) for ``/pair/<n>/<role>``, or None for any other path."""
    parts = path.strip("/").split("/")
    if len(parts) != 3 or parts[0] != "pair" or parts[2] not in ROLES:
        return None
    return parts[1], parts[2]


async def serve_websocket(scope: Scope, receive: Receive, send: Send) -> None:
    connect = await receive()
    if connect["type"] != "websocket.connect":
        return
    pair_and_role = parse_pair_path(scope["path"])
    if pair_and_role is None:
        await send({"type": "websocket.close", "code": CLOSE_NOT_FOUND})
        return
    pair, role = pair_and_role
    # Registered before the handshake completes, so a requester that connects
    # after its agent's socket is open always finds the agent.
    if role == "agent":
        agent_senders[pair] = send
    await send({"type": "websocket.accept"})
    try:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            agent_send = agent_senders.get(pair)
            if role == "requester" and text is not None and agent_send is not None:
                await agent_send({"type": "websocket.send", "text": text})
    finally:
        if role == "agent" and agent_senders.get(pair) is send:
            del agent_senders[pair]
