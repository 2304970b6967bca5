"""The services endpoint's team_online flag, which the panel polls, and the poll hook.

The pre-chat form re-reads the services endpoint to follow agents as their console
connects and goes. Cast: agent_admin serves Administrasi, which owns "surat-tugas".
agent_ti serves TI, which owns "akses-aplikasi".
"""

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from layanan.catalog.models import Service
from layanan.chat.presence import STALE_AFTER
from layanan.chat.views import SERVICES_POLL_SECONDS
from layanan.people.models import AgentConnection, AgentProfile, AgentStatus


def team_online(client: Client, service: Service) -> bool:
    response = client.get("/api/chat/services/")
    assert response.status_code == 200
    flags = {item["id"]: item["team_online"] for item in response.json()["services"]}
    return bool(flags[service.pk])


def connect_console(agent: User, channel_name: str = "test.console.1") -> None:
    AgentConnection.objects.create(
        user=agent, channel_name=channel_name, last_seen=timezone.now()
    )


def panel_config(client: Client, path: str) -> dict[str, Any]:
    response = client.get(path)
    assert response.status_code == 200
    config: dict[str, Any] = response.context["panel_config"]
    return config


# ---- team_online follows AgentConnection rows ----


def test_services_offline_without_connection(
    client: Client, agent_admin: User, admin_service: Service
) -> None:
    assert team_online(client, admin_service) is False


def test_services_online_once_connection_appears(
    client: Client, agent_admin: User, admin_service: Service
) -> None:
    assert team_online(client, admin_service) is False

    connect_console(agent_admin)

    assert team_online(client, admin_service) is True


def test_services_offline_once_connection_deleted(
    client: Client, agent_admin: User, admin_service: Service
) -> None:
    connect_console(agent_admin)
    assert team_online(client, admin_service) is True

    AgentConnection.objects.filter(user=agent_admin).delete()

    assert team_online(client, admin_service) is False


def test_services_offline_once_connection_stale(
    client: Client, agent_admin: User, admin_service: Service
) -> None:
    connect_console(agent_admin)
    assert team_online(client, admin_service) is True

    silent_since = timezone.now() - STALE_AFTER - timedelta(seconds=1)
    AgentConnection.objects.filter(user=agent_admin).update(last_seen=silent_since)

    assert team_online(client, admin_service) is False


def test_services_online_while_one_of_two_connected(
    client: Client,
    agent_admin: User,
    second_agent_admin: User,
    admin_service: Service,
) -> None:
    connect_console(agent_admin, "test.console.1")
    connect_console(second_agent_admin, "test.console.2")

    AgentConnection.objects.filter(user=agent_admin).delete()

    assert team_online(client, admin_service) is True


def test_services_offline_while_agent_away(
    client: Client, agent_admin: User, admin_service: Service
) -> None:
    connect_console(agent_admin)

    AgentProfile.objects.filter(user=agent_admin).update(status=AgentStatus.AWAY)

    assert team_online(client, admin_service) is False


def test_services_other_team_connection_ignored(
    client: Client, agent_ti: User, admin_service: Service, ti_service: Service
) -> None:
    connect_console(agent_ti)

    assert team_online(client, admin_service) is False
    assert team_online(client, ti_service) is True


def test_services_response_not_cached(client: Client, admin_service: Service) -> None:
    response = client.get("/api/chat/services/")

    assert response.headers["Cache-Control"] == "no-store"


# ---- the poll interval in the panel's configuration ----


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/widget/panel/", "/chat/"])
def test_panel_poll_seconds_default(client: Client, path: str) -> None:
    config = panel_config(client, path)

    assert config["servicesPollSeconds"] == SERVICES_POLL_SECONDS


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/widget/panel/", "/chat/"])
def test_panel_poll_seconds_override(client: Client, path: str) -> None:
    config = panel_config(client, f"{path}?poll_seconds=2")

    assert config["servicesPollSeconds"] == 2


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["0", "301", "-5", "1.5", "abc", ""])
def test_panel_poll_seconds_invalid_ignored(client: Client, value: str) -> None:
    config = panel_config(client, f"/chat/?poll_seconds={value}")

    assert config["servicesPollSeconds"] == SERVICES_POLL_SECONDS
