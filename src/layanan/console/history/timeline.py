"""The drawn moments of generated chats and tickets, from creation to rating."""

import math
from dataclasses import dataclass
from typing import Self

from django.conf import settings

from layanan.chat.models import ConversationStatus, EndedBy
from layanan.console.history.clock import BusinessClock
from layanan.console.history.records import Agent, Draws, NewTicket, ServiceInfo
from layanan.tickets.models import TicketStatus

# A generated delay never exceeds this many business minutes (about 30 working
# days), so every due moment falls inside the calendar index built for the run.
MAX_DELAY_MINUTES = 30 * 8 * 60
# Tickets that stall (waiting on another office, say) and stay open, so that the
# backlog has old tickets as well as the newest ones.
STALLED_SHARE = 0.03


@dataclass
class ChatTimeline:
    """The moments of one chat, clipped to the end of the history.

    ``ended`` is None for a chat still waiting or running when the history ends.
    """

    status: str
    last_activity: float
    agent: Agent | None = None
    accepted: float | None = None
    first_reply: float | None = None
    ended: float | None = None
    ended_by: str = ""
    rating: int | None = None
    rating_comment: str = ""
    transcript_sent: float | None = None

    @classmethod
    def draw(
        cls, draws: Draws, end: float, service: ServiceInfo, created: float
    ) -> Self:
        """Draw whether an agent accepts the chat (rarely out of hours) and when."""
        rng = draws.random
        accept_chance = 0.92 if service.clock.is_open(created) else 0.3
        if rng.random() < accept_chance:
            chat = cls._accepted(draws, service, created)
        elif rng.random() < 0.6:
            ended = float(created + service.wait_limit_seconds)
            chat = cls(ConversationStatus.ENDED, ended, ended=ended)
            chat.ended_by = EndedBy.WAIT_LIMIT
        else:
            ended = float(created + rng.randint(20, service.wait_limit_seconds))
            chat = cls(ConversationStatus.ENDED, ended, ended=ended)
            chat.ended_by = EndedBy.REQUESTER
        chat._clip(created, end)
        return chat

    @classmethod
    def _accepted(cls, draws: Draws, service: ServiceInfo, created: float) -> Self:
        rng = draws.random
        agent = rng.choice(service.agents)
        wait = draws.lognormal(40, 1.0, 2, service.wait_limit_seconds - 1)
        accepted = float(created + int(wait))
        first_reply = accepted + int(draws.lognormal(30, 0.8, 3, 900))
        last_activity = first_reply + int(draws.lognormal(480, 0.9, 30, 7200))
        ended_by: str = rng.choices(
            (EndedBy.AGENT, EndedBy.REQUESTER, EndedBy.IDLE), weights=(55, 40, 5)
        )[0]
        ended = last_activity
        if ended_by == EndedBy.IDLE:
            ended = last_activity + settings.CHAT_IDLE_MINUTES * 60
        chat = cls(ConversationStatus.ENDED, last_activity, agent, accepted)
        chat.first_reply = first_reply
        chat.ended = ended
        chat.ended_by = ended_by
        if rng.random() < 0.45:
            chat.rating, chat.rating_comment = draws.rating()
        if rng.random() < 0.2:
            chat.transcript_sent = ended + 5
        return chat

    def _clip(self, created: float, end: float) -> None:
        """Turn a chat that ends after the history into a waiting or active one."""
        if self.ended is not None and self.ended >= end:
            self.status = ConversationStatus.ACTIVE
            if self.accepted is None:
                self.status = ConversationStatus.WAITING
            self.ended = None
            self.ended_by = ""
            self.rating, self.rating_comment, self.transcript_sent = None, "", None
            self.last_activity = min(self.last_activity, end - 1)
        if self.first_reply is not None and self.first_reply >= end:
            self.first_reply = None
        if self.accepted is not None and self.accepted >= end:
            self.accepted = None
            self.agent = None
            self.status = ConversationStatus.WAITING


