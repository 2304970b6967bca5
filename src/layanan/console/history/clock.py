"""An index of a calendar's open spans for quick business-time sums."""

from bisect import bisect_left, bisect_right
from datetime import date, timedelta
from itertools import accumulate

from layanan.catalog.calendars import Calendar


class BusinessClock:
    """Business time of one calendar between two dates, indexed for quick sums.

    Moments are POSIX timestamps. The clock returns what
    calendars.business_minutes_between and add_business_minutes return, for
    moments inside the indexed days, in O(log n) instead of a walk over days.
    """

    def __init__(self, calendar: Calendar, first_day: date, last_day: date) -> None:
        starts: list[float] = []
        ends: list[float] = []
        day = first_day
        while day <= last_day:
            for span_start, span_end in calendar.day_spans(day):
                starts.append(span_start.timestamp())
                ends.append(span_end.timestamp())
            day += timedelta(days=1)
        if not starts:
            raise ValueError(
                f"The calendar “{calendar.name}” never opens between {first_day} and "
                f"{last_day}: give it business hours in the admin."
            )
        self.starts = starts
        self.ends = ends
        lengths = [end - start for start, end in zip(starts, ends, strict=True)]
        # Business seconds before each span starts, and once it ends.
        self.before = [0.0, *accumulate(lengths)][:-1]
        self.after = list(accumulate(lengths))

    def position(self, moment: float) -> float:
        """Return the business seconds from the first indexed opening to moment."""
        index = bisect_right(self.starts, moment) - 1
        if index < 0:
            return 0.0
        return self.before[index] + min(moment, self.ends[index]) - self.starts[index]

    def minutes_between(self, start: float, end: float) -> float:
        return max(self.position(end) - self.position(start), 0.0) / 60

    def add_minutes(self, start: float, minutes: float) -> float:
        """Return the moment ``minutes`` business minutes after start.

        Lands on a closing time rather than the next opening, as
        add_business_minutes does. Raises ValueError past the indexed days.
        """
        target = self.position(start) + minutes * 60
        index = bisect_left(self.after, target)
        if minutes <= 0:
            index = bisect_right(self.ends, start)
        if index >= len(self.starts):
            raise ValueError("The moment lies past the indexed business days.")
        return max(self.starts[index] + target - self.before[index], start)

    def is_open(self, moment: float) -> bool:
        index = bisect_right(self.starts, moment) - 1
        return index >= 0 and moment < self.ends[index]
