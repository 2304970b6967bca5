"""Round-robin offers and transfers as the console sockets see them."""

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User

from conftest import RequesterChatFactory, Sockets
from layanan.catalog.models import RoutingMode, Team
from layanan.chat import routing
from layanan.chat.models import Conversation
from layanan.chat.services import accept_conversation

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@sync_to_async
def use_round_robin(team: Team) -> None:
    team.routing = RoutingMode.ROUND_ROBIN
    team.save(update_fields=["routing"])


@sync_to_async
def offered_to(conversation: Conversation) -> int | None:
    return Conversation.objects.get(pk=conversation.pk).offered_to_id


@sync_to_async
def held_chat(requester_chat: RequesterChatFactory, agent: User) -> Conversation:
    conversation, _token = requester_chat(language="en")
    accept_conversation(Conversation.objects.get(pk=conversation.pk), agent)
    return Conversation.objects.select_related("team").get(pk=conversation.pk)


async def test_hello_carries_user_id(sockets: Sockets, agent_admin: User) -> None:
    _communicator, hello = await sockets.agent(agent_admin)
    assert hello["user_id"] == agent_admin.pk


async def test_connecting_agent_gets_waiting_offer(
    sockets: Sockets,
    admin_team: Team,
    agent_admin: User,
    requester_chat: RequesterChatFactory,
) -> None:
    await use_round_robin(admin_team)
    conversation, _token = await sync_to_async(requester_chat)()
    communicator, hello = await sockets.agent(agent_admin)
    frames = await sockets.receive_until(communicator, "queue.updated")
    item = frames[-1]["item"]
    assert hello["queue"][0]["offered_to"] is None
    assert item["id"] == str(conversation.public_id)
    assert item["offered_to"] == agent_admin.pk
    assert item["routing"] == "round_robin"
    assert await offered_to(conversation) == agent_admin.pk


async def test_new_chat_offer_reaches_team(
    sockets: Sockets,
    admin_team: Team,
    agent_admin: User,
    second_agent_admin: User,
    requester_chat: RequesterChatFactory,
) -> None:
    await use_round_robin(admin_team)
    offered_socket, _hello = await sockets.agent(agent_admin)
    other_socket, _hello = await sockets.agent(second_agent_admin)
    await sockets.drain(offered_socket)
    await sockets.drain(other_socket)
    conversation, _token = await sync_to_async(requester_chat)()
    chosen = await offered_to(conversation)
    frames = await sockets.receive_until(other_socket, "queue.updated")
    assert chosen in (agent_admin.pk, second_agent_admin.pk)
    assert frames[-1]["item"]["offered_to"] == chosen


async def test_accept_not_offered_error_frame(
    sockets: Sockets,
    admin_team: Team,
    agent_admin: User,
    second_agent_admin: User,
    requester_chat: RequesterChatFactory,
) -> None:
    await use_round_robin(admin_team)
    offered_socket, _hello = await sockets.agent(agent_admin)
    await sockets.drain(offered_socket)
    conversation, _token = await sync_to_async(requester_chat)()
    other_socket, _hello = await sockets.agent(second_agent_admin)
    await sockets.drain(other_socket)
    await other_socket.send_json_to(
        {"type": "accept", "conversation": str(conversation.public_id)}
    )
    frames = await sockets.receive_until(other_socket, "error")
    assert frames[-1]["code"] == "not_offered"


async def test_transfer_frame_joins_new_agent(
    sockets: Sockets,
    admin_team: Team,
    agent_admin: User,
    second_agent_admin: User,
    requester_chat: RequesterChatFactory,
) -> None:
    conversation = await held_chat(requester_chat, agent_admin)
    target_socket, _hello = await sockets.agent(second_agent_admin)
    await sockets.drain(target_socket)
    await sync_to_async(routing.transfer_conversation)(
        conversation,
        agent_admin,
        routing.Transfer(team=admin_team, agent=second_agent_admin),
    )
    frames = await sockets.receive_until(target_socket, "transferred")
    frame = frames[-1]
    assert frame["conversation"] == str(conversation.public_id)
    assert frame["agent_id"] == second_agent_admin.pk
    assert frame["state"]["agent_name"] == "Dewi Lestari"


async def test_transfer_new_agent_hears_requester(
    sockets: Sockets,
    admin_team: Team,
    agent_admin: User,
    second_agent_admin: User,
    requester_chat: RequesterChatFactory,
) -> None:
    conversation, token = await sync_to_async(requester_chat)(language="en")
    await sync_to_async(accept_conversation)(
        await sync_to_async(Conversation.objects.select_related("team").get)(
            pk=conversation.pk
        ),
        agent_admin,
    )
    requester_socket, _ready = await sockets.requester(token)
    await sockets.drain(requester_socket)
    target_socket, _hello = await sockets.agent(second_agent_admin)
    stored = await sync_to_async(Conversation.objects.select_related("team").get)(
        pk=conversation.pk
    )
    await sync_to_async(routing.transfer_conversation)(
        stored,
        agent_admin,
        routing.Transfer(team=admin_team, agent=second_agent_admin, note="Rahasia"),
    )
    frames = await sockets.receive_until(requester_socket, "message")
    body = frames[-1]["message"]["body"]
    assert body == "You are now chatting with Dewi Lestari."
    await requester_socket.send_json_to(
        {"type": "message", "client_id": "after-transfer", "body": "Halo"}
    )
    heard = await sockets.receive_until(target_socket, "message")
    assert heard[-1]["message"]["body"] == "Halo"
    assert not any("Rahasia" in str(frame) for frame in frames)
