"""Case 12, stored XSS: markup typed into the widget stays text on every screen.

A requester starts chat-1 of ``data/12-payloads.json`` through the real widget and
sends its five messages. The agent accepts it, turns it into a ticket and the
requester ends it with the transcript. Every screen that shows these fields, on
both sides, is scanned with a dialog listener, and the three emails are received
by a real SMTP server. ``data/12-case.json`` contains the expected outcome.

Chat-2 of the payloads (spreadsheet formulas) is for the CSV/XLSX export, which
does not exist yet: that part of the case is left out here until the export does.
"""

import json
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Dialog, FrameLocator, Page, Route, expect

from layanan.catalog.models import StudyProgramme, Team
from layanan.chat.models import Conversation
from layanan.mail.models import OutboundEmail
from layanan.mail.outbox import send_due
from layanan.people.models import AgentProfile, Requester
from layanan.tickets.models import Ticket
from smtp import SmtpSink, smtp_sink  # noqa: F401

DATA = Path(__file__).parent / "data"
PASSWORD = "uji-sandi-panjang-42"
TOPIC = "Tanya ongkir kiriman"

# Collects what a page would run or follow if a payload had become markup. JSON
# data blocks (json_script) carry the payloads as data and are not run.
SCAN_SCRIPT = """() => {
  const onAttributes = [];
  const imagesFromPayload = [];
  for (const element of document.querySelectorAll("*")) {
    for (const attribute of element.attributes) {
      if (attribute.name.toLowerCase().startsWith("on")) {
        onAttributes.push(element.tagName + "[" + attribute.name + "]");
      }
    }
    if (element.tagName === "IMG" && element.getAttribute("src") === "x") {
      imagesFromPayload.push(element.outerHTML);
    }
  }
  return {
    onAttributes,
    imagesFromPayload,
    javascriptLinks: Array.from(
      document.querySelectorAll('a[href^="javascript:" i]'), (a) => a.outerHTML
    ),
    scriptsWithMarker: Array.from(document.querySelectorAll("script"))
      .filter((script) => !script.type || /javascript|module/i.test(script.type))
      .filter((script) => script.textContent.includes("uji-xss"))
      .map((script) => script.outerHTML),
    framesWithSrcdoc: document.querySelectorAll("iframe[srcdoc]").length,
  };
}"""


@dataclass(frozen=True)
class ChatCase:
    """Chat-1 of the payload file and the case's expectations."""

    page_url: str
    name: str
    email: str
    phone: str
    messages: dict[str, str]
    expected: dict[str, Any]


@pytest.fixture
def chat_case() -> ChatCase:
    payloads = json.loads((DATA / "12-payloads.json").read_text(encoding="utf-8"))
    case = json.loads((DATA / "12-case.json").read_text(encoding="utf-8"))
    chat = next(chat for chat in payloads["chats"] if chat["id"] == "chat-1")
    return ChatCase(
        page_url=chat["page_url"],
        name=chat["prechat"]["name"],
        email=chat["prechat"]["email"],
        phone=chat["prechat"]["phone"],
        messages={message["id"]: message["text"] for message in chat["messages"]},
        expected=case["expected"],
    )


@pytest.fixture
def agent(catalogue: dict[str, Team]) -> Any:
    user = get_user_model().objects.create_user(
        username="agen1", password=PASSWORD, first_name="Rina", last_name="Lestari"
    )
    AgentProfile.objects.create(user=user)
    catalogue["Administrasi"].members.add(user)
    return user


@pytest.fixture
def programme(transactional_db: None) -> StudyProgramme:
    return StudyProgramme.objects.create(name="D3 Akuntansi")


@dataclass
class DialogLog:
    """Every JavaScript dialog opened on the pages it watches, dismissed at once."""

    messages: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> Page:
        page.on("dialog", self._record)
        return page

    def _record(self, dialog: Dialog) -> None:
        self.messages.append(dialog.message)
        dialog.dismiss()


def scan(page: Page) -> dict[str, list[str]]:
    """Return, per frame of ``page``, what would run or be followed as script."""
    findings: dict[str, list[str]] = {}
    for frame in page.frames:
        result = frame.evaluate(SCAN_SCRIPT)
        for key, value in result.items():
            found = value if isinstance(value, list) else [str(value)] * value
            findings.setdefault(key, []).extend(
                f"{frame.url}: {item}" for item in found
            )
    return findings


def assert_inert(page: Page, dialogs: DialogLog) -> None:
    """Assert that no payload became markup on ``page`` or in its frames."""
    findings = scan(page)
    assert dialogs.messages == [], f"dialogs opened on {page.url}"
    assert findings["onAttributes"] == []
    assert findings["imagesFromPayload"] == []
    assert findings["javascriptLinks"] == []
    assert findings["scriptsWithMarker"] == []
    assert findings["framesWithSrcdoc"] == []


