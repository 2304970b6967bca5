"""Where a chat transfer sends the agent: the chat, or the console home."""

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings

from conftest import RequesterChatFactory
from layanan.catalog.models import Team
from layanan.chat.models import Conversation
from layanan.chat.services import accept_conversation

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(settings: Settings) -> None:
    settings.LANGUAGE_CODE = "en"


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def held_chat(agent_admin: User, requester_chat: RequesterChatFactory) -> Conversation:
    conversation, _token = requester_chat(language="en")
    accept_conversation(Conversation.objects.get(pk=conversation.pk), agent_admin)
    return Conversation.objects.get(pk=conversation.pk)


def transfer_url(conversation: Conversation) -> str:
    return reverse("console:chat_transfer", args=[conversation.public_id])


def test_transfer_to_other_team_redirects_home(
    held_chat: Conversation, agent_admin: User, ti_team: Team
) -> None:
    response = client_for(agent_admin).post(
        transfer_url(held_chat), {"target": f"team:{ti_team.pk}"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("console:home")


def test_transfer_to_other_team_names_queue(
    held_chat: Conversation, agent_admin: User, ti_team: Team
) -> None:
    response = client_for(agent_admin).post(
        transfer_url(held_chat), {"target": f"team:{ti_team.pk}"}, follow=True
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert f"The chat is waiting in the {ti_team.name} queue." in page


def test_transfer_to_own_team_queue_redirects_to_chat(
    held_chat: Conversation, agent_admin: User
) -> None:
    response = client_for(agent_admin).post(
        transfer_url(held_chat), {"target": f"team:{held_chat.team_id}"}
    )
    chat_url = reverse("console:chat", args=[held_chat.public_id])
    assert response["Location"] == chat_url
