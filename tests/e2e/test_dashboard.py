"""The dashboard in Chromium: the head of department logs in, filters, follows a
tile to its tickets and downloads both exports, which are read back.
The summary rows are built once the records exist, as the worker's refresh
job would.

The demo data (``load-demo``) provides the user ``kajur`` and one ticket made
from a chat today. The test adds a TI ticket from yesterday, so the team filter
has something to leave out.
"""

import csv
import io
import re
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.db import connections
from django.utils import timezone
from openpyxl import load_workbook  # type: ignore[import-untyped]
from playwright.sync_api import Page, expect
from pytest_django.fixtures import Settings

from layanan.catalog.models import Service, Team
from layanan.dashboard.summaries import refresh_recent_days
from layanan.people.models import Requester, RequesterKind
from layanan.tickets.models import Ticket, TicketSource

PASSWORD = "uji-sandi-panjang-42"
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test" / "artifacts"


def add_ti_ticket() -> Ticket:
    requester = Requester.objects.create(
        identifier="2175309999",
        kind=RequesterKind.STUDENT,
        name="Joko Susilo",
        email="joko@mail.example",
    )
    service = Service.objects.get(code="akses-aplikasi")
    ticket = Ticket.objects.create(
        number="EKB-2026-900001",
        subject="Tidak bisa masuk SIPUT",
        requester=requester,
        requester_email=requester.email,
        service=service,
        team=service.team,
        source=TicketSource.EMAIL,
    )
    Ticket.objects.filter(pk=ticket.pk).update(
        created=timezone.now() - timedelta(days=1)
    )
    return ticket


def load_demo() -> None:
    """Run load-demo in its own thread, away from Playwright's running loop.

    The services it calls publish events through async_to_sync, which refuses
    to run in a thread whose event loop is running.
    """
    errors: list[BaseException] = []

    def run() -> None:
        try:
            call_command("load-demo")
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    assert not errors, errors


def log_in(page: Page, base: str) -> None:
    page.goto(f"{base}/console/login/?lang=en")
    page.fill("input[name=username]", "kajur")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form [type=submit]").click()
    expect(page).to_have_url(re.compile(r"/console/"))


def download(page: Page, name: str) -> bytes:
    with page.expect_download() as info:
        page.get_by_role("link", name=name, exact=True).click()
    path = info.value.path()
    return Path(path).read_bytes()


def test_dashboard_in_chromium(
    live_server_url: str,
    browser: Any,
    catalogue: dict[str, Team],
    settings: Settings,
) -> None:
    settings.DEMO_PASSWORD = PASSWORD
    load_demo()
    demo_ticket = Ticket.objects.get()
    other_ticket = add_ti_ticket()
    # The worker's job would do this within 30 s: the table is empty, so it
    # rebuilds every day.
    refresh_recent_days()
    base = live_server_url

    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    log_in(page, base)
    page.goto(f"{base}/dashboard/?lang=en")
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()
    volume = page.locator('[data-tile="volume"] .tile-value')
    expect(volume).to_have_text("3")

    page.get_by_label("Period").select_option("7d")
    page.get_by_label("Team").select_option(label="Administrasi")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"period=7d"))
    expect(volume).to_have_text("2")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    csv_rows = list(
        csv.DictReader(io.StringIO(download(page, "CSV").decode("utf-8-sig")))
    )
    assert sorted(row["type"] for row in csv_rows) == ["chat", "ticket"]
    assert demo_ticket.number in {row["reference"] for row in csv_rows}
    assert other_ticket.number not in {row["reference"] for row in csv_rows}

    workbook = load_workbook(io.BytesIO(download(page, "XLSX")))
    xlsx_rows = list(workbook.active.iter_rows(values_only=True))
    assert xlsx_rows[0][0] == "type"
    assert [row[1] for row in xlsx_rows[1:] if row[0] == "ticket"] == [
        demo_ticket.number
    ]

    page.locator('[data-tile="volume"]').click()
    expect(page).to_have_url(re.compile(r"/console/tickets/\?team="))
    expect(page.get_by_role("link", name=demo_ticket.number)).to_be_visible()
    context.close()
