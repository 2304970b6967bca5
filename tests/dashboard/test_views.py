"""The dashboard page and exports over HTTP: access, filters, links, exports.

Who may see what:

- ``supervisor`` (kajur, the head of department) and superusers see every team;
- ``team_lead`` (lina) leads Administrasi and reads only that team's data,
  whatever the filters ask for;
- ``agent_admin`` is an agent without a lead role and gets no dashboard, and
  neither does ``outsider``.
"""

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook  # type: ignore[import-untyped]
from pytest_django import DjangoAssertNumQueries

from layanan.audit.models import Event
from layanan.catalog.models import Service, Team
from layanan.chat.models import EndedBy
from layanan.dashboard.exports import COLUMNS, neutralise
from layanan.dashboard.filters import (
    Period,
    PeriodKind,
    local_midnight,
    period_for,
    semester_start,
)
from layanan.dashboard.summaries import rebuild_summaries
from layanan.tickets.models import TicketSource

from .conftest import ChatFactory, TicketFactory, wib

DATA = Path(__file__).parent / "data"
NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fix the views' clock at 2026-12-03 09:00 WIB."""
    monkeypatch.setattr(timezone, "now", lambda: NOW)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def read_csv(response: Any) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def read_xlsx(response: Any) -> list[list[Any]]:
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    return [list(row) for row in workbook.active.iter_rows(values_only=True)]


@pytest.fixture
def two_teams(
    make_ticket: TicketFactory, make_chat: ChatFactory, ti_service: Service
) -> None:
    """Two tickets and a chat of Administrasi, one ticket of TI, on 2 December."""
    make_ticket(wib("2026-12-02 09:00"))
    make_ticket(wib("2026-12-02 10:00"))
    make_chat(wib("2026-12-02 11:00"))
    make_ticket(wib("2026-12-02 12:00"), service=ti_service)
    rebuild_summaries()


RANGE: dict[str, str | int] = {
    "period": "custom",
    "date_from": "2026-12-01",
    "date_to": "2026-12-02",
}


def test_dashboard_anonymous_redirects(db: None) -> None:
    response = Client().get("/dashboard/")
    assert response.status_code == 302
    assert response["Location"].startswith("/console/login/")


def test_dashboard_agent_gets_403(agent_admin: User) -> None:
    response = client_for(agent_admin).get("/dashboard/?lang=en")
    assert response.status_code == 403
    assert b"only the head of department" in response.content


def test_dashboard_outsider_gets_403(outsider: User) -> None:
    assert client_for(outsider).get("/dashboard/").status_code == 403


def test_export_agent_gets_403(agent_admin: User) -> None:
    assert client_for(agent_admin).get("/dashboard/export.csv").status_code == 403


def test_dashboard_supervisor_sees_all(supervisor: User, two_teams: None) -> None:
    response = client_for(supervisor).get("/dashboard/", {**RANGE, "lang": "en"})
    assert response.status_code == 200
    assert response.context["dashboard"].current.ticket_count == 3


def test_dashboard_superuser_sees_all(two_teams: None) -> None:
    admin = User.objects.create_superuser("root", "root@example.org", "pw-0123456")
    response = client_for(admin).get("/dashboard/", RANGE)
    assert response.context["dashboard"].current.ticket_count == 3


def test_dashboard_lead_sees_own_team(team_lead: User, two_teams: None) -> None:
    response = client_for(team_lead).get("/dashboard/", RANGE)
    current = response.context["dashboard"].current
    assert current.ticket_count == 2
    assert current.chat_count == 1


def test_dashboard_lead_cannot_pick_other_team(
    team_lead: User, two_teams: None, ti_team: Team
) -> None:
    response = client_for(team_lead).get(
        "/dashboard/", {**RANGE, "team": ti_team.pk, "lang": "en"}
    )
    assert response.context["form"].errors["team"]
    assert response.context["dashboard"].current.ticket_count <= 2
    assert response.context["filters"].team_scope == frozenset(
        {team_lead.led_teams.get().pk}
    )


def test_dashboard_lead_team_choices(team_lead: User, admin_team: Team) -> None:
    response = client_for(team_lead).get("/dashboard/")
    teams = list(response.context["form"].fields["team"].queryset)
    assert teams == [admin_team]


