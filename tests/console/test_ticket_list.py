"""The console's ticket list: filters, search, sort order, pagination and tags.

Cast (tests/conftest.py): ``agent_admin`` and ``second_agent_admin`` serve
Administrasi, ``agent_ti`` serves TI, ``supervisor`` reads every team.
"""

import re
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.fixtures import DjangoAssertNumQueries, Settings

from layanan.audit.services import history
from layanan.catalog.models import Service
from layanan.people.models import RequesterKind
from layanan.tickets import replies, tags
from layanan.tickets.models import Tag, Ticket, TicketPriority, TicketStatus
from layanan.tickets.search import MAX_SEARCH_LENGTH
from ticket_factory import Person, make_ticket

pytestmark = pytest.mark.django_db

LIST_URL = reverse("console:tickets")


@pytest.fixture(autouse=True)
def english(settings: Settings) -> None:
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def admin_client(client: Client, agent_admin: User) -> Client:
    client.force_login(agent_admin)
    return client


def listed(client: Client, **params: str) -> list[str]:
    """Return the ticket numbers of the list page, in their order."""
    response = client.get(LIST_URL, params)
    assert response.status_code == 200, response.content.decode()[:2000]
    return re.findall(r'name="tickets" value="([^"]+)"', response.content.decode())


def test_list_shows_own_team_only(
    admin_client: Client, admin_service: Service, ti_service: Service
) -> None:
    own = make_ticket(admin_service)
    make_ticket(ti_service)
    assert listed(admin_client) == [own.number]


def test_list_supervisor_sees_every_team(
    client: Client, supervisor: User, admin_service: Service, ti_service: Service
) -> None:
    make_ticket(admin_service)
    make_ticket(ti_service)
    client.force_login(supervisor)
    assert len(listed(client)) == 2


def test_list_filters_by_status(admin_client: Client, admin_service: Service) -> None:
    waiting = make_ticket(admin_service)
    make_ticket(admin_service)
    Ticket.objects.filter(pk=waiting.pk).update(status=TicketStatus.WAITING)
    assert listed(admin_client, status="waiting") == [waiting.number]


def test_list_filters_by_team(
    client: Client, supervisor: User, admin_service: Service, ti_service: Service
) -> None:
    make_ticket(admin_service)
    ti_ticket = make_ticket(ti_service)
    client.force_login(supervisor)
    assert listed(client, team=str(ti_service.team_id)) == [ti_ticket.number]


def test_list_filters_by_assignee(
    admin_client: Client,
    admin_service: Service,
    agent_admin: User,
    second_agent_admin: User,
) -> None:
    mine = make_ticket(admin_service)
    theirs = make_ticket(admin_service)
    nobody = make_ticket(admin_service)
    Ticket.objects.filter(pk=mine.pk).update(assignee=agent_admin)
    Ticket.objects.filter(pk=theirs.pk).update(assignee=second_agent_admin)
    assert listed(admin_client, assignee="mine") == [mine.number]
    assert listed(admin_client, assignee="nobody") == [nobody.number]
    by_id = listed(admin_client, assignee=str(second_agent_admin.pk))
    assert by_id == [theirs.number]


def test_list_filters_by_service(
    admin_client: Client, admin_service: Service, catalogue: object
) -> None:
    other = Service.objects.filter(team=admin_service.team).exclude(
        pk=admin_service.pk
    )[0]
    wanted = make_ticket(other)
    make_ticket(admin_service)
    assert listed(admin_client, service=str(other.pk)) == [wanted.number]


def test_list_filters_by_priority(admin_client: Client, admin_service: Service) -> None:
    urgent = make_ticket(admin_service)
    make_ticket(admin_service)
    Ticket.objects.filter(pk=urgent.pk).update(priority=TicketPriority.URGENT)
    assert listed(admin_client, priority="urgent") == [urgent.number]


def test_list_filters_by_tag(
    admin_client: Client, admin_service: Service, agent_admin: User
) -> None:
    tagged = make_ticket(admin_service)
    make_ticket(admin_service)
    tags.add_tag(tagged, "Wisuda 2026", actor=agent_admin)
    assert listed(admin_client, tag="wisuda 2026") == [tagged.number]


def test_list_filters_by_requester_kind(
    admin_client: Client, admin_service: Service
) -> None:
    staff = make_ticket(admin_service, person=Person(kind=RequesterKind.STAFF))
    make_ticket(admin_service)
    assert listed(admin_client, kind="staff") == [staff.number]


