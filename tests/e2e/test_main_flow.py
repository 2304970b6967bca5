"""The main flow in Chromium: widget on a portal of another site, live chat both
ways with files, a reload mid-chat, chat to ticket, end with transcript, and the
three emails received by a real SMTP server.

The portal page is opened as ``localhost`` while the product is ``127.0.0.1``, so the
panel iframe is cross-site and, with third-party cookies blocked, gets no storage.
"""

import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import FrameLocator, Page, expect
from pytest_django.fixtures import Settings

from layanan.catalog.models import StudyProgramme, Team
from layanan.chat.models import Conversation, EndedBy, Message
from layanan.mail.outbox import send_due
from layanan.people.models import AgentProfile
from layanan.tickets.models import Ticket, TicketStatus
from smtp import SmtpSink, smtp_sink  # noqa: F401

PASSWORD = "uji-sandi-panjang-42"
UPLOADS = Path(__file__).parent.parent / "chat" / "data" / "uploads"
REQUESTER_TEXT = "Selamat pagi, saya perlu surat tugas untuk seminar 😀"
AGENT_TEXT = "Baik, segera kami proses 👍 ya"
AFTER_RELOAD_TEXT = "Terima kasih, Bu — ditunggu suratnya 🙏"


@pytest.fixture
def agent(transactional_db: None, catalogue: dict[str, Team]) -> Any:
    user = get_user_model().objects.create_user(
        username="agen1", password=PASSWORD, first_name="Rina", last_name="Lestari"
    )
    AgentProfile.objects.create(user=user)
    Team.objects.get(name="Administrasi").members.add(user)
    return user


@pytest.fixture
def programme(transactional_db: None) -> StudyProgramme:
    return StudyProgramme.objects.create(name="D3 Akuntansi")


def console_login(page: Page, base: str) -> None:
    page.goto(f"{base}/console/login/")
    page.fill("input[name=username]", "agen1")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form [type=submit]").click()
    expect(page).to_have_url(re.compile(r"/console/$"))


def fill_prechat(panel: FrameLocator, email: str) -> None:
    panel.get_by_label("NPM/NIP").fill("2175 3012")
    panel.get_by_label("Nama").fill("Budi Santoso")
    panel.get_by_label("Program Studi").select_option(label="D3 Akuntansi")
    panel.get_by_label("Email", exact=True).first.fill(email)
    panel.get_by_label("Layanan").select_option(
        label="Permohonan pembuatan surat tugas"
    )
    panel.get_by_label("Topik").fill("Surat tugas seminar nasional")


