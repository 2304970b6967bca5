"""The team settings page: what leads and admins change, and how input is checked.

Who may open the page at all is in tests/test_access_matrix.py.
"""

from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings

from layanan.audit.models import Event
from layanan.catalog.models import BusinessCalendar, RoutingMode, Team
from layanan.people.models import AgentProfile

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def lead(admin_team: Team) -> User:
    """Return a lead of Administrasi who is not one of its members."""
    user = User.objects.create_user(
        username="rina", password="unused-password-0", first_name="Rina"
    )
    AgentProfile.objects.create(user=user)
    admin_team.leads.add(user)
    return user


@pytest.fixture
def calendar(catalogue: dict[str, Team]) -> BusinessCalendar:
    return BusinessCalendar.objects.create(name="Semester pendek")


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def team_url(team: Team) -> str:
    return reverse("console:team", args=[team.pk])


def valid_form(team: Team, **changes: str) -> dict[str, str]:
    """Return the team's current settings as posted form data, with ``changes``."""
    form = {
        "routing": team.routing,
        "chat_wait_limit_minutes": str(team.chat_wait_limit_minutes),
        "calendar": str(team.calendar_id or ""),
    }
    for member in team.members.all():
        profile = AgentProfile.objects.filter(user=member).first()
        form[f"capacity_{member.pk}"] = str(profile.chat_capacity if profile else 3)
    form.update(changes)
    return form


def team_events(team: Team, action: str) -> list[Event]:
    return list(
        Event.objects.filter(
            subject_type="team", subject_id=str(team.pk), action=action
        )
    )


# Showing the settings


def test_team_page_lead_sees_form_with_values(
    lead: User, admin_team: Team, agent_admin: User
) -> None:
    admin_team.chat_wait_limit_minutes = 7
    admin_team.save()
    content = client_for(lead).get(team_url(admin_team)).content.decode()
    assert "data-team-settings-form" in content
    assert 'name="chat_wait_limit_minutes"' in content
    assert 'value="7"' in content
    assert f'name="capacity_{agent_admin.pk}"' in content


def test_team_page_lists_calendars(
    lead: User, admin_team: Team, calendar: BusinessCalendar
) -> None:
    content = client_for(lead).get(team_url(admin_team)).content.decode()
    assert f'<option value="{calendar.pk}">Semester pendek</option>' in content


def test_team_list_lead_sees_led_team_only(
    lead: User, admin_team: Team, ti_team: Team
) -> None:
    content = client_for(lead).get(reverse("console:teams")).content.decode()
    assert team_url(admin_team) in content
    assert team_url(ti_team) not in content


def test_team_list_admin_sees_every_team(admin_team: Team, ti_team: Team) -> None:
    superuser = User.objects.create_superuser(username="root", password="unused-0")
    content = client_for(superuser).get(reverse("console:teams")).content.decode()
    assert team_url(admin_team) in content
    assert team_url(ti_team) in content


def test_team_list_agent_gets_404(agent_admin: User) -> None:
    response = client_for(agent_admin).get(reverse("console:teams"))
    assert response.status_code == 404


# Saving valid settings


def test_team_save_changes_routing_limit_calendar(
    lead: User, admin_team: Team, agent_admin: User, calendar: BusinessCalendar
) -> None:
    form = valid_form(
        admin_team,
        routing=RoutingMode.ROUND_ROBIN,
        chat_wait_limit_minutes="12",
        calendar=str(calendar.pk),
    )
    response = client_for(lead).post(team_url(admin_team), form)
    admin_team.refresh_from_db()
    assert response.status_code == 302
    assert admin_team.routing == RoutingMode.ROUND_ROBIN
    assert admin_team.chat_wait_limit_minutes == 12
    assert admin_team.calendar_id == calendar.pk


def test_team_save_records_old_and_new_values(
    lead: User, admin_team: Team, agent_admin: User
) -> None:
    old_limit = admin_team.chat_wait_limit_minutes
    form = valid_form(admin_team, chat_wait_limit_minutes=str(old_limit + 1))
    client_for(lead).post(team_url(admin_team), form)
    (event,) = team_events(admin_team, "settings_changed")
    assert event.actor_id == lead.pk
    assert event.data["changes"] == {
        "chat_wait_limit_minutes": [old_limit, old_limit + 1]
    }


def test_team_save_clears_calendar_to_default(
    lead: User, admin_team: Team, calendar: BusinessCalendar
) -> None:
    admin_team.calendar = calendar
    admin_team.save()
    client_for(lead).post(team_url(admin_team), valid_form(admin_team, calendar=""))
    admin_team.refresh_from_db()
    assert admin_team.calendar_id is None


def test_team_save_changes_capacity(
    lead: User, admin_team: Team, agent_admin: User
) -> None:
    form = valid_form(admin_team, **{f"capacity_{agent_admin.pk}": "5"})
    client_for(lead).post(team_url(admin_team), form)
    profile = AgentProfile.objects.get(user=agent_admin)
    (event,) = team_events(admin_team, "capacity_changed")
    assert profile.chat_capacity == 5
    assert (event.data["agent"], event.data["old"], event.data["new"]) == (
        agent_admin.pk,
        3,
        5,
    )


