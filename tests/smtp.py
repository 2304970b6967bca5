"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, keeping what it receives.

Use the ``smtp_sink`` fixture (started, and ``settings.SMTP`` pointed at it) or
``unstarted_smtp_sink`` (configured but not listening yet, for outage tests).
Make them available with ``from smtp import smtp_sink`` in a test module or
``pytest_plugins = ["smtp"]`` in a conftest.
"""

import email
import email.policy
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pytest_django.fixtures import Settings

from layanan.env import SmtpConfig

HOST = "127.0.0.1"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def smtp_config(port: int) -> SmtpConfig:
    """Return the settings.SMTP value for a plain, password-less server on port."""
    return SmtpConfig(
        host=HOST,
        port=port,
        username="",
        password="",
        use_tls=False,
        use_ssl=False,
        timeout=5,
    )


@dataclass(frozen=True)
class Delivery:
    """One message as the server received it."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    # The client's (address, port): one value per SMTP connection.
    peer: tuple[str, int]

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class _Handler:
    def __init__(self, sink: "SmtpSink") -> None:
        self.sink = sink

    async def handle_RCPT(
        self,
        server: Any,
        session: Any,
        envelope: Any,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.lower() in self.sink.rejected_recipients:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        delivery = Delivery(
            mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            content=bytes(content),
            peer=tuple(session.peer[:2]),
        )
        with self.sink.received:
            self.sink.deliveries.append(delivery)
            self.sink.received.notify_all()
        return "250 OK"


class SmtpSink:
    """An SMTP server on 127.0.0.1 that accepts and keeps every message.

    The port is chosen when the sink is made, so a test can point settings at it
    before it listens. Addresses in ``rejected_recipients`` get a 550 at RCPT.
    """

    def __init__(self, port: int | None = None) -> None:
        self.host = HOST
        self.port = port or free_port()
        self.deliveries: list[Delivery] = []
        self.rejected_recipients: set[str] = set()
        self.received = threading.Condition()
        self._controller: Controller | None = None

    @property
    def config(self) -> SmtpConfig:
        return smtp_config(self.port)

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        """Listen on the sink's port; a stopped sink can start again."""
        if self._controller is not None:
            raise RuntimeError("The SMTP sink is already running.")
        # A controller closes its event loop when stopped, so each start needs
        # a new one. A fixed server name spares a DNS lookup.
        controller = Controller(
            _Handler(self),
            hostname=self.host,
            port=self.port,
            server_hostname="sink.test",
            ready_timeout=10,
        )
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        with self.received:
            return [delivery.message for delivery in self.deliveries]

    @property
    def connections(self) -> int:
        """Return how many SMTP connections delivered at least one message."""
        with self.received:
            return len({delivery.peer for delivery in self.deliveries})

    def wait_for(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        """Wait until ``count`` messages arrived; raise AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self.received:
            while len(self.deliveries) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"The SMTP sink got {len(self.deliveries)} messages in "
                        f"{timeout} s, not {count}."
                    )
                self.received.wait(remaining)
        return self.messages


@pytest.fixture
def smtp_sink(settings: Settings) -> Iterator[SmtpSink]:
    """Yield a started sink with ``settings.SMTP`` pointing at it."""
    sink = SmtpSink()
    sink.start()
    settings.SMTP = sink.config
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture
def unstarted_smtp_sink(settings: Settings) -> Iterator[SmtpSink]:
    """Yield a sink that is not listening yet, with ``settings.SMTP`` at its port."""
    sink = SmtpSink()
    settings.SMTP = sink.config
    try:
        yield sink
    finally:
        sink.stop()
