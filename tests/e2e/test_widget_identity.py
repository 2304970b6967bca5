"""The widget in Chromium with a portal's signed identity, and outside business hours.

The portal pages are served from ``localhost``, another site than the product on
``127.0.0.1``, as a real portal is.
"""

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from datetime import date, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.utils import dateformat, timezone, translation
from playwright.sync_api import ConsoleMessage, FrameLocator, Page, expect
from pytest_django.fixtures import Settings

from layanan.catalog.models import BusinessCalendar, BusinessHours, Team
from layanan.chat.models import Conversation
from layanan.people.models import AgentConnection, AgentProfile, Requester

SECRET = "portal-and-layanan-share-this-key-0123456789"
SERVICE_EN = "Request for a letter of assignment"
WIB = ZoneInfo("Asia/Jakarta")
PortalFactory = Callable[[dict[str, str]], str]


def signed_attributes(secret: str = SECRET) -> dict[str, str]:
    """Return data-identity and data-signature for a student, valid for an hour."""
    claims = {
        "id": "2231010123",
        "name": "Budi Santoso",
        "email": "budi@mail.example",
        "programme": "D3 Akuntansi",
        "exp": int((timezone.now() + timedelta(hours=1)).timestamp()),
    }
    encoded = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode()
    encoded = encoded.rstrip("=")
    signature = hmac.new(secret.encode(), encoded.encode(), hashlib.sha256)
    return {"data-identity": encoded, "data-signature": signature.hexdigest()}


@pytest.fixture
def portal(live_server_url: str) -> Iterator[PortalFactory]:
    """Return a function that serves an English portal page with given attributes.

    The function returns the page's address; every page stops with the test.
    """
    servers: list[ThreadingHTTPServer] = []

    def serve(attributes: dict[str, str]) -> str:
        extra = "".join(f' {name}="{value}"' for name, value in attributes.items())
        page = (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<title>Portal</title></head><body><h1>Portal</h1>"
            f'<script src="{live_server_url}/widget.js" data-lang="en"{extra} '
            "async></script></body></html>"
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, format: str, *args: Any) -> None:
                """Keep the test output free of request lines."""

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://localhost:{server.server_address[1]}/"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def team_online(catalogue: dict[str, Team]) -> None:
    """Put an Administrasi agent online through a console connection row."""
    user = get_user_model().objects.create_user(username="agen1", password="x" * 20)
    AgentProfile.objects.create(user=user)
    catalogue["Administrasi"].members.add(user)
    AgentConnection.objects.create(
        user=user, channel_name="test.console.1", last_seen=timezone.now()
    )


def open_panel(page: Page, address: str) -> FrameLocator:
    page.goto(address)
    page.get_by_role("button", name="Open chat").click()
    return page.frame_locator("iframe")


def warnings_of(page: Page) -> list[str]:
    """Collect the text of every console.warn of the page and its frames."""
    warnings: list[str] = []

    def collect(message: ConsoleMessage) -> None:
        if message.type == "warning":
            warnings.append(message.text)

    page.on("console", collect)
    return warnings


def test_signed_identity_shows_only_service_and_topic(
    browser: Any,
    settings: Settings,
    portal: PortalFactory,
    team_online: None,
) -> None:
    from layanan.catalog.models import StudyProgramme

    StudyProgramme.objects.create(name="D3 Akuntansi")
    settings.IDENTITY_SECRET = SECRET
    page = browser.new_page()
    panel = open_panel(page, portal(signed_attributes()))

    expect(panel.locator("#signed-in")).to_have_text(
        "Signed in as Budi Santoso (2231010123)"
    )
    expect(panel.get_by_label("Student/Staff ID")).to_be_hidden()
    expect(panel.get_by_label("Name")).to_be_hidden()
    expect(panel.locator("#f-email")).to_be_hidden()
    expect(panel.get_by_label("Study programme")).to_be_hidden()
    panel.get_by_label("Service").select_option(label=SERVICE_EN)
    panel.get_by_label("Topic").fill("Surat tugas seminar")
    panel.get_by_role("button", name="Start chat").click()

    expect(panel.locator("#chat-status")).to_contain_text("queue")
    conversation = Conversation.objects.get()
    assert conversation.identity_verified is True
    assert conversation.requester_email == "budi@mail.example"
    assert Requester.objects.get().verified_at is not None


def test_bad_signature_warns_and_shows_full_form(
    browser: Any,
    settings: Settings,
    portal: PortalFactory,
    team_online: None,
) -> None:
    settings.IDENTITY_SECRET = SECRET
    page = browser.new_page()
    warnings = warnings_of(page)
    attributes = signed_attributes("another-portal-key-that-nobody-shares-0000")
    panel = open_panel(page, portal(attributes))

    expect(panel.get_by_label("Student/Staff ID")).to_be_visible()
    expect(panel.get_by_label("Name")).to_be_visible()
    expect(panel.locator("#signed-in")).to_be_hidden()
    page.wait_for_timeout(200)
    assert any("data-signature does not match" in text for text in warnings), warnings


def closed_calendar_for(team: Team) -> date:
    """Give team a calendar open only two days from now; return that local date."""
    today = timezone.now().astimezone(WIB).date()
    opening_day = today + timedelta(days=2)
    calendar = BusinessCalendar.objects.create(
        name="Dua hari lagi", national_holidays=False
    )
    BusinessHours.objects.create(
        calendar=calendar,
        weekday=opening_day.weekday(),
        start=time(9, 0),
        end=time(10, 0),
    )
    team.calendar = calendar
    team.save(update_fields=["calendar"])
    return opening_day


@pytest.mark.business_hours
def test_closed_desk_offers_offline_form(
    browser: Any,
    portal: PortalFactory,
    catalogue: dict[str, Team],
    team_online: None,
) -> None:
    opening_day = closed_calendar_for(catalogue["Administrasi"])
    with translation.override("en"):
        day = dateformat.format(opening_day, "l, j F Y")
    expected = f"The service is closed. It opens again on {day} at 09:00 WIB."
    page = browser.new_page()
    panel = open_panel(page, portal({}))

    panel.get_by_label("Service").select_option(label=SERVICE_EN)

    # Outside real business hours every team is closed, and the notice moves to
    # the top of the form, so the whole form is searched.
    expect(panel.locator("#view-form")).to_contain_text(expected)
    expect(panel.get_by_role("button", name="Send request")).to_be_visible()
    expect(panel.get_by_role("button", name="Start chat")).to_be_hidden()
    expect(panel.locator("#f-message")).to_be_visible()
