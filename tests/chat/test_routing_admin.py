"""The admin pages where routing settings are edited."""

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from layanan.catalog.models import Team

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_for_staff(db: None) -> Client:
    superuser = User.objects.create_superuser(
        username="admin", password="unused-password-0"
    )
    client = Client()
    client.force_login(superuser)
    return client


def test_team_admin_edits_routing_fields(
    admin_client_for_staff: Client, admin_team: Team
) -> None:
    url = reverse("admin:catalog_team_change", args=[admin_team.pk])
    page = admin_client_for_staff.get(url).content.decode()
    assert 'name="routing"' in page
    assert 'name="chat_wait_limit_minutes"' in page
    assert 'name="leads"' in page


def test_user_admin_edits_chat_capacity(
    admin_client_for_staff: Client, agent_admin: User
) -> None:
    url = reverse("admin:auth_user_change", args=[agent_admin.pk])
    page = admin_client_for_staff.get(url).content.decode()
    assert 'name="agent-0-chat_capacity"' in page