def test_main_flow_end_to_end(
    live_server_url: str,
    browser: Any,
    smtp_sink: SmtpSink,  # noqa: F811
    agent: Any,
    programme: StudyProgramme,
    settings: Settings,
    tmp_path: Path,
) -> None:
    settings.UPLOAD_ROOT = tmp_path / "uploads"
    base = live_server_url
    portal_url = base.replace("127.0.0.1", "localhost") + "/"

    agent_page = browser.new_context().new_page()
    console_login(agent_page, base)

    requester_context = browser.new_context(
        viewport={"width": 360, "height": 740}, locale="id-ID"
    )
    requester = requester_context.new_page()
    requester.goto(portal_url)
    requester.get_by_role("button", name="Buka obrolan").click()
    panel = requester.frame_locator("iframe")

    # The panel is cross-site: its own storage is denied, as the widget assumes.
    frame = requester.frames[1]
    frame.wait_for_load_state()
    storage_denied = frame.evaluate(
        "() => { try { localStorage.length; return false } catch (e) { return true } }"
    )
    assert storage_denied

    # Invalid input first: the error names the field and nothing else is lost.
    fill_prechat(panel, "bukan-email")
    panel.get_by_role("button", name="Mulai obrolan").click()
    expect(panel.locator("#e-email")).not_to_be_empty()
    expect(panel.get_by_label("Nama")).to_have_value("Budi Santoso")
    panel.get_by_label("Email", exact=True).first.fill("budi@example.com")
    panel.get_by_role("button", name="Mulai obrolan").click()
    expect(panel.locator("#chat-status")).to_contain_text("antrean")

    # The agent sees the chat arrive without a reload and accepts it.
    expect(agent_page.get_by_text("Budi Santoso")).to_be_visible()
    agent_page.get_by_role("button", name="Terima").click()
    expect(agent_page).to_have_url(re.compile(r"/console/chats/"))
    expect(panel.locator("#chat-status")).to_contain_text("Rina")

    panel.get_by_role("textbox", name="Pesan", exact=True).fill(REQUESTER_TEXT)
    panel.get_by_role("button", name="Kirim").click()
    expect(agent_page.get_by_text(REQUESTER_TEXT)).to_be_visible()

    agent_page.get_by_role("textbox", name="Pesan", exact=True).fill(AGENT_TEXT)
    agent_page.get_by_role("button", name="Kirim").click()
    expect(panel.get_by_text(AGENT_TEXT)).to_be_visible()

    # A file each way.
    panel.get_by_label("Lampirkan berkas").set_input_files(
        str(UPLOADS / "bukti_transfer.png")
    )
    expect(agent_page.get_by_text("bukti_transfer.png")).to_be_visible()
    pdf = tmp_path / "surat_pengantar.pdf"
    pdf.write_bytes(b"%PDF-1.4\n% uji\n")
    agent_page.get_by_label("Lampirkan berkas").set_input_files(str(pdf))
    expect(panel.get_by_text("surat_pengantar.pdf")).to_be_visible()

    # Reload the portal page mid-chat: the panel comes back with every message once.
    requester.reload()
    panel = requester.frame_locator("iframe")
    expect(panel.get_by_text(AGENT_TEXT)).to_be_visible()
    expect(panel.get_by_text(REQUESTER_TEXT)).to_have_count(1)
    expect(panel.get_by_text("surat_pengantar.pdf")).to_have_count(1)
    panel.get_by_role("textbox", name="Pesan", exact=True).fill(AFTER_RELOAD_TEXT)
    panel.get_by_role("button", name="Kirim").click()
    expect(agent_page.get_by_text(AFTER_RELOAD_TEXT)).to_be_visible()

    conversation = Conversation.objects.get()
    assert (
        Message.objects.filter(conversation=conversation, body=REQUESTER_TEXT).count()
        == 1
    )

    # The agent turns the chat into a ticket; the requester sees its number.
    agent_page.get_by_role("button", name="Buat tiket").click()
    ticket = Ticket.objects.get()
    assert ticket.status == TicketStatus.OPEN
    assert re.fullmatch(r"EKB-\d{4}-000001", ticket.number)
    expect(panel.locator("#chat-status")).to_contain_text(ticket.number)

    # The requester ends the chat with the X and asks for the transcript.
    panel.get_by_role("button", name="Tutup").click()
    expect(panel.get_by_label("Kirim transkrip ke email saya")).to_be_checked()
    expect(panel.get_by_label("Email", exact=True).last).to_have_value(
        "budi@example.com"
    )
    panel.get_by_label("Nilai").select_option("5")
    panel.get_by_label("Komentar").fill("Cepat dan ramah")
    panel.get_by_role("button", name="Akhiri obrolan").click()
    expect(panel.locator("#view-ended")).to_be_visible()

    conversation.refresh_from_db()
    assert conversation.ended_by == EndedBy.REQUESTER
    assert conversation.rating == 5
    assert conversation.transcript_sent_at is not None

    assert send_due() == 3
    smtp_sink.wait_for(3, timeout=10)
    by_recipient = {tuple(d.rcpt_tos): d.message for d in smtp_sink.deliveries}
    team_mail = by_recipient[("administrasi@jurusan.example",)]
    assert f"[{ticket.number}]" in str(team_mail["Subject"])
    requester_mails = [
        d.message for d in smtp_sink.deliveries if d.rcpt_tos == ["budi@example.com"]
    ]
    assert len(requester_mails) == 2
    subjects = [str(mail["Subject"]) for mail in requester_mails]
    assert any(f"[{ticket.number}]" in subject for subject in subjects)
    transcript = next(
        m for m in requester_mails if "transkrip" in str(m["Subject"]).lower()
    )
    for part_type in ("plain", "html"):
        body = transcript.get_body(preferencelist=(part_type,))
        assert body is not None
        content = body.get_content()
        assert REQUESTER_TEXT in content
        assert AGENT_TEXT in content
        assert AFTER_RELOAD_TEXT.replace("—", "—") in content
        assert "bukti_transfer.png" in content
