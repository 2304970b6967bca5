"""Service-level clocks of a ticket: when a target is due and how much of it is used.

The clock runs in business time (see layanan.catalog.calendars) and stops during
pauses, the intervals when the ticket waited on the requester. A pause is a pair
(paused at, resumed at). A pause whose end is None is still running, so the clock
is stopped until now and the due moment is unknown until the ticket resumes.

Pauses may overlap, come in any order, or begin before the clock starts: they are
merged and clipped to the clock's start. All returned datetimes are in UTC.
"""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.utils.translation import gettext as _

from layanan.catalog.calendars import Calendar, business_spans, business_time_between

Pause = tuple[datetime, datetime | None]


def due_at(
    opened_at: datetime,
    target_minutes: int | None,
    calendar: Calendar,
    pauses: Iterable[Pause] = (),
) -> datetime | None:
    """Return when target_minutes of unpaused business time after opened_at end.

    Returns None for no target (target_minutes None), and while a running pause
    stops the clock before the target is used up. A pause that starts after the due
    moment does not move it.
    """
    if target_minutes is None:
        return None
    if target_minutes < 0:
        raise ValueError(
            _("The target %(minutes)s minutes is negative: pass zero or more.")
            % {"minutes": target_minutes}
        )
    merged = _merge_pauses(pauses, opened_at)
    remaining = timedelta(minutes=target_minutes)
    index = 0
    for span_start, span_end in business_spans(opened_at, calendar):
        cursor = span_start
        while cursor < span_end:
            while index < len(merged) and _ended_by(merged[index], cursor):
                index += 1
            if index < len(merged) and merged[index][0] <= cursor:
                pause_end = merged[index][1]
                if pause_end is None:
                    return None
                cursor = min(pause_end, span_end)
                continue
            if index < len(merged) and merged[index][0] < span_end:
                running_end = merged[index][0]
            else:
                running_end = span_end
            available = running_end - cursor
            if remaining <= available:
                return cursor + remaining
            remaining -= available
            cursor = running_end
    raise AssertionError("business_spans without an end never stops")


def elapsed_business_minutes(
    start: datetime,
    now: datetime,
    calendar: Calendar,
    pauses: Iterable[Pause] = (),
) -> float:
    """Return the unpaused business minutes from start to now, seconds as fraction.

    A running pause counts as paused until now. Returns 0.0 when now is not after
    start.
    """
    elapsed = business_time_between(start, now, calendar)
    for pause_start, pause_end in _merge_pauses(pauses, start):
        if pause_start >= now:
            break
        paused_until = now if pause_end is None else min(pause_end, now)
        elapsed -= business_time_between(pause_start, paused_until, calendar)
    return max(elapsed, timedelta()).total_seconds() / 60


def percent_used(
    start: datetime,
    now: datetime,
    target_minutes: int | None,
    calendar: Calendar,
    pauses: Iterable[Pause] = (),
) -> float | None:
    """Return the elapsed business time as a percentage of target_minutes.

    The value passes 100 once the target is overdue. Returns None for no target,
    and 100.0 for a zero target, which is due as soon as the clock starts.
    """
    if target_minutes is None:
        return None
    if target_minutes < 0:
        raise ValueError(
            _("The target %(minutes)s minutes is negative: pass zero or more.")
            % {"minutes": target_minutes}
        )
    if target_minutes == 0:
        return 100.0
    elapsed = elapsed_business_minutes(start, now, calendar, pauses)
    return elapsed / target_minutes * 100


def _merge_pauses(pauses: Iterable[Pause], start: datetime) -> list[Pause]:
    """Return pauses in UTC, clipped to start, sorted and with overlaps merged.

    Raises ValueError for a naive datetime or a pause that ends before it starts.
    """
    _require_aware(start, "start")
    start = start.astimezone(UTC)
    normalised: list[Pause] = []
    for pause_start, pause_end in pauses:
        _require_aware(pause_start, "pause start")
        if pause_end is not None:
            _require_aware(pause_end, "pause end")
            if pause_end < pause_start:
                raise ValueError(
                    _(
                        "The pause from %(start)s ends at %(end)s, before it starts: "
                        "pass an end after the start."
                    )
                    % {"start": pause_start.isoformat(), "end": pause_end.isoformat()}
                )
            pause_end = pause_end.astimezone(UTC)
            if pause_end <= start:
                continue
        normalised.append((max(pause_start.astimezone(UTC), start), pause_end))

    normalised.sort(key=lambda pause: pause[0])
    merged: list[Pause] = []
    for pause_start, pause_end in normalised:
        if merged and not _ended_by(merged[-1], pause_start):
            previous_end = merged[-1][1]
            if previous_end is None or pause_end is None:
                merged[-1] = (merged[-1][0], None)
            else:
                merged[-1] = (merged[-1][0], max(previous_end, pause_end))
        else:
            merged.append((pause_start, pause_end))
    return merged


def _ended_by(pause: Pause, moment: datetime) -> bool:
    """Return whether pause ended at or before moment."""
    pause_end = pause[1]
    return pause_end is not None and pause_end <= moment


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            _("The %(name)s %(moment)s has no time zone: pass an aware datetime.")
            % {"name": name, "moment": moment.isoformat()}
        )