def test_list_filters_by_age(admin_client: Client, admin_service: Service) -> None:
    now = timezone.now()
    fresh = make_ticket(admin_service)
    two_days = make_ticket(admin_service)
    week_old = make_ticket(admin_service)
    Ticket.objects.filter(pk=two_days.pk).update(created=now - timedelta(days=2))
    Ticket.objects.filter(pk=week_old.pk).update(created=now - timedelta(days=8))
    assert listed(admin_client, age="today") == [fresh.number]
    assert listed(admin_client, age="1d") == [two_days.number, week_old.number]
    assert listed(admin_client, age="3d") == [week_old.number]
    assert listed(admin_client, age="7d") == [week_old.number]


def set_due(
    ticket: Ticket,
    *,
    first_response: timedelta | None = None,
    update: timedelta | None = None,
    resolution: timedelta | None = None,
) -> None:
    """Store due moments relative to now; None clears what the SLA code set."""
    now = timezone.now()
    Ticket.objects.filter(pk=ticket.pk).update(
        first_response_due_at=now + first_response if first_response else None,
        update_due_at=now + update if update else None,
        resolution_due_at=now + resolution if resolution else None,
    )


def test_list_filters_by_overdue(admin_client: Client, admin_service: Service) -> None:
    late_reply = make_ticket(admin_service)
    late_resolution = make_ticket(admin_service)
    on_time = make_ticket(admin_service)
    set_due(late_reply, first_response=-timedelta(hours=1))
    set_due(late_resolution, resolution=-timedelta(minutes=5))
    set_due(on_time, first_response=timedelta(hours=1), resolution=timedelta(days=3))
    overdue = listed(admin_client, overdue="any")
    assert sorted(overdue) == sorted([late_reply.number, late_resolution.number])
    assert listed(admin_client, overdue="first_response") == [late_reply.number]
    assert listed(admin_client, overdue="resolution") == [late_resolution.number]
    assert listed(admin_client, overdue="update") == []


# Search


@pytest.fixture
def searchable(admin_service: Service, agent_admin: User) -> dict[str, Ticket]:
    subject = make_ticket(admin_service, "Legalisir ijazah")
    entry = make_ticket(admin_service, "Pertanyaan")
    replies.add_internal_note(entry, agent_admin, "Menunggu tanda tangan dekan")
    person = make_ticket(
        admin_service,
        "Surat aktif kuliah",
        Person(name="Rina Marlina", identifier="21753012", email="rina@kampus.example"),
    )
    return {"subject": subject, "entry": entry, "person": person}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ijazah", "subject"),
        ("tanda tangan", "entry"),
        ("marlina", "person"),
        ("2175 3012", "person"),
        ("rina@kampus", "person"),
    ],
)
def test_list_search_matches(
    admin_client: Client, searchable: dict[str, Ticket], text: str, expected: str
) -> None:
    assert listed(admin_client, q=text) == [searchable[expected].number]


def test_list_search_matches_number(
    admin_client: Client, searchable: dict[str, Ticket]
) -> None:
    number = searchable["entry"].number
    assert listed(admin_client, q=number) == [number]


def test_list_search_no_match_says_so(
    admin_client: Client, searchable: dict[str, Ticket]
) -> None:
    response = admin_client.get(LIST_URL, {"q": "tidak-ada-sama-sekali"})
    assert "No tickets match." in response.content.decode()


@pytest.mark.postgres
def test_list_search_postgres_full_text(
    admin_client: Client, searchable: dict[str, Ticket]
) -> None:
    assert connection.vendor == "postgresql"
    # Word search: the words of the note in another order, in another case.
    assert listed(admin_client, q="DEKAN tanda") == [searchable["entry"].number]
    assert listed(admin_client, q="ijazah -legalisir") == []


# Sort order and pages


def test_list_sorts_by_priority(admin_client: Client, admin_service: Service) -> None:
    low, urgent, normal = (make_ticket(admin_service) for _ in range(3))
    Ticket.objects.filter(pk=low.pk).update(priority=TicketPriority.LOW)
    Ticket.objects.filter(pk=urgent.pk).update(priority=TicketPriority.URGENT)
    descending = [urgent.number, normal.number, low.number]
    assert listed(admin_client, sort="priority") == descending
    ascending = listed(admin_client, sort="priority", direction="asc")
    assert ascending == descending[::-1]


