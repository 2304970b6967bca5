"""Periodic chat housekeeping run inside the ASGI server process."""

import asyncio
import logging
import os
import socket
from typing import Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections

from layanan.chat.presence import expire_connections
from layanan.chat.routing import (
    announce_offline_agents,
    end_waited_chats,
    route_waiting_chats,
)
from layanan.chat.services import end_idle_conversations
from layanan.jobs.registry import acquire_lease

logger = logging.getLogger(__name__)

# Offer timeouts and the presence grace period are only as precise as this
# interval: an offer of 60 s moves on after 60 to 70 s.
SWEEP_SECONDS = 10.0
HOLDER = f"{socket.gethostname()}:{os.getpid()}:asgi"


def sweep() -> None:
    """Run the chat's periodic checks once across nodes.

    The checks end idle chats, end chats that waited past their team's wait
    limit, move timed-out round-robin offers on, and post a system message to the
    chats of agents who went offline.
    """
    close_old_connections()
    if not acquire_lease("chat.sweep", HOLDER, seconds=SWEEP_SECONDS):
        return
    ended = end_idle_conversations()
    missed = end_waited_chats()
    offline = expire_connections()
    messaged = announce_offline_agents(offline)
    offered = route_waiting_chats()
    if ended or missed or offline or offered:
        logger.info(
            "chat sweep idle=%d wait_limit=%d offline_agents=%d messaged=%d offered=%d",
            ended,
            missed,
            len(offline),
            messaged,
            offered,
        )


async def run_sweeper() -> None:
    while True:
        try:
            await sync_to_async(sweep)()
        except Exception:
            logger.exception("chat sweep failed")
        await asyncio.sleep(SWEEP_SECONDS)


async def lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Handle the ASGI lifespan protocol: start the sweeper, stop it at shutdown."""
    task: asyncio.Task[None] | None = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            task = asyncio.create_task(run_sweeper())
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if task is not None:
                task.cancel()
            await send({"type": "lifespan.shutdown.complete"})
            return
