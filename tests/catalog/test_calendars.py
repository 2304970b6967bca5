"""Business-hours arithmetic, the calendar models and their admin pages.

Most tests build calendars in memory with make_calendar. The office hours are the
department's: Monday to Thursday 07:30-16:00 and Friday 07:30-16:30 in Jakarta
(WIB, UTC+7). July 2026 has no Indonesian national holiday; Monday 2026-08-17,
Independence Day, is one.
"""

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from pytest_django import DjangoAssertNumQueries
from pytest_django.fixtures import Settings

from layanan.catalog.calendars import (
    DEFAULT_HOURS,
    Calendar,
    CalendarError,
    add_business_minutes,
    business_minutes_between,
    calendar_for_team,
    default_calendar,
    is_open,
    load_calendar,
    make_calendar,
    next_opening,
)
from layanan.catalog.models import (
    BusinessCalendar,
    BusinessHours,
    Holiday,
    Service,
    Team,
)

JAKARTA = ZoneInfo("Asia/Jakarta")
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
# Minutes the office is open in a week without holidays: 4 x 8.5 h + 9 h.
OFFICE_WEEK_MINUTES = 4 * 510 + 540


@pytest.fixture(autouse=True)
def english(settings: Settings) -> Iterator[None]:
    """Check messages in English, the msgid language of these assertions."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


def wib(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=JAKARTA)


def cet(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=AMSTERDAM)


@pytest.fixture
def office() -> Calendar:
    return make_calendar(DEFAULT_HOURS, "Asia/Jakarta", name="office")


@pytest.fixture
def amsterdam_office() -> Calendar:
    nine_to_five = ((time(9), time(17)),)
    return make_calendar(
        dict.fromkeys(range(5), nine_to_five),
        "Europe/Amsterdam",
        holiday_country=None,
    )


def test_add_business_minutes_friday_evening_to_monday(office: Calendar) -> None:
    due = add_business_minutes(wib(2026, 7, 10, 16, 20), 60, office)

    assert due == wib(2026, 7, 13, 8, 20)
    assert due.tzinfo is UTC


def test_add_business_minutes_closed_day_moves_to_tuesday() -> None:
    calendar = make_calendar(
        DEFAULT_HOURS, "Asia/Jakarta", closed_days=[date(2026, 7, 13)]
    )

    due = add_business_minutes(wib(2026, 7, 10, 16, 20), 60, calendar)

    assert due == wib(2026, 7, 14, 8, 20)


def test_add_business_minutes_national_holiday(office: Calendar) -> None:
    national = holidays.country_holidays("ID", years=2026)
    assert date(2026, 8, 17) in national

    due = add_business_minutes(wib(2026, 8, 14, 16, 20), 60, office)

    assert due == wib(2026, 8, 18, 8, 20)


def test_add_business_minutes_without_national_holidays() -> None:
    calendar = make_calendar(DEFAULT_HOURS, "Asia/Jakarta", holiday_country=None)

    due = add_business_minutes(wib(2026, 8, 14, 16, 20), 60, calendar)

    assert due == wib(2026, 8, 17, 8, 20)


def test_add_business_minutes_crosses_midnight_utc(office: Calendar) -> None:
    # Monday 15:50 WIB is 08:50 UTC; Tuesday 07:40 WIB is 00:40 UTC.
    due = add_business_minutes(wib(2026, 7, 13, 15, 50), 20, office)

    assert due == datetime(2026, 7, 14, 0, 40, tzinfo=UTC)


def test_add_business_minutes_from_saturday(office: Calendar) -> None:
    due = add_business_minutes(wib(2026, 7, 11, 10), 30, office)

    assert due == wib(2026, 7, 13, 8)


def test_add_business_minutes_from_thursday_closing(office: Calendar) -> None:
    due = add_business_minutes(wib(2026, 7, 9, 16), 60, office)

    assert due == wib(2026, 7, 10, 8, 30)


def test_add_business_minutes_before_opening(office: Calendar) -> None:
    due = add_business_minutes(wib(2026, 7, 14, 5), 45, office)

    assert due == wib(2026, 7, 14, 8, 15)


def test_add_business_minutes_ends_at_closing(office: Calendar) -> None:
    due = add_business_minutes(wib(2026, 7, 10, 16, 20), 10, office)

    assert due == wib(2026, 7, 10, 16, 30)


def test_add_business_minutes_zero_while_open(office: Calendar) -> None:
    start = wib(2026, 7, 13, 9, 15)

    assert add_business_minutes(start, 0, office) == start


def test_add_business_minutes_zero_while_closed(office: Calendar) -> None:
    due = add_business_minutes(wib(2026, 7, 11, 10), 0, office)

    assert due == wib(2026, 7, 13, 7, 30)


def test_add_business_minutes_three_full_weeks(office: Calendar) -> None:
    start = wib(2026, 7, 13, 7, 30)

    assert add_business_minutes(start, 3 * OFFICE_WEEK_MINUTES, office) == wib(
        2026, 7, 31, 16, 30
    )
    assert add_business_minutes(start, 3 * OFFICE_WEEK_MINUTES + 1, office) == wib(
        2026, 8, 3, 7, 31
    )


def test_add_business_minutes_weeks_with_holiday(office: Calendar) -> None:
    # Week of 10 August: 2580 minutes. Week of 17 August loses Monday: 2070
    # minutes. The last 510 minutes fill Monday 24 August.
    due = add_business_minutes(wib(2026, 8, 10, 7, 30), 2 * OFFICE_WEEK_MINUTES, office)

    assert due == wib(2026, 8, 24, 16)


def test_add_business_minutes_lunch_break() -> None:
    calendar = make_calendar(
        {0: [(time(7, 30), time(12)), (time(13), time(16))]}, "Asia/Jakarta"
    )

    due = add_business_minutes(wib(2026, 7, 13, 11, 50), 20, calendar)

    assert due == wib(2026, 7, 13, 13, 10)


def test_add_business_minutes_years_long_target(office: Calendar) -> None:
    start = wib(2026, 1, 5, 7, 30)

    due = add_business_minutes(start, 1_000_000, office)

    assert due > start + timedelta(days=365 * 7)
    assert business_minutes_between(start, due, office) == 1_000_000


def test_add_business_minutes_negative_rejected(office: Calendar) -> None:
    with pytest.raises(ValueError, match="negative"):
        add_business_minutes(wib(2026, 7, 13, 9), -1, office)


def test_add_business_minutes_naive_start_rejected(office: Calendar) -> None:
    with pytest.raises(ValueError, match="no time zone"):
        add_business_minutes(datetime(2026, 7, 13, 9), 10, office)


def test_add_business_minutes_no_hours_raises() -> None:
    calendar = make_calendar({}, "Asia/Jakarta", name="empty")

    with pytest.raises(CalendarError, match="“empty” has no business hours"):
        add_business_minutes(wib(2026, 7, 13, 9), 10, calendar)


def test_add_business_minutes_amsterdam_over_spring_change(
    amsterdam_office: Calendar,
) -> None:
    # Clocks go from 02:00 to 03:00 on Sunday 29 March 2026, so Friday is UTC+1
    # and Monday is UTC+2. The wall-clock hours stay 09:00-17:00.
    due = add_business_minutes(cet(2026, 3, 27, 16), 120, amsterdam_office)

    assert due == cet(2026, 3, 30, 10)
    assert due == datetime(2026, 3, 30, 8, tzinfo=UTC)


def test_add_business_minutes_amsterdam_over_autumn_change(
    amsterdam_office: Calendar,
) -> None:
    # Clocks go from 03:00 back to 02:00 on Sunday 25 October 2026.
    due = add_business_minutes(cet(2026, 10, 23, 16, 30), 60, amsterdam_office)

    assert due == datetime(2026, 10, 26, 8, 30, tzinfo=UTC)


def test_business_minutes_between_friday_to_monday(office: Calendar) -> None:
    minutes = business_minutes_between(
        wib(2026, 7, 10, 16, 20), wib(2026, 7, 13, 8, 20), office
    )

    assert minutes == 60.0


def test_business_minutes_between_keeps_seconds(office: Calendar) -> None:
    start = wib(2026, 7, 13, 7, 30)

    minutes = business_minutes_between(start, start + timedelta(seconds=90), office)

    assert minutes == 1.5


def test_business_minutes_between_end_before_start(office: Calendar) -> None:
    minutes = business_minutes_between(
        wib(2026, 7, 13, 10), wib(2026, 7, 13, 9), office
    )

    assert minutes == 0.0


def test_business_minutes_between_long_closure_is_zero() -> None:
    july = [date(2026, 7, 1) + timedelta(days=offset) for offset in range(31)]
    calendar = make_calendar(DEFAULT_HOURS, "Asia/Jakarta", closed_days=july)

    minutes = business_minutes_between(wib(2026, 7, 1, 0), wib(2026, 8, 1, 0), calendar)

    assert minutes == 0.0


def test_business_minutes_between_spring_day_is_23_hours() -> None:
    calendar = make_calendar(
        {6: [(time(0), time(0))]}, "Europe/Amsterdam", holiday_country=None
    )

    minutes = business_minutes_between(
        cet(2026, 3, 28, 12), cet(2026, 3, 30, 12), calendar
    )

    assert minutes == 23 * 60


def test_business_minutes_between_autumn_day_is_25_hours() -> None:
    calendar = make_calendar(
        {6: [(time(0), time(0))]}, "Europe/Amsterdam", holiday_country=None
    )

    minutes = business_minutes_between(
        cet(2026, 10, 24, 12), cet(2026, 10, 26, 12), calendar
    )

    assert minutes == 25 * 60


def test_business_minutes_between_skipped_hour_is_zero() -> None:
    calendar = make_calendar(
        {6: [(time(2), time(3))]}, "Europe/Amsterdam", holiday_country=None
    )

    skipped = business_minutes_between(
        cet(2026, 3, 28, 12), cet(2026, 3, 30, 12), calendar
    )
    ordinary = business_minutes_between(
        cet(2026, 4, 4, 12), cet(2026, 4, 6, 12), calendar
    )

    assert skipped == 0.0
    assert ordinary == 60.0


def test_business_minutes_between_no_double_count_at_gap() -> None:
    # 02:00-02:45 does not exist on 29 March 2026 and is read as 03:00-03:45
    # CEST, which the 03:00-04:00 interval already covers.
    calendar = make_calendar(
        {6: [(time(2), time(2, 45)), (time(3), time(4))]},
        "Europe/Amsterdam",
        holiday_country=None,
    )

    minutes = business_minutes_between(
        cet(2026, 3, 28, 12), cet(2026, 3, 30, 12), calendar
    )

    assert minutes == 60.0


def test_business_minutes_between_inverts_add(office: Calendar) -> None:
    generator = random.Random(20260817)
    year_start = datetime(2026, 1, 1, tzinfo=UTC)
    for _case in range(300):
        start = year_start + timedelta(seconds=generator.randrange(365 * 86_400))
        minutes = generator.randrange(0, 20_000)

        due = add_business_minutes(start, minutes, office)

        assert business_minutes_between(start, due, office) == minutes, (start, minutes)


def test_add_business_minutes_inverts_between(office: Calendar) -> None:
    generator = random.Random(17081945)
    year_start = datetime(2026, 1, 1, tzinfo=UTC)
    for _case in range(300):
        start = year_start + timedelta(seconds=generator.randrange(365 * 86_400))
        end = start + timedelta(seconds=generator.randrange(30 * 86_400))
        minutes = business_minutes_between(start, end, office)

        due = add_business_minutes(start, minutes, office)

        # With nothing to add the clock only moves to the next opening, which may
        # come after end.
        latest = end if minutes else next_opening(start, office)
        assert due <= latest, (start, end)
        assert business_minutes_between(due, end, office) == 0.0, (start, end)


def test_is_open_at_opening(office: Calendar) -> None:
    assert is_open(wib(2026, 7, 9, 7, 30), office)


def test_is_open_just_before_closing(office: Calendar) -> None:
    closing = wib(2026, 7, 9, 16)

    assert is_open(closing - timedelta(seconds=1), office)


def test_is_open_at_closing(office: Calendar) -> None:
    assert not is_open(wib(2026, 7, 9, 16), office)


def test_is_open_friday_afternoon(office: Calendar) -> None:
    assert is_open(wib(2026, 7, 10, 16, 15), office)


def test_is_open_weekend(office: Calendar) -> None:
    assert not is_open(wib(2026, 7, 11, 10), office)


def test_is_open_national_holiday(office: Calendar) -> None:
    assert not is_open(wib(2026, 8, 17, 10), office)


def test_next_opening_from_saturday(office: Calendar) -> None:
    opening = next_opening(wib(2026, 7, 11, 10), office)

    assert opening == datetime(2026, 7, 13, 0, 30, tzinfo=UTC)
    assert opening.tzinfo is UTC


def test_next_opening_before_opening(office: Calendar) -> None:
    assert next_opening(wib(2026, 7, 14, 6), office) == wib(2026, 7, 14, 7, 30)


def test_next_opening_while_open(office: Calendar) -> None:
    moment = wib(2026, 7, 14, 10, 5)

    assert next_opening(moment, office) == moment


def test_next_opening_over_holiday(office: Calendar) -> None:
    assert next_opening(wib(2026, 8, 14, 17), office) == wib(2026, 8, 18, 7, 30)


def test_next_opening_all_closed_raises() -> None:
    calendar = make_calendar(
        DEFAULT_HOURS,
        "Asia/Jakarta",
        closed_days=[date(2026, 1, 1) + timedelta(days=n) for n in range(3_700)],
    )

    with pytest.raises(CalendarError, match="closed for over ten years"):
        next_opening(wib(2026, 1, 1, 0), calendar)


def test_make_calendar_merges_overlaps() -> None:
    calendar = make_calendar({0: [(time(11), time(13)), (time(8), time(12))]}, "UTC")

    assert calendar.weekly_hours[0] == ((8 * 3600, 13 * 3600),)


def test_make_calendar_midnight_close() -> None:
    calendar = make_calendar({0: [(time(22), time(0))]}, "UTC")

    assert calendar.weekly_hours[0] == ((22 * 3600, 86_400),)


def test_make_calendar_close_before_open() -> None:
    with pytest.raises(CalendarError, match="close before they open"):
        make_calendar({0: [(time(16), time(8))]}, "UTC")


def test_make_calendar_invalid_weekday() -> None:
    with pytest.raises(CalendarError, match="weekday 7 is invalid"):
        make_calendar({7: [(time(8), time(16))]}, "UTC")


def test_make_calendar_unknown_time_zone() -> None:
    with pytest.raises(CalendarError, match="Mars/Olympus"):
        make_calendar(DEFAULT_HOURS, "Mars/Olympus")


def test_make_calendar_unknown_holiday_country() -> None:
    with pytest.raises(CalendarError, match="“XX” is not supported"):
        make_calendar(DEFAULT_HOURS, "UTC", holiday_country="XX")


def test_default_calendar_uses_site_time_zone() -> None:
    assert default_calendar().time_zone == ZoneInfo(settings.TIME_ZONE)


@pytest.mark.django_db
def test_load_calendar_default_row_from_migration() -> None:
    row = BusinessCalendar.objects.get(is_default=True)

    calendar = load_calendar(None)

    assert row.time_zone == settings.TIME_ZONE
    assert calendar.weekly_hours == default_calendar().weekly_hours
    assert calendar.name == row.name


@pytest.mark.django_db
def test_load_calendar_admin_holiday_for_every_calendar() -> None:
    Holiday.objects.create(date=date(2026, 7, 13), name="Cuti bersama")

    calendar = load_calendar(None)

    assert add_business_minutes(wib(2026, 7, 10, 16, 20), 60, calendar) == wib(
        2026, 7, 14, 8, 20
    )


@pytest.mark.django_db
def test_load_calendar_without_default_row() -> None:
    BusinessCalendar.objects.all().delete()
    Holiday.objects.create(date=date(2026, 7, 13), name="Dies natalis")

    calendar = load_calendar(None)

    assert calendar.weekly_hours == default_calendar().weekly_hours
    assert date(2026, 7, 13) in calendar.closed_days


@pytest.fixture
def facilities_calendar(db: None) -> BusinessCalendar:
    """Return a Monday-to-Saturday 07:00-15:00 calendar closed on 13 July 2026."""
    calendar = BusinessCalendar.objects.create(
        name="Sarana", time_zone="Asia/Jakarta", national_holidays=False
    )
    for weekday in range(6):
        BusinessHours.objects.create(
            calendar=calendar, weekday=weekday, start=time(7), end=time(15)
        )
    Holiday.objects.create(
        date=date(2026, 7, 13), name="Perbaikan gedung", calendar=calendar
    )
    return calendar


@pytest.mark.django_db
def test_calendar_for_team_own_calendar(
    facilities_calendar: BusinessCalendar,
) -> None:
    team = Team.objects.create(name="Sarana lapangan", calendar=facilities_calendar)

    calendar = calendar_for_team(team)

    assert is_open(wib(2026, 7, 11, 10), calendar)
    assert not is_open(wib(2026, 7, 13, 10), calendar)
    assert is_open(wib(2026, 8, 17, 10), calendar)


@pytest.mark.django_db
def test_calendar_holiday_stays_on_its_calendar(
    facilities_calendar: BusinessCalendar,
) -> None:
    team = Team.objects.create(name="Tanpa kalender")

    calendar = calendar_for_team(team)

    assert is_open(wib(2026, 7, 13, 10), calendar)


@pytest.mark.django_db
def test_calendar_for_team_caches_per_request(
    facilities_calendar: BusinessCalendar,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    team = Team.objects.create(name="Sarana lapangan", calendar=facilities_calendar)
    request = RequestFactory().get("/")
    first = calendar_for_team(team, request)

    with django_assert_num_queries(0):
        again = calendar_for_team(team, request)
    with CaptureQueriesContext(connection) as queries:
        calendar_for_team(team, RequestFactory().get("/"))

    assert again is first
    assert len(queries) > 0


@pytest.mark.django_db
def test_calendar_for_team_deleted_calendar_falls_back(
    facilities_calendar: BusinessCalendar,
) -> None:
    team = Team.objects.create(name="Sarana lapangan", calendar=facilities_calendar)
    facilities_calendar.delete()
    team.refresh_from_db()

    calendar = calendar_for_team(team)

    assert team.calendar_id is None
    assert calendar.weekly_hours == default_calendar().weekly_hours


@pytest.mark.django_db
def test_service_sla_targets_from_migration() -> None:
    service = Service.objects.get(code="surat-tugas")

    assert service.first_response_minutes == 240
    assert service.update_minutes == 480
    assert service.resolution_minutes == 2400


@pytest.mark.django_db
def test_business_hours_clean_end_before_start() -> None:
    hours = BusinessHours(
        calendar=BusinessCalendar.objects.get(is_default=True),
        weekday=0,
        start=time(16),
        end=time(8),
    )

    with pytest.raises(ValidationError) as raised:
        hours.full_clean()

    assert "end" in raised.value.message_dict


@pytest.mark.django_db
def test_business_hours_clean_midnight_close() -> None:
    hours = BusinessHours(
        calendar=BusinessCalendar.objects.get(is_default=True),
        weekday=6,
        start=time(22),
        end=time(0),
    )

    hours.full_clean()


@pytest.mark.django_db
def test_business_calendar_clean_unknown_time_zone() -> None:
    calendar = BusinessCalendar(name="Mars", time_zone="Mars/Olympus")

    with pytest.raises(ValidationError) as raised:
        calendar.full_clean()

    assert "time_zone" in raised.value.message_dict


@pytest.mark.django_db
def test_business_calendar_clean_second_default() -> None:
    calendar = BusinessCalendar(name="Kedua", time_zone="Asia/Jakarta", is_default=True)

    with pytest.raises(ValidationError, match="already the default"):
        calendar.full_clean()


@pytest.mark.django_db
def test_holiday_clean_duplicate_for_every_calendar() -> None:
    Holiday.objects.create(date=date(2026, 12, 24), name="Cuti bersama Natal")
    duplicate = Holiday(date=date(2026, 12, 24), name="Natal")

    with pytest.raises(ValidationError, match="already exists on that date"):
        duplicate.full_clean()


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:catalog_businesscalendar_changelist",
        "admin:catalog_businesscalendar_add",
        "admin:catalog_holiday_changelist",
        "admin:catalog_holiday_add",
        "admin:catalog_team_changelist",
        "admin:catalog_service_changelist",
    ],
)
def test_admin_page_loads(admin_client: Client, url_name: str) -> None:
    response = admin_client.get(reverse(url_name))

    assert response.status_code == 200


@pytest.mark.django_db
def test_admin_default_calendar_change_page(admin_client: Client) -> None:
    row = BusinessCalendar.objects.get(is_default=True)

    response = admin_client.get(
        reverse("admin:catalog_businesscalendar_change", args=[row.pk])
    )

    assert response.status_code == 200
    assert b"07:30" in response.content


def calendar_form(hours: list[tuple[int, str, str]]) -> dict[str, str]:
    """Return the admin add-form data of calendar "Piket" with the given hours."""
    data = {
        "name": "Piket",
        "time_zone": "Asia/Jakarta",
        "national_holidays": "on",
        "hours-TOTAL_FORMS": str(len(hours)),
        "hours-INITIAL_FORMS": "0",
        "hours-MIN_NUM_FORMS": "1",
        "hours-MAX_NUM_FORMS": "1000",
        "holidays-TOTAL_FORMS": "0",
        "holidays-INITIAL_FORMS": "0",
        "holidays-MIN_NUM_FORMS": "0",
        "holidays-MAX_NUM_FORMS": "1000",
    }
    for index, (weekday, start, end) in enumerate(hours):
        data[f"hours-{index}-weekday"] = str(weekday)
        data[f"hours-{index}-start"] = start
        data[f"hours-{index}-end"] = end
    return data


@pytest.mark.django_db
def test_admin_adds_calendar_with_hours(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("admin:catalog_businesscalendar_add"),
        calendar_form([(5, "08:00", "12:00")]),
    )

    assert response.status_code == 302
    calendar = load_calendar(BusinessCalendar.objects.get(name="Piket"))
    assert calendar.weekly_hours[5] == ((8 * 3600, 12 * 3600),)


@pytest.mark.django_db
def test_admin_rejects_calendar_without_hours(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("admin:catalog_businesscalendar_add"), calendar_form([])
    )

    assert response.status_code == 200
    assert not BusinessCalendar.objects.filter(name="Piket").exists()


@pytest.mark.django_db
def test_admin_rejects_hours_closing_before_opening(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("admin:catalog_businesscalendar_add"),
        calendar_form([(0, "16:00", "08:00")]),
    )

    assert response.status_code == 200
    assert b"The closing time must be after the opening time" in response.content
