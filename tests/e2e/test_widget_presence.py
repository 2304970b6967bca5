"""The pre-chat form in Chromium follows the team's presence while it shows.

The panel re-reads the services endpoint on a timer. The tests shorten the timer
with the panel URL's poll_seconds parameter, which the browser adds to the
loader's iframe request, so no test waits the default 20 seconds.
"""

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import FrameLocator, Page, Route, expect

from layanan.catalog.calendars import Calendar, make_calendar
from layanan.catalog.models import Service, StudyProgramme, Team
from layanan.chat.models import Conversation, Message, SenderKind
from layanan.people.models import AgentConnection, AgentProfile

SERVICE_ID = "Permohonan pembuatan surat tugas"
# Long enough for several polls of one second on a shared, loaded machine.
SWITCH_TIMEOUT_MS = 8000


@pytest.fixture
def agent(catalogue: dict[str, Team]) -> User:
    user = get_user_model().objects.create_user(
        username="agen1", password="uji-sandi-panjang-42", first_name="Rina"
    )
    AgentProfile.objects.create(user=user)
    catalogue["Administrasi"].members.add(user)
    return user


@pytest.fixture
def programme(catalogue: dict[str, Team]) -> StudyProgramme:
    return StudyProgramme.objects.create(name="D3 Akuntansi")


def open_widget(page: Page, base: str, poll_seconds: int) -> FrameLocator:
    """Open the widget from a page of another site, with the poll interval set."""

    def add_poll_seconds(route: Route) -> None:
        route.continue_(url=f"{route.request.url}&poll_seconds={poll_seconds}")

    page.route(re.compile(r"/widget/panel/\?"), add_poll_seconds)
    page.goto(base.replace("127.0.0.1", "localhost") + "/")
    page.get_by_role("button", name="Buka obrolan").click()
    return page.frame_locator("iframe")


def fill_prechat(panel: FrameLocator) -> None:
    panel.get_by_label("NPM/NIP").fill("2175 3012")
    panel.get_by_label("Nama").fill("Budi Santoso")
    panel.get_by_label("Program Studi").select_option(label="D3 Akuntansi")
    panel.get_by_label("Email", exact=True).first.fill("budi@example.com")
    panel.get_by_label("Layanan").select_option(label=SERVICE_ID)
    panel.get_by_label("Topik").fill("Surat tugas seminar")


def connect_console(agent: User) -> None:
    AgentConnection.objects.create(
        user=agent, channel_name="e2e.console.1", last_seen=timezone.now()
    )


def expect_live_chat(panel: FrameLocator) -> None:
    expect(panel.locator("#start-button")).to_be_visible(timeout=SWITCH_TIMEOUT_MS)
    expect(panel.locator("#offline-button")).to_be_hidden()


def expect_offline_form(panel: FrameLocator) -> None:
    expect(panel.locator("#offline-button")).to_be_visible(timeout=SWITCH_TIMEOUT_MS)
    expect(panel.locator("#start-button")).to_be_hidden()
    expect(panel.locator("#f-message")).to_be_visible()


def expect_typed_values(panel: FrameLocator, programme: StudyProgramme) -> None:
    service = Service.objects.get(name_id=SERVICE_ID)
    expect(panel.get_by_label("NPM/NIP")).to_have_value("2175 3012")
    expect(panel.get_by_label("Nama")).to_have_value("Budi Santoso")
    expect(panel.get_by_label("Program Studi")).to_have_value(str(programme.pk))
    expect(panel.get_by_label("Layanan")).to_have_value(str(service.pk))
    expect(panel.get_by_label("Topik")).to_have_value("Surat tugas seminar")


def test_prechat_follows_agent_online_and_offline(
    live_server_url: str, browser: Any, agent: User, programme: StudyProgramme
) -> None:
    page = browser.new_context(locale="id-ID").new_page()
    panel = open_widget(page, live_server_url, poll_seconds=1)
    fill_prechat(panel)
    expect_offline_form(panel)

    connect_console(agent)

    expect_live_chat(panel)
    expect(panel.locator("#offline-part")).to_be_hidden()
    expect_typed_values(panel, programme)

    AgentConnection.objects.filter(user=agent).delete()

    expect_offline_form(panel)
    expect_typed_values(panel, programme)