def test_team_save_creates_missing_profile(lead: User, admin_team: Team) -> None:
    member = User.objects.create_user(username="joko", password="unused-0")
    admin_team.members.add(member)
    form = valid_form(admin_team, **{f"capacity_{member.pk}": "2"})
    client_for(lead).post(team_url(admin_team), form)
    assert AgentProfile.objects.get(user=member).chat_capacity == 2


def test_team_save_ignores_other_team_capacity(
    lead: User, admin_team: Team, agent_ti: User
) -> None:
    form = valid_form(admin_team, **{f"capacity_{agent_ti.pk}": "9"})
    client_for(lead).post(team_url(admin_team), form)
    assert AgentProfile.objects.get(user=agent_ti).chat_capacity == 3


def test_team_save_unchanged_records_nothing(
    lead: User, admin_team: Team, agent_admin: User
) -> None:
    response = client_for(lead).post(
        team_url(admin_team), valid_form(admin_team), follow=True
    )
    assert not team_events(admin_team, "settings_changed")
    assert not team_events(admin_team, "capacity_changed")
    assert b"Nothing changed" in response.content


def test_team_page_shows_history(
    lead: User, admin_team: Team, agent_admin: User
) -> None:
    form = valid_form(admin_team, **{f"capacity_{agent_admin.pk}": "4"})
    response = client_for(lead).post(team_url(admin_team), form, follow=True)
    content = response.content.decode()
    assert "Chat capacity changed" in content
    assert "Sari Wulandari: 3 → 4" in content


def test_team_save_admin_allowed(admin_team: Team) -> None:
    superuser = User.objects.create_superuser(username="root", password="unused-0")
    form = valid_form(admin_team, chat_wait_limit_minutes="15")
    client_for(superuser).post(team_url(admin_team), form)
    admin_team.refresh_from_db()
    assert admin_team.chat_wait_limit_minutes == 15


# Rejected input

WAIT_LIMIT_MESSAGE = (
    "Enter the chat wait limit as a whole number of minutes from 1 to 1440."
)


@pytest.mark.parametrize("value", ["0", "1441", "abc", "", "2.5", "-3"])
def test_team_save_invalid_wait_limit_rejected(
    lead: User, admin_team: Team, value: str
) -> None:
    old_limit = admin_team.chat_wait_limit_minutes
    form = valid_form(admin_team, chat_wait_limit_minutes=value)
    response = client_for(lead).post(team_url(admin_team), form)
    admin_team.refresh_from_db()
    assert response.status_code == 400
    assert WAIT_LIMIT_MESSAGE in response.content.decode()
    assert admin_team.chat_wait_limit_minutes == old_limit


@pytest.mark.parametrize("value", ["-1", "51", "x", ""])
def test_team_save_invalid_capacity_rejected(
    lead: User, admin_team: Team, agent_admin: User, value: str
) -> None:
    form = valid_form(admin_team, **{f"capacity_{agent_admin.pk}": value})
    response = client_for(lead).post(team_url(admin_team), form)
    message = (
        "Enter the chat capacity of Sari Wulandari as a whole number from 0 to 50."
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert AgentProfile.objects.get(user=agent_admin).chat_capacity == 3


def test_team_save_invalid_routing_rejected(lead: User, admin_team: Team) -> None:
    form = valid_form(admin_team, routing="lottery")
    response = client_for(lead).post(team_url(admin_team), form)
    admin_team.refresh_from_db()
    assert response.status_code == 400
    assert "does not exist. Choose shared queue or round-robin." in (
        response.content.decode()
    )
    assert admin_team.routing == RoutingMode.SHARED


def test_team_save_unknown_calendar_rejected(lead: User, admin_team: Team) -> None:
    form = valid_form(admin_team, calendar="999999")
    response = client_for(lead).post(team_url(admin_team), form)
    assert response.status_code == 400
    assert "The calendar chosen in “Business calendar” does not exist." in (
        response.content.decode()
    )


def test_team_save_one_error_saves_nothing(
    lead: User, admin_team: Team, agent_admin: User
) -> None:
    """A valid capacity is not saved while another field is invalid."""
    changes: dict[str, Any] = {
        f"capacity_{agent_admin.pk}": "6",
        "chat_wait_limit_minutes": "0",
    }
    client_for(lead).post(team_url(admin_team), valid_form(admin_team, **changes))
    assert AgentProfile.objects.get(user=agent_admin).chat_capacity == 3


def test_team_save_rejected_keeps_typed_values(lead: User, admin_team: Team) -> None:
    form = valid_form(admin_team, routing="lottery", chat_wait_limit_minutes="11")
    response = client_for(lead).post(team_url(admin_team), form)
    assert 'value="11"' in response.content.decode()


def test_team_save_other_team_lead_gets_404(lead: User, ti_team: Team) -> None:
    form = valid_form(ti_team, chat_wait_limit_minutes="20")
    response = client_for(lead).post(team_url(ti_team), form)
    ti_team.refresh_from_db()
    assert response.status_code == 404
    assert ti_team.chat_wait_limit_minutes != 20


def test_team_save_head_rejected_with_reason(
    supervisor: User, admin_team: Team
) -> None:
    form = valid_form(admin_team, chat_wait_limit_minutes="20")
    response = client_for(supervisor).post(team_url(admin_team), form)
    assert response.status_code == 403
    assert "Only the leads of the Administrasi team and admins" in (
        response.content.decode()
    )
