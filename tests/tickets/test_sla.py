"""Service-level clocks: due moments, elapsed business time and percent used.

The calendar is the department's office hours in Jakarta (WIB): Monday to Thursday
07:30-16:00 and Friday 07:30-16:30. Monday 13 July 2026 starts a week without
national holidays.
"""

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from layanan.catalog.calendars import DEFAULT_HOURS, Calendar, make_calendar
from layanan.tickets.sla import Pause, due_at, elapsed_business_minutes, percent_used

JAKARTA = ZoneInfo("Asia/Jakarta")


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """Check messages in English, the msgid language of these assertions."""
    with translation.override("en"):
        yield


def wib(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=JAKARTA)


def monday(hour: int, minute: int = 0) -> datetime:
    """Return that time on Monday 13 July 2026 in WIB."""
    return wib(2026, 7, 13, hour, minute)


@pytest.fixture
def office() -> Calendar:
    return make_calendar(DEFAULT_HOURS, "Asia/Jakarta")


def test_due_at_without_pauses(office: Calendar) -> None:
    assert due_at(monday(8), 120, office) == monday(10)


def test_due_at_pause_and_resume(office: Calendar) -> None:
    due = due_at(monday(8), 120, office, [(monday(9), monday(11))])

    assert due == monday(12)
    assert due is not None and due.tzinfo is UTC


def test_due_at_pause_outside_hours(office: Calendar) -> None:
    overnight = (monday(17), wib(2026, 7, 14, 7))

    due = due_at(monday(15), 120, office, [overnight])

    assert due == wib(2026, 7, 14, 8, 30)


def test_due_at_pause_over_weekend(office: Calendar) -> None:
    # One hour runs on Friday before the pause and one after it on Monday. The
    # pause covers Friday 16:00-16:30 and Monday 07:30-08:00 of business time.
    friday = wib(2026, 7, 10, 15)
    weekend = (wib(2026, 7, 10, 16), monday(8))

    assert due_at(friday, 120, office) == monday(8)
    assert due_at(friday, 120, office, [weekend]) == monday(9)


def test_due_at_open_pause_before_due(office: Calendar) -> None:
    assert due_at(monday(8), 120, office, [(monday(9), None)]) is None


def test_due_at_open_pause_after_due(office: Calendar) -> None:
    assert due_at(monday(8), 120, office, [(monday(11), None)]) == monday(10)


def test_due_at_open_pause_at_due(office: Calendar) -> None:
    assert due_at(monday(8), 120, office, [(monday(10), None)]) == monday(10)


def test_due_at_pause_from_before_opening(office: Calendar) -> None:
    due = due_at(monday(8), 120, office, [(monday(7), monday(8, 30))])

    assert due == monday(10, 30)


def test_due_at_pause_ended_before_opening(office: Calendar) -> None:
    due = due_at(monday(8), 120, office, [(monday(7), monday(7, 45))])

    assert due == monday(10)


def test_due_at_overlapping_unsorted_pauses(office: Calendar) -> None:
    pauses: list[Pause] = [(monday(9, 30), monday(11)), (monday(9), monday(10))]

    assert due_at(monday(8), 120, office, pauses) == monday(12)


def test_due_at_touching_pauses(office: Calendar) -> None:
    pauses: list[Pause] = [(monday(9), monday(10)), (monday(10), monday(11))]

    assert due_at(monday(8), 120, office, pauses) == monday(12)


def test_due_at_several_pauses_over_days(office: Calendar) -> None:
    # Monday runs 08:00-09:00 and 10:00-16:00 (420 minutes). Tuesday runs from
    # 07:30 and pauses 09:00-10:00, so the last 180 minutes end at 11:30.
    pauses: list[Pause] = [
        (monday(9), monday(10)),
        (wib(2026, 7, 14, 9), wib(2026, 7, 14, 10)),
    ]

    assert due_at(monday(8), 600, office, pauses) == wib(2026, 7, 14, 11, 30)


def test_due_at_no_target(office: Calendar) -> None:
    assert due_at(monday(8), None, office) is None


def test_due_at_zero_target(office: Calendar) -> None:
    assert due_at(monday(8), 0, office) == monday(8)


def test_due_at_negative_target(office: Calendar) -> None:
    with pytest.raises(ValueError, match="negative"):
        due_at(monday(8), -5, office)


def test_due_at_pause_ending_before_start(office: Calendar) -> None:
    with pytest.raises(ValueError, match="before it starts"):
        due_at(monday(8), 120, office, [(monday(11), monday(9))])


def test_due_at_naive_pause(office: Calendar) -> None:
    naive = datetime(2026, 7, 13, 9)

    with pytest.raises(ValueError, match="no time zone"):
        due_at(monday(8), 120, office, [(naive, None)])


def test_elapsed_business_minutes_with_pause(office: Calendar) -> None:
    elapsed = elapsed_business_minutes(
        monday(8), monday(13), office, [(monday(9), monday(11))]
    )

    assert elapsed == 180.0


def test_elapsed_business_minutes_open_pause(office: Calendar) -> None:
    pauses: list[Pause] = [(monday(9), monday(11)), (monday(12), None)]

    assert elapsed_business_minutes(monday(8), monday(13), office, pauses) == 120.0


def test_elapsed_business_minutes_pause_after_now(office: Calendar) -> None:
    elapsed = elapsed_business_minutes(
        monday(8), monday(13), office, [(monday(14), None)]
    )

    assert elapsed == 300.0


def test_elapsed_business_minutes_now_before_start(office: Calendar) -> None:
    assert elapsed_business_minutes(monday(9), monday(8), office) == 0.0


def test_elapsed_business_minutes_over_night(office: Calendar) -> None:
    elapsed = elapsed_business_minutes(monday(15), wib(2026, 7, 14, 8), office)

    assert elapsed == 90.0


def test_percent_used_half(office: Calendar) -> None:
    assert percent_used(monday(8), monday(9), 120, office) == 50.0


def test_percent_used_at_due(office: Calendar) -> None:
    assert percent_used(monday(8), monday(10), 120, office) == 100.0


def test_percent_used_overdue(office: Calendar) -> None:
    assert percent_used(monday(8), monday(11), 120, office) == 150.0


def test_percent_used_with_pause(office: Calendar) -> None:
    used = percent_used(
        monday(8), monday(11, 30), 120, office, [(monday(9), monday(11))]
    )

    assert used == 75.0


def test_percent_used_no_target(office: Calendar) -> None:
    assert percent_used(monday(8), monday(9), None, office) is None


def test_percent_used_zero_target(office: Calendar) -> None:
    assert percent_used(monday(8), monday(8), 0, office) == 100.0


def test_due_at_matches_elapsed(office: Calendar) -> None:
    generator = random.Random(20260713)
    year_start = datetime(2026, 1, 1, tzinfo=UTC)
    for _case in range(200):
        opened_at = year_start + timedelta(seconds=generator.randrange(365 * 86_400))
        target = generator.randrange(0, 5_000)
        pauses: list[Pause] = []
        for _pause in range(generator.randrange(4)):
            paused_at = opened_at + timedelta(
                seconds=generator.randrange(-86_400, 10 * 86_400)
            )
            length = timedelta(seconds=generator.randrange(1, 3 * 86_400))
            pauses.append((paused_at, paused_at + length))

        due = due_at(opened_at, target, office, pauses)

        assert due is not None, (opened_at, target, pauses)
        elapsed = elapsed_business_minutes(opened_at, due, office, pauses)
        assert elapsed == target, (opened_at, target, pauses)
