"""Shared fixtures: the catalogue, a named cast of users and requester chats.

Who may see what:

- a requester has the token of their own chat and sees that chat only;
- ``agent_admin`` and ``second_agent_admin`` are members of "Administrasi" and see,
  accept and answer that team's chats;
- ``agent_ti`` is a member of "TI", the other team, and sees none of
  Administrasi's chats;
- ``supervisor`` is the head of department: no team, but reads every team's chats;
- ``outsider`` is a logged-in user with no team and no supervisor flag, and sees
  nothing.
"""

import importlib
import itertools
import json
from collections.abc import AsyncIterator, Callable
from datetime import time
from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connections
from django.test import Client
from pytest_django.fixtures import Settings

from layanan.catalog.calendars import Calendar, make_calendar
from layanan.catalog.models import Service, Team
from layanan.chat.models import Conversation
from layanan.chat.services import NewChat, start_conversation
from layanan.people.models import AgentProfile, Requester, RequesterKind

# A transactional test empties every table afterwards, the catalogue rows from the
# data migration included, so fixtures load them again from that migration.
_CATALOGUE_MIGRATION = importlib.import_module(
    "layanan.catalog.migrations.0002_catalogue"
)

RequesterChatFactory = Callable[..., tuple[Conversation, str]]


@pytest.fixture(autouse=True)
def fresh_channel_layer(settings: Settings) -> None:
    """Give every test its own in-memory channel layer.

    A layer kept from an earlier test contains queues bound to that test's event
    loop, and groups of channels that no consumer reads any more.
    """
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    }


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "business_hours: the widget follows the teams' real business calendars "
        "instead of a desk that is open around the clock",
    )


# Open from 00:00 to midnight every day, with no holidays.
ALWAYS_OPEN = make_calendar(
    {weekday: [(time(0), time(0))] for weekday in range(7)}, holiday_country=None
)


@pytest.fixture(autouse=True)
def desk_open_around_the_clock(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep live chat open at any wall-clock time, unless marked business_hours.

    Only the widget's opening-hours check is replaced, so service-level clocks
    still run on the teams' real calendars.
    """
    if request.node.get_closest_marker("business_hours") is not None:
        return

    def always_open(team: Team | None, request: object) -> Calendar:
        return ALWAYS_OPEN

    monkeypatch.setattr("layanan.chat.hours.desk_calendar", always_open)


@pytest.fixture
def catalogue(db: None) -> dict[str, Team]:
    """Return the catalogue migration's teams by name, loading them if gone."""
    _CATALOGUE_MIGRATION.load(django_apps, None)
    return {team.name: team for team in Team.objects.all()}


@pytest.fixture
def admin_team(catalogue: dict[str, Team]) -> Team:
    return catalogue["Administrasi"]


@pytest.fixture
def ti_team(catalogue: dict[str, Team]) -> Team:
    return catalogue["TI"]


@pytest.fixture
def admin_service(catalogue: dict[str, Team]) -> Service:
    """Return "surat-tugas", a service of the Administrasi team."""
    return Service.objects.get(code="surat-tugas")


@pytest.fixture
def ti_service(catalogue: dict[str, Team]) -> Service:
    """Return "akses-aplikasi", the TI team's service."""
    return Service.objects.get(code="akses-aplikasi")


def _make_agent(
    username: str, full_name: str, team: Team | None, *, is_supervisor: bool = False
) -> User:
    first_name, _space, last_name = full_name.partition(" ")
    user = User.objects.create_user(
        username=username,
        password="unused-password-0",
        first_name=first_name,
        last_name=last_name,
    )
    AgentProfile.objects.create(user=user, is_supervisor=is_supervisor)
    if team is not None:
        team.members.add(user)
    return user


@pytest.fixture
def agent_admin(admin_team: Team) -> User:
    return _make_agent("sari", "Sari Wulandari", admin_team)


@pytest.fixture
def second_agent_admin(admin_team: Team) -> User:
    return _make_agent("dewi", "Dewi Lestari", admin_team)


@pytest.fixture
def agent_ti(ti_team: Team) -> User:
    return _make_agent("bayu", "Bayu Pratama", ti_team)


@pytest.fixture
def supervisor(catalogue: dict[str, Team]) -> User:
    return _make_agent("kajur", "Hendra Gunawan", None, is_supervisor=True)


@pytest.fixture
def outsider(db: None) -> User:
    return User.objects.create_user(username="tamu", password="unused-password-0")


@pytest.fixture
def requester_chat(admin_service: Service) -> RequesterChatFactory:
    """Return a factory that opens a chat for a new requester.

    ``requester_chat(service=None, language="id", name=..., topic=...)`` creates a
    Requester and starts the chat through ``start_conversation``; it returns the
    conversation and its token. The default service belongs to Administrasi.
    """
    numbers = itertools.count(1)

    def create(
        service: Service | None = None,
        *,
        language: str = "id",
        name: str = "Budi Santoso",
        topic: str = "Surat tugas seminar",
    ) -> tuple[Conversation, str]:
        number = next(numbers)
        requester = Requester.objects.create(
            identifier=f"22310{number:05d}",
            kind=RequesterKind.STUDENT,
            name=name,
            email=f"mahasiswa{number}@mail.example",
        )
        return start_conversation(
            NewChat(
                requester=requester,
                email=requester.email,
                service=service or admin_service,
                topic=topic,
                language=language,
            )
        )

    return create


# Seconds to wait for a frame that must come; the machines running this are shared.
FRAME_TIMEOUT = 5.0
# Seconds of silence after which a socket counts as having nothing more to send.
QUIET_SECONDS = 0.3


class WebsocketCommunicator(ApplicationCommunicator):
    """Drive one WebSocket connection of an ASGI application in the test's loop.

    NOTE: ``channels.testing`` has the same class, but that package imports
    daphne, which is not installed. This one keeps channels' method names, so it
    can be replaced by channels' class once daphne is a test dependency.
    """

    def __init__(
        self, application: Any, path: str, headers: list[tuple[bytes, bytes]]
    ) -> None:
        scope = {
            "type": "websocket",
            "path": path,
            "query_string": b"",
            "headers": headers,
            "subprotocols": [],
        }
        super().__init__(application, scope)

    async def connect(self, timeout: float = 1) -> tuple[bool, Any]:
        """Open the socket; return (True, subprotocol) or (False, close code)."""
        await self.send_input({"type": "websocket.connect"})
        response = await self.receive_output(timeout)
        if response["type"] == "websocket.close":
            return False, response.get("code", 1000)
        assert response["type"] == "websocket.accept", response
        return True, response.get("subprotocol")

    async def send_to(self, text_data: str) -> None:
        await self.send_input({"type": "websocket.receive", "text": text_data})

    async def send_json_to(self, data: object) -> None:
        await self.send_to(json.dumps(data))

    async def receive_from(self, timeout: float = 1) -> str:
        """Return the next text frame; fail if the server closed the socket."""
        response = await self.receive_output(timeout)
        assert response["type"] == "websocket.send", response
        text = response.get("text")
        assert isinstance(text, str), response
        return text

    async def receive_json_from(self, timeout: float = 1) -> Any:
        return json.loads(await self.receive_from(timeout))

    async def disconnect(self, code: int = 1000, timeout: float = 1) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": code})
        await self.wait(timeout)


def session_cookie(user: User) -> str:
    """Log ``user`` in with the test client and return the Cookie header's value."""
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}"