def console_login(page: Page, base: str) -> None:
    page.goto(f"{base}/console/login/")
    page.fill("input[name=username]", "agen1")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form [type=submit]").click()
    expect(page).to_have_url(re.compile(r"/console/$"))


def fill_prechat(panel: FrameLocator, chat_case: ChatCase) -> None:
    panel.get_by_label("NPM/NIP").fill("2175 3012")
    panel.get_by_label("Nama").fill(chat_case.name)
    panel.get_by_label("Program Studi").select_option(label="D3 Akuntansi")
    panel.get_by_label("Email", exact=True).first.fill(chat_case.email)
    panel.get_by_label("Layanan").select_option(
        label="Permohonan pembuatan surat tugas"
    )
    panel.get_by_label("Topik").fill(TOPIC)


class MarkupCollector(HTMLParser):
    """Keep an HTML document's tags, attributes and tag source, not its text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []
        self.tag_source: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend((name, value or "") for name, value in attrs)
        self.tag_source.append(self.get_starttag_text() or "")

    handle_startendtag = handle_starttag


def html_part(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("html",))
    assert body is not None, f"no HTML part in {message['Subject']}"
    return str(body.get_content())


def text_part(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None, f"no text part in {message['Subject']}"
    return str(body.get_content())


def markup_of(html: str) -> MarkupCollector:
    collector = MarkupCollector()
    collector.feed(html)
    collector.close()
    return collector


def assert_mail_html_inert(message: EmailMessage, forbidden: list[str]) -> None:
    """Assert that no payload became markup in the mail's HTML part.

    ``<script`` and ``<iframe`` must not occur anywhere in the part. Escaping
    leaves ``onerror=``, ``onmouseover=`` and ``javascript:`` in the text (they
    contain no character that needs escaping), so those are looked for in the
    markup: tag names, attribute names and values, and the source of each tag.
    """
    html = html_part(message)
    markup = markup_of(html)
    tag_source = "\n".join(markup.tag_source).lower()
    subject = str(message["Subject"])
    for needle in forbidden:
        if needle.startswith("<"):
            assert needle not in html.lower(), f"{needle} in the HTML of {subject}"
        else:
            assert needle not in tag_source, f"{needle} in a tag of {subject}"
    assert not {"script", "iframe"} & set(markup.tags), subject
    assert [name for name, _value in markup.attributes if name.startswith("on")] == []
    assert [
        value
        for _name, value in markup.attributes
        if value.strip().lower().startswith("javascript:")
    ] == []


def test_xss_payloads_stay_text_everywhere(
    live_server_url: str,
    browser: Any,
    smtp_sink: SmtpSink,  # noqa: F811
    agent: Any,
    programme: StudyProgramme,
    chat_case: ChatCase,
) -> None:
    base = live_server_url
    portal_url = base.replace("127.0.0.1", "localhost") + "/"
    expected = chat_case.expected
    messages = chat_case.messages
    dialogs = DialogLog()

    agent_page = dialogs.watch(browser.new_context().new_page())
    console_login(agent_page, base)

    requester_context = browser.new_context(locale="id-ID")
    sent_page_urls: list[str] = []

    # The widget sends document.referrer as page_url and has no phone field, so
    # the case's page URL and phone go into the widget's own start request.
    def inject_page_url_and_phone(route: Route) -> None:
        data = json.loads(route.request.post_data or "{}")
        sent_page_urls.append(data.get("page_url", ""))
        data["page_url"] = chat_case.page_url
        data["phone"] = chat_case.phone
        route.continue_(post_data=json.dumps(data))

    requester_context.route(re.compile(r"/api/chat/start/"), inject_page_url_and_phone)
    requester = dialogs.watch(requester_context.new_page())
    requester.goto(portal_url)
    requester.get_by_role("button", name="Buka obrolan").click()
    panel = requester.frame_locator("iframe")

    # The pre-chat form allows "<" and ">" in a name, so the name is accepted.
    fill_prechat(panel, chat_case)
    panel.get_by_role("button", name="Mulai obrolan").click()
    expect(panel.locator("#chat-status")).to_contain_text("antrean")
    expect(panel.locator("#e-name")).to_be_empty()
    assert Requester.objects.get().name == chat_case.name
    conversation = Conversation.objects.get()
    assert len(sent_page_urls) == 1
    assert conversation.page_url == chat_case.page_url

    # Agent, home queue: the name as text, nothing run.
    literal_name = expected["literal_text_visible"][0]
    assert literal_name == chat_case.name
    expect(agent_page.locator('[data-field="requester_name"]')).to_have_text(
        literal_name
    )
    assert_inert(agent_page, dialogs)

    agent_page.get_by_role("button", name="Terima").click()
    expect(agent_page).to_have_url(re.compile(r"/console/chats/"))
    expect(panel.locator("#chat-status")).to_contain_text("Rina")

    for message_id in ("m1", "m2", "m3", "m4", "m5"):
        panel.get_by_role("textbox", name="Pesan", exact=True).fill(
            messages[message_id]
        )
        panel.get_by_role("button", name="Kirim").click()
    agent_log = agent_page.locator("[data-message-log]")
    expect(agent_log.locator(".message-requester")).to_have_count(5)
    panel_log = panel.locator("#messages")
    expect(panel_log.locator(".from-requester")).to_have_count(5)

    def check_agent_chat_page() -> None:
        expect(agent_page.get_by_text(literal_name, exact=True).first).to_be_visible()
        for message_id in ("m1", "m2", "m3", "m4"):
            expect(agent_log.get_by_text(messages[message_id])).to_have_count(1)
        expect(agent_log.locator("strong")).to_have_text(
            [expected["control_message_m5"]["bold"]]
        )
        link = expected["control_message_m5"]["link"]
        expect(agent_log.locator(f'a[href="{link}"]')).to_have_text(link)
        assert_inert(agent_page, dialogs)

    # Agent, chat page: the messages as console.js inserted them live.
    check_agent_chat_page()

    # Requester, both frames of the portal page.
    expect(panel.get_by_text(literal_name).first).to_be_visible()
    for message_id in ("m1", "m2", "m3", "m4"):
        expect(panel_log.get_by_text(messages[message_id])).to_have_count(1)
    expect(panel_log.locator("strong")).to_have_text(
        [expected["control_message_m5"]["bold"]]
    )
    link = expected["control_message_m5"]["link"]
    expect(panel_log.locator(f'a[href="{link}"]')).to_have_text(link)
    assert_inert(requester, dialogs)

    # The ticket button reloads the chat page: the messages as the server renders
    # them.
    agent_page.get_by_role("button", name="Buat tiket").click()
    expect(agent_page.locator("[data-ticket-row]")).to_be_visible()
    ticket = Ticket.objects.get()
    check_agent_chat_page()

    panel.get_by_role("button", name="Tutup").click()
    expect(panel.get_by_label("Kirim transkrip ke email saya")).to_be_checked()
    panel.get_by_role("button", name="Akhiri obrolan").click()
    expect(panel.locator("#view-ended")).to_be_visible()
    assert_inert(requester, dialogs)
    expect(agent_page.locator("[data-ended-row]")).to_be_visible()
    assert_inert(agent_page, dialogs)

    # Mail: the ticket's two notifications and the transcript.
    assert send_due() == 3
    received = smtp_sink.wait_for(3, timeout=10)
    for message in received:
        assert_mail_html_inert(message, expected["emails_html_part_forbidden"])
    transcript = next(
        message
        for message in received
        if "transkrip" in str(message["Subject"]).lower()
    )
    for needle in expected["emails_html_part_contains"]:
        assert needle in html_part(transcript)
    for message_id in ("m1", "m2", "m3", "m4", "m5"):
        assert messages[message_id] in text_part(transcript)
    assert literal_name in text_part(transcript)

    # Every console screen that shows these fields, after the chat ended.
    console_pages = [
        f"{base}/console/",
        f"{base}/console/tickets/",
        f"{base}/console/tickets/{ticket.number}/",
        f"{base}/console/email/",
    ] + [
        f"{base}/console/email/{email.pk}/"
        for email in OutboundEmail.objects.order_by("pk")
    ]
    for url in console_pages:
        agent_page.goto(url)
        agent_page.wait_for_load_state("load")
        assert_inert(agent_page, dialogs)
        # The console shows neither the page URL nor the phone today; wherever
        # a later screen shows them, they must come escaped.
        source = agent_page.content()
        assert "<script>alert('uji-xss-url')" not in source
        assert "<script>alert('uji-xss-telp')" not in source

    agent_page.goto(f"{base}/console/")
    expect(
        agent_page.locator(".chat-list a", has_text=literal_name).first
    ).to_be_visible()
    agent_page.goto(f"{base}/console/tickets/{ticket.number}/")
    expect(agent_page.get_by_text(f"{literal_name} (21753012)")).to_be_visible()
    expect(
        agent_page.locator(".entry-list").get_by_text(messages["m1"])
    ).to_be_visible()

    assert len(dialogs.messages) == expected["dialogs_opened_on_agent_screens"]