def test_export_lead_other_team_rejected(
    team_lead: User, two_teams: None, ti_team: Team
) -> None:
    response = client_for(team_lead).get(
        "/dashboard/export.csv", {**RANGE, "team": ti_team.pk, "lang": "en"}
    )
    assert response.status_code == 400
    assert b"filter is invalid" in response.content


def test_export_lead_own_rows_only(
    team_lead: User, two_teams: None, admin_team: Team
) -> None:
    rows = read_csv(client_for(team_lead).get("/dashboard/export.csv", RANGE))
    assert len(rows) == 3
    assert {row["team"] for row in rows} == {admin_team.name}


def test_dashboard_tile_titles_english(supervisor: User) -> None:
    response = client_for(supervisor).get("/dashboard/?lang=en")
    titles = [tile.title for tile in response.context["tiles"]]
    assert titles == [
        "Volume",
        "Waiting time",
        "First response time",
        "Resolution time",
        "SLA compliance",
        "Missed chats",
        "Satisfaction",
        "Backlog",
    ]


def test_dashboard_export_buttons(supervisor: User) -> None:
    content = client_for(supervisor).get("/dashboard/").content.decode()
    assert '/dashboard/export.csv" download>CSV</a>' in content
    assert '/dashboard/export.xlsx" download>XLSX</a>' in content


def test_dashboard_tile_links_filters(
    supervisor: User, admin_team: Team, agent_admin: User
) -> None:
    response = client_for(supervisor).get(
        "/dashboard/",
        {**RANGE, "team": admin_team.pk, "agent": agent_admin.pk, "kind": "student"},
    )
    links = {tile.key: tile.link for tile in response.context["tiles"]}
    assert links["volume"] == (
        f"/console/tickets/?team={admin_team.pk}&assignee={agent_admin.pk}"
        "&kind=student&date_from=2026-12-01&date_to=2026-12-02"
    )
    assert links["waiting"] == (
        f"/console/chats/?team={admin_team.pk}&agent={agent_admin.pk}"
        "&date_from=2026-12-01&date_to=2026-12-02"
    )
    assert "ended_by=wait_limit" in links["missed"]
    assert "status=resolved" in links["resolution"]
    assert links["backlog"] == (
        f"/console/tickets/?team={admin_team.pk}&assignee={agent_admin.pk}"
        "&kind=student&status=open"
    )


def test_dashboard_backlog_state_links(supervisor: User) -> None:
    response = client_for(supervisor).get("/dashboard/", RANGE)
    links = [link for _label, link, _counts in response.context["state_rows"]]
    assert links == [
        "/console/tickets/?status=open",
        "/console/tickets/?status=in_progress",
        "/console/tickets/?status=waiting",
    ]


def test_dashboard_custom_dates_invalid(supervisor: User) -> None:
    response = client_for(supervisor).get(
        "/dashboard/",
        {
            "period": "custom",
            "date_from": "2026-12-05",
            "date_to": "2026-12-01",
            "lang": "en",
        },
    )
    errors = response.context["form"].errors["date_to"]
    assert errors == [
        "The end date is before the start date: choose an end date on or after "
        "2026-12-05."
    ]
    assert response.context["filters"].period == period_for(
        PeriodKind.LAST_30_DAYS, date(2026, 12, 3)
    )
    assert 'value="2026-12-05"' in response.content.decode()


def test_dashboard_custom_dates_missing(supervisor: User) -> None:
    response = client_for(supervisor).get(
        "/dashboard/", {"period": "custom", "lang": "en"}
    )
    assert "date_from" in response.context["form"].errors
    assert "date_to" in response.context["form"].errors


def test_dashboard_escapes_comment(
    supervisor: User, make_ticket: TicketFactory
) -> None:
    payload = json.loads((DATA / "12-payloads.json").read_text())
    name = payload["chats"][0]["prechat"]["name"]
    make_ticket(
        wib("2026-12-02 09:00"),
        rating=1,
        rating_comment=name,
        rated_at=wib("2026-12-02 10:00"),
    )
    content = client_for(supervisor).get("/dashboard/", RANGE).content.decode()
    assert "Budi &lt;img src=x onerror=alert(&#x27;uji-xss-nama&#x27;)&gt;" in content
    assert "<img src=x" not in content


