"""The ticket list's filters, full-text search and sort order.

``parse_query`` reads the list's GET parameters. A value it cannot use becomes a
message for the page, and that filter is left out, so a bad link still shows a
list. ``filter_tickets`` applies the rest to a queryset that the caller has
already limited to what the user may read.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

from django.contrib.auth.models import User
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connections
from django.db.models import (
    Case,
    DateTimeField,
    F,
    IntegerField,
    OrderBy,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Least, NullIf
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from layanan.catalog.models import Service, Team
from layanan.people.models import RequesterKind
from layanan.tickets.models import (
    Tag,
    Ticket,
    TicketEntry,
    TicketPriority,
    TicketStatus,
)

MAX_SEARCH_LENGTH = 200
# Least() returns NULL on SQLite as soon as one argument is NULL, so inside it this
# moment replaces a missing due moment.
NO_DUE_MOMENT = datetime(9999, 12, 31, tzinfo=UTC)

AGE_CHOICES = [
    ("today", gettext_lazy("Created today")),
    ("1d", gettext_lazy("Older than 1 day")),
    ("3d", gettext_lazy("Older than 3 days")),
    ("7d", gettext_lazy("Older than 7 days")),
]
AGE_DAYS = {"1d": 1, "3d": 3, "7d": 7}
OVERDUE_CHOICES = [
    ("any", gettext_lazy("Any target overdue")),
    ("first_response", gettext_lazy("First response overdue")),
    ("update", gettext_lazy("Update overdue")),
    ("resolution", gettext_lazy("Resolution overdue")),
]
DUE_FIELDS = {
    "first_response": "first_response_due_at",
    "update": "update_due_at",
    "resolution": "resolution_due_at",
}
SORT_CHOICES = [
    ("created", gettext_lazy("Created")),
    ("updated", gettext_lazy("Updated")),
    ("priority", gettext_lazy("Priority")),
    ("due", gettext_lazy("Next due")),
    ("number", gettext_lazy("Number")),
]
DIRECTION_CHOICES = [
    ("desc", gettext_lazy("Descending")),
    ("asc", gettext_lazy("Ascending")),
]
Record = TypeVar("Record", Team, User, Service)

PRIORITY_RANK = {
    TicketPriority.LOW: 0,
    TicketPriority.NORMAL: 1,
    TicketPriority.HIGH: 2,
    TicketPriority.URGENT: 3,
}


@dataclass
class TicketQuery:
    """The list's filters, search text and sort order, each checked."""

    status: str = ""
    team: Team | None = None
    # "mine", "nobody", an agent's id as text, or "" for anyone.
    assignee: str = ""
    assignee_user: User | None = None
    service: Service | None = None
    priority: str = ""
    tag: str = ""
    requester_kind: str = ""
    age: str = ""
    overdue: str = ""
    text: str = ""
    # Local dates in settings.TIME_ZONE, both inclusive, on the creation time.
    date_from: date | None = None
    date_to: date | None = None
    sort: str = "created"
    direction: str = "desc"
    errors: list[str] = field(default_factory=list)

    @property
    def date_range_label(self) -> str:
        """Active creation-date range as page text, "" when there is none."""
        if self.date_from and self.date_to:
            return _("Created from %(start)s to %(end)s") % {
                "start": self.date_from.isoformat(),
                "end": self.date_to.isoformat(),
            }
        if self.date_from:
            return _("Created on or after %(start)s") % {
                "start": self.date_from.isoformat()
            }
        if self.date_to:
            return _("Created on or before %(end)s") % {"end": self.date_to.isoformat()}
        return ""

    def as_params(self) -> list[tuple[str, str]]:
        """Return the query's parameters with a value, to rebuild its URL."""
        pairs = [
            ("q", self.text),
            ("status", self.status),
            ("team", str(self.team.pk) if self.team else ""),
            ("assignee", self.assignee),
            ("service", str(self.service.pk) if self.service else ""),
            ("priority", self.priority),
            ("tag", self.tag),
            ("kind", self.requester_kind),
            ("age", self.age),
            ("overdue", self.overdue),
            ("date_from", self.date_from.isoformat() if self.date_from else ""),
            ("date_to", self.date_to.isoformat() if self.date_to else ""),
            ("sort", "" if self.sort == "created" else self.sort),
            ("direction", "" if self.direction == "desc" else self.direction),
        ]
        return [(key, value) for key, value in pairs if value]


