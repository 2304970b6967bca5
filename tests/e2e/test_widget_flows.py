"""Widget and console flows in Chromium besides the main one.

English through the loader's ``data-lang``, the offline request, the standalone
chat page, validation in the browser, a chat ended by the agent and one ended by
the idle timer, and both sides at phone width.
"""

import re
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import FrameLocator, Page, expect
from pytest_django.fixtures import Settings

from layanan.catalog.models import Service, StudyProgramme, Team
from layanan.chat.models import Conversation, EndedBy
from layanan.chat.services import end_idle_conversations
from layanan.mail.models import OutboundEmail, OutboundStatus
from layanan.mail.outbox import send_due
from layanan.people.models import AgentProfile
from layanan.tickets.models import Ticket, TicketSource, TicketStatus
from smtp import SmtpSink, smtp_sink  # noqa: F401

PASSWORD = "uji-sandi-panjang-42"
SERVICE_ID = "Permohonan pembuatan surat tugas"
SERVICE_EN = "Request for a letter of assignment"
REQUESTER_EMAIL = "budi@example.com"
TEAM_EMAIL = "administrasi@jurusan.example"
PHONE = {"width": 360, "height": 740}


@pytest.fixture
def agent(catalogue: dict[str, Team]) -> Any:
    user = get_user_model().objects.create_user(
        username="agen1", password=PASSWORD, first_name="Rina", last_name="Lestari"
    )
    AgentProfile.objects.create(user=user)
    catalogue["Administrasi"].members.add(user)
    return user


@pytest.fixture
def programme(catalogue: dict[str, Team]) -> StudyProgramme:
    return StudyProgramme.objects.create(name="D3 Akuntansi")


@pytest.fixture
def english_portal(live_server_url: str) -> Iterator[str]:
    """Serve a page of another site that loads the widget with data-lang="en".

    It is opened as ``localhost`` so that, like a real portal, it is another site
    than the product on ``127.0.0.1``.
    """
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>Portal</title></head><body><h1>Portal</h1>"
        f'<script src="{live_server_url}/widget.js" data-lang="en" async></script>'
        "</body></html>"
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
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def console_login(page: Page, base: str) -> None:
    page.goto(f"{base}/console/login/")
    page.fill("input[name=username]", "agen1")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form [type=submit]").click()
    expect(page).to_have_url(re.compile(r"/console/$"))


def open_widget(page: Page, base: str) -> FrameLocator:
    page.goto(base.replace("127.0.0.1", "localhost") + "/")
    page.get_by_role("button", name="Buka obrolan").click()
    return page.frame_locator("iframe")


def fill_prechat(
    panel: FrameLocator | Page, topic: str = "Surat tugas seminar"
) -> None:
    panel.get_by_label("NPM/NIP").fill("2175 3012")
    panel.get_by_label("Nama").fill("Budi Santoso")
    panel.get_by_label("Program Studi").select_option(label="D3 Akuntansi")
    panel.get_by_label("Email", exact=True).first.fill(REQUESTER_EMAIL)
    panel.get_by_label("Layanan").select_option(label=SERVICE_ID)
    panel.get_by_label("Topik").fill(topic)


def start_and_accept(panel: FrameLocator | Page, agent_page: Page) -> Conversation:
    """Start a chat from the panel and have the agent accept it from the queue."""
    fill_prechat(panel)
    panel.get_by_role("button", name="Mulai obrolan").click()
    expect(panel.locator("#chat-status")).to_contain_text("antrean")
    agent_page.get_by_role("button", name="Terima").click()
    expect(agent_page).to_have_url(re.compile(r"/console/chats/"))
    expect(panel.locator("#chat-status")).to_contain_text("Rina")
    return Conversation.objects.get()


def send_from_panel(panel: FrameLocator | Page, text: str) -> None:
    panel.get_by_role("textbox", name="Pesan", exact=True).fill(text)
    panel.get_by_role("button", name="Kirim").click()


def send_from_console(agent_page: Page, text: str) -> None:
    agent_page.get_by_role("textbox", name="Pesan", exact=True).fill(text)
    agent_page.get_by_role("button", name="Kirim").click()


