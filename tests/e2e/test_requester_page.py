"""The requester page in Chromium, reached through the link in a real email.

A ticket is made from the widget's offline form (through the service the form
calls). Its acknowledgement goes to a real SMTP server on loopback, and the link
is taken from the mail as received. The requester opens the page, replies with a
file, the agent sees the reply in the console and resolves the ticket, and the
requester rates it.
"""

# The smtp_sink fixture is imported from tests/, and each test's parameter of
# that name is what pytest matches it by, which pyflakes reads as a redefinition.
# ruff: noqa: F811

import re
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect

from layanan.catalog.models import Service, Team
from layanan.mail.outbox import send_due
from layanan.people.models import AgentProfile, Requester, RequesterKind
from layanan.tickets.models import Ticket, TicketStatus
from layanan.tickets.services import OfflineRequest, create_offline_ticket
from smtp import SmtpSink, smtp_sink  # noqa: F401

PASSWORD = "uji-sandi-panjang-42"
UPLOADS = Path(__file__).parent.parent / "chat" / "data" / "uploads"
REQUESTER_EMAIL = "budi.santoso@mail.example"
OFFLINE_TEXT = "Saya perlu surat tugas untuk seminar nasional minggu depan."
REPLY_TEXT = "Berikut bukti pembayaran seminarnya, Bu."
RATING_COMMENT = "Cepat dan jelas, terima kasih."
LINK_PATTERN = re.compile(r"https?://[^\s\"<>]+/t/[A-Za-z0-9_-]{43}/")


def make_agent(catalogue: dict[str, Team]) -> Any:
    user = get_user_model().objects.create_user(
        username="agen1", password=PASSWORD, first_name="Rina", last_name="Lestari"
    )
    AgentProfile.objects.create(user=user)
    catalogue["Administrasi"].members.add(user)
    return user


def offline_ticket() -> Ticket:
    requester = Requester.objects.create(
        identifier="2175301200",
        kind=RequesterKind.STUDENT,
        name="Budi Santoso",
        email=REQUESTER_EMAIL,
    )
    return create_offline_ticket(
        OfflineRequest(
            requester=requester,
            email=REQUESTER_EMAIL,
            service=Service.objects.get(code="surat-tugas"),
            topic="Surat tugas seminar nasional",
            message=OFFLINE_TEXT,
            language="id",
        )
    )


def link_from_acknowledgement(smtp_sink: SmtpSink, ticket: Ticket) -> str:
    """Return the requester link in the acknowledgement as the SMTP server got it."""
    assert send_due() == 2
    smtp_sink.wait_for(2, timeout=10)
    [acknowledgement] = [
        delivery.message
        for delivery in smtp_sink.deliveries
        if delivery.rcpt_tos == [REQUESTER_EMAIL]
    ]
    assert f"[{ticket.number}]" in str(acknowledgement["Subject"])
    text_part = acknowledgement.get_body(preferencelist=("plain",))
    html_part = acknowledgement.get_body(preferencelist=("html",))
    assert text_part is not None
    assert html_part is not None
    match = LINK_PATTERN.search(text_part.get_content())
    assert match is not None, "the acknowledgement carries no requester link"
    assert f'href="{match.group(0)}"' in html_part.get_content()
    return match.group(0)


def console_login(page: Page, base: str) -> None:
    page.goto(f"{base}/console/login/")
    page.fill("input[name=username]", "agen1")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form [type=submit]").click()
    expect(page).to_have_url(re.compile(r"/console/$"))


def test_requester_page_flow(
    live_server_url: str,
    browser: Any,
    smtp_sink: SmtpSink,
    catalogue: dict[str, Team],
) -> None:
    make_agent(catalogue)
    ticket = offline_ticket()
    link = link_from_acknowledgement(smtp_sink, ticket)
    assert link.startswith(f"{live_server_url}/t/")

    # The requester opens the page from the mail, in Indonesian, with the thread.
    requester = browser.new_page()
    response = requester.goto(link)
    assert response is not None
    assert response.status == 200
    assert response.headers["referrer-policy"] == "no-referrer"
    expect(requester.locator("h1")).to_contain_text(ticket.number)
    expect(requester.locator("#ticket-status")).to_have_text("Terbuka")
    expect(requester.get_by_text(OFFLINE_TEXT)).to_be_visible()

    # A reply with a file: the page comes back with both in the thread.
    requester.get_by_label("Pesan").fill(REPLY_TEXT)
    requester.get_by_label("Lampirkan berkas").set_input_files(
        str(UPLOADS / "bukti_transfer.png")
    )
    requester.get_by_role("button", name="Kirim", exact=True).click()
    expect(requester).to_have_url(re.compile(r"done=reply"))
    thread = requester.locator("#thread")
    expect(thread.get_by_text(REPLY_TEXT)).to_be_visible()
    expect(thread.get_by_role("link", name="bukti_transfer.png")).to_be_visible()
    with requester.expect_download() as download_info:
        thread.get_by_role("link", name="bukti_transfer.png").click()
    downloaded = download_info.value.path()
    assert (
        Path(downloaded).read_bytes() == (UPLOADS / "bukti_transfer.png").read_bytes()
    )

    # The agent sees the reply and its file in the console, and resolves it.
    agent_page = browser.new_page()
    console_login(agent_page, live_server_url)
    agent_page.goto(f"{live_server_url}/console/tickets/{ticket.number}/")
    expect(agent_page.get_by_text(REPLY_TEXT)).to_be_visible()
    expect(agent_page.get_by_role("link", name="bukti_transfer.png")).to_be_visible()
    agent_page.locator("#status-select").select_option(TicketStatus.RESOLVED.value)
    agent_page.get_by_role("button", name="Ubah status").click()
    expect(agent_page.locator(".status")).to_have_text("Selesai")
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.RESOLVED

    # The requester reloads the page, now resolved, and rates the ticket.
    requester.goto(link)
    expect(requester.locator("#ticket-status")).to_have_text("Selesai")
    requester.locator("#rating-value").select_option("5")
    requester.locator("#rating-comment").fill(RATING_COMMENT)
    requester.locator("#rating-send").click()
    expect(requester).to_have_url(re.compile(r"done=rating"))
    expect(requester.locator("#rating-value")).to_have_value("5")

    ticket.refresh_from_db()
    assert ticket.rating == 5
    assert ticket.rating_comment == RATING_COMMENT
    assert ticket.rated_at is not None
