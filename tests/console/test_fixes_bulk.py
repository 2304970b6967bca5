"""The ticket list's bulk bar: shown only to users who may act on some team."""

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings

from layanan.catalog.models import Service, Team
from layanan.people.models import AgentProfile
from ticket_factory import make_ticket

pytestmark = pytest.mark.django_db

LIST_URL = reverse("console:tickets")
BULK_BAR = 'class="bulk-actions"'


@pytest.fixture(autouse=True)
def english(settings: Settings) -> None:
    settings.LANGUAGE_CODE = "en"


@pytest.fixture(autouse=True)
def listed_ticket(admin_service: Service) -> None:
    make_ticket(admin_service)


def list_page(user: User) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(LIST_URL)
    assert response.status_code == 200
    return response.content.decode()


def test_bulk_bar_hidden_from_head_of_department(supervisor: User) -> None:
    assert BULK_BAR not in list_page(supervisor)


def test_bulk_bar_shown_to_member(agent_admin: User) -> None:
    assert BULK_BAR in list_page(agent_admin)


def test_bulk_bar_shown_to_lead_outside_team(admin_team: Team) -> None:
    lead = User.objects.create_user(username="dewi", password="unused-password-0")
    AgentProfile.objects.create(user=lead)
    admin_team.leads.add(lead)
    assert BULK_BAR in list_page(lead)


def test_bulk_bar_shown_to_admin(supervisor: User) -> None:
    supervisor.is_superuser = True
    supervisor.is_staff = True
    supervisor.save()
    assert BULK_BAR in list_page(supervisor)
