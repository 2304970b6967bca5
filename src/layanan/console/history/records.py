"""The values a generated history passes between its steps."""

import math
import random
from dataclasses import dataclass

from layanan.console.history.clock import BusinessClock
from layanan.console.history.words import COMMENTS_BY_RATING

RATING_WEIGHTS = (5, 7, 13, 30, 45)  # ratings 1 to 5


class Draws:
    """The seeded random draws of one generation run."""

    def __init__(self, seed: int) -> None:
        # Seeded on purpose: the same seed must give the same history.
        self.random = random.Random(seed)  # noqa: S311

    def lognormal(self, median: float, sigma: float, low: float, high: float) -> float:
        """Draw from a log-normal distribution, clipped to low and high."""
        value = median * math.exp(self.random.gauss(0.0, sigma))
        return min(max(value, low), high)

    def rating(self) -> tuple[int, str]:
        """Draw a rating from 1 to 5 and, for about a third, a comment."""
        rating = self.random.choices(range(1, 6), weights=RATING_WEIGHTS)[0]
        comment = ""
        if self.random.random() < 0.35:
            comment = self.random.choice(COMMENTS_BY_RATING[rating])
        return rating, comment


@dataclass(frozen=True)
class Agent:
    id: int
    name: str
    email: str


@dataclass(frozen=True)
class ServiceInfo:
    id: int
    code: str
    team_id: int
    first_response_minutes: int | None
    resolution_minutes: int | None
    wait_limit_seconds: int
    clock: BusinessClock
    agents: tuple[Agent, ...]


@dataclass(frozen=True)
class Person:
    id: int
    kind: str
    name: str
    email: str


@dataclass(frozen=True)
class ChatTicket:
    """A chat that an agent turned into a ticket, as the ticket needs it."""

    created: float
    conversation_id: int
    person: int
    service: int
    agent: Agent
    language: str
    topic: str


@dataclass(frozen=True)
class NewTicket:
    number: str
    created: float
    service: ServiceInfo
    person: Person
    source: str
    agent: Agent
    language: str
    topic: str
    conversation_id: int | None
