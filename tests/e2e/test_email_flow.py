"""The email round trip: a ticket's mail, the requester's reply by IMAP, and the
agent's reply from the console in Chromium, all through real servers.

The chat and its ticket are made through the services; the browser is only the
agent's, on the ticket page. The requester's reply is in the style of Gmail in
Indonesian (new text on top, the earlier mail quoted below a
"Pada … menulis:" line, in text and HTML), appended to a real Dovecot and fetched
as the worker fetches it. Outbound mail goes to a real SMTP server on loopback.
"""

# The dovecot and smtp_sink fixtures are imported from tests/, and each test's
# parameter of that name is what pytest matches it by, which pyflakes reads as a
# redefinition.
# ruff: noqa: F811

import email.policy
import re
import textwrap
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from html import escape
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect
from pytest_django.fixtures import Settings

from imap import DovecotServer, dovecot  # noqa: F401
from layanan.catalog.models import Service, Team
from layanan.chat.models import SenderKind
from layanan.chat.services import (
    NewChat,
    NewMessage,
    accept_conversation,
    post_message,
    start_conversation,
)
from layanan.mail.imap import fetch_mail, ingest_from_imap
from layanan.mail.models import InboundEmail, InboundOutcome, OutboundEmail
from layanan.mail.outbox import send_due
from layanan.people.models import AgentProfile, Requester, RequesterKind
from layanan.tickets.models import Ticket, TicketEntry
from layanan.tickets.services import create_ticket_from_conversation
from smtp import SmtpSink, smtp_sink  # noqa: F401

PASSWORD = "uji-sandi-panjang-42"
MAIL_ADDRESS = "bantuan@helpdesk.example.com"
MAIL_FROM = f"Layanan Jurusan <{MAIL_ADDRESS}>"
REQUESTER_NAME = "Budi Santoso"
REQUESTER_EMAIL = "budi.santoso@mail.example"
CHAT_TEXT = "Selamat pagi, saya perlu surat tugas untuk seminar nasional."
REQUESTER_REPLY = "Terima kasih, Bu. Suratnya saya ambil besok pagi di jurusan 🙏"
AGENT_REPLY = "Sama-sama, Budi. Suratnya sudah ditandatangani, silakan diambil 😊"
# Indonesian abbreviations of days and months, for the attribution line.
DAYS = ["Sen", "Sel", "Rab", "Kam", "Jum", "Sab", "Min"]
MONTHS = [
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "Mei",
    "Jun",
    "Jul",
    "Agu",
    "Sep",
    "Okt",
    "Nov",
    "Des",
]


@pytest.fixture
def agent(catalogue: dict[str, Team]) -> Any:
    user = get_user_model().objects.create_user(
        username="agen1",
        password=PASSWORD,
        first_name="Rina",
        last_name="Lestari",
        email="rina.lestari@jurusan.example",
    )
    AgentProfile.objects.create(user=user)
    catalogue["Administrasi"].members.add(user)
    return user


def ticket_from_chat(agent: Any) -> Ticket:
    """Open a chat as the widget does, accept it and turn it into a ticket."""
    requester = Requester.objects.create(
        identifier="2175301200",
        kind=RequesterKind.STUDENT,
        name=REQUESTER_NAME,
        email=REQUESTER_EMAIL,
    )
    conversation, _token = start_conversation(
        NewChat(
            requester=requester,
            email=REQUESTER_EMAIL,
            service=Service.objects.get(code="surat-tugas"),
            topic="Surat tugas seminar nasional",
            language="id",
        )
    )
    accept_conversation(conversation, agent)
    post_message(
        conversation,
        NewMessage(
            sender_kind=SenderKind.REQUESTER,
            sender_name=REQUESTER_NAME,
            body=CHAT_TEXT,
            client_id="pesan-1",
        ),
    )
    return create_ticket_from_conversation(conversation, agent)


def gmail_attribution(received: EmailMessage) -> list[str]:
    """Return the "Pada … menulis:" attribution of ``received``, wrapped at 76."""
    sent = timezone.localtime(received["Date"].datetime)
    sender = received["From"].addresses[0]
    line = (
        f"Pada {DAYS[sent.weekday()]}, {sent.day} {MONTHS[sent.month - 1]} "
        f"{sent.year} pukul {sent:%H.%M} {sender.display_name} "
        f"<{sender.addr_spec}> menulis:"
    )
    return textwrap.wrap(line, width=76, break_long_words=False)


def gmail_reply(received: EmailMessage, sent_at: datetime) -> tuple[bytes, str]:
    """Return the requester's reply to ``received`` and its Message-ID."""
    original = received.get_body(preferencelist=("plain",))
    assert original is not None
    original_lines = original.get_content().rstrip("\n").split("\n")

    attribution = gmail_attribution(received)
    quoted = [f"> {line}" if line else ">" for line in original_lines]
    plain = "\n".join([REQUESTER_REPLY, "", *attribution, "", *quoted]) + "\n"
    html = (
        f'<div dir="ltr">{escape(REQUESTER_REPLY)}</div><br>'
        '<div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
        f"{escape(' '.join(attribution))}<br></div>"
        '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;'
        'border-left:1px solid rgb(204,204,204);padding-left:1ex">'
        + "<br>".join(escape(line) for line in original_lines)
        + "</blockquote></div>\n"
    )

    message_id = make_msgid(domain="mail.example")
    first_id = str(received["Message-ID"])
    reply = EmailMessage(policy=email.policy.SMTP)
    reply["Date"] = format_datetime(sent_at)
    reply["Message-ID"] = message_id
    reply["In-Reply-To"] = first_id
    reply["References"] = first_id
    reply["Subject"] = f"Re: {received['Subject']}"
    reply["From"] = Address(REQUESTER_NAME, addr_spec=REQUESTER_EMAIL)
    reply["To"] = str(received["Reply-To"])

    reply.set_content(plain, cte="quoted-printable")
    reply.add_alternative(html, subtype="html", cte="quoted-printable")
    # The stdlib also puts MIME-Version on the new part, so it is removed there to
    # keep it in the top-level headers only.
    for part in reply.iter_parts():
        del part["MIME-Version"]
    return reply.as_bytes(), message_id


