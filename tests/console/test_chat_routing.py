"""Console chat pages: transfer, the requester's history and the chat list."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from pytest_django.fixtures import Settings

from conftest import RequesterChatFactory
from layanan.catalog.models import RoutingMode, Service, Team
from layanan.chat.models import (
    Conversation,
    ConversationNote,
    ConversationStatus,
    EndedBy,
    SenderKind,
)
from layanan.chat.services import (
    Ending,
    NewMessage,
    accept_conversation,
    end_conversation,
    post_message,
)
from layanan.people.models import AgentConnection
from layanan.tickets.models import TicketSource
from layanan.tickets.services import NewTicket, open_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(settings: Settings) -> None:
    settings.LANGUAGE_CODE = "en"


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def go_live(user: User) -> None:
    AgentConnection.objects.create(
        user=user, channel_name=f"channel-{user.pk}", last_seen=timezone.now()
    )


def fresh(conversation: Conversation) -> Conversation:
    return Conversation.objects.get(pk=conversation.pk)


@pytest.fixture
def held_chat(agent_admin: User, requester_chat: RequesterChatFactory) -> Conversation:
    conversation, _token = requester_chat(language="en")
    accept_conversation(fresh(conversation), agent_admin)
    return fresh(conversation)


def transfer_url(conversation: Conversation) -> str:
    return reverse("console:chat_transfer", args=[conversation.public_id])


def chat_url(conversation: Conversation) -> str:
    return reverse("console:chat", args=[conversation.public_id])


# Transfer


def test_chat_transfer_form_shown_to_holder(
    held_chat: Conversation, agent_admin: User, second_agent_admin: User
) -> None:
    page = client_for(agent_admin).get(chat_url(held_chat)).content.decode()
    assert "data-transfer-form" in page
    assert f'value="agent:{held_chat.team_id}:{second_agent_admin.pk}"' in page
    assert f'value="agent:{held_chat.team_id}:{agent_admin.pk}"' not in page


def test_chat_transfer_form_hidden_from_colleague(
    held_chat: Conversation, second_agent_admin: User
) -> None:
    page = client_for(second_agent_admin).get(chat_url(held_chat)).content.decode()
    assert "data-transfer-form" not in page


def test_chat_transfer_to_agent(
    held_chat: Conversation, agent_admin: User, second_agent_admin: User
) -> None:
    go_live(second_agent_admin)
    response = client_for(agent_admin).post(
        transfer_url(held_chat),
        {
            "target": f"agent:{held_chat.team_id}:{second_agent_admin.pk}",
            "note": "Sudah cek NPM",
        },
    )
    assert response.status_code == 302
    assert fresh(held_chat).agent_id == second_agent_admin.pk
    assert ConversationNote.objects.get(conversation=held_chat).body == "Sudah cek NPM"


def test_chat_transfer_to_queue(
    held_chat: Conversation, agent_admin: User, ti_team: Team
) -> None:
    client_for(agent_admin).post(
        transfer_url(held_chat), {"target": f"team:{ti_team.pk}"}
    )
    stored = fresh(held_chat)
    assert stored.status == ConversationStatus.WAITING
    assert stored.team_id == ti_team.pk


def test_chat_transfer_bad_target_message(
    held_chat: Conversation, agent_admin: User
) -> None:
    response = client_for(agent_admin).post(
        transfer_url(held_chat), {"target": "agent:nope"}, follow=True
    )
    assert "The transfer target is not valid" in response.content.decode()
    assert fresh(held_chat).agent_id == agent_admin.pk


def test_chat_transfer_by_colleague_rejected(
    held_chat: Conversation, agent_admin: User, second_agent_admin: User
) -> None:
    response = client_for(second_agent_admin).post(
        transfer_url(held_chat), {"target": f"team:{held_chat.team_id}"}, follow=True
    )
    assert "Only the agent holding this active chat" in response.content.decode()
    assert fresh(held_chat).agent_id == agent_admin.pk


def test_chat_transfer_other_team_not_found(
    held_chat: Conversation, agent_ti: User
) -> None:
    response = client_for(agent_ti).post(
        transfer_url(held_chat), {"target": f"team:{held_chat.team_id}"}
    )
    assert response.status_code == 404


def test_chat_transfer_get_not_allowed(
    held_chat: Conversation, agent_admin: User
) -> None:
    assert client_for(agent_admin).get(transfer_url(held_chat)).status_code == 405


def test_chat_notes_shown_to_agents(
    held_chat: Conversation, agent_admin: User, second_agent_admin: User
) -> None:
    ConversationNote.objects.create(
        conversation=held_chat,
        author=agent_admin,
        author_name="Sari Wulandari",
        body="Catatan internal",
    )
    page = client_for(second_agent_admin).get(chat_url(held_chat)).content.decode()
    assert "Catatan internal" in page


# Accepting in round-robin teams


def test_chat_page_accept_only_for_offered_agent(
    admin_team: Team,
    agent_admin: User,
    second_agent_admin: User,
    requester_chat: RequesterChatFactory,
) -> None:
    admin_team.routing = RoutingMode.ROUND_ROBIN
    admin_team.save(update_fields=["routing"])
    go_live(agent_admin)
    conversation, _token = requester_chat()
    offered = client_for(agent_admin).get(chat_url(conversation)).content.decode()
    other = client_for(second_agent_admin).get(chat_url(conversation)).content.decode()
    assert f'data-accept="{conversation.public_id}"' in offered
    assert f'data-accept="{conversation.public_id}"' not in other
    assert "data-offered-elsewhere" in other


def test_chat_page_wait_limit_reason(
    admin_team: Team, agent_admin: User, requester_chat: RequesterChatFactory
) -> None:
    from layanan.chat.routing import end_waited_chats

    conversation, _token = requester_chat()
    later = timezone.now() + timedelta(minutes=admin_team.chat_wait_limit_minutes + 1)
    end_waited_chats(later)
    page = client_for(agent_admin).get(chat_url(conversation)).content.decode()
    assert fresh(conversation).ticket_number in page
    assert "No agent was free" in page


# Requester history beside the chat


def test_chat_history_lists_earlier_chats_and_tickets(
    agent_admin: User, admin_service: Service, requester_chat: RequesterChatFactory
) -> None:
    earlier, _token = requester_chat(topic="Legalisir ijazah")
    end_conversation(fresh(earlier), Ending(ended_by=EndedBy.REQUESTER))
    requester = earlier.requester
    ticket = open_ticket(
        NewTicket(
            subject="Surat aktif kuliah",
            requester=requester,
            email=requester.email,
            service=admin_service,
            source=TicketSource.AGENT,
            language="id",
        )
    )
    current = Conversation.objects.create(
        token_hash="c" * 64,
        requester=requester,
        requester_name=requester.name,
        requester_email=requester.email,
        service=admin_service,
        team=admin_service.team,
        topic="Pertanyaan baru",
        last_activity_at=timezone.now(),
    )
    page = client_for(agent_admin).get(chat_url(current)).content.decode()
    assert chat_url(earlier) in page
    assert reverse("console:ticket", args=[ticket.number]) in page


def test_chat_history_hides_other_team_chats(
    agent_admin: User,
    admin_service: Service,
    ti_service: Service,
    requester_chat: RequesterChatFactory,
) -> None:
    other_team_chat, _token = requester_chat(service=ti_service, topic="VPN")
    requester = other_team_chat.requester
    current = Conversation.objects.create(
        token_hash="d" * 64,
        requester=requester,
        requester_name=requester.name,
        requester_email=requester.email,
        service=admin_service,
        team=admin_service.team,
        topic="Pertanyaan baru",
        last_activity_at=timezone.now(),
    )
    page = client_for(agent_admin).get(chat_url(current)).content.decode()
    assert chat_url(other_team_chat) not in page


def test_chat_history_at_most_ten(
    agent_admin: User, admin_service: Service, requester_chat: RequesterChatFactory
) -> None:
    first, _token = requester_chat()
    requester = first.requester
    for number in range(12):
        Conversation.objects.create(
            token_hash=f"{number:064d}",
            requester=requester,
            requester_name=requester.name,
            requester_email=requester.email,
            service=admin_service,
            team=admin_service.team,
            topic=f"Lama {number}",
            status=ConversationStatus.ENDED,
            last_activity_at=timezone.now(),
        )
    response = client_for(agent_admin).get(chat_url(first))
    assert len(response.context["earlier_chats"]) == 10


# Chat list


def chats_url(**params: str) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return reverse("console:chats") + (f"?{query}" if query else "")


def listed(response: object) -> list[str]:
    page = response.context["page"]  # type: ignore[attr-defined]
    return [conversation.topic for conversation in page.object_list]


def test_chats_list_shows_own_team_only(
    agent_admin: User, ti_service: Service, requester_chat: RequesterChatFactory
) -> None:
    requester_chat(topic="Surat tugas")
    requester_chat(service=ti_service, topic="Akses VPN")
    topics = listed(client_for(agent_admin).get(chats_url()))
    assert topics == ["Surat tugas"]


def test_chats_list_supervisor_sees_all(
    supervisor: User, ti_service: Service, requester_chat: RequesterChatFactory
) -> None:
    requester_chat(topic="Surat tugas")
    requester_chat(service=ti_service, topic="Akses VPN")
    topics = listed(client_for(supervisor).get(chats_url()))
    assert sorted(topics) == ["Akses VPN", "Surat tugas"]


def test_chats_list_search_message_body(
    agent_admin: User, requester_chat: RequesterChatFactory
) -> None:
    conversation, _token = requester_chat(topic="Pertanyaan")
    requester_chat(topic="Lainnya")
    for index in range(3):
        post_message(
            conversation,
            NewMessage(
                sender_kind=SenderKind.REQUESTER,
                sender_name="Budi",
                body="Nomor rekening BNI saya",
                client_id=f"c{index}",
            ),
        )
    topics = listed(client_for(agent_admin).get(chats_url(q="rekening")))
    assert topics == ["Pertanyaan"]


def test_chats_list_search_requester_identifier(
    agent_admin: User, requester_chat: RequesterChatFactory
) -> None:
    conversation, _token = requester_chat(topic="Cari NPM")
    requester_chat(topic="Lainnya")
    identifier = conversation.requester.identifier or ""
    topics = listed(client_for(agent_admin).get(chats_url(q=identifier)))
    assert topics == ["Cari NPM"]


def test_chats_list_filter_status(
    agent_admin: User, requester_chat: RequesterChatFactory
) -> None:
    ended, _token = requester_chat(topic="Selesai")
    requester_chat(topic="Menunggu")
    end_conversation(fresh(ended), Ending(ended_by=EndedBy.REQUESTER))
    topics = listed(client_for(agent_admin).get(chats_url(status="ended")))
    assert topics == ["Selesai"]


def test_chats_list_filter_ended_by(
    agent_admin: User, requester_chat: RequesterChatFactory
) -> None:
    by_requester, _token = requester_chat(topic="Pergi")
    by_agent, _token = requester_chat(topic="Ditutup")
    end_conversation(fresh(by_requester), Ending(ended_by=EndedBy.REQUESTER))
    end_conversation(fresh(by_agent), Ending(ended_by=EndedBy.AGENT))
    topics = listed(client_for(agent_admin).get(chats_url(ended_by="requester")))
    assert topics == ["Pergi"]


def test_chats_list_filter_agent(
    agent_admin: User, second_agent_admin: User, requester_chat: RequesterChatFactory
) -> None:
    mine, _token = requester_chat(topic="Punya Sari")
    theirs, _token = requester_chat(topic="Punya Dewi")
    accept_conversation(fresh(mine), agent_admin)
    accept_conversation(fresh(theirs), second_agent_admin)
    topics = listed(client_for(agent_admin).get(chats_url(agent=str(agent_admin.pk))))
    assert topics == ["Punya Sari"]


def test_chats_list_filter_date_range(
    agent_admin: User, requester_chat: RequesterChatFactory
) -> None:
    old, _token = requester_chat(topic="Lama")
    requester_chat(topic="Baru")
    Conversation.objects.filter(pk=old.pk).update(
        created=timezone.now() - timedelta(days=10)
    )
    today = timezone.localdate().isoformat()
    topics = listed(client_for(agent_admin).get(chats_url(date_from=today)))
    assert topics == ["Baru"]


def test_chats_list_reversed_dates_error(agent_admin: User) -> None:
    response = client_for(agent_admin).get(
        chats_url(date_from="2026-05-10", date_to="2026-05-01")
    )
    assert "is before the" in response.content.decode()


def test_chats_list_invalid_team_error(agent_admin: User, ti_team: Team) -> None:
    response = client_for(agent_admin).get(chats_url(team=str(ti_team.pk)))
    assert "is not in the list" in response.content.decode()


def test_chats_list_bad_date_error(agent_admin: User) -> None:
    response = client_for(agent_admin).get(chats_url(date_from="kemarin"))
    assert response.status_code == 200
    assert response.context["form"].errors["date_from"]


def test_chats_list_paginated(
    agent_admin: User, admin_service: Service, requester_chat: RequesterChatFactory
) -> None:
    first, _token = requester_chat()
    for number in range(60):
        Conversation.objects.create(
            token_hash=f"{number:064d}",
            requester=first.requester,
            requester_name="Budi",
            requester_email="b@mail.example",
            service=admin_service,
            team=admin_service.team,
            topic=f"Chat {number}",
            last_activity_at=timezone.now(),
        )
    response = client_for(agent_admin).get(chats_url(page="2"))
    assert response.context["page"].number == 2
    assert len(response.context["page"].object_list) == 11


def test_chats_list_query_count_constant(
    agent_admin: User,
    admin_service: Service,
    requester_chat: RequesterChatFactory,
    django_assert_num_queries: object,
) -> None:
    client = client_for(agent_admin)

    def count_queries() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            client.get(chats_url(q="Surat"))
        return len(captured.captured_queries)

    requester_chat()
    few = count_queries()
    for _index in range(15):
        conversation, _token = requester_chat()
        accept_conversation(fresh(conversation), agent_admin)
    many = count_queries()
    assert many == few
    with django_assert_num_queries(few):  # type: ignore[operator]
        client.get(chats_url(q="Surat"))


def test_chats_list_in_english(agent_admin: User) -> None:
    with translation.override("en"):
        page = client_for(agent_admin).get(chats_url()).content.decode()
    assert "No chats match these filters." in page
