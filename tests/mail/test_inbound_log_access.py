"""Who may read the inbound log in the admin."""

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

LOG_URL = "admin:mail_inboundemail_changelist"


def log_status(user: User) -> int:
    client = Client()
    client.force_login(user)
    return client.get(reverse(LOG_URL)).status_code


def test_inbound_log_staff_supervisor_reads(supervisor: User) -> None:
    User.objects.filter(pk=supervisor.pk).update(is_staff=True)
    supervisor.refresh_from_db()
    assert log_status(supervisor) == 200


def test_inbound_log_staff_agent_refused(agent_admin: User) -> None:
    User.objects.filter(pk=agent_admin.pk).update(is_staff=True)
    agent_admin.refresh_from_db()
    assert log_status(agent_admin) == 403


def test_inbound_log_supervisor_cannot_change_outbox(supervisor: User) -> None:
    User.objects.filter(pk=supervisor.pk).update(is_staff=True)
    supervisor.refresh_from_db()
    client = Client()
    client.force_login(supervisor)
    response = client.get(reverse("admin:mail_outboundemail_changelist"))
    assert response.status_code == 403