@dataclass(frozen=True)
class ListChoices:
    """The filter form's options, limited to what the user may read."""

    teams: list[Team]
    agents: list[User]
    services: list[Service]
    tags: list[Tag]


def list_choices(team_ids: frozenset[int] | None) -> ListChoices:
    """Return the teams, agents, services and tags the filter form lists.

    ``team_ids`` are the teams the user may read, None for every team.
    """
    teams = (
        Team.objects.all() if team_ids is None else Team.objects.filter(pk__in=team_ids)
    )
    agents = (
        User.objects.filter(teams__in=teams, is_active=True)
        .distinct()
        .order_by("first_name", "last_name", "username")
    )
    return ListChoices(
        teams=list(teams.order_by("name")),
        agents=list(agents),
        services=list(Service.objects.order_by("name_id")),
        tags=list(Tag.objects.all()),
    )


def parse_query(params: Mapping[str, str], choices: ListChoices) -> TicketQuery:
    """Read the list's GET parameters. Unusable values become messages."""
    query = TicketQuery()
    parse_simple_filters(params, query)
    parse_record_filters(params, query, choices)
    parse_date_range(params, query)
    parse_order(params, query)
    text = " ".join(params.get("q", "").split())
    if len(text) > MAX_SEARCH_LENGTH:
        query.errors.append(
            _(
                "The search text is %(length)d characters long, more than the "
                "%(max)d allowed. Shorten it."
            )
            % {"length": len(text), "max": MAX_SEARCH_LENGTH}
        )
    else:
        query.text = text
    return query


def parse_simple_filters(params: Mapping[str, str], query: TicketQuery) -> None:
    """Read the filters whose values come from a fixed list."""
    fixed = [
        ("status", TicketStatus.values, _("Status")),
        ("priority", TicketPriority.values, _("Priority")),
        ("kind", RequesterKind.values, _("Requester")),
        ("age", [value for value, _label in AGE_CHOICES], _("Age")),
        ("overdue", [value for value, _label in OVERDUE_CHOICES], _("Overdue")),
    ]
    for key, allowed, label in fixed:
        value = params.get(key, "")
        if value and value not in allowed:
            query.errors.append(unknown_choice(label, value))
            value = ""
        setattr(query, "requester_kind" if key == "kind" else key, value)


def parse_record_filters(
    params: Mapping[str, str], query: TicketQuery, choices: ListChoices
) -> None:
    """Read the filters that name a team, an agent, a service or a tag."""
    team_value = params.get("team", "")
    if team_value:
        query.team = find_by_pk(choices.teams, team_value)
        if query.team is None:
            query.errors.append(unknown_choice(_("Team"), team_value))
    service_value = params.get("service", "")
    if service_value:
        query.service = find_by_pk(choices.services, service_value)
        if query.service is None:
            query.errors.append(unknown_choice(_("Service"), service_value))
    assignee = params.get("assignee", "")
    if assignee in ("mine", "nobody"):
        query.assignee = assignee
    elif assignee:
        query.assignee_user = find_by_pk(choices.agents, assignee)
        if query.assignee_user is None:
            query.errors.append(unknown_choice(_("Assignee"), assignee))
        else:
            query.assignee = assignee
    tag = " ".join(params.get("tag", "").split()).lower()
    if tag and tag not in {item.name for item in choices.tags}:
        query.errors.append(
            _("No ticket has the tag “%(tag)s”. In “Tag”, choose a listed tag.")
            % {"tag": tag}
        )
    elif tag:
        query.tag = tag