def test_prechat_keeps_field_error_across_switch(
    live_server_url: str, browser: Any, agent: User, programme: StudyProgramme
) -> None:
    page = browser.new_context(locale="id-ID").new_page()
    panel = open_widget(page, live_server_url, poll_seconds=1)
    fill_prechat(panel)
    panel.get_by_label("Email", exact=True).first.fill("bukan-alamat")
    expect_offline_form(panel)
    panel.locator("#offline-button").click()
    expect(panel.locator("#e-email")).not_to_be_empty()

    connect_console(agent)

    expect_live_chat(panel)
    expect(panel.locator("#e-email")).not_to_be_empty()
    expect(panel.locator("#f-email")).to_have_attribute("aria-invalid", "true")
    expect(panel.get_by_label("Email", exact=True).first).to_have_value("bukan-alamat")


def test_offline_message_becomes_first_chat_message(
    live_server_url: str, browser: Any, agent: User, programme: StudyProgramme
) -> None:
    page = browser.new_context(locale="id-ID").new_page()
    panel = open_widget(page, live_server_url, poll_seconds=1)
    fill_prechat(panel)
    expect_offline_form(panel)
    panel.locator("#f-message").fill("Mohon surat tugas untuk seminar tanggal 12.")

    connect_console(agent)

    expect_live_chat(panel)
    # The typed message stays in view, with a note that it opens the chat.
    expect(panel.locator("#f-message")).to_be_visible()
    expect(panel.locator("#f-message")).to_have_value(
        "Mohon surat tugas untuk seminar tanggal 12."
    )
    panel.locator("#start-button").click()
    expect(panel.locator("#view-chat")).to_be_visible()
    expect(panel.locator("#messages")).to_contain_text(
        "Mohon surat tugas untuk seminar tanggal 12."
    )
    expect(panel.locator("#messages li.pending")).to_have_count(0)

    conversation = Conversation.objects.get()
    bodies = list(
        Message.objects.filter(
            conversation=conversation, sender_kind=SenderKind.REQUESTER
        ).values_list("body", flat=True)
    )
    assert bodies == ["Mohon surat tugas untuk seminar tanggal 12."]


def test_start_rejected_team_offline_keeps_values(
    live_server_url: str, browser: Any, agent: User, programme: StudyProgramme
) -> None:
    connect_console(agent)
    page = browser.new_context(locale="id-ID").new_page()
    # A poll this slow never runs during the test, so only the 409 switches forms.
    panel = open_widget(page, live_server_url, poll_seconds=300)
    fill_prechat(panel)
    expect_live_chat(panel)

    AgentConnection.objects.filter(user=agent).delete()
    panel.locator("#start-button").click()

    expect_offline_form(panel)
    expect(panel.locator("#e-form")).not_to_be_empty()
    expect_typed_values(panel, programme)
    assert not Conversation.objects.exists()


def test_start_rejected_closed_keeps_values(
    live_server_url: str,
    browser: Any,
    agent: User,
    programme: StudyProgramme,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connect_console(agent)
    page = browser.new_context(locale="id-ID").new_page()
    panel = open_widget(page, live_server_url, poll_seconds=300)
    fill_prechat(panel)
    expect_live_chat(panel)

    # The desk closes between the form's last poll and the click.
    never_open = make_calendar({}, holiday_country=None, name="e2e-never-open")

    def closed_desk(team: Team | None, request: object) -> Calendar:
        return never_open

    monkeypatch.setattr("layanan.chat.hours.desk_calendar", closed_desk)
    panel.locator("#start-button").click()

    expect_offline_form(panel)
    expect(panel.locator("#e-form")).not_to_be_empty()
    expect_typed_values(panel, programme)
    assert not Conversation.objects.exists()
