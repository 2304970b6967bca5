"""The steps of generate_history, from the catalogue to the ticket counters."""

import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from layanan.catalog.calendars import calendar_for_team
from layanan.catalog.models import Service, StudyProgramme, Team
from layanan.chat.models import Conversation
from layanan.console.history.clock import BusinessClock
from layanan.console.history.records import (
    Agent,
    ChatTicket,
    Draws,
    NewTicket,
    Person,
    ServiceInfo,
)
from layanan.console.history.rows import COLUMNS, DatabaseWriter, RowBuffers, RowWriter
from layanan.console.history.timeline import ChatTimeline, TicketTimeline
from layanan.console.history.words import (
    AGENT_REPLIES,
    FIRST_NAMES,
    FOLLOW_UPS,
    GENERIC_TOPICS,
    LAST_NAMES,
    MAIL_DOMAINS,
    NOTES,
    PROGRAMMES,
    REOPEN_BODY,
    REQUEST_BODIES,
    RESOLUTION_BODY,
    STAFF_DOMAIN,
    TOPICS,
)
from layanan.people.models import AgentProfile, Requester, RequesterEmail
from layanan.people.models import RequesterKind as Kind
from layanan.tickets.models import (
    EntryKind,
    EntrySource,
    Ticket,
    TicketCounter,
    TicketEntry,
    TicketPause,
    TicketPriority,
    TicketSource,
)

logger = logging.getLogger(__name__)

# Days of calendar index after the history ends, enough for MAX_DELAY_MINUTES.
INDEX_DAYS_AFTER_END = 90
AGENTS_PER_TEAM = 3
# Requesters come back: a department serves a few thousand people.
MAX_REQUESTERS = 30_000
CHAT_TICKET_SHARE = 0.4
SOURCE_WEIGHTS = {
    TicketSource.EMAIL: 0.55,
    TicketSource.OFFLINE: 0.3,
    TicketSource.AGENT: 0.15,
}
PRIORITY_WEIGHTS = {
    TicketPriority.LOW: 10,
    TicketPriority.NORMAL: 70,
    TicketPriority.HIGH: 15,
    TicketPriority.URGENT: 5,
}
# Relative traffic by local hour on a working day.
HOUR_WEIGHTS = (
    *(0.02,) * 6,
    0.1,
    0.6,
    1.6,
    2.0,
    2.0,
    1.8,
    1.0,
    1.7,
    1.6,
    1.3,
    0.6,
    0.35,
    0.3,
    0.35,
    0.35,
    0.25,
    0.12,
    0.05,
)
SATURDAY_FACTOR = 0.08
SUNDAY_FACTOR = 0.04
HOLIDAY_FACTOR = 0.1


@dataclass(frozen=True)
class HistoryOptions:
    """Counts, seed and period of a history to generate, which ends at ``end``."""

    tickets: int
    chats: int
    seed: int
    days: int = 365
    # Default: the start of today in settings.TIME_ZONE.
    end: datetime | None = None

    def end_moment(self) -> datetime:
        if self.end is not None:
            return self.end.astimezone(UTC)
        zone = ZoneInfo(settings.TIME_ZONE)
        today = datetime.now(zone).date()
        return datetime.combine(today, datetime.min.time(), tzinfo=zone).astimezone(UTC)


@dataclass
class HistoryReport:
    """Rows inserted per table and the seconds the generation took."""

    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    start: datetime | None = None
    end: datetime | None = None


@dataclass
class _Ids:
    """The next primary key per model, above every existing row."""

    next_ids: dict[type[models.Model], int]

    def take(self, model: type[models.Model]) -> int:
        value = self.next_ids[model]
        self.next_ids[model] = value + 1
        return value


class _Progress:
    """Print a line each time another tenth of the chats and tickets is done."""

    def __init__(self, total: int, output: Callable[[str], None]) -> None:
        self.total = max(total, 1)
        self.done = 0
        self.next_tenth = 1
        self.output = output
        self.started = time.monotonic()

    def advance(self, count: int = 1) -> None:
        self.done += count
        while self.next_tenth <= 10 and self.done * 10 >= self.total * self.next_tenth:
            elapsed = time.monotonic() - self.started
            self.output(
                f"{self.next_tenth * 10:3d}% ({self.done:,} of {self.total:,} chats "
                f"and tickets) after {elapsed:.1f} s"
            )
            self.next_tenth += 1