def run_in_thread(function: Callable[[], object]) -> object:
    """Run ``function`` in a thread of its own and return its result.

    Playwright's sync API leaves an event loop marked as running in the test's
    thread, and the services publish through async_to_sync, which raises
    RuntimeError in a thread that has one.
    """
    results: list[object] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            results.append(function())
        except BaseException as error:  # re-raised in the test's thread
            errors.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(30)
    if errors:
        raise errors[0]
    assert results, "the function did not return within 30 s"
    return results[0]


def test_widget_english_switch_keeps_values(
    live_server_url: str,
    browser: Any,
    english_portal: str,
    programme: StudyProgramme,
) -> None:
    # An Indonesian browser: data-lang="en" on the script tag must win.
    page = browser.new_context(locale="id-ID").new_page()
    page.goto(english_portal)
    page.get_by_role("button", name="Open chat").click()
    expect(page.get_by_role("button", name="Hide chat")).to_be_visible()
    panel = page.frame_locator("iframe")

    english = {
        "identifier": "Student/Staff ID",
        "name": "Name",
        "study_programme": "Study programme",
        "email": "Email",
        "service": "Service",
        "topic": "Topic",
    }
    for field, text in english.items():
        expect(panel.locator(f"label[for=f-{field}]")).to_have_text(text)
    expect(panel.locator("#start-button")).to_have_text("Start chat")

    panel.get_by_label("Student/Staff ID").fill("2175 3012")
    panel.get_by_label("Name", exact=True).fill("Budi Santoso")
    panel.get_by_label("Study programme").select_option(label="D3 Akuntansi")
    panel.get_by_label("Email", exact=True).first.fill(REQUESTER_EMAIL)
    panel.get_by_label("Service").select_option(label=SERVICE_EN)
    panel.get_by_label("Topic").fill("Letter for a seminar")

    panel.get_by_label("Language").select_option(label="Bahasa Indonesia")

    indonesian = {
        "identifier": "NPM/NIP",
        "name": "Nama",
        "study_programme": "Program Studi",
        "email": "Email",
        "service": "Layanan",
        "topic": "Topik",
    }
    for field, text in indonesian.items():
        expect(panel.locator(f"label[for=f-{field}]")).to_have_text(text)
    expect(panel.locator("#start-button")).to_have_text("Mulai obrolan")
    expect(panel.get_by_label("NPM/NIP")).to_have_value("2175 3012")
    expect(panel.get_by_label("Nama")).to_have_value("Budi Santoso")
    expect(panel.get_by_label("Program Studi")).to_have_value(str(programme.pk))
    expect(panel.get_by_label("Email", exact=True).first).to_have_value(REQUESTER_EMAIL)
    service = Service.objects.get(name_id=SERVICE_ID)
    expect(panel.get_by_label("Layanan")).to_have_value(str(service.pk))
    expect(panel.locator("#f-service option:checked")).to_have_text(SERVICE_ID)
    expect(panel.get_by_label("Topik")).to_have_value("Letter for a seminar")
    # The loader outside the frame follows the panel's language.
    expect(page.get_by_role("button", name="Sembunyikan obrolan")).to_be_visible()


def test_widget_offline_request_opens_ticket(
    live_server_url: str,
    browser: Any,
    smtp_sink: SmtpSink,  # noqa: F811
    programme: StudyProgramme,
) -> None:
    # No agent is logged in to the console, so the team is offline.
    page = browser.new_context(locale="id-ID").new_page()
    panel = open_widget(page, live_server_url)
    fill_prechat(panel, topic="Surat tugas untuk seminar")
    expect(panel.locator("#offline-part")).to_contain_text(
        "Saat ini tidak ada agen yang online untuk layanan ini."
    )
    expect(panel.get_by_role("button", name="Kirim permintaan")).to_be_visible()
    expect(panel.get_by_role("button", name="Mulai obrolan")).to_be_hidden()
    panel.get_by_role("textbox", name="Pesan", exact=True).fill(
        "Mohon dibuatkan surat tugas untuk seminar tanggal 12."
    )
    panel.get_by_role("button", name="Kirim permintaan").click()
    expect(panel.locator("#view-done")).to_be_visible()

    ticket = Ticket.objects.get()
    assert ticket.status == TicketStatus.OPEN
    assert ticket.source == TicketSource.OFFLINE
    assert re.fullmatch(r"EKB-\d{4}-\d{6}", ticket.number)
    expect(panel.locator("#done-text")).to_contain_text(ticket.number)

    assert send_due() == 2
    smtp_sink.wait_for(2, timeout=10)
    subjects = {
        tuple(delivery.rcpt_tos): str(delivery.message["Subject"])
        for delivery in smtp_sink.deliveries
    }
    assert set(subjects) == {(REQUESTER_EMAIL,), (TEAM_EMAIL,)}
    for subject in subjects.values():
        tag = re.search(r"\[EKB-\d{4}-\d{6}\]", subject)
        assert tag is not None, subject
        assert tag.group() == f"[{ticket.number}]"


