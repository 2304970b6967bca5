"""Site-wide not-found and forbidden pages, and the favicon link of each base page."""

import uuid

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import translation
from django.views.defaults import permission_denied

pytestmark = pytest.mark.django_db

FAVICON = '<link rel="icon" href="data:,">'


def missing_chat_page(client: Client) -> str:
    url = reverse("console:chat", args=[uuid.uuid4()])
    response = client.get(url, {"lang": "en"})
    assert response.status_code == 404
    return response.content.decode()


def test_not_found_page_titled(client: Client, agent_admin: User) -> None:
    client.force_login(agent_admin)
    assert "<h1>Page not found</h1>" in missing_chat_page(client)


def test_not_found_page_links_home(client: Client, agent_admin: User) -> None:
    client.force_login(agent_admin)
    assert 'href="/"' in missing_chat_page(client)


def test_not_found_page_links_console_for_agent(
    client: Client, agent_admin: User
) -> None:
    client.force_login(agent_admin)
    assert f'href="{reverse("console:home")}"' in missing_chat_page(client)


def test_not_found_page_translated(client: Client, agent_admin: User) -> None:
    client.force_login(agent_admin)
    url = reverse("console:chat", args=[uuid.uuid4()])
    with translation.override("id"):
        expected = translation.gettext("Page not found")
    page = client.get(url, {"lang": "id"}).content.decode()
    assert f"<h1>{expected}</h1>" in page


def test_not_found_page_anonymous_has_no_console_link(client: Client) -> None:
    response = client.get("/no-such-page/", {"lang": "en"})
    assert response.status_code == 404
    assert reverse("console:home") not in response.content.decode()


def test_forbidden_page_titled() -> None:
    request = RequestFactory().get("/admin/")
    request.user = User()
    with translation.override("en"):
        response = permission_denied(request, PermissionDenied())
    assert response.status_code == 403
    assert "<h1>Access denied</h1>" in response.content.decode()


def test_requester_invalid_link_keeps_own_page(client: Client) -> None:
    url = reverse("tickets:requester_page", args=["not-a-real-token"])
    response = client.get(url, {"lang": "en"})
    assert response.status_code == 404
    assert "Page not found" not in response.content.decode()


@pytest.mark.parametrize(
    "url_name",
    ["portal", "chat:panel", "chat:standalone", "tickets:requester_new_link"],
)
def test_base_page_declares_empty_favicon(client: Client, url_name: str) -> None:
    response = client.get(reverse(url_name))
    assert FAVICON in response.content.decode()