def _page_queries(client: Client) -> int:
    rebuild_summaries()
    cache.clear()
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/dashboard/", RANGE).status_code == 200
    return len(captured)


def test_dashboard_query_count_bounded(
    supervisor: User,
    make_ticket: TicketFactory,
    make_chat: ChatFactory,
    agent_admin: User,
    second_agent_admin: User,
    django_assert_max_num_queries: DjangoAssertNumQueries,
) -> None:
    client = client_for(supervisor)
    make_ticket(wib("2026-12-02 09:00"), assignee=agent_admin)
    make_chat(wib("2026-12-02 09:00"), agent=agent_admin)
    few = _page_queries(client)
    for hour in range(8, 16):
        make_ticket(wib(f"2026-12-01 {hour:02d}:00"), assignee=second_agent_admin)
        make_chat(wib(f"2026-12-01 {hour:02d}:30"), agent=second_agent_admin)
    many = _page_queries(client)
    assert many == few
    cache.clear()
    with django_assert_max_num_queries(30):
        client.get("/dashboard/", RANGE)


def test_dashboard_cached_within_minute(
    supervisor: User, make_ticket: TicketFactory
) -> None:
    client = client_for(supervisor)
    make_ticket(wib("2026-12-02 09:00"))
    rebuild_summaries()
    first = client.get("/dashboard/", RANGE).context["dashboard"]
    make_ticket(wib("2026-12-02 10:00"))
    rebuild_summaries()
    second = client.get("/dashboard/", RANGE).context["dashboard"]
    assert first.current.ticket_count == 1
    assert second.current.ticket_count == 1


def test_period_local_day_bounds() -> None:
    period = Period(date(2026, 12, 2), date(2026, 12, 2))
    assert period.start == datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
    assert period.end == datetime(2026, 12, 2, 17, 0, tzinfo=UTC)


def test_period_previous_same_length() -> None:
    period = Period(date(2026, 12, 1), date(2026, 12, 3))
    assert period.previous() == Period(date(2026, 11, 28), date(2026, 11, 30))


@pytest.mark.parametrize(
    ("today", "start"),
    [
        (date(2026, 8, 1), date(2026, 8, 1)),
        (date(2026, 12, 3), date(2026, 8, 1)),
        (date(2027, 1, 31), date(2026, 8, 1)),
        (date(2027, 2, 1), date(2027, 2, 1)),
        (date(2027, 7, 31), date(2027, 2, 1)),
    ],
)
def test_semester_start_ganjil_genap(today: date, start: date) -> None:
    assert semester_start(today) == start


def test_period_for_kinds() -> None:
    today = date(2026, 12, 3)
    assert period_for(PeriodKind.TODAY, today) == Period(today, today)
    assert period_for(PeriodKind.LAST_7_DAYS, today).first_day == date(2026, 11, 27)
    assert period_for(PeriodKind.LAST_30_DAYS, today).first_day == date(2026, 11, 4)
    assert period_for(PeriodKind.THIS_MONTH, today).first_day == date(2026, 12, 1)
    assert period_for(PeriodKind.THIS_SEMESTER, today).first_day == date(2026, 8, 1)


@pytest.fixture
def midnight_records(
    make_ticket: TicketFactory, make_chat: ChatFactory
) -> dict[str, str]:
    """Load the eight records around midnight WIB, returning references by id."""
    records = json.loads((DATA / "16-records.json").read_text())["records"]
    references = {}
    for record in records:
        created = datetime.fromisoformat(record["created_at_utc"])
        if record["channel"] == "chat":
            chat = make_chat(created, topic=record["id"])
            references[record["id"]] = str(chat.public_id)
        else:
            ticket = make_ticket(created, subject=record["id"])
            references[record["id"]] = ticket.number
    rebuild_summaries()
    return references


def test_daily_counts_wib(supervisor: User, midnight_records: dict[str, str]) -> None:
    response = client_for(supervisor).get(
        "/dashboard/",
        {"period": "custom", "date_from": "2026-12-01", "date_to": "2026-12-03"},
    )
    daily = response.context["dashboard"].daily
    assert [item.chats + item.tickets for item in daily] == [2, 4, 2]