def test_standalone_chat_resumes_after_reload(
    live_server_url: str, browser: Any, agent: Any, programme: StudyProgramme
) -> None:
    base = live_server_url
    agent_page = browser.new_context().new_page()
    console_login(agent_page, base)
    page = browser.new_context(viewport=PHONE, locale="id-ID").new_page()
    page.goto(f"{base}/chat/")
    start_and_accept(page, agent_page)

    send_from_panel(page, "Selamat siang, surat tugas saya sudah jadi?")
    expect(agent_page.get_by_text("Selamat siang, surat tugas saya")).to_be_visible()
    send_from_console(agent_page, "Sudah, silakan diambil besok.")
    expect(page.get_by_text("Sudah, silakan diambil besok.")).to_be_visible()

    page.reload()
    expect(page.locator("#view-chat")).to_be_visible()
    expect(page.get_by_text("Sudah, silakan diambil besok.")).to_have_count(1)
    expect(page.get_by_text("Selamat siang, surat tugas saya")).to_have_count(1)
    expect(page.locator("#chat-status")).to_contain_text("Rina")
    send_from_panel(page, "Terima kasih.")
    expect(agent_page.get_by_text("Terima kasih.")).to_be_visible()


def test_prechat_errors_next_to_fields(
    live_server_url: str, browser: Any, agent: Any, programme: StudyProgramme
) -> None:
    agent_page = browser.new_context().new_page()
    console_login(agent_page, live_server_url)
    page = browser.new_context(locale="id-ID").new_page()
    panel = open_widget(page, live_server_url)

    # 30 February is not a date of birth.
    fill_prechat(panel)
    panel.get_by_label("NPM/NIP").fill("19950230 202001 1 001")
    panel.get_by_label("Program Studi").select_option(label="Bukan mahasiswa")
    panel.get_by_role("button", name="Mulai obrolan").click()
    expect(panel.locator("#e-identifier")).to_contain_text("NIP")
    expect(panel.get_by_label("NPM/NIP")).to_have_attribute("aria-invalid", "true")
    expect(panel.locator("#e-name")).to_be_empty()
    expect(panel.get_by_label("NPM/NIP")).to_have_value("19950230 202001 1 001")
    expect(panel.get_by_label("Nama")).to_have_value("Budi Santoso")
    expect(panel.get_by_label("Program Studi")).to_have_value("none")
    expect(panel.get_by_label("Email", exact=True).first).to_have_value(REQUESTER_EMAIL)
    expect(panel.locator("#f-service option:checked")).to_have_text(SERVICE_ID)
    expect(panel.get_by_label("Topik")).to_have_value("Surat tugas seminar")

    panel.get_by_label("NPM/NIP").fill("2175 3012")
    panel.get_by_label("Program Studi").select_option(label="D3 Akuntansi")
    panel.get_by_label("Nama").fill("B")
    panel.get_by_role("button", name="Mulai obrolan").click()
    expect(panel.locator("#e-name")).not_to_be_empty()
    expect(panel.get_by_label("Nama")).to_have_attribute("aria-invalid", "true")
    expect(panel.locator("#e-identifier")).to_be_empty()
    expect(panel.get_by_label("Nama")).to_have_value("B")
    assert not Conversation.objects.exists()


