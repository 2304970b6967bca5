"""Periodic chat housekeeping run inside the ASGI server process."""

import asyncio
import logging
import os
import socket
from typing import Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections

from layanan.chat.presence import forget_stale_connections
from layanan.chat.services import end_idle_conversations
from layanan.jobs.registry import acquire_lease

logger = logging.getLogger(__name__)

SWEEP_SECONDS = 30.0
HOLDER = f"{socket.gethostname()}:{os.getpid()}:asgi"


def sweep() -> None:
    """End idle chats and forget dead console connections, once across nodes."""
    close_old_connections()
    if not acquire_lease("chat.sweep", HOLDER, seconds=SWEEP_SECONDS):
        return
    ended = end_idle_conversations()
    forgotten = forget_stale_connections()
    if ended or forgotten:
        logger.info("chat sweep ended=%d stale_connections=%d", ended, forgotten)


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