def test_today_period_wib(supervisor: User, midnight_records: dict[str, str]) -> None:
    response = client_for(supervisor).get("/dashboard/", {"period": "today"})
    assert response.context["dashboard"].current.volume == 2


def test_heatmap_hours_wib(supervisor: User, midnight_records: dict[str, str]) -> None:
    response = client_for(supervisor).get(
        "/dashboard/",
        {"period": "custom", "date_from": "2026-12-01", "date_to": "2026-12-03"},
    )
    grid = response.context["dashboard"].heatmap
    wednesday, thursday = 2, 3
    assert grid[wednesday][0] == 1  # R3
    assert grid[wednesday][6] == 1  # R4
    assert grid[wednesday][16] == 1  # R5
    assert grid[thursday][0] == 1  # R7


def test_export_day_range_exact(
    supervisor: User, midnight_records: dict[str, str]
) -> None:
    rows = read_csv(
        client_for(supervisor).get(
            "/dashboard/export.csv",
            {"period": "custom", "date_from": "2026-12-02", "date_to": "2026-12-02"},
        )
    )
    expected = {midnight_records[key] for key in ("R3", "R4", "R5", "R6")}
    assert {row["reference"] for row in rows} == expected


def test_export_created_local_offset(
    supervisor: User, midnight_records: dict[str, str]
) -> None:
    rows = read_csv(
        client_for(supervisor).get(
            "/dashboard/export.csv",
            {"period": "custom", "date_from": "2026-12-02", "date_to": "2026-12-02"},
        )
    )
    by_reference = {row["reference"]: row for row in rows}
    r3 = by_reference[midnight_records["R3"]]
    assert r3["created"] == "2026-12-02 00:00:00+07:00"
    assert r3["created_day"] == "2026-12-02"
    assert r3["created_hour"] == "0"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+62812", "'+62812"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Budi", "Budi"),
        ("", ""),
    ],
)
def test_neutralise_formula_prefixes(value: str, expected: str) -> None:
    assert neutralise(value) == expected


@pytest.fixture
def formula_chat(make_chat: ChatFactory, make_ticket: TicketFactory) -> None:
    """Chat 2 of the stored-XSS case: formulas in the name and the message."""
    chat = json.loads((DATA / "12-payloads.json").read_text())["chats"][1]
    make_chat(
        wib("2026-12-02 09:00"),
        requester_name=chat["prechat"]["name"],
        topic=chat["messages"][0]["text"],
        ended_by=EndedBy.REQUESTER,
    )
    make_ticket(
        wib("2026-12-02 10:00"),
        source=TicketSource.OFFLINE,
        subject=chat["messages"][0]["text"],
        rating=2,
        rating_comment=chat["prechat"]["name"],
    )


def test_export_csv_neutralises(supervisor: User, formula_chat: None) -> None:
    rows = read_csv(client_for(supervisor).get("/dashboard/export.csv", RANGE))
    chat = next(row for row in rows if row["type"] == "chat")
    ticket = next(row for row in rows if row["type"] == "ticket")
    assert chat["requester_name"].startswith("'=HYPERLINK(")
    assert chat["subject"] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    assert ticket["subject"].startswith("'@SUM")
    assert ticket["rating_comment"].startswith("'=HYPERLINK(")


def test_export_xlsx_neutralises(supervisor: User, formula_chat: None) -> None:
    rows = read_xlsx(client_for(supervisor).get("/dashboard/export.xlsx", RANGE))
    header = rows[0]
    assert header == COLUMNS
    name = header.index("requester_name")
    subject = header.index("subject")
    chat = next(row for row in rows[1:] if row[0] == "chat")
    assert chat[name].startswith("=HYPERLINK(")
    assert chat[subject] == "@SUM(1+1)*cmd|' /C calc'!A0"


