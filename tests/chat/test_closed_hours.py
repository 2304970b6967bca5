"""Live chat outside business hours: the closed notice and the refused start.

The default calendar is the department's office hours in WIB: Monday to Thursday
07:30 to 16:00, Friday 07:30 to 16:30, closed on Indonesian national holidays.
Tests marked business_hours see the teams' real calendars. Unmarked tests see
the desk that tests/conftest.py keeps open around the clock.
"""

import json
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from layanan.catalog.calendars import Calendar, load_calendar
from layanan.catalog.models import (
    BusinessCalendar,
    BusinessHours,
    Holiday,
    Service,
    StudyProgramme,
    Team,
)
from layanan.chat.hours import DeskHours, closed_notice, desk_hours
from layanan.chat.models import Conversation
from layanan.people.models import AgentConnection

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

WIB = ZoneInfo("Asia/Jakarta")
FRIDAY_AFTER_CLOSING = datetime(2026, 12, 4, 16, 45, tzinfo=WIB)
FRIDAY_BEFORE_CLOSING = datetime(2026, 12, 4, 16, 15, tzinfo=WIB)
SATURDAY_MORNING = datetime(2026, 12, 5, 10, 0, tzinfo=WIB)
CHRISTMAS_MORNING = datetime(2026, 12, 25, 10, 0, tzinfo=WIB)
MONDAY_OPENING = datetime(2026, 12, 7, 7, 30, tzinfo=WIB)
MONDAY_NOTICE_EN = (
    "The service is closed. It opens again on Monday, 7 December 2026 at 07:30 WIB."
)


