"""Order statistics and shares used by every dashboard tile."""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], percent: float) -> float | None:
    """Return the nearest-rank percentile of values, None when there are none.

    The p-th percentile is the smallest value that at least p percent of the values
    are less than or equal to: the value at rank ceil(p / 100 * n) in ascending
    order, counting ranks from 1. So the median of 1, 2, 3, 4 is 2.
    """
    if not values:
        return None
    if not 0 < percent <= 100:
        raise ValueError(
            f"The percentile {percent} is invalid: pass more than 0, up to 100."
        )
    ordered = sorted(values)
    rank = math.ceil(percent / 100 * len(ordered))
    return ordered[max(rank, 1) - 1]


@dataclass(frozen=True)
class Summary:
    """The count, median and 90th percentile of a list of durations."""

    count: int
    median: float | None
    p90: float | None


def summarise(values: Iterable[float]) -> Summary:
    collected = list(values)
    return Summary(
        count=len(collected),
        median=percentile(collected, 50),
        p90=percentile(collected, 90),
    )


def histogram_percentile(
    histogram: Mapping[float, int], total: int, percent: float
) -> float | None:
    """Return the nearest-rank percentile of values given as {value: count}.

    total is the sum of the counts. The result is the same as ``percentile`` on
    the values the histogram counts.
    """
    if total <= 0:
        return None
    rank = max(math.ceil(percent / 100 * total), 1)
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return None


def summarise_histogram(histogram: Mapping[float, int]) -> Summary:
    total = sum(histogram.values())
    return Summary(
        count=total,
        median=histogram_percentile(histogram, total, 50),
        p90=histogram_percentile(histogram, total, 90),
    )


def share(part: int, whole: int) -> float | None:
    """Return part / whole as a percentage, None when whole is zero."""
    if whole == 0:
        return None
    return part / whole * 100


@dataclass(frozen=True)
class Compliance:
    """How many tickets met one service-level target, of those measured."""

    met: int
    measured: int

    @property
    def percent(self) -> float | None:
        return share(self.met, self.measured)


@dataclass(frozen=True)
class RatingSummary:
    """Ratings from 1 to 5: how many, their mean and how many of each value."""

    count: int
    average: float | None
    distribution: tuple[int, int, int, int, int]


def summarise_ratings(ratings: Iterable[int]) -> RatingSummary:
    counts = [0, 0, 0, 0, 0]
    total = 0
    number = 0
    for rating in ratings:
        if not 1 <= rating <= 5:
            continue
        counts[rating - 1] += 1
        total += rating
        number += 1
    return RatingSummary(
        count=number,
        average=total / number if number else None,
        distribution=(counts[0], counts[1], counts[2], counts[3], counts[4]),
    )