def test_agent_end_keeps_transcript_request(
    live_server_url: str, browser: Any, agent: Any, programme: StudyProgramme
) -> None:
    agent_page = browser.new_context().new_page()
    console_login(agent_page, live_server_url)
    page = browser.new_context(locale="id-ID").new_page()
    panel = open_widget(page, live_server_url)
    conversation = start_and_accept(panel, agent_page)

    agent_page.get_by_role("button", name="Akhiri obrolan").click()
    expect(agent_page.locator("[data-ended-row]")).to_be_visible()

    expect(panel.locator("#view-ended")).to_be_visible()
    expect(panel.locator("#ended-text")).to_have_text("Obrolan telah berakhir.")
    # The closing note names who ended the chat.
    expect(panel.locator("#ended-reason")).to_have_text("Agen mengakhiri obrolan.")

    panel.get_by_role("button", name="Tutup").click()
    expect(panel.get_by_label("Kirim transkrip ke email saya")).to_be_checked()
    expect(panel.get_by_label("Email", exact=True).last).to_have_value(REQUESTER_EMAIL)
    panel.get_by_role("button", name="Simpan").click()
    expect(panel.locator("#ended-text")).to_have_text(
        "Terima kasih, jawaban Anda telah disimpan."
    )

    conversation.refresh_from_db()
    assert conversation.ended_by == EndedBy.AGENT
    transcript = OutboundEmail.objects.get(kind="transcript")
    assert transcript.status == OutboundStatus.PENDING
    assert transcript.to == [REQUESTER_EMAIL]


def test_idle_end_shows_reason_both_sides(
    live_server_url: str,
    browser: Any,
    agent: Any,
    programme: StudyProgramme,
    settings: Settings,
) -> None:
    settings.CHAT_IDLE_MINUTES = 1
    agent_page = browser.new_context().new_page()
    console_login(agent_page, live_server_url)
    page = browser.new_context(locale="id-ID").new_page()
    panel = open_widget(page, live_server_url)
    conversation = start_and_accept(panel, agent_page)

    ended = run_in_thread(
        lambda: end_idle_conversations(now=timezone.now() + timedelta(minutes=2))
    )
    assert ended == 1

    reason = "Obrolan berakhir karena tidak ada pesan selama 1 menit."
    expect(panel.locator("#view-ended")).to_be_visible()
    expect(panel.locator("#ended-reason")).to_have_text(reason)
    expect(agent_page.locator("[data-message-log]")).to_contain_text(reason)
    expect(agent_page.locator("[data-ended-reason]")).to_have_text(reason)
    # After a reload the panel learns the reason again from the replayed note.
    page.reload()
    panel = page.frame_locator("iframe")
    expect(panel.locator("#ended-reason")).to_have_text(reason)
    conversation.refresh_from_db()
    assert conversation.ended_by == EndedBy.IDLE


def test_phone_width_has_no_overflow(
    live_server_url: str, browser: Any, agent: Any, programme: StudyProgramme
) -> None:
    agent_page = browser.new_context(viewport=PHONE).new_page()
    console_login(agent_page, live_server_url)
    page = browser.new_context(viewport=PHONE, locale="id-ID").new_page()
    page.goto(live_server_url.replace("127.0.0.1", "localhost") + "/")

    launcher = page.get_by_role("button", name="Buka obrolan")
    box = launcher.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= PHONE["width"]
    assert box["y"] >= 0
    assert box["y"] + box["height"] <= PHONE["height"]

    launcher.click()
    frame_box = page.locator("iframe").bounding_box()
    assert frame_box is not None
    assert frame_box["x"] >= 0
    assert frame_box["x"] + frame_box["width"] <= PHONE["width"]
    assert frame_box["y"] + frame_box["height"] <= PHONE["height"]
    panel = page.frame_locator("iframe")
    expect(panel.get_by_role("button", name="Mulai obrolan")).to_be_visible()
    frame = page.frames[1]
    assert (
        frame.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    )

    # The same with a chat under way, and that chat in the console's queue.
    fill_prechat(panel)
    panel.get_by_role("button", name="Mulai obrolan").click()
    expect(panel.locator("#chat-status")).to_contain_text("antrean")
    assert (
        frame.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    )
    expect(agent_page.get_by_role("button", name="Terima")).to_be_visible()
    assert (
        agent_page.evaluate("() => document.documentElement.scrollWidth")
        <= PHONE["width"]
    )
