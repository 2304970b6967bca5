"""The console header links to the pages the user may open, and only those."""

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from layanan.catalog.models import Team

pytestmark = pytest.mark.django_db


def header_of(user: User) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(reverse("console:tickets"))
    assert response.status_code == 200
    content = response.content.decode()
    return content[: content.index("</header>")]


def test_header_agent_sees_no_dashboard(agent_admin: User) -> None:
    header = header_of(agent_admin)
    assert reverse("dashboard:home") not in header
    assert reverse("console:teams") not in header


def test_header_lead_sees_dashboard_and_teams(
    agent_admin: User, admin_team: Team
) -> None:
    admin_team.leads.add(agent_admin)
    header = header_of(agent_admin)
    assert reverse("dashboard:home") in header
    assert reverse("console:teams") in header


def test_header_supervisor_sees_dashboard(supervisor: User) -> None:
    assert reverse("dashboard:home") in header_of(supervisor)


def test_header_links_past_chats(agent_admin: User) -> None:
    assert reverse("console:chats") in header_of(agent_admin)
