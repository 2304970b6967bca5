"""ASGI entry point: HTTP through Django, sockets through Channels.

The server process also runs the chat sweeper (idle chats, stale presence), because
ending a chat must reach its open sockets, which only a process that shares the
channel layer can do. With the in-memory layer that is this process alone.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "layanan.settings")
django_application = get_asgi_application()

# Consumers import models, so they load after Django is set up.
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from layanan.chat.consumers import AgentConsumer, RequesterConsumer  # noqa: E402
from layanan.chat.sweeper import lifespan  # noqa: E402

websocket_routes = URLRouter(
    [
        path("ws/chat/", RequesterConsumer.as_asgi()),
        path("ws/console/", AgentConsumer.as_asgi()),
    ]
)

application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": AuthMiddlewareStack(websocket_routes),
        "lifespan": lifespan,
    }
)