def parse_date_range(params: Mapping[str, str], query: TicketQuery) -> None:
    """Read date_from and date_to, dropping both if they are in the wrong order."""
    query.date_from = parse_local_date(params, "date_from", _("Created from"), query)
    query.date_to = parse_local_date(params, "date_to", _("Created to"), query)
    if query.date_from and query.date_to and query.date_from > query.date_to:
        query.errors.append(
            _(
                "“Created from” (%(start)s) is after “Created to” (%(end)s), so the "
                "date range is left out. Enter a start date on or before the end "
                "date."
            )
            % {"start": query.date_from.isoformat(), "end": query.date_to.isoformat()}
        )
        query.date_from = query.date_to = None


def parse_local_date(
    params: Mapping[str, str], key: str, label: str, query: TicketQuery
) -> date | None:
    value = params.get(key, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        query.errors.append(
            _(
                "“%(value)s” in “%(field)s” is not a valid date, so that filter is "
                "left out. Enter the date as YYYY-MM-DD, for example 2026-12-01."
            )
            % {"value": value[:60], "field": label}
        )
        return None


def local_midnight(day: date) -> datetime:
    """Return the start of a local day in settings.TIME_ZONE."""
    return datetime.combine(day, time.min, tzinfo=timezone.get_default_timezone())


def date_range_condition(query: TicketQuery) -> Q:
    condition = Q()
    if query.date_from is not None:
        condition &= Q(created__gte=local_midnight(query.date_from))
    if query.date_to is not None:
        condition &= Q(created__lt=local_midnight(query.date_to + timedelta(days=1)))
    return condition


def parse_order(params: Mapping[str, str], query: TicketQuery) -> None:
    sort = params.get("sort", "") or "created"
    if sort in {value for value, _label in SORT_CHOICES}:
        query.sort = sort
    else:
        query.errors.append(unknown_choice(_("Sort by"), sort))
    direction = params.get("direction", "") or "desc"
    if direction in ("asc", "desc"):
        query.direction = direction
    else:
        query.errors.append(unknown_choice(_("Order"), direction))


def unknown_choice(label: str, value: str) -> str:
    return _(
        "“%(value)s” is not a valid choice for “%(field)s”, so that filter is "
        "left out. Choose one of the listed options."
    ) % {"value": value[:60], "field": label}


def find_by_pk(records: list[Record], value: str) -> Record | None:
    if not value.isdigit():
        return None
    return next((record for record in records if record.pk == int(value)), None)


def filter_tickets(
    queryset: QuerySet[Ticket], query: TicketQuery, *, user: User, now: datetime
) -> QuerySet[Ticket]:
    """Apply the query's filters, search text and sort order to ``queryset``."""
    conditions = Q()
    if query.status:
        conditions &= Q(status=query.status)
    if query.team is not None:
        conditions &= Q(team=query.team)
    if query.service is not None:
        conditions &= Q(service=query.service)
    if query.priority:
        conditions &= Q(priority=query.priority)
    if query.requester_kind:
        conditions &= Q(requester__kind=query.requester_kind)
    if query.tag:
        conditions &= Q(pk__in=Ticket.objects.filter(tags__name=query.tag).values("pk"))
    conditions &= assignee_condition(query, user)
    conditions &= age_condition(query.age, now)
    conditions &= overdue_condition(query.overdue, now)
    conditions &= date_range_condition(query)
    if query.text:
        conditions &= search_condition(query.text, connections[queryset.db].vendor)
    return order_tickets(queryset.filter(conditions), query.sort, query.direction)


def assignee_condition(query: TicketQuery, user: User) -> Q:
    if query.assignee == "mine":
        return Q(assignee=user)
    if query.assignee == "nobody":
        return Q(assignee__isnull=True)
    if query.assignee_user is not None:
        return Q(assignee=query.assignee_user)
    return Q()


def age_condition(age: str, now: datetime) -> Q:
    """Return the condition on ``created``. "today" starts at local midnight."""
    if age == "today":
        local_now = timezone.localtime(now)
        midnight = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
        return Q(created__gte=midnight)
    if age in AGE_DAYS:
        return Q(created__lt=now - timedelta(days=AGE_DAYS[age]))
    return Q()


def overdue_condition(overdue: str, now: datetime) -> Q:
    """Return the condition that a stored due moment has passed."""
    if overdue == "any":
        condition = Q()
        for name in DUE_FIELDS.values():
            condition |= Q(**{f"{name}__lt": now})
        return condition
    if overdue in DUE_FIELDS:
        return Q(**{f"{DUE_FIELDS[overdue]}__lt": now})
    return Q()


def search_condition(text: str, vendor: str) -> Q:
    """Return the condition that the ticket matches the search text.

    It looks at the number, the requester's name, NPM/NIP and email, the
    subject and every entry's text, internal notes included. On PostgreSQL the
    subject, the name and the entries are matched as words with the 'simple'
    configuration (no stemming, so Indonesian and English are treated alike).
    Elsewhere, and for numbers and addresses, a substring match is used.
    """
    # An NPM is often typed in groups ("2175 3012"), but it is stored without
    # spaces.
    identifier = "".join(text.split())
    condition = (
        Q(number__icontains=text)
        | Q(requester_email__icontains=text)
        | Q(requester__email__icontains=text)
        | Q(requester__name__icontains=text)
        | Q(requester__identifier__icontains=identifier)
    )
    if vendor == "postgresql":
        return condition | word_condition(text)
    # SQLite's LIKE folds the case of ASCII letters only.
    entries = TicketEntry.objects.filter(body__icontains=text)
    return (
        condition | Q(subject__icontains=text) | Q(pk__in=entries.values("ticket_id"))
    )


def word_condition(text: str) -> Q:
    """Return PostgreSQL's full-text match on the subject, name and entries.

    ``websearch`` syntax lets an agent quote a phrase or exclude a word with "-".
    """
    # NOTE: no index backs these vectors, so each search reads every ticket and
    # entry. A GIN index on the same expressions would remove the scan.
    words = SearchQuery(text, config="simple", search_type="websearch")
    tickets = Ticket.objects.annotate(
        document=SearchVector("subject", "requester__name", config="simple")
    ).filter(document=words)
    entries = TicketEntry.objects.annotate(
        document=SearchVector("body", config="simple")
    ).filter(document=words)
    return Q(pk__in=tickets.values("pk")) | Q(pk__in=entries.values("ticket_id"))


def order_tickets(
    queryset: QuerySet[Ticket], sort: str, direction: str
) -> QuerySet[Ticket]:
    """Sort by ``sort``, then by id, so that pages never share or skip a row.

    Tickets without a due moment come last in both directions.
    """
    descending = direction == "desc"
    if sort == "priority":
        queryset = queryset.annotate(priority_rank=priority_rank_expression())
        key = "priority_rank"
    elif sort == "due":
        queryset = queryset.annotate(next_due_at=next_due_expression())
        key = "next_due_at"
    else:
        key = sort
    primary = OrderBy(F(key), descending=descending, nulls_last=True)
    return queryset.order_by(primary, OrderBy(F("pk"), descending=descending))


def priority_rank_expression() -> Case:
    """Return the priority as a number that sorts from low to urgent."""
    ranks = [
        When(priority=value, then=Value(rank)) for value, rank in PRIORITY_RANK.items()
    ]
    return Case(*ranks, output_field=IntegerField())


def next_due_expression() -> NullIf:
    """Return the earliest of the three stored due moments, or NULL for none."""
    moments = [
        Coalesce(name, Value(NO_DUE_MOMENT), output_field=DateTimeField())
        for name in DUE_FIELDS.values()
    ]
    earliest = Least(*moments, output_field=DateTimeField())
    return NullIf(earliest, Value(NO_DUE_MOMENT), output_field=DateTimeField())