@pytest.fixture
def default_calendar(db: None) -> Calendar:
    return load_calendar(None)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Return a function that sets the time the chat views read."""

    def set_time(moment: datetime) -> None:
        monkeypatch.setattr("layanan.chat.views.timezone.now", lambda: moment)

    return set_time


@pytest.fixture
def admin_online(agent_admin: User) -> User:
    AgentConnection.objects.create(
        user=agent_admin, channel_name="test.console.1", last_seen=timezone.now()
    )
    return agent_admin


@pytest.fixture
def prechat(admin_service: Service) -> dict[str, str]:
    programme = StudyProgramme.objects.create(name="D3 Akuntansi", order=1)
    return {
        "identifier": "2231010123",
        "name": "Budi Santoso",
        "study_programme": str(programme.pk),
        "email": "budi@mail.example",
        "service": str(admin_service.pk),
        "topic": "Surat tugas seminar",
    }


def services_by_code(client: Client, language: str = "en") -> dict[str, Any]:
    response = client.get(f"/api/chat/services/?lang={language}")
    assert response.status_code == 200
    names = {service.pk: service.code for service in Service.objects.all().only("code")}
    return {names[item["id"]]: item for item in response.json()["services"]}


def post_start(client: Client, data: dict[str, str]) -> "TestResponse":
    return client.post(
        "/api/chat/start/?lang=en",
        data=json.dumps(data),
        content_type="application/json",
    )


def give_calendar(team: Team, name: str, hours: list[tuple[int, time, time]]) -> None:
    calendar = BusinessCalendar.objects.create(name=name, national_holidays=False)
    for weekday, start, end in hours:
        BusinessHours.objects.create(
            calendar=calendar, weekday=weekday, start=start, end=end
        )
    team.calendar = calendar
    team.save(update_fields=["calendar"])


# ---- desk_hours and closed_notice ----


@pytest.mark.business_hours
def test_desk_hours_friday_after_closing(default_calendar: Calendar) -> None:
    hours = desk_hours(default_calendar, FRIDAY_AFTER_CLOSING)

    assert hours.open is False
    assert hours.opens_at == MONDAY_OPENING


@pytest.mark.business_hours
def test_desk_hours_friday_before_closing(default_calendar: Calendar) -> None:
    hours = desk_hours(default_calendar, FRIDAY_BEFORE_CLOSING)

    assert hours == DeskHours(open=True, opens_at=None)


@pytest.mark.business_hours
def test_desk_hours_saturday(default_calendar: Calendar) -> None:
    hours = desk_hours(default_calendar, SATURDAY_MORNING)

    assert hours.open is False
    assert hours.opens_at == MONDAY_OPENING


@pytest.mark.business_hours
def test_desk_hours_national_holiday(default_calendar: Calendar) -> None:
    hours = desk_hours(default_calendar, CHRISTMAS_MORNING)

    assert hours.open is False
    assert hours.opens_at == datetime(2026, 12, 28, 7, 30, tzinfo=WIB)


@pytest.mark.business_hours
def test_desk_hours_admin_holiday_moves_opening(db: None) -> None:
    Holiday.objects.create(date=date(2026, 12, 7), name="Dies Natalis")

    hours = desk_hours(load_calendar(None), FRIDAY_AFTER_CLOSING)

    assert hours.opens_at == datetime(2026, 12, 8, 7, 30, tzinfo=WIB)


@pytest.mark.business_hours
def test_desk_hours_opens_at_in_calendar_zone(default_calendar: Calendar) -> None:
    hours = desk_hours(default_calendar, FRIDAY_AFTER_CLOSING.astimezone(UTC))

    assert hours.opens_at is not None
    assert hours.opens_at.isoformat() == "2026-12-07T07:30:00+07:00"


@pytest.mark.business_hours
def test_closed_notice_english_exact() -> None:
    hours = DeskHours(open=False, opens_at=MONDAY_OPENING)

    assert closed_notice(hours, "en") == MONDAY_NOTICE_EN


@pytest.mark.business_hours
def test_closed_notice_indonesian_date_and_time() -> None:
    hours = DeskHours(open=False, opens_at=MONDAY_OPENING)

    notice = closed_notice(hours, "id")

    # The sentence around them comes from the Indonesian catalogue.
    assert "Senin, 7 Desember 2026" in notice
    assert "07.30 WIB" in notice


@pytest.mark.business_hours
def test_closed_notice_without_opening_hours() -> None:
    notice = closed_notice(DeskHours(open=False, opens_at=None), "en")

    assert notice == "The service is closed, and no opening hours are set for it."


# ---- the services endpoint ----


@pytest.mark.business_hours
def test_services_friday_after_closing_closed(
    client: Client, clock: Any, admin_service: Service
) -> None:
    clock(FRIDAY_AFTER_CLOSING)

    service = services_by_code(client)["surat-tugas"]

    assert service["open"] is False
    assert service["opens_at"] == "2026-12-07T07:30:00+07:00"
    assert service["closed_notice"]["en"] == MONDAY_NOTICE_EN
    assert "Senin, 7 Desember 2026" in service["closed_notice"]["id"]


@pytest.mark.business_hours
def test_services_saturday_closed(
    client: Client, clock: Any, admin_service: Service
) -> None:
    clock(SATURDAY_MORNING)

    service = services_by_code(client)["surat-tugas"]

    assert service["open"] is False
    assert service["opens_at"] == "2026-12-07T07:30:00+07:00"


@pytest.mark.business_hours
def test_services_holiday_closed(
    client: Client, clock: Any, admin_service: Service
) -> None:
    clock(CHRISTMAS_MORNING)

    service = services_by_code(client)["surat-tugas"]

    assert service["open"] is False
    assert service["opens_at"] == "2026-12-28T07:30:00+07:00"
    assert service["closed_notice"]["en"] == (
        "The service is closed. It opens again on Monday, 28 December 2026 at "
        "07:30 WIB."
    )


@pytest.mark.business_hours
def test_services_business_hours_open(
    client: Client, clock: Any, admin_service: Service
) -> None:
    clock(FRIDAY_BEFORE_CLOSING)

    service = services_by_code(client)["surat-tugas"]

    assert service["open"] is True
    assert service["opens_at"] is None
    assert service["closed_notice"] is None


@pytest.mark.business_hours
def test_services_follow_each_team_calendar(
    client: Client, clock: Any, ti_team: Team, admin_service: Service
) -> None:
    give_calendar(ti_team, "TI akhir pekan", [(5, time(8, 0), time(12, 0))])
    clock(SATURDAY_MORNING)

    listed = services_by_code(client)

    assert listed["akses-aplikasi"]["open"] is True
    assert listed["surat-tugas"]["open"] is False


@pytest.mark.business_hours
def test_services_calendar_without_hours_closed(
    client: Client, clock: Any, admin_team: Team
) -> None:
    give_calendar(admin_team, "Tanpa jam", [])
    clock(FRIDAY_BEFORE_CLOSING)

    service = services_by_code(client)["surat-tugas"]

    assert service["open"] is False
    assert service["opens_at"] is None


# ---- starting a chat ----


@pytest.mark.business_hours
def test_start_while_closed_rejected(
    client: Client, clock: Any, prechat: dict[str, str], admin_online: User
) -> None:
    clock(FRIDAY_AFTER_CLOSING)

    response = post_start(client, prechat)

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "closed"
    assert error["message"] == (
        MONDAY_NOTICE_EN
        + " Send an offline request instead, and the team will reply by email."
    )
    assert not Conversation.objects.exists()


@pytest.mark.business_hours
def test_start_during_business_hours_created(
    client: Client, clock: Any, prechat: dict[str, str], admin_online: User
) -> None:
    clock(FRIDAY_BEFORE_CLOSING)
    # Presence counts a console socket as gone once last_seen is old.
    AgentConnection.objects.update(last_seen=FRIDAY_BEFORE_CLOSING)

    response = post_start(client, prechat)

    assert response.status_code == 201, response.content
    assert Conversation.objects.count() == 1


@pytest.mark.business_hours
def test_start_closed_checked_before_presence(
    client: Client, clock: Any, prechat: dict[str, str]
) -> None:
    clock(SATURDAY_MORNING)

    response = post_start(client, prechat)

    assert response.json()["error"]["code"] == "closed"


# ---- the test hook itself ----


def test_hook_keeps_desk_open_on_saturday(
    client: Client, clock: Any, admin_service: Service
) -> None:
    clock(SATURDAY_MORNING)

    assert services_by_code(client)["surat-tugas"]["open"] is True
