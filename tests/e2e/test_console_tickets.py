"""The console's ticket actions in Chromium: assign and transfer on the ticket
page, merge two tickets, and bulk assign and bulk status change on the list.

Mail goes out through the outbox to a real SMTP server on 127.0.0.1. The cast:
Rina leads Administrasi, Dewi serves it, Bayu serves TI.
"""

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect
from pytest_django.fixtures import Settings

from layanan.catalog.models import Service, Team
from layanan.mail.outbox import send_due
from layanan.people.models import AgentProfile
from layanan.tickets.models import CannedResponse, Ticket, TicketStatus
from layanan.tickets.workflow import change_status
from smtp import SmtpSink, smtp_sink  # noqa: F401
from ticket_factory import make_ticket

PASSWORD = "uji-sandi-panjang-42"


def make_agent(username: str, full_name: str, team: Team) -> User:
    first_name, _space, last_name = full_name.partition(" ")
    user = User.objects.create_user(
        username=username,
        password=PASSWORD,
        first_name=first_name,
        last_name=last_name,
        email=f"{username}@kampus.example",
    )
    AgentProfile.objects.create(user=user)
    team.members.add(user)
    return user


@pytest.fixture
def cast(
    transactional_db: None, catalogue: dict[str, Team], settings: Settings
) -> dict[str, User]:
    settings.LANGUAGE_CODE = "en"
    administrasi, ti = catalogue["Administrasi"], catalogue["TI"]
    lead = make_agent("rina", "Rina Lestari", administrasi)
    administrasi.leads.add(lead)
    return {
        "lead": lead,
        "member": make_agent("dewi", "Dewi Anggraini", administrasi),
        "ti": make_agent("bayu", "Bayu Pratama", ti),
    }


@pytest.fixture
def service(cast: dict[str, User]) -> Service:
    return Service.objects.get(code="surat-tugas")


def console_login(page: Page, base: str) -> None:
    page.goto(f"{base}/console/login/")
    page.fill("input[name=username]", "rina")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form [type=submit]").click()
    expect(page).to_have_url(re.compile(r"/console/$"))


def flush_outbox(sink: SmtpSink) -> int:
    """Send what the outbox contains and return how many messages the sink has."""
    received = len(sink.deliveries)
    sent = send_due()
    return len(sink.wait_for(received + sent, timeout=10))


def mail_to(sink: SmtpSink, address: str, after: int) -> list[Any]:
    return [
        delivery.message
        for delivery in sink.deliveries[after:]
        if delivery.rcpt_tos == [address]
    ]


def test_ticket_page_assign_and_transfer(
    live_server_url: str,
    browser: Any,
    smtp_sink: SmtpSink,  # noqa: F811
    cast: dict[str, User],
    service: Service,
) -> None:
    ticket = make_ticket(service, "Surat tugas seminar")
    before = flush_outbox(smtp_sink)
    page = browser.new_page(locale="en-US")
    console_login(page, live_server_url)
    page.goto(f"{live_server_url}/console/tickets/{ticket.number}/")

    page.select_option("#assignee-select", label="Dewi Anggraini")
    page.locator("form[action$='/assign/'] button:not([formaction])").click()
    expect(page.locator(".flash-success")).to_have_text(
        f"Ticket {ticket.number} is assigned to Dewi Anggraini."
    )
    assert Ticket.objects.get(pk=ticket.pk).assignee == cast["member"]

    page.select_option("#transfer-team", label="TI")
    page.select_option("#transfer-agent", label="Bayu Pratama")
    page.fill("#transfer-note", "Butuh akses aplikasi, mohon dibantu tim TI.")
    page.locator("form[action$='/transfer/'] button[type=submit]").click()
    # Rina does not serve TI, so she lands on the list with the message.
    expect(page).to_have_url(re.compile(r"/console/tickets/$"))
    expect(page.locator(".flash-success")).to_contain_text("was transferred to the TI")
    moved = Ticket.objects.get(pk=ticket.pk)
    assert moved.team.name == "TI"
    assert moved.assignee == cast["ti"]

    flush_outbox(smtp_sink)
    to_dewi = mail_to(smtp_sink, "dewi@kampus.example", before)
    to_bayu = mail_to(smtp_sink, "bayu@kampus.example", before)
    assert len(to_dewi) == 1
    assert ticket.number in to_dewi[0]["Subject"]
    assert len(to_bayu) == 1
    assert "Butuh akses aplikasi" in to_bayu[0].get_body(("plain",)).get_content()