@dataclass
class TicketTimeline:
    """The moments and metrics of one ticket, clipped to the end of the history."""

    status: str
    updated: float
    first_response: float | None = None
    first_response_minutes: float | None = None
    resolved: float | None = None
    resolution_minutes: float | None = None
    closed: float | None = None
    first_response_due: float | None = None
    resolution_due: float | None = None
    pause: tuple[float, float | None] | None = None
    follow_up: float | None = None
    note: float | None = None
    reopened: float | None = None
    reopen_count: int = 0
    rating: int | None = None
    rating_comment: str = ""
    rated: float | None = None

    @classmethod
    def draw(cls, draws: Draws, end: float, new: NewTicket) -> Self:
        """Draw the ticket's delays: most meet their targets, a share breaches."""
        delays = _Delays.draw(draws, new)
        clock = new.service.clock
        created = new.created
        targets = new.service
        timeline = cls(status=TicketStatus.OPEN, updated=created)
        if delays.first_response >= end:
            timeline.first_response_due = _due(
                clock, created, targets.first_response_minutes
            )
            timeline.resolution_due = _due(clock, created, targets.resolution_minutes)
            return timeline
        timeline.first_response = delays.first_response
        timeline.first_response_minutes = clock.minutes_between(
            created, delays.first_response
        )
        timeline.updated = delays.first_response
        timeline.status = TicketStatus.IN_PROGRESS
        if draws.random.random() < 0.2:
            timeline.note = delays.first_response + draws.random.randint(60, 7200)
        if delays.pause is not None and delays.pause[0] < end:
            pause_start, pause_end = delays.pause
            if pause_end >= end:
                timeline.pause = (pause_start, None)
                timeline.status = TicketStatus.WAITING
                timeline.updated = pause_start
                return timeline
            timeline.pause = delays.pause
            timeline.follow_up = pause_end
        if delays.resolved >= end:
            timeline.resolution_due = _due(
                clock, created, targets.resolution_minutes, delays.paused_minutes
            )
            return timeline
        timeline._resolve(
            draws, end, clock, created, delays.resolved, delays.paused_minutes
        )
        return timeline

    def drop_after(self, end: float) -> None:
        """Forget the note, follow-up and reopening that would come after end."""
        if self.note is not None and self.note >= end:
            self.note = None
        if self.follow_up is not None and self.follow_up >= end:
            self.follow_up = None
        if self.reopened is not None and self.reopened >= end:
            self.reopened = None

    def _resolve(
        self,
        draws: Draws,
        end: float,
        clock: BusinessClock,
        created: float,
        resolved: float,
        paused_minutes: float,
    ) -> None:
        rng = draws.random
        self.resolved = resolved
        self.resolution_minutes = (
            clock.minutes_between(created, resolved) - paused_minutes
        )
        self.status = TicketStatus.RESOLVED
        self.updated = resolved
        if self.note is not None and self.note >= resolved:
            self.note = None
        if rng.random() < 0.06:
            # Reopened by the requester's reply once, then resolved again.
            self.reopen_count = 1
            first_resolution = created + (resolved - created) * 0.6
            self.reopened = first_resolution + 1
        closes = resolved + settings.AUTOCLOSE_DAYS * 86_400
        if closes < end:
            self.closed = closes
            self.status = TicketStatus.CLOSED
            self.updated = closes
        if rng.random() < 0.35:
            rated = resolved + rng.randint(3600, 259_200)
            if rated < end:
                self.rating, self.rating_comment = draws.rating()
                self.rated = rated
                self.updated = max(self.updated, rated)


@dataclass(frozen=True)
class _Delays:
    """The drawn moments of a ticket before they are clipped to the history's end."""

    first_response: float
    # When the ticket started and stopped waiting on the requester.
    pause: tuple[float, float] | None
    paused_minutes: float
    # math.inf for a ticket that stalls and is never resolved.
    resolved: float

    @classmethod
    def draw(cls, draws: Draws, new: NewTicket) -> "_Delays":
        rng = draws.random
        clock = new.service.clock
        created = new.created
        response_minutes = draws.lognormal(60, 1.1, 1, MAX_DELAY_MINUTES)
        work_minutes = draws.lognormal(600, 1.0, 10, MAX_DELAY_MINUTES)
        first_response = _whole(clock.add_minutes(created, response_minutes))
        pause = None
        paused_minutes = 0.0
        if rng.random() < 0.2:
            pause_start = first_response + rng.randint(60, 3600)
            pause_end = pause_start + int(draws.lognormal(86_400, 0.8, 3600, 864_000))
            pause = (pause_start, float(pause_end))
            paused_minutes = clock.minutes_between(pause_start, pause_end)
        total_minutes = response_minutes + work_minutes + paused_minutes
        resolved = _whole(clock.add_minutes(created, total_minutes))
        if pause is not None and resolved <= pause[1]:
            resolved = _whole(clock.add_minutes(pause[1], 5))
        if rng.random() < STALLED_SHARE:
            resolved = math.inf
        return cls(first_response, pause, paused_minutes, resolved)


def _due(
    clock: BusinessClock, start: float, target: int | None, paused: float = 0.0
) -> float | None:
    if target is None:
        return None
    return _whole(clock.add_minutes(start, target + paused))


def _whole(moment: float) -> float:
    """Round up to a whole second, as every generated moment is."""
    return float(math.ceil(moment))