def console_login(page: Page, base: str) -> None:
    page.goto(f"{base}/console/login/")
    page.fill("input[name=username]", "agen1")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form [type=submit]").click()
    expect(page).to_have_url(re.compile(r"/console/$"))


def visible_text(scope: Locator, text: str) -> Locator:
    return scope.get_by_text(text).filter(visible=True)


def test_email_flow_round_trip(
    request: pytest.FixtureRequest,
    live_server_url: str,
    smtp_sink: SmtpSink,
    dovecot: DovecotServer,
    agent: Any,
    settings: Settings,
    tmp_path: Path,
) -> None:
    settings.MAIL_ADDRESS = MAIL_ADDRESS
    settings.MAIL_FROM = MAIL_FROM
    settings.IMAP = dovecot.config()
    settings.UPLOAD_ROOT = tmp_path / "uploads"
    settings.VAR_DIR = tmp_path / "var"

    # 1. The chat becomes a ticket.
    ticket = ticket_from_chat(agent)

    # 2. The requester's acknowledgement and the team's notification go out.
    assert send_due() == 2
    smtp_sink.wait_for(2, timeout=10)
    to_requester = [
        delivery.message
        for delivery in smtp_sink.deliveries
        if delivery.rcpt_tos == [REQUESTER_EMAIL]
    ]
    assert len(to_requester) == 1
    notification = to_requester[0]
    first_id = str(notification["Message-ID"])
    reply_to = str(notification["Reply-To"])
    assert reply_to.startswith("bantuan+t.")
    assert ticket.number in str(notification["Subject"])

    # 3. The requester replies from Gmail, and the worker fetches it from Dovecot.
    raw_reply, reply_id = gmail_reply(notification, timezone.now())
    dovecot.append("INBOX", raw_reply)
    report = fetch_mail(settings.IMAP, ingest_from_imap)
    assert report.stored == 1
    assert report.errors == []
    inbound = InboundEmail.objects.get()
    assert inbound.outcome == InboundOutcome.REPLY
    assert inbound.ticket_number == ticket.number
    assert inbound.message_id == reply_id
    # The ticket's owner (the team, as nobody is assigned) is told of the reply.
    assert OutboundEmail.objects.filter(kind="requester_replied").count() == 1
    assert send_due() == 1
    smtp_sink.wait_for(3, timeout=10)

    # 4. The agent reads it on the ticket page: the new text, not the quote.
    # Chromium starts only now, because while Playwright's loop runs in this thread,
    # async_to_sync raises when the services above publish to the channel layer.
    browser = request.getfixturevalue("browser")
    page = browser.new_context(locale="id-ID").new_page()
    console_login(page, live_server_url)
    page.goto(f"{live_server_url}/console/tickets/{ticket.number}/")
    entry = page.locator("li.entry", has_text=REQUESTER_REPLY)
    expect(entry).to_have_count(1)
    expect(visible_text(entry, REQUESTER_REPLY)).to_have_count(1)
    expect(visible_text(entry, "menulis:")).to_have_count(0)
    expect(visible_text(entry, ticket.number)).to_have_count(0)
    full_message = entry.get_by_text("Tampilkan pesan lengkap")
    expect(full_message).to_be_visible()
    page.reload()
    expect(visible_text(page.locator("main"), REQUESTER_REPLY)).to_have_count(1)
    expect(visible_text(page.locator("main"), "menulis:")).to_have_count(0)
    assert TicketEntry.objects.filter(inbound_email_id=inbound.pk).count() == 1

    # 5. The agent replies from the console, and the mail joins the same thread.
    page.get_by_label("Balasan", exact=True).fill(AGENT_REPLY)
    page.get_by_role("button", name="Kirim balasan").click()
    expect(visible_text(page.locator("main"), AGENT_REPLY)).to_have_count(1)
    assert OutboundEmail.objects.filter(kind="ticket_reply").count() == 1
    assert send_due() == 1
    agent_mail = smtp_sink.wait_for(4, timeout=10)[-1]
    assert [address for _name, address in getaddresses([str(agent_mail["To"])])] == [
        REQUESTER_EMAIL
    ]
    assert str(agent_mail["In-Reply-To"]) == reply_id
    references = str(agent_mail["References"]).split()
    assert first_id in references
    assert reply_id in references
    assert str(agent_mail["Reply-To"]) == reply_to
    assert agent_mail["Auto-Submitted"] is None
    assert ticket.number in str(agent_mail["Subject"])
    for part_type in ("plain", "html"):
        body = agent_mail.get_body(preferencelist=(part_type,))
        assert body is not None
        assert AGENT_REPLY in body.get_content()

    # 6. The reply was flagged at the first poll, so a second poll stores nothing.
    again = fetch_mail(settings.IMAP, ingest_from_imap)
    assert again.fetched == 0
    assert InboundEmail.objects.count() == 1
    assert dovecot.flags("INBOX") == [{"\\Seen"}]