def test_list_sorts_by_due_with_none_last(
    admin_client: Client, admin_service: Service
) -> None:
    later, none, sooner = (make_ticket(admin_service) for _ in range(3))
    set_due(later, resolution=timedelta(days=2))
    set_due(none)
    set_due(sooner, first_response=timedelta(hours=1), resolution=timedelta(days=5))
    ascending = listed(admin_client, sort="due", direction="asc")
    assert ascending == [sooner.number, later.number, none.number]
    descending = listed(admin_client, sort="due", direction="desc")
    assert descending == [later.number, sooner.number, none.number]


def test_list_sorts_by_number(admin_client: Client, admin_service: Service) -> None:
    first, second = make_ticket(admin_service), make_ticket(admin_service)
    assert listed(admin_client, sort="number", direction="asc") == [
        first.number,
        second.number,
    ]


def test_list_sorts_by_updated(admin_client: Client, admin_service: Service) -> None:
    first, second = make_ticket(admin_service), make_ticket(admin_service)
    Ticket.objects.filter(pk=first.pk).update(
        updated=timezone.now() + timedelta(minutes=1)
    )
    assert listed(admin_client, sort="updated") == [first.number, second.number]


def test_list_paginates_with_filters_kept(
    admin_client: Client, admin_service: Service
) -> None:
    for _ in range(51):
        make_ticket(admin_service)
    first_page = admin_client.get(LIST_URL, {"status": "open"}).content.decode()
    assert first_page.count('name="tickets"') == 50
    assert 'href="?status=open&amp;page=2"' in first_page
    assert len(listed(admin_client, status="open", page="2")) == 1


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("status", "lost", "Status"),
        ("team", "abc", "Team"),
        ("assignee", "99999", "Assignee"),
        ("service", "99999", "Service"),
        ("priority", "asap", "Priority"),
        ("kind", "alien", "Requester"),
        ("age", "2d", "Age"),
        ("overdue", "maybe", "Overdue"),
        ("sort", "colour", "Sort by"),
        ("direction", "up", "Order"),
    ],
)
def test_list_invalid_value_explained(
    admin_client: Client, admin_service: Service, key: str, value: str, field: str
) -> None:
    ticket = make_ticket(admin_service)
    response = admin_client.get(LIST_URL, {key: value})
    page = response.content.decode()
    assert response.status_code == 400
    assert f"“{value}” is not a valid choice for “{field}”" in page
    assert f'name="tickets" value="{ticket.number}"' in page


def test_list_team_of_other_agents_rejected(
    admin_client: Client, admin_service: Service, ti_service: Service
) -> None:
    response = admin_client.get(LIST_URL, {"team": str(ti_service.team_id)})
    assert response.status_code == 400
    assert "is not a valid choice for “Team”" in response.content.decode()


def test_list_unknown_tag_explained(admin_client: Client) -> None:
    response = admin_client.get(LIST_URL, {"tag": "tak dikenal"})
    assert response.status_code == 400
    assert "No ticket has the tag “tak dikenal”" in response.content.decode()


def test_list_overlong_search_explained(admin_client: Client) -> None:
    response = admin_client.get(LIST_URL, {"q": "x" * (MAX_SEARCH_LENGTH + 1)})
    assert response.status_code == 400
    assert "The search text is 201 characters long" in response.content.decode()


def test_list_shows_new_reply_badge(
    admin_client: Client, admin_service: Service
) -> None:
    ticket = make_ticket(admin_service)
    assert "New reply" not in admin_client.get(LIST_URL).content.decode()
    Ticket.objects.filter(pk=ticket.pk).update(unread_reply=True)
    assert "New reply" in admin_client.get(LIST_URL).content.decode()


def test_list_shows_tags(
    admin_client: Client, admin_service: Service, agent_admin: User
) -> None:
    ticket = make_ticket(admin_service)
    tags.add_tag(ticket, "beasiswa", actor=agent_admin)
    assert (
        '<span class="tag">beasiswa</span>'
        in admin_client.get(LIST_URL).content.decode()
    )


@pytest.mark.parametrize("rows", [1, 50])
def test_list_query_count_constant(
    admin_client: Client,
    admin_service: Service,
    agent_admin: User,
    django_assert_num_queries: DjangoAssertNumQueries,
    rows: int,
) -> None:
    tag = Tag.objects.create(name="beasiswa")
    for _ in range(rows):
        ticket = make_ticket(admin_service)
        ticket.tags.add(tag)
        Ticket.objects.filter(pk=ticket.pk).update(assignee=agent_admin)
    admin_client.get(LIST_URL)
    # The same count for 1 and 50 rows: the rows, their related records and
    # tags come in a fixed number of queries.
    with django_assert_num_queries(QUERIES_PER_LIST_PAGE):
        response = admin_client.get(LIST_URL, {"q": "surat", "sort": "due"})
    assert response.content.decode().count('name="tickets"') == rows