def test_ticket_page_merge(
    live_server_url: str,
    browser: Any,
    cast: dict[str, User],
    service: Service,
) -> None:
    source = make_ticket(service, "Surat tugas (terkirim dua kali)")
    target = make_ticket(service, "Surat tugas seminar")
    page = browser.new_page(locale="en-US")
    console_login(page, live_server_url)
    page.goto(f"{live_server_url}/console/tickets/{source.number}/")

    page.fill("#merge-target", target.number)
    page.locator("form[action$='/merge/'] button[type=submit]").click()
    expect(page.locator(".flash-success")).to_have_text(
        f"Ticket {source.number} was merged into ticket {target.number}."
    )
    expect(page.locator("[data-merged-into] a")).to_have_text(target.number)
    assert Ticket.objects.get(pk=source.pk).merged_into_id == target.pk

    page.locator("[data-merged-into] a").click()
    expect(page.locator("[data-merged-tickets] a")).to_have_text(source.number)


def test_ticket_list_bulk_assign_and_status(
    live_server_url: str,
    browser: Any,
    smtp_sink: SmtpSink,  # noqa: F811
    cast: dict[str, User],
    service: Service,
) -> None:
    tickets = [make_ticket(service, f"Permohonan {index}") for index in range(3)]
    resolved = tickets[2]
    change_status(resolved, TicketStatus.RESOLVED, actor=cast["lead"])
    before = flush_outbox(smtp_sink)
    page = browser.new_page(locale="en-US")
    console_login(page, live_server_url)
    page.goto(f"{live_server_url}/console/tickets/")

    # "Select all" is shown by the page's script and ticks every row.
    page.locator("[data-select-all]").check()
    expect(page.locator("[data-ticket-select]:checked")).to_have_count(3)
    page.select_option("#bulk-assignee", label="Dewi Anggraini")
    page.locator("button[name=action][value=assign]").click()
    expect(page.locator(".flash-success")).to_contain_text("3 tickets were changed")
    for ticket in tickets:
        assert Ticket.objects.get(pk=ticket.pk).assignee == cast["member"]

    page.locator("[data-select-all]").check()
    page.select_option("#bulk-status", value="resolved")
    page.locator("button[name=action][value=status]").click()
    expect(page.locator(".flash-success")).to_contain_text("2 tickets were changed")
    expect(page.locator(".flash-warning")).to_have_text(
        f"Ticket {resolved.number} was skipped: Ticket {resolved.number} is "
        "already “Resolved”. In “New status”, choose the status it should move to."
    )
    for ticket in tickets:
        assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.RESOLVED

    flush_outbox(smtp_sink)
    to_dewi = mail_to(smtp_sink, "dewi@kampus.example", before)
    subjects = " ".join(str(message["Subject"]) for message in to_dewi)
    assert len(to_dewi) == 3
    for ticket in tickets:
        assert ticket.number in subjects


def test_ticket_page_canned_response_inserted(
    live_server_url: str,
    browser: Any,
    cast: dict[str, User],
    service: Service,
) -> None:
    ticket = make_ticket(service, "Surat tugas seminar")
    CannedResponse.objects.create(
        title="Sedang diproses", body="Yth. {name}, tiket {ticket} <sedang> diproses."
    )
    page = browser.new_page(locale="en-US")
    console_login(page, live_server_url)
    page.goto(f"{live_server_url}/console/tickets/{ticket.number}/")
    page.fill("#reply-body", "Selamat pagi,")
    # A reload would lose this mark, so it shows that the script did the work.
    page.evaluate("() => { window.notReloaded = true; }")

    page.locator("[data-canned-insert]").click()
    expect(page.locator("#reply-body")).to_have_value(
        f"Selamat pagi,\n\nYth. {ticket.requester.name}, tiket {ticket.number} "
        "<sedang> diproses."
    )
    assert page.evaluate("() => window.notReloaded === true")
