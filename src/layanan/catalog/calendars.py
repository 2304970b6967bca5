"""Business-hours calendars and arithmetic on business time.

A ``Calendar`` is an immutable value: weekly opening intervals in local wall-clock
time, a time zone, and the days it is closed. Build one with ``make_calendar`` (no
database needed) or load a team's with ``calendar_for_team``.

Every function takes aware datetimes and returns aware datetimes in UTC. Intervals
are half-open: a calendar that closes at 16:00 is closed at 16:00:00 exactly.
Business time is counted exactly, to the microsecond of the inputs.

The functions walk forward one local day at a time, so the work grows with the number
of calendar days a target spans, never with the number of minutes.
"""

import logging
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest
from django.utils.translation import gettext as _

from layanan.catalog.models import BusinessCalendar, Holiday, Team

logger = logging.getLogger(__name__)

SECONDS_PER_DAY = 86_400
NATIONAL_HOLIDAY_COUNTRY = "ID"

# A calendar closed this many days in a row counts as never opening, so a forward
# search raises instead of running on. Ten years is longer than any real closure.
MAX_CLOSED_DAYS = 3_660

# The department's office hours, by weekday with Monday as 0. The data migration
# stores the same hours as the default calendar; these are the fallback when that
# row is missing.
DEFAULT_HOURS: dict[int, tuple[tuple[time, time], ...]] = {
    0: ((time(7, 30), time(16, 0)),),
    1: ((time(7, 30), time(16, 0)),),
    2: ((time(7, 30), time(16, 0)),),
    3: ((time(7, 30), time(16, 0)),),
    4: ((time(7, 30), time(16, 30)),),
}

# (opens, closes) in seconds since local midnight. closes is at most SECONDS_PER_DAY.
Interval = tuple[int, int]
Span = tuple[datetime, datetime]


class CalendarError(ValueError):
    """A calendar that cannot be built or that never opens."""


@dataclass(frozen=True)
class Calendar:
    """Weekly business hours in one time zone, with the days they do not apply.

    ``weekly_hours[weekday]`` lists sorted, non-overlapping intervals for that
    weekday, Monday as 0. ``closed_days`` are local dates with no business hours,
    added to the national holidays of ``holiday_country`` (None for no national
    holidays).
    """

    time_zone: ZoneInfo
    weekly_hours: tuple[tuple[Interval, ...], ...]
    closed_days: frozenset[date] = frozenset()
    holiday_country: str | None = NATIONAL_HOLIDAY_COUNTRY
    name: str = ""

    def is_closed_day(self, day: date) -> bool:
        """Return whether the local date day is a holiday of this calendar."""
        if day in self.closed_days:
            return True
        if self.holiday_country is None:
            return False
        return day in national_holidays(self.holiday_country, day.year)

    def day_spans(self, day: date) -> list[Span]:
        """Return the UTC spans this calendar is open on the local date day.

        A wall-clock time that a daylight-saving change skips is read with the
        offset in force before the change. Spans are clipped so they never overlap
        or run backwards across such a change.
        """
        if self.is_closed_day(day):
            return []
        midnight = datetime.combine(day, time.min, tzinfo=self.time_zone)
        spans: list[Span] = []
        previous_end: datetime | None = None
        for opens, closes in self.weekly_hours[day.weekday()]:
            # Adding to an aware datetime moves its wall clock, and astimezone then
            # applies the offset in force at that wall-clock time.
            start = (midnight + timedelta(seconds=opens)).astimezone(UTC)
            end = (midnight + timedelta(seconds=closes)).astimezone(UTC)
            if previous_end is not None and start < previous_end:
                start = previous_end
            if end <= start:
                continue
            spans.append((start, end))
            previous_end = end
        return spans


@lru_cache(maxsize=128)
def national_holidays(country: str, year: int) -> frozenset[date]:
    """Return the public holidays of country in year, from the holidays package."""
    # NOTE: holidays 0.109 marks some Islamic dates from 2027 on as "(estimated)"
    # and leaves out cuti bersama. Holiday rows can add a missing day, but nothing
    # yet removes a package date that turns out wrong.
    return frozenset(holidays.country_holidays(country, years=year).keys())