# The queries: session, user, console role (teams, profile, led teams), the filter
# choices (teams, agents, services, tags), the supervisor check of the ticket door,
# the paginator's count, the page and its tags, agent status and the service labels.
# The team's business calendar adds three (calendar, hours, holidays) per distinct
# calendar, and every row here shares one.
QUERIES_PER_LIST_PAGE = 18


# Tags on the ticket page


def test_ticket_page_adds_tag(
    admin_client: Client, admin_service: Service, agent_admin: User
) -> None:
    ticket = make_ticket(admin_service)
    url = reverse("console:ticket_tag_add", args=[ticket.number])
    response = admin_client.post(url, {"tag": "  Kartu   Mahasiswa "})
    assert response.status_code == 302
    assert list(ticket.tags.values_list("name", flat=True)) == ["kartu mahasiswa"]
    actions = [event.action for event in history("ticket", ticket.number)]
    assert "tag_added" in actions


def test_ticket_page_invalid_tag_explained(
    admin_client: Client, admin_service: Service
) -> None:
    ticket = make_ticket(admin_service)
    url = reverse("console:ticket_tag_add", args=[ticket.number])
    response = admin_client.post(url, {"tag": "<b>penting</b>"})
    assert response.status_code == 400
    assert "contains other characters than letters" in response.content.decode()
    assert not ticket.tags.exists()


def test_ticket_page_removes_tag(
    admin_client: Client, admin_service: Service, agent_admin: User
) -> None:
    ticket = make_ticket(admin_service)
    tags.add_tag(ticket, "beasiswa", actor=agent_admin)
    url = reverse("console:ticket_tag_remove", args=[ticket.number])
    response = admin_client.post(url, {"tag": "beasiswa"})
    assert response.status_code == 302
    assert not ticket.tags.exists()
    assert Tag.objects.filter(name="beasiswa").exists()


def test_ticket_page_tag_needs_team_member(
    client: Client, supervisor: User, admin_service: Service
) -> None:
    ticket = make_ticket(admin_service)
    client.force_login(supervisor)
    url = reverse("console:ticket_tag_add", args=[ticket.number])
    client.post(url, {"tag": "beasiswa"})
    assert not ticket.tags.exists()


def created_at(ticket: Ticket, moment: str) -> None:
    """Set the ticket's creation to a WIB wall-clock time like "2026-12-01 23:59"."""
    local = datetime.fromisoformat(moment).replace(
        tzinfo=timezone.get_default_timezone()
    )
    Ticket.objects.filter(pk=ticket.pk).update(created=local)


def test_list_filters_by_created_range(
    admin_client: Client, admin_service: Service
) -> None:
    before = make_ticket(admin_service)
    first_day = make_ticket(admin_service)
    last_minute = make_ticket(admin_service)
    after = make_ticket(admin_service)
    created_at(before, "2026-11-30 23:59")
    created_at(first_day, "2026-12-01 00:00")
    created_at(last_minute, "2026-12-02 23:59")
    created_at(after, "2026-12-03 00:00")
    numbers = listed(admin_client, date_from="2026-12-01", date_to="2026-12-02")
    assert sorted(numbers) == sorted([first_day.number, last_minute.number])


def test_list_created_range_kept_in_links(
    admin_client: Client, admin_service: Service
) -> None:
    make_ticket(admin_service)
    response = admin_client.get(LIST_URL, {"date_from": "2026-12-01"})
    query = response.context["query"]
    assert ("date_from", "2026-12-01") in query.as_params()
    assert query.date_range_label == "Created on or after 2026-12-01"


def test_list_rejects_invalid_date(
    admin_client: Client, admin_service: Service
) -> None:
    make_ticket(admin_service)
    response = admin_client.get(LIST_URL, {"date_to": "01/12/2026"})
    assert response.status_code == 400
    assert "“Created to” is not a valid date" in response.content.decode()


def test_list_rejects_reversed_range(
    admin_client: Client, admin_service: Service
) -> None:
    make_ticket(admin_service)
    response = admin_client.get(
        LIST_URL, {"date_from": "2026-12-02", "date_to": "2026-12-01"}
    )
    assert response.status_code == 400
    assert response.context["query"].date_from is None


def test_list_shows_active_date_range(admin_client: Client) -> None:
    response = admin_client.get(
        LIST_URL, {"date_from": "2026-12-01", "date_to": "2026-12-02"}
    )
    assert "Created from 2026-12-01 to 2026-12-02" in response.content.decode()