class Sockets:
    """Open sockets on ``layanan.asgi.application`` and close them at teardown."""

    def __init__(self) -> None:
        self.opened: list[WebsocketCommunicator] = []

    def communicator(
        self,
        path: str,
        *,
        origin: str | None = "",
        cookie: str = "",
        host: str = "",
    ) -> WebsocketCommunicator:
        """Return an unconnected communicator; ``origin=""`` means the product's."""
        from layanan.asgi import application

        headers: list[tuple[bytes, bytes]] = []
        if origin is not None:
            headers.append((b"origin", (origin or settings.BASE_ORIGIN).encode()))
        if cookie:
            headers.append((b"cookie", cookie.encode()))
        if host:
            headers.append((b"host", host.encode()))
        communicator = WebsocketCommunicator(application, path, headers=headers)
        self.opened.append(communicator)
        return communicator

    async def requester(
        self, token: str, last_seq: int = 0
    ) -> tuple[WebsocketCommunicator, dict[str, Any]]:
        """Connect to /ws/chat/, authenticate and return the socket and ``ready``."""
        communicator = self.communicator("/ws/chat/")
        connected, _subprotocol = await communicator.connect(timeout=FRAME_TIMEOUT)
        assert connected, "the requester socket was not accepted"
        await communicator.send_json_to(
            {"type": "auth", "token": token, "last_seq": last_seq}
        )
        ready = await communicator.receive_json_from(timeout=FRAME_TIMEOUT)
        assert ready["type"] == "ready", ready
        return communicator, ready

    async def agent(self, user: User) -> tuple[WebsocketCommunicator, dict[str, Any]]:
        """Connect ``user`` to /ws/console/ and return the socket and ``hello``."""
        cookie = await sync_to_async(session_cookie)(user)
        communicator = self.communicator("/ws/console/", cookie=cookie)
        connected, _subprotocol = await communicator.connect(timeout=FRAME_TIMEOUT)
        assert connected, "the agent socket was not accepted"
        hello = await communicator.receive_json_from(timeout=FRAME_TIMEOUT)
        assert hello["type"] == "hello", hello
        return communicator, hello

    async def receive_until(
        self, communicator: WebsocketCommunicator, frame_type: str, **fields: Any
    ) -> list[dict[str, Any]]:
        """Return the frames received up to the first ``frame_type`` frame, inclusive.

        With ``fields``, that frame must also carry those values (``code="..."``).
        """
        frames: list[dict[str, Any]] = []
        while True:
            frame = await communicator.receive_json_from(timeout=FRAME_TIMEOUT)
            frames.append(frame)
            if frame["type"] == frame_type and all(
                frame.get(key) == value for key, value in fields.items()
            ):
                return frames

    async def drain(self, communicator: WebsocketCommunicator) -> list[dict[str, Any]]:
        """Return every frame that arrives until the socket stays quiet."""
        frames: list[dict[str, Any]] = []
        # receive_output cancels the application when it times out, so the wait
        # for silence polls the queue instead.
        while not await communicator.receive_nothing(timeout=QUIET_SECONDS):
            frames.append(await communicator.receive_json_from(timeout=FRAME_TIMEOUT))
        return frames

    async def close_all(self) -> None:
        for communicator in self.opened:
            if communicator.future.done():
                continue
            await communicator.disconnect(timeout=FRAME_TIMEOUT)


@pytest_asyncio.fixture
async def sockets() -> AsyncIterator[Sockets]:
    opened = Sockets()
    yield opened
    await opened.close_all()
    # Consumers keep the database connection of sync_to_async's worker thread open.
    # Left open, it outlives the test database, whose SQLite -wal and -shm files
    # then stay behind.
    await sync_to_async(connections.close_all)()