def make_calendar(
    hours: Mapping[int, Iterable[tuple[time, time]]],
    time_zone: str | ZoneInfo | None = None,
    closed_days: Iterable[date] = (),
    holiday_country: str | None = NATIONAL_HOLIDAY_COUNTRY,
    name: str = "",
) -> Calendar:
    """Build a calendar from (opens, closes) local times per weekday, Monday as 0.

    A closing time of 00:00 means midnight at the end of the day. Overlapping or
    touching intervals are merged. Times are read to the second. The time zone defaults
    to settings.TIME_ZONE. Raises CalendarError for an invalid weekday, interval,
    time zone or holiday country.
    """
    zone = _zone(settings.TIME_ZONE if time_zone is None else time_zone)
    if holiday_country is not None and holiday_country not in (
        holidays.list_supported_countries()
    ):
        raise CalendarError(
            _(
                "The holiday country “%(country)s” is not supported: use an ISO "
                "3166 code such as ID."
            )
            % {"country": holiday_country}
        )
    weekly: list[list[Interval]] = [[] for _weekday in range(7)]
    for weekday, intervals in hours.items():
        if weekday not in range(7):
            raise CalendarError(
                _(
                    "The weekday %(weekday)s is invalid: use 0 for Monday to 6 for "
                    "Sunday."
                )
                % {"weekday": weekday}
            )
        for opens, closes in intervals:
            weekly[weekday].append(_interval(opens, closes))
    return Calendar(
        time_zone=zone,
        weekly_hours=tuple(_merge(intervals) for intervals in weekly),
        closed_days=frozenset(closed_days),
        holiday_country=holiday_country,
        name=name,
    )


def default_calendar(closed_days: Iterable[date] = ()) -> Calendar:
    """Build the built-in default calendar: DEFAULT_HOURS in settings.TIME_ZONE."""
    return make_calendar(DEFAULT_HOURS, closed_days=closed_days)


def business_spans(
    start: datetime, calendar: Calendar, end: datetime | None = None
) -> Iterator[Span]:
    """Yield the UTC spans when calendar is open from start on, in order.

    The first span is clipped to start. Without end the spans go on for ever,
    and CalendarError is raised once the calendar has stayed closed for
    MAX_CLOSED_DAYS days in a row. With end, the spans are clipped to end and stop
    there.
    """
    _require_aware(start, "start")
    start = start.astimezone(UTC)
    if end is not None:
        _require_aware(end, "end")
        end = end.astimezone(UTC)
        if end <= start:
            return
    elif not any(calendar.weekly_hours):
        raise _never_opens(calendar)

    day = start.astimezone(calendar.time_zone).date()
    closed_run = 0
    while True:
        opened = False
        for span_start, span_end in calendar.day_spans(day):
            if span_end <= start:
                continue
            span_start = max(span_start, start)
            if end is not None:
                if span_start >= end:
                    return
                span_end = min(span_end, end)
            opened = True
            yield span_start, span_end
        if end is not None and _local_midnight_after(day, calendar) >= end:
            return
        if opened:
            closed_run = 0
        else:
            closed_run += 1
            if end is None and closed_run > MAX_CLOSED_DAYS:
                raise CalendarError(
                    _(
                        "The calendar “%(name)s” stays closed for over ten years "
                        "after %(date)s: remove holidays from it in the admin."
                    )
                    % {"name": _display_name(calendar), "date": start.date()}
                )
        day += timedelta(days=1)


def add_business_minutes(
    start: datetime, minutes: float, calendar: Calendar
) -> datetime:
    """Return the UTC moment minutes of business time after start.

    The clock starts at the next opening when start falls outside business hours.
    A result that lands on a closing time stays there rather than moving to the next
    opening, so a deadline can be 16:30 on a Friday. Zero minutes returns start when
    open and the next opening otherwise.
    """
    if minutes < 0:
        raise ValueError(
            _("The business minutes %(minutes)s are negative: pass zero or more.")
            % {"minutes": minutes}
        )
    remaining = timedelta(minutes=minutes)
    for span_start, span_end in business_spans(start, calendar):
        available = span_end - span_start
        if remaining <= available:
            return span_start + remaining
        remaining -= available
    raise AssertionError("business_spans without an end never stops")


def business_time_between(
    start: datetime, end: datetime, calendar: Calendar
) -> timedelta:
    """Return the business time between start and end, zero if end is not later."""
    total = timedelta()
    for span_start, span_end in business_spans(start, calendar, end):
        total += span_end - span_start
    return total


def business_minutes_between(
    start: datetime, end: datetime, calendar: Calendar
) -> float:
    """Return the business minutes between start and end, zero if end is not later.

    The fraction carries the seconds, so 90 business seconds return 1.5. For whole
    minutes m, business_minutes_between(s, add_business_minutes(s, m, c), c) == m.
    """
    return business_time_between(start, end, calendar).total_seconds() / 60


def is_open(moment: datetime, calendar: Calendar) -> bool:
    """Return whether calendar is open at moment."""
    _require_aware(moment, "moment")
    moment = moment.astimezone(UTC)
    day = moment.astimezone(calendar.time_zone).date()
    return any(start <= moment < end for start, end in calendar.day_spans(day))