def generate_history(
    options: HistoryOptions,
    *,
    using: str = DEFAULT_DB_ALIAS,
    writer: RowWriter | None = None,
    output: Callable[[str], None] = lambda line: None,
) -> HistoryReport:
    """Insert a history of options.chats chats and options.tickets tickets.

    Creates agents (AGENTS_PER_TEAM per team without members) and the study
    programmes when missing, then the history rows inside one transaction.
    ``output`` receives a progress line every 10% and a last line with the time.
    Raises ValueError for negative counts or fewer than one day.

    NOTE: calendar_for_team reads the business calendars from the default
    database whatever ``using`` names, so another alias needs the same calendars.
    """
    if options.tickets < 0 or options.chats < 0:
        raise ValueError("The ticket and chat counts must be zero or more.")
    if options.days < 1:
        raise ValueError(f"The period is {options.days} days: use 1 or more.")
    started = time.monotonic()
    with transaction.atomic(using=using):
        generator = _Generator(options, using, writer or DatabaseWriter(using), output)
        report = generator.run()
    report.seconds = time.monotonic() - started
    output(
        f"Generated {options.chats:,} chats and {options.tickets:,} tickets in "
        f"{report.seconds:.1f} s."
    )
    logger.info(
        "History generated: seed=%s chats=%s tickets=%s seconds=%.1f",
        options.seed,
        options.chats,
        options.tickets,
        report.seconds,
    )
    return report


