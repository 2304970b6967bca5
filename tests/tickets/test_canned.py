"""Canned responses: which ones a ticket offers, the placeholders, the picker.

Cast (tests/conftest.py): ``agent_admin`` serves Administrasi, ``supervisor``
reads every team and changes none.
"""

import html

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings

from layanan.catalog.models import Service, Team
from layanan.tickets import canned
from layanan.tickets.models import CannedResponse
from layanan.tickets.workflow import WorkflowError
from ticket_factory import Person, make_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(settings: Settings) -> None:
    settings.LANGUAGE_CODE = "en"


def test_responses_for_team_and_all_teams(
    admin_service: Service, admin_team: Team, ti_team: Team
) -> None:
    everyone = CannedResponse.objects.create(title="Salam", body="Halo")
    own = CannedResponse.objects.create(title="Surat", body="Surat", team=admin_team)
    CannedResponse.objects.create(title="Akun", body="Akun", team=ti_team)
    CannedResponse.objects.create(title="Lama", body="Lama", active=False)
    ticket = make_ticket(admin_service)
    assert canned.responses_for(ticket) == [everyone, own]


def test_fill_replaces_placeholders(admin_service: Service) -> None:
    ticket = make_ticket(admin_service, person=Person(name="Rina Marlina"))
    response = CannedResponse(body="Yth. {name}, tiket {ticket} ({service}).")
    expected = (
        f"Yth. Rina Marlina, tiket {ticket.number} "
        f"({admin_service.localized_name('id')})."
    )
    assert canned.fill(response, ticket) == expected


def test_fill_leaves_other_braces(admin_service: Service) -> None:
    ticket = make_ticket(admin_service)
    response = CannedResponse(body="{name.__class__} {0} {unknown} {")
    assert canned.fill(response, ticket) == "{name.__class__} {0} {unknown} {"


def test_find_response_other_team_rejected(
    admin_service: Service, ti_team: Team
) -> None:
    other = CannedResponse.objects.create(title="Akun", body="Akun", team=ti_team)
    ticket = make_ticket(admin_service)
    with pytest.raises(WorkflowError):
        canned.find_response(str(other.pk), ticket)


def test_ticket_page_offers_filled_text_escaped(
    client: Client, agent_admin: User, admin_service: Service
) -> None:
    CannedResponse.objects.create(title="Salam", body="<b>Halo</b> {name}")
    ticket = make_ticket(
        admin_service,
        person=Person(name='Budi "<script>alert(1)</script>'),
    )
    client.force_login(agent_admin)
    page = client.get(reverse("console:ticket", args=[ticket.number])).content
    text = page.decode()
    assert "<script>alert(1)" not in text
    assert "<b>Halo</b>" not in text
    expected = html.escape('<b>Halo</b> Budi "<script>alert(1)</script>')
    assert f'data-text="{expected}"' in text.replace("&#x27;", "'")


def test_insert_without_script_refills_reply(
    client: Client, agent_admin: User, admin_service: Service
) -> None:
    response = CannedResponse.objects.create(title="Salam", body="Tiket {ticket}.")
    ticket = make_ticket(admin_service)
    client.force_login(agent_admin)
    page = client.post(
        reverse("console:ticket_canned", args=[ticket.number]),
        {"canned": str(response.pk), "body": "Selamat pagi,  "},
    )
    assert page.status_code == 200
    expected = f"Selamat pagi,\n\nTiket {ticket.number}."
    assert f">{expected}</textarea>" in page.content.decode()


def test_insert_unknown_response_explained(
    client: Client, agent_admin: User, admin_service: Service
) -> None:
    ticket = make_ticket(admin_service)
    client.force_login(agent_admin)
    page = client.post(
        reverse("console:ticket_canned", args=[ticket.number]),
        {"canned": "999", "body": "Draf saya"},
    )
    assert page.status_code == 400
    assert "does not exist or is not available" in page.content.decode()
    assert ">Draf saya</textarea>" in page.content.decode()


def test_insert_needs_team_member(
    client: Client, supervisor: User, admin_service: Service
) -> None:
    response = CannedResponse.objects.create(title="Salam", body="Halo")
    ticket = make_ticket(admin_service)
    client.force_login(supervisor)
    page = client.post(
        reverse("console:ticket_canned", args=[ticket.number]),
        {"canned": str(response.pk), "body": ""},
    )
    assert page.status_code == 302