def next_opening(moment: datetime, calendar: Calendar) -> datetime:
    """Return when business time next runs: moment itself while open, else in UTC.

    Raises CalendarError for a calendar that never opens.
    """
    for span_start, _span_end in business_spans(moment, calendar):
        return span_start
    raise AssertionError("business_spans without an end never stops")


def load_calendar(business_calendar: BusinessCalendar | None) -> Calendar:
    """Build the calendar of a BusinessCalendar row, or the default one for None.

    The default is the row marked as default, or the built-in DEFAULT_HOURS when
    there is none. Holidays added in the admin for every calendar always apply.
    Raises CalendarError when the row's hours or time zone are invalid.
    """
    if business_calendar is None:
        business_calendar = BusinessCalendar.objects.filter(is_default=True).first()
    if business_calendar is None:
        _warn_default_missing()
        return default_calendar(closed_days=_admin_holidays(None))

    hours: dict[int, list[tuple[time, time]]] = {}
    for row in business_calendar.hours.all():
        hours.setdefault(row.weekday, []).append((row.start, row.end))
    return make_calendar(
        hours,
        time_zone=business_calendar.time_zone,
        closed_days=_admin_holidays(business_calendar),
        holiday_country=(
            NATIONAL_HOLIDAY_COUNTRY if business_calendar.national_holidays else None
        ),
        name=business_calendar.name,
    )


# Calendars built for one request, by calendar id (None for the default). The
# entries go when the request object is garbage-collected.
_request_calendars: weakref.WeakKeyDictionary[
    HttpRequest, dict[int | None, Calendar]
] = weakref.WeakKeyDictionary()


def calendar_for_team(
    team: Team | None, request: HttpRequest | None = None
) -> Calendar:
    """Return the calendar of team, or the default for None or a team without one.

    With a request, each calendar is loaded from the database once for that request.
    """
    calendar_id = None if team is None else team.calendar_id
    if request is None:
        return _load_calendar_by_id(calendar_id)
    cached = _request_calendars.setdefault(request, {})
    if calendar_id not in cached:
        cached[calendar_id] = _load_calendar_by_id(calendar_id)
    return cached[calendar_id]


def _load_calendar_by_id(calendar_id: int | None) -> Calendar:
    if calendar_id is None:
        return load_calendar(None)
    business_calendar = BusinessCalendar.objects.filter(pk=calendar_id).first()
    return load_calendar(business_calendar)


def _admin_holidays(business_calendar: BusinessCalendar | None) -> list[date]:
    scope = Q(calendar__isnull=True)
    if business_calendar is not None:
        scope |= Q(calendar=business_calendar)
    return list(Holiday.objects.filter(scope).values_list("date", flat=True))


_default_missing_logged = False


def _warn_default_missing() -> None:
    global _default_missing_logged
    if not _default_missing_logged:
        _default_missing_logged = True
        logger.warning(
            "No business calendar is marked as default, so the built-in hours apply"
        )


def _zone(time_zone: str | ZoneInfo) -> ZoneInfo:
    if isinstance(time_zone, ZoneInfo):
        return time_zone
    try:
        return ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise CalendarError(
            _(
                "The time zone “%(time_zone)s” is not known: use an IANA time zone "
                "name such as Asia/Jakarta."
            )
            % {"time_zone": time_zone}
        ) from error


def _seconds(moment: time) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def _interval(opens: time, closes: time) -> Interval:
    start = _seconds(opens)
    end = _seconds(closes) or SECONDS_PER_DAY
    if end <= start:
        raise CalendarError(
            _(
                "The business hours from %(opens)s to %(closes)s close before they "
                "open: enter a closing time after the opening time, or 00:00 for "
                "midnight."
            )
            % {"opens": f"{opens:%H:%M}", "closes": f"{closes:%H:%M}"}
        )
    return start, end


def _merge(intervals: list[Interval]) -> tuple[Interval, ...]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def _local_midnight_after(day: date, calendar: Calendar) -> datetime:
    following = datetime.combine(day + timedelta(days=1), time.min)
    return following.replace(tzinfo=calendar.time_zone).astimezone(UTC)


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            _("The datetime %(name)s has no time zone: pass an aware datetime.")
            % {"name": name}
        )


def _never_opens(calendar: Calendar) -> CalendarError:
    return CalendarError(
        _(
            "The calendar “%(name)s” has no business hours: add opening hours to it "
            "in the admin."
        )
        % {"name": _display_name(calendar)}
    )


def _display_name(calendar: Calendar) -> str:
    return calendar.name or _("default")