class _Generator:
    """One run of generate_history. Call ``run`` once."""

    def __init__(
        self,
        options: HistoryOptions,
        using: str,
        writer: RowWriter,
        output: Callable[[str], None],
    ) -> None:
        self.options = options
        self.using = using
        self.buffers = RowBuffers(writer)
        # Ticket counters and the links from chats to tickets are only updated
        # in a database that received the rows.
        self.writes_database = isinstance(writer, DatabaseWriter)
        self.output = output
        self.draws = Draws(options.seed)
        self.random = self.draws.random
        self.end = options.end_moment()
        self.start = self.end - timedelta(days=options.days)
        self.end_ts = self.end.timestamp()
        self.zone = ZoneInfo(settings.TIME_ZONE)
        self.progress = _Progress(options.tickets + options.chats, output)

    def run(self) -> HistoryReport:
        self.services = self._load_services()
        self.programme_ids = self._ensure_programmes()
        self.ids = _Ids({model: self._next_id(model) for model in COLUMNS})
        self.people = self._make_requesters()
        chat_tickets = self._make_conversations()
        self._make_tickets(chat_tickets)
        self.buffers.flush()
        self._link_conversations_to_tickets()
        return HistoryReport(
            rows=dict(self.buffers.counts), start=self.start, end=self.end
        )

    # Setup

    def _load_services(self) -> list[tuple[ServiceInfo, float]]:
        """Return every active service with its weight, its clock and its agents."""
        first_day = (self.start - timedelta(days=2)).astimezone(self.zone).date()
        last_day = self.end.astimezone(self.zone).date() + timedelta(
            days=INDEX_DAYS_AFTER_END
        )
        clocks: dict[int | None, BusinessClock] = {}
        agents: dict[int, tuple[Agent, ...]] = {}
        services = []
        queryset = Service.objects.using(self.using).active().select_related("team")
        for position, service in enumerate(queryset, start=1):
            team = service.team
            if team.calendar_id not in clocks:
                calendar = calendar_for_team(team)
                clocks[team.calendar_id] = BusinessClock(calendar, first_day, last_day)
            if team.pk not in agents:
                agents[team.pk] = self._ensure_agents(team)
            info = ServiceInfo(
                id=service.pk,
                code=service.code,
                team_id=team.pk,
                first_response_minutes=service.first_response_minutes,
                resolution_minutes=service.resolution_minutes,
                wait_limit_seconds=team.chat_wait_limit_minutes * 60,
                clock=clocks[team.calendar_id],
                agents=agents[team.pk],
            )
            # Services listed first get more requests, as in the real catalogue.
            services.append((info, 1 / math.sqrt(position)))
        if not services:
            raise ValueError(
                "There is no active service: run `layanan migrate` to load the "
                "catalogue, or activate a service in the admin."
            )
        return services

    def _ensure_agents(self, team: Team) -> tuple[Agent, ...]:
        """Return the team's members, creating AGENTS_PER_TEAM when it has none."""
        members = list(User.objects.using(self.using).filter(teams=team).order_by("id"))
        if not members:
            members = [
                self._create_agent(team, number)
                for number in range(1, AGENTS_PER_TEAM + 1)
            ]
        return tuple(
            Agent(
                id=member.pk,
                name=member.get_full_name() or member.get_username(),
                email=member.email,
            )
            for member in members
        )

    def _create_agent(self, team: Team, number: int) -> User:
        first_name = FIRST_NAMES[(team.pk * 7 + number * 3) % len(FIRST_NAMES)]
        last_name = LAST_NAMES[(team.pk * 5 + number) % len(LAST_NAMES)]
        username = f"demo-agent-{team.pk}-{number}"
        user = User(
            username=username,
            first_name=first_name,
            last_name=last_name,
            email=f"{username}@jurusan.example",
            # An unusable password: generated agents cannot log in.
            password=make_password(None),
        )
        user.save(using=self.using)
        AgentProfile.objects.using(self.using).create(user=user)
        team.members.add(user)
        return user

    def _ensure_programmes(self) -> list[int]:
        existing = StudyProgramme.objects.using(self.using).filter(active=True)
        if not existing.exists():
            for order, name in enumerate(PROGRAMMES, start=1):
                StudyProgramme.objects.using(self.using).get_or_create(
                    name=name, defaults={"order": order}
                )
        return list(
            StudyProgramme.objects.using(self.using)
            .filter(active=True)
            .order_by("order", "id")
            .values_list("id", flat=True)
        )

    def _next_id(self, model: type[models.Model]) -> int:
        highest = model._default_manager.using(self.using).aggregate(models.Max("id"))
        return int(highest["id__max"] or 0) + 1

    # Requesters

    def _make_requesters(self) -> list[Person]:
        count = min(
            max((self.options.tickets + self.options.chats) // 4, 10), MAX_REQUESTERS
        )
        used_identifiers = {
            identifier
            for identifier in Requester.objects.using(self.using).values_list(
                "identifier", flat=True
            )
            if identifier is not None
        }
        created = self.start - timedelta(days=1)
        people = []
        for _index in range(count):
            person = self._make_person()
            people.append(person)
            identifier, programme = self._identity(person.kind, used_identifiers)
            self.buffers.add(
                Requester,
                (
                    person.id, identifier, person.kind, person.name, programme,
                    person.email, created, created,
                ),
            )  # fmt: skip
            self.buffers.add(
                RequesterEmail,
                (self.ids.take(RequesterEmail), person.id, person.email, created,
                 created),
            )  # fmt: skip
        return people

    def _make_person(self) -> Person:
        draw = self.random.random()
        kind = Kind.UNKNOWN
        if draw < 0.78:
            kind = Kind.STUDENT
        elif draw < 0.95:
            kind = Kind.STAFF
        first = self.random.choice(FIRST_NAMES)
        last = self.random.choice(LAST_NAMES)
        person_id = self.ids.take(Requester)
        local_part = f"{first}.{last}{person_id}".lower()
        domain = (
            STAFF_DOMAIN if kind == Kind.STAFF else self.random.choice(MAIL_DOMAINS)
        )
        return Person(person_id, kind, f"{first} {last}", f"{local_part}@{domain}")

    def _identity(
        self, kind: str, used_identifiers: set[str]
    ) -> tuple[str | None, int | None]:
        """Return a fresh NPM or NIP and a study programme for a requester kind."""
        if kind == Kind.UNKNOWN:
            return None, None
        while True:
            if kind == Kind.STUDENT:
                year = self.random.randint(18, 25)
                programme = self.random.choice(self.programme_ids)
                serial = self.random.randint(1, 99_999)
                identifier = f"{year:02d}{programme % 1000:03d}{serial:05d}"
            else:
                programme = None
                born = date(1965, 1, 1) + timedelta(days=self.random.randint(0, 11_000))
                hired_year = born.year + self.random.randint(23, 35)
                identifier = (
                    f"{born:%Y%m%d}{hired_year}{self.random.randint(1, 12):02d}"
                    f"{self.random.randint(1, 2)}{self.random.randint(1, 999):03d}"
                )
            if identifier not in used_identifiers:
                used_identifiers.add(identifier)
                return identifier, programme

    # Times

    def _sample_moments(self, count: int) -> list[float]:
        """Return count sorted timestamps in the period, with office-hour peaks."""
        slots: list[float] = []
        weights: list[float] = []
        day = self.start.astimezone(self.zone).date()
        last_day = (self.end - timedelta(microseconds=1)).astimezone(self.zone).date()
        holiday_calendar = calendar_for_team(None)
        while day <= last_day:
            factor = (1.0, 1.0, 1.0, 1.0, 1.0, SATURDAY_FACTOR, SUNDAY_FACTOR)[
                day.weekday()
            ]
            if day.weekday() < 5 and holiday_calendar.is_closed_day(day):
                factor = HOLIDAY_FACTOR
            for hour, weight in enumerate(HOUR_WEIGHTS):
                slot = datetime(day.year, day.month, day.day, hour, tzinfo=self.zone)
                slots.append(slot.timestamp())
                weights.append(weight * factor)
            day += timedelta(days=1)
        start_ts = self.start.timestamp()
        chosen = self.random.choices(
            slots, cum_weights=list(accumulate(weights)), k=count
        )
        moments: list[float] = []
        for slot_start in chosen:
            moment = float(int(slot_start + self.random.random() * 3600))
            moments.append(min(max(moment, start_ts), self.end_ts - 1))
        moments.sort()
        return moments

    def _pick_service(self) -> ServiceInfo:
        return self.random.choices(
            [service for service, _weight in self.services],
            weights=[weight for _service, weight in self.services],
        )[0]

    def _topic(self, service: ServiceInfo) -> str:
        return self.random.choice(TOPICS.get(service.code, GENERIC_TOPICS))

    # Conversations

    def _make_conversations(self) -> list[ChatTicket]:
        """Write the chats and return those that became tickets, oldest first."""
        target_count = round(self.options.tickets * CHAT_TICKET_SHARE)
        # About 80% of chats are accepted, and the share is tuned so that the
        # accepted chats give about target_count tickets.
        share = min(target_count / max(self.options.chats * 0.8, 1), 1.0)
        chat_tickets: list[ChatTicket] = []
        for created in self._sample_moments(self.options.chats):
            chat_ticket = self._make_conversation(created, share)
            if chat_ticket is not None and len(chat_tickets) < target_count:
                chat_tickets.append(chat_ticket)
            self.progress.advance()
        return chat_tickets

    def _make_conversation(
        self, created: float, ticket_share: float
    ) -> ChatTicket | None:
        """Write one chat, and return it as a ChatTicket when it becomes a ticket."""
        service = self._pick_service()
        person = self.people[self.random.randrange(len(self.people))]
        topic = self._topic(service)
        language = "en" if self.random.random() < 0.05 else "id"
        chat = ChatTimeline.draw(self.draws, self.end_ts, service, created)
        becomes_ticket = chat.accepted is not None and chat.ended is not None
        becomes_ticket = becomes_ticket and self.random.random() < ticket_share
        conversation_id = self.ids.take(Conversation)
        moment = _moment
        self.buffers.add(
            Conversation,
            (
                conversation_id,
                uuid.UUID(int=self.random.getrandbits(128), version=4),
                f"{self.random.getrandbits(256):064x}",
                person.id, person.name, person.email, service.id, service.team_id,
                topic, language, chat.status,
                chat.agent.id if chat.agent else None, moment(created),
                moment(chat.accepted), moment(chat.first_reply),
                moment(chat.last_activity), moment(chat.ended), chat.ended_by,
                chat.rating, chat.rating_comment, moment(chat.transcript_sent),
            ),
        )  # fmt: skip
        if not becomes_ticket or chat.agent is None or chat.ended is None:
            return None
        return ChatTicket(
            created=chat.ended,
            conversation_id=conversation_id,
            person=person.id,
            service=service.id,
            agent=chat.agent,
            language=language,
            topic=topic,
        )

    # Tickets

    def _make_tickets(self, chat_tickets: list[ChatTicket]) -> None:
        """Write the tickets, chat tickets among them, numbered in creation order."""
        plan = self._ticket_plan(chat_tickets)
        serials: dict[int, int] = {}
        people_by_id = {person.id: person for person in self.people}
        services_by_id = {service.id: service for service, _weight in self.services}
        sources = list(SOURCE_WEIGHTS)
        source_weights = list(SOURCE_WEIGHTS.values())
        for created, chat in plan:
            year = datetime.fromtimestamp(created, self.zone).year
            if year not in serials:
                serials[year] = self._last_serial(year)
            serials[year] += 1
            number = f"{settings.TICKET_PREFIX}-{year}-{serials[year]:06d}"
            if chat is None:
                service = self._pick_service()
                person = self.people[self.random.randrange(len(self.people))]
                source = self.random.choices(sources, weights=source_weights)[0]
                self._make_ticket(
                    NewTicket(
                        number=number, created=created, service=service,
                        person=person, source=source,
                        agent=self.random.choice(service.agents),
                        language="en" if self.random.random() < 0.05 else "id",
                        topic=self._topic(service), conversation_id=None,
                    )
                )  # fmt: skip
            else:
                self._make_ticket(
                    NewTicket(
                        number=number, created=created,
                        service=services_by_id[chat.service],
                        person=people_by_id[chat.person], source=TicketSource.CHAT,
                        agent=chat.agent, language=chat.language, topic=chat.topic,
                        conversation_id=chat.conversation_id,
                    )
                )  # fmt: skip
            self.progress.advance()
        # A ticket that would start after the end is not made, so count it too.
        self.progress.advance(self.options.tickets - len(plan))
        self.buffers.flush()
        if self.writes_database:
            self._advance_counters(serials)

    def _advance_counters(self, serials: dict[int, int]) -> None:
        """Move each year's TicketCounter past the serials handed out here."""
        for year, serial in serials.items():
            counter, _created = TicketCounter.objects.using(self.using).get_or_create(
                year=year
            )
            if counter.last_serial < serial:
                counter.last_serial = serial
                counter.save(using=self.using, update_fields=["last_serial"])

    def _ticket_plan(
        self, chat_tickets: list[ChatTicket]
    ) -> list[tuple[float, ChatTicket | None]]:
        """Return when each ticket is created, oldest first, with its chat if any."""
        other_count = self.options.tickets - len(chat_tickets)
        plan: list[tuple[float, ChatTicket | None]] = [
            (moment, None) for moment in self._sample_moments(other_count)
        ]
        plan.extend(
            (chat.created, chat) for chat in chat_tickets if chat.created < self.end_ts
        )
        plan.sort(key=lambda item: (item[0], item[1] is not None))
        return plan

    def _last_serial(self, year: int) -> int:
        counter = TicketCounter.objects.using(self.using).filter(year=year).first()
        return counter.last_serial if counter else 0

    def _make_ticket(self, new: NewTicket) -> None:
        timeline = TicketTimeline.draw(self.draws, self.end_ts, new)
        timeline.drop_after(self.end_ts)
        ticket_id = self.ids.take(Ticket)
        self._add_entries(ticket_id, new, timeline)
        if timeline.pause is not None:
            pause_start, pause_end = timeline.pause
            self.buffers.add(
                TicketPause,
                (
                    self.ids.take(TicketPause),
                    ticket_id,
                    _moment(pause_start),
                    _moment(pause_end),
                ),
            )
        moment = _moment
        self.buffers.add(
            Ticket,
            (
                ticket_id, new.number, self._token(), new.topic, new.person.id,
                new.person.email, new.language, new.service.id, new.service.team_id,
                new.agent.id if timeline.first_response else None, timeline.status,
                self.random.choices(
                    list(PRIORITY_WEIGHTS), weights=list(PRIORITY_WEIGHTS.values())
                )[0],
                new.source, new.conversation_id, moment(new.created),
                moment(timeline.updated), moment(timeline.first_response),
                moment(timeline.resolved), moment(timeline.closed),
                moment(timeline.first_response_due), moment(timeline.resolution_due),
                timeline.first_response_minutes, timeline.resolution_minutes,
                timeline.reopen_count, timeline.rating, timeline.rating_comment,
                moment(timeline.rated),
            ),
        )  # fmt: skip

    def _token(self) -> str:
        return f"{self.random.getrandbits(144):036x}"[:24]

    def _add_entries(
        self, ticket_id: int, new: NewTicket, timeline: TicketTimeline
    ) -> None:
        person = new.person
        agent = new.agent
        opening_source = {
            TicketSource.CHAT.value: EntrySource.CHAT.value,
            TicketSource.EMAIL.value: EntrySource.EMAIL.value,
        }.get(new.source, EntrySource.CONSOLE.value)
        entries: list[tuple[float, str, int | None, str, str, str, str]] = [
            (new.created, EntryKind.PUBLIC, None, person.name, person.email,
             opening_source, self.random.choice(REQUEST_BODIES)),
        ]  # fmt: skip
        if timeline.first_response is not None:
            entries.append(
                (timeline.first_response, EntryKind.PUBLIC, agent.id, agent.name,
                 agent.email, EntrySource.CONSOLE, self.random.choice(AGENT_REPLIES))
            )  # fmt: skip
        if timeline.follow_up is not None:
            entries.append(
                (timeline.follow_up, EntryKind.PUBLIC, None, person.name,
                 person.email, EntrySource.EMAIL, self.random.choice(FOLLOW_UPS))
            )  # fmt: skip
        if timeline.note is not None:
            entries.append(
                (timeline.note, EntryKind.NOTE, agent.id, agent.name, agent.email,
                 EntrySource.CONSOLE, self.random.choice(NOTES))
            )  # fmt: skip
        if timeline.reopened is not None:
            entries.append(
                (timeline.reopened, EntryKind.SYSTEM, None, "Layanan", "",
                 EntrySource.SYSTEM, REOPEN_BODY)
            )  # fmt: skip
        if timeline.resolved is not None:
            entries.append(
                (timeline.resolved, EntryKind.SYSTEM, agent.id, agent.name, "",
                 EntrySource.SYSTEM, RESOLUTION_BODY)
            )  # fmt: skip
        entries.sort(key=lambda entry: entry[0])
        for created, kind, author, name, email, source, body in entries:
            self.buffers.add(
                TicketEntry,
                (self.ids.take(TicketEntry), ticket_id, kind, author, name, email,
                 source, body, _moment(created)),
            )  # fmt: skip

    def _link_conversations_to_tickets(self) -> None:
        """Copy each chat ticket's number to its conversation, in one statement."""
        if not self.writes_database:
            return
        connection = connections[self.using]
        quote = connection.ops.quote_name
        conversation_table = quote(Conversation._meta.db_table)
        ticket_table = quote(Ticket._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {conversation_table} SET ticket_number = ("  # noqa: S608
                f"SELECT number FROM {ticket_table} WHERE "
                f"{ticket_table}.conversation_id = {conversation_table}.id) "
                f"WHERE ticket_number = '' AND id IN (SELECT conversation_id FROM "
                f"{ticket_table} WHERE conversation_id IS NOT NULL)"
            )
        if connection.vendor == "postgresql":
            self._reset_sequences(connection)

    def _reset_sequences(self, connection: BaseDatabaseWrapper) -> None:
        """Move PostgreSQL's id sequences past the ids chosen here."""
        from django.core.management.color import no_style

        statements = connection.ops.sequence_reset_sql(no_style(), list(COLUMNS))
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)


def _moment(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)