def test_export_xlsx_formulas_are_strings(supervisor: User, formula_chat: None) -> None:
    response: Any = client_for(supervisor).get("/dashboard/export.xlsx", RANGE)
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = workbook.active
    header = [cell.value for cell in sheet[1]]
    name_column = header.index("requester_name") + 1
    chat_row = next(
        row for row in range(2, sheet.max_row + 1) if sheet.cell(row, 1).value == "chat"
    )
    payloads = json.loads((DATA / "12-payloads.json").read_text())
    cell = sheet.cell(chat_row, name_column)
    assert cell.value == payloads["chats"][1]["prechat"]["name"]
    assert cell.data_type == "s"


def test_export_chat_ticket_first_response(
    supervisor: User, make_chat: ChatFactory, make_ticket: TicketFactory
) -> None:
    chat = make_chat(
        wib("2026-12-01 09:00"), first_agent_reply_at=wib("2026-12-01 09:05")
    )
    make_ticket(
        wib("2026-12-01 09:20"),
        source=TicketSource.CHAT,
        conversation=chat,
        first_response_at=wib("2026-12-01 09:05"),
        resolved_at=wib("2026-12-01 10:00"),
    )
    rows = read_csv(client_for(supervisor).get("/dashboard/export.csv", RANGE))
    ticket = next(row for row in rows if row["type"] == "ticket")
    assert ticket["first_response_calendar_minutes"] == "5.0"
    assert ticket["resolution_calendar_minutes"] == "60.0"


def test_export_xlsx_metric_columns(
    supervisor: User, make_ticket: TicketFactory
) -> None:
    created = wib("2026-12-01 09:00")
    make_ticket(
        created,
        first_response_at=wib("2026-12-01 09:30"),
        first_response_minutes=30,
        reopen_count=2,
    )
    rows = read_xlsx(client_for(supervisor).get("/dashboard/export.xlsx", RANGE))
    record = dict(zip(rows[0], rows[1], strict=True))
    assert record["type"] == "ticket"
    assert record["first_response_business_minutes"] == 30
    assert record["first_response_calendar_minutes"] == 30
    assert record["first_response_target_met"] == "yes"
    assert record["reopen_count"] == 2
    assert record["created"] == "2026-12-01 09:00:00+07:00"


def test_export_csv_audited(supervisor: User, two_teams: None) -> None:
    read_csv(client_for(supervisor).get("/dashboard/export.csv", RANGE))
    event = Event.objects.get(subject_type="dashboard", action="exported")
    assert event.actor == supervisor
    assert event.data["format"] == "csv"
    assert event.data["rows"] == 4
    assert event.data["filters"]["from"] == "2026-12-01"
    assert event.data["filters"]["team_scope"] is None


def test_export_xlsx_audited(team_lead: User, two_teams: None) -> None:
    read_xlsx(client_for(team_lead).get("/dashboard/export.xlsx", RANGE))
    event = Event.objects.get(subject_type="dashboard", action="exported")
    assert event.data["format"] == "xlsx"
    assert event.data["rows"] == 3
    assert event.data["filters"]["team_scope"] == [team_lead.led_teams.get().pk]


def test_local_midnight_is_utc() -> None:
    assert local_midnight(date(2026, 12, 2)).tzinfo == UTC


def test_dashboard_notice_empty_summaries(
    supervisor: User, make_ticket: TicketFactory
) -> None:
    make_ticket(wib("2026-12-02 09:00"))
    client = client_for(supervisor)
    before = client.get("/dashboard/", {**RANGE, "lang": "en"}).content.decode()
    rebuild_summaries()
    cache.clear()
    after = client.get("/dashboard/", {**RANGE, "lang": "en"}).content.decode()
    assert 'data-notice="summaries-missing"' in before
    assert 'data-notice="summaries-missing"' not in after


def test_dashboard_header_has_console_links(supervisor: User) -> None:
    content = client_for(supervisor).get("/dashboard/?lang=en").content.decode()
    for path in ("/console/tickets/", "/console/chats/", "/console/teams/"):
        assert f'href="{path}"' in content
    assert 'href="/dashboard/"' in content


def test_dashboard_403_has_console_links(agent_admin: User) -> None:
    response = client_for(agent_admin).get("/dashboard/?lang=en")
    content = response.content.decode()
    assert 'href="/console/tickets/"' in content
    assert 'href="/console/chats/"' in content
