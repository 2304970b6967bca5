"""The requester and agent sockets, driven through the real ASGI application."""

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone, translation

from conftest import (
    FRAME_TIMEOUT,
    RequesterChatFactory,
    Sockets,
    WebsocketCommunicator,
    session_cookie,
)
from layanan.catalog.models import Service, Team
from layanan.chat import consumers, presence, services
from layanan.chat.models import (
    Conversation,
    ConversationStatus,
    EndedBy,
    Message,
    SenderKind,
)
from layanan.chat.services import (
    Ending,
    accept_conversation,
    end_conversation,
    end_idle_conversations,
)
from layanan.people.models import AgentConnection

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

CONVERSATION_FIELDS = {
    "id",
    "status",
    "service",
    "topic",
    "agent_name",
    "queue_position",
    "ended_by",
    "peer_read_seq",
    "ticket_number",
    "language",
    "email",
}
MESSAGE_FIELDS = {
    "seq",
    "client_id",
    "sender_kind",
    "sender_name",
    "body",
    "created",
    "time",
    "attachment",
}
QUEUE_ITEM_FIELDS = {
    "id",
    "requester_name",
    "requester_identifier",
    "requester_kind",
    "study_programme",
    "service",
    "team",
    "topic",
    "created",
    "waiting_seconds",
    "routing",
    "offered_to",
}


def message_frame(client_id: str, body: str) -> dict[str, Any]:
    return {"type": "message", "client_id": client_id, "body": body}


@sync_to_async
def stored_messages(conversation: Conversation) -> list[tuple[int, str, str]]:
    """Return (seq, client_id, body) of every stored message, in seq order."""
    return list(
        Message.objects.filter(conversation=conversation)
        .order_by("seq")
        .values_list("seq", "client_id", "body")
    )


@sync_to_async
def stored_sender_kinds(conversation: Conversation) -> list[str]:
    return list(
        Message.objects.filter(conversation=conversation)
        .order_by("seq")
        .values_list("sender_kind", flat=True)
    )


@sync_to_async
def reload(conversation: Conversation) -> Conversation:
    return Conversation.objects.get(pk=conversation.pk)


async def send_and_ack(
    sockets: Sockets, communicator: WebsocketCommunicator, client_id: str, body: str
) -> dict[str, Any]:
    await communicator.send_json_to(message_frame(client_id, body))
    frames = await sockets.receive_until(communicator, "ack", client_id=client_id)
    return frames[-1]


async def accept_and_subscribe(
    sockets: Sockets, agent: WebsocketCommunicator, conversation: Conversation
) -> None:
    """Accept the chat on the agent's socket, then subscribe to it.

    Accepting alone does not join the chat's group, so the agent would hear nothing.
    """
    public_id = str(conversation.public_id)
    await agent.send_json_to({"type": "accept", "conversation": public_id})
    await sockets.receive_until(agent, "accepted", conversation=public_id)
    await agent.send_json_to(
        {"type": "subscribe", "conversation": public_id, "last_seq": 0}
    )
    await sockets.receive_until(agent, "ready", conversation=public_id)


async def open_held_chat(
    sockets: Sockets, requester_chat: RequesterChatFactory, agent_user: User
) -> tuple[Conversation, WebsocketCommunicator, WebsocketCommunicator]:
    """Return a chat the agent has accepted and opened, and both drained sockets."""
    conversation, token = await sync_to_async(requester_chat)()
    requester, _ready = await sockets.requester(token)
    agent, _hello = await sockets.agent(agent_user)
    await accept_and_subscribe(sockets, agent, conversation)
    await sockets.drain(agent)
    await sockets.drain(requester)
    return conversation, requester, agent


# Origin


async def test_requester_socket_rejects_foreign_origin(sockets: Sockets) -> None:
    communicator = sockets.communicator("/ws/chat/", origin="https://evil.example")
    connected, code = await communicator.connect(timeout=FRAME_TIMEOUT)
    assert not connected
    assert code == consumers.CLOSE_BAD_ORIGIN


async def test_requester_socket_rejects_missing_origin(sockets: Sockets) -> None:
    communicator = sockets.communicator("/ws/chat/", origin=None)
    connected, code = await communicator.connect(timeout=FRAME_TIMEOUT)
    assert not connected
    assert code == consumers.CLOSE_BAD_ORIGIN


@pytest.mark.parametrize("host", ["", "layanan.example"])
async def test_requester_socket_rejects_null_origin(
    sockets: Sockets, host: str
) -> None:
    # Sandboxed frames and file: pages send "null", which names no site.
    communicator = sockets.communicator("/ws/chat/", origin="null", host=host)
    connected, code = await communicator.connect(timeout=FRAME_TIMEOUT)
    assert not connected
    assert code == consumers.CLOSE_BAD_ORIGIN


async def test_requester_socket_accepts_product_origin(sockets: Sockets) -> None:
    communicator = sockets.communicator("/ws/chat/")
    connected, _subprotocol = await communicator.connect(timeout=FRAME_TIMEOUT)
    assert connected


async def test_requester_socket_accepts_own_host_origin(sockets: Sockets) -> None:
    communicator = sockets.communicator(
        "/ws/chat/", origin="http://layanan.example", host="layanan.example"
    )
    connected, _subprotocol = await communicator.connect(timeout=FRAME_TIMEOUT)
    assert connected


async def test_agent_socket_rejects_foreign_origin(
    sockets: Sockets, agent_admin: User
) -> None:
    # The console socket rides on the session cookie, which a foreign page's
    # browser would send too.
    cookie = await sync_to_async(session_cookie)(agent_admin)
    communicator = sockets.communicator(
        "/ws/console/", origin="https://evil.example", cookie=cookie
    )
    connected, code = await communicator.connect(timeout=FRAME_TIMEOUT)
    assert not connected
    assert code == consumers.CLOSE_BAD_ORIGIN


# Requester authentication


async def test_requester_auth_bad_token_closes(sockets: Sockets) -> None:
    communicator = sockets.communicator("/ws/chat/")
    await communicator.connect(timeout=FRAME_TIMEOUT)
    await communicator.send_json_to({"type": "auth", "token": "wrong", "last_seq": 0})
    error = await communicator.receive_json_from(timeout=FRAME_TIMEOUT)
    closing = await communicator.receive_output(timeout=FRAME_TIMEOUT)
    assert error["type"] == "error"
    assert error["code"] == "auth_required"
    assert error["message"]
    assert closing == {"type": "websocket.close", "code": 4401}


async def test_requester_auth_first_frame_not_auth_closes(
    sockets: Sockets, requester_chat: RequesterChatFactory
) -> None:
    _conversation, token = await sync_to_async(requester_chat)()
    communicator = sockets.communicator("/ws/chat/")
    await communicator.connect(timeout=FRAME_TIMEOUT)
    await communicator.send_json_to(message_frame("c-1", token))
    error = await communicator.receive_json_from(timeout=FRAME_TIMEOUT)
    closing = await communicator.receive_output(timeout=FRAME_TIMEOUT)
    assert error["code"] == "auth_required"
    assert closing == {"type": "websocket.close", "code": 4401}


async def test_requester_auth_timeout_closes(
    sockets: Sockets, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consumers, "AUTH_TIMEOUT_SECONDS", 0.1)
    communicator = sockets.communicator("/ws/chat/")
    await communicator.connect(timeout=FRAME_TIMEOUT)
    closing = await communicator.receive_output(timeout=FRAME_TIMEOUT)
    assert closing == {"type": "websocket.close", "code": 4401}


async def test_requester_auth_in_time_is_not_closed(
    sockets: Sockets,
    requester_chat: RequesterChatFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(consumers, "AUTH_TIMEOUT_SECONDS", 0.2)
    _conversation, token = await sync_to_async(requester_chat)()
    communicator, _ready = await sockets.requester(token)
    await asyncio.sleep(0.4)
    assert await communicator.receive_nothing(timeout=0.1)


async def test_requester_auth_ready_carries_conversation(
    sockets: Sockets, requester_chat: RequesterChatFactory, admin_service: Service
) -> None:
    conversation, token = await sync_to_async(requester_chat)()
    _communicator, ready = await sockets.requester(token)
    state = ready["conversation"]
    assert set(ready) == {"type", "conversation", "last_seq"}
    assert ready["last_seq"] == 0
    assert set(state) == CONVERSATION_FIELDS
    assert state["id"] == str(conversation.public_id)
    assert state["status"] == "waiting"
    assert state["service"] == admin_service.name_id
    assert state["topic"] == "Surat tugas seminar"
    assert state["agent_name"] is None
    assert state["queue_position"] == 1
    assert state["ended_by"] == ""
    assert state["peer_read_seq"] == 0
    assert state["ticket_number"] is None
    assert state["language"] == "id"
    assert state["email"] == conversation.requester_email


async def test_requester_auth_ready_in_english(
    sockets: Sockets, requester_chat: RequesterChatFactory, admin_service: Service
) -> None:
    _conversation, token = await sync_to_async(requester_chat)(language="en")
    _communicator, ready = await sockets.requester(token)
    assert ready["conversation"]["service"] == admin_service.name_en
    assert ready["conversation"]["language"] == "en"


async def test_requester_auth_queue_position_counts_earlier_chats(
    sockets: Sockets, requester_chat: RequesterChatFactory
) -> None:
    await sync_to_async(requester_chat)()
    _conversation, token = await sync_to_async(requester_chat)()
    _communicator, ready = await sockets.requester(token)
    assert ready["conversation"]["queue_position"] == 2


# Ordering


async def test_requester_burst_acked_in_seq_order(
    sockets: Sockets, requester_chat: RequesterChatFactory
) -> None:
    conversation, token = await sync_to_async(requester_chat)()
    communicator, _ready = await sockets.requester(token)
    client_ids = [f"burst-{number:02d}" for number in range(1, 21)]
    for client_id in client_ids:
        await communicator.send_json_to(message_frame(client_id, f"Pesan {client_id}"))
    frames = [
        await communicator.receive_json_from(timeout=FRAME_TIMEOUT)
        for _frame in range(40)
    ]
    acks = [frame for frame in frames if frame["type"] == "ack"]
    broadcasts = [frame["message"] for frame in frames if frame["type"] == "message"]
    assert [ack["seq"] for ack in acks] == list(range(1, 21))
    assert [ack["client_id"] for ack in acks] == client_ids
    assert [message["seq"] for message in broadcasts] == list(range(1, 21))
    assert [message["client_id"] for message in broadcasts] == client_ids
    assert await stored_messages(conversation) == [
        (seq, client_id, f"Pesan {client_id}")
        for seq, client_id in enumerate(client_ids, start=1)
    ]
    assert await communicator.receive_nothing(timeout=0.2)


async def test_requester_burst_reaches_agent_in_order(
    sockets: Sockets, requester_chat: RequesterChatFactory, agent_admin: User
) -> None:
    conversation, requester, agent = await open_held_chat(
        sockets, requester_chat, agent_admin
    )
    for number in range(1, 21):
        await requester.send_json_to(
            message_frame(f"burst-{number}", f"Pesan {number}")
        )
    frames = [
        await agent.receive_json_from(timeout=FRAME_TIMEOUT) for _frame in range(20)
    ]
    assert [frame["type"] for frame in frames] == ["message"] * 20
    # seq 1 is the "joined" note.
    assert [frame["message"]["seq"] for frame in frames] == list(range(2, 22))
    assert {frame["conversation"] for frame in frames} == {str(conversation.public_id)}
    assert [frame["message"]["body"] for frame in frames] == [
        f"Pesan {number}" for number in range(1, 21)
    ]


async def test_requester_message_payload_fields(
    sockets: Sockets, requester_chat: RequesterChatFactory
) -> None:
    _conversation, token = await sync_to_async(requester_chat)(name="Budi Santoso")
    communicator, _ready = await sockets.requester(token)
    await communicator.send_json_to(message_frame("c-1", "Halo"))
    frames = await sockets.receive_until(communicator, "message")
    message = frames[-1]["message"]
    assert set(frames[-1]) == {"type", "message"}
    assert set(message) == MESSAGE_FIELDS
    assert message["sender_kind"] == "requester"
    assert message["sender_name"] == "Budi Santoso"
    assert message["attachment"] is None
    assert message["created"].endswith("+00:00")
    assert len(message["time"]) == 5


# Resume


async def _send_five_and_leave(
    sockets: Sockets, token: str
) -> tuple[WebsocketCommunicator, list[int]]:
    communicator, _ready = await sockets.requester(token)
    seqs = []
    for number in range(1, 6):
        ack = await send_and_ack(
            sockets, communicator, f"r-{number}", f"Pesan {number}"
        )
        seqs.append(ack["seq"])
    await communicator.disconnect(timeout=FRAME_TIMEOUT)
    return communicator, seqs


async def test_requester_resume_replays_missed_messages(
    sockets: Sockets, requester_chat: RequesterChatFactory
) -> None:
    _conversation, token = await sync_to_async(requester_chat)()
    _first, seqs = await _send_five_and_leave(sockets, token)
    communicator, ready = await sockets.requester(token, last_seq=2)
    replayed = [
        await communicator.receive_json_from(timeout=FRAME_TIMEOUT)
        for _frame in range(3)
    ]
    assert seqs == [1, 2, 3, 4, 5]
    assert ready["last_seq"] == 5
    assert [frame["type"] for frame in replayed] == ["message"] * 3
    assert [frame["message"]["seq"] for frame in replayed] == [3, 4, 5]
    assert [frame["message"]["body"] for frame in replayed] == [
        "Pesan 3",
        "Pesan 4",
        "Pesan 5",
    ]
    assert await communicator.receive_nothing(timeout=0.2)


async def test_requester_resume_at_latest_replays_nothing(
    sockets: Sockets, requester_chat: RequesterChatFactory
) -> None:
    _conversation, token = await sync_to_async(requester_chat)()
    await _send_five_and_leave(sockets, token)
    communicator, ready = await sockets.requester(token, last_seq=5)
    assert ready["last_seq"] == 5
    assert await communicator.receive_nothing(timeout=0.2)


async def test_requester_resume_bad_last_seq_replays_all(
    sockets: Sockets, requester_chat: RequesterChatFactory
) -> None:
    _conversation, token = await sync_to_async(requester_chat)()
    await _send_five_and_leave(sockets, token)
    communicator, _ready = await sockets.requester(token, last_seq=-3)
    replayed = [
        await communicator.receive_json_from(timeout=FRAME_TIMEOUT)
        for _frame in range(5)
    ]
    assert [frame["message"]["seq"] for frame in replayed] == [1, 2, 3, 4, 5]


async def test_requester_resume_then_live_message_not_doubled(
    sockets: Sockets, requester_chat: RequesterChatFactory
) -> None:
    _conversation, token = await sync_to_async(requester_chat)()
    await _send_five_and_leave(sockets, token)
    communicator, _ready = await sockets.requester(token, last_seq=4)
    replayed = await communicator.receive_json_from(timeout=FRAME_TIMEOUT)
    await communicator.send_json_to(message_frame("r-6", "Pesan 6"))
    frames = await sockets.receive_until(communicator, "ack")
    frames += await sockets.drain(communicator)
    seqs = [frame["message"]["seq"] for frame in frames if frame["type"] == "message"]
    assert replayed["message"]["seq"] == 5
    assert frames[0] == {"type": "ack", "client_id": "r-6", "seq": 6}
    assert seqs == [6]


# Duplicate client_id


async def test_requester_duplicate_client_id_stored_once(
    sockets: Sockets, requester_chat: RequesterChatFactory
) -> None:
    conversation, token = await sync_to_async(requester_chat)()
    communicator, _ready = await sockets.requester(token)
    first = await send_and_ack(sockets, communicator, "same-id", "Halo")
    second = await send_and_ack(sockets, communicator, "same-id", "Halo")
    later = await sockets.drain(communicator)
    assert first["seq"] == 1
    assert second["seq"] == 1
    assert [frame["type"] for frame in later] == []
    assert await stored_messages(conversation) == [(1, "same-id", "Halo")]


async def test_requester_duplicate_client_id_after_reconnect(
    sockets: Sockets, requester_chat: RequesterChatFactory
) -> None:
    conversation, token = await sync_to_async(requester_chat)()
    first_socket, _ready = await sockets.requester(token)
    first = await send_and_ack(sockets, first_socket, "same-id", "Halo")
    await first_socket.disconnect(timeout=FRAME_TIMEOUT)
    second_socket, _ready = await sockets.requester(token, last_seq=1)
    second = await send_and_ack(sockets, second_socket, "same-id", "Halo")
    assert first["seq"] == second["seq"]
    assert await stored_messages(conversation) == [(1, "same-id", "Halo")]


# Validation


async def _rejected(
    sockets: Sockets, requester_chat: RequesterChatFactory, frame: dict[str, Any]
) -> tuple[dict[str, Any], Conversation]:
    conversation, token = await sync_to_async(requester_chat)()
    communicator, _ready = await sockets.requester(token)
    await communicator.send_json_to(frame)
    error = await communicator.receive_json_from(timeout=FRAME_TIMEOUT)
    assert error["type"] == "error", error
    return error, conversation


async def test_requester_blank_body_rejected(
    sockets: Sockets, requester_chat: RequesterChatFactory
) -> None:
    error, conversation = await _rejected(
        sockets, requester_chat, message_frame("c-1", " \n\t ")
    )
    assert error["code"] == "empty_message"
    assert error["client_id"] == "c-1"
    assert error["message"]
    assert await stored_messages(conversation) == []


async def test_requester_body_over_limit_rejected(
    sockets: Sockets, requester_chat: RequesterChatFactory
) -> None:
    error, conversation = await _rejected(
        sockets, requester_chat, message_frame("c-1", "a" * 4001)
    )
    assert error["code"] == "message_too_long"
    assert "4000" in error["message"]
    assert await stored_messages(conversation) == []


async def test_requester_body_at_limit_accepted(
    sockets: Sockets, requester_chat: RequesterChatFactory
) -> None:
    conversation, token = await sync_to_async(requester_chat)()
    communicator, _ready = await sockets.requester(token)
    ack = await send_and_ack(sockets, communicator, "c-1", "a" * 4000)
    assert ack["seq"] == 1
    assert await stored_messages(conversation) == [(1, "c-1", "a" * 4000)]


async def test_requester_missing_client_id_rejected(
    sockets: Sockets, requester_chat: RequesterChatFactory
) -> None:
    error, conversation = await _rejected(
        sockets, requester_chat, {"type": "message", "body": "Halo"}
    )
    assert error["code"] == "bad_client_id"
    assert await stored_messages(conversation) == []


async def test_requester_long_client_id_rejected(
    sockets: Sockets, requester_chat: RequesterChatFactory
) -> None:
    error, conversation = await _rejected(
        sockets, requester_chat, message_frame("x" * 65, "Halo")
    )
    assert error["code"] == "bad_client_id"
    assert await stored_messages(conversation) == []


async def test_requester_client_id_at_limit_accepted(
    sockets: Sockets, requester_chat: RequesterChatFactory
) -> None:
    _conversation, token = await sync_to_async(requester_chat)()
    communicator, _ready = await sockets.requester(token)
    ack = await send_and_ack(sockets, communicator, "x" * 64, "Halo")
    assert ack["seq"] == 1


@pytest.mark.parametrize("client_id", ["system:ended", "system:accepted"])
async def test_requester_reserved_client_id_rejected(
    sockets: Sockets,
    requester_chat: RequesterChatFactory,
    agent_admin: User,
    client_id: str,
) -> None:
    # The server's own notes use these ids; a message holding one first would
    # keep the "joined" note out, or make the chat impossible to end.
    error, conversation = await _rejected(
        sockets, requester_chat, message_frame(client_id, "Halo")
    )
    await sync_to_async(accept_conversation)(conversation, agent_admin)
    ended = await sync_to_async(end_conversation)(
        conversation, Ending(ended_by=EndedBy.REQUESTER)
    )
    assert error["code"] == "bad_client_id"
    assert ended
    assert await stored_sender_kinds(conversation) == ["system", "system"]


async def test_requester_error_in_chat_language(
    sockets: Sockets,
    requester_chat: RequesterChatFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The catalogue may not be compiled, so the active language is read instead.
    monkeypatch.setattr(
        services, "_", lambda text: f"[{translation.get_language()}] {text}"
    )
    _conversation, token = await sync_to_async(requester_chat)(language="en")
    communicator, _ready = await sockets.requester(token)
    await communicator.send_json_to(message_frame("c-1", " "))
    error = await communicator.receive_json_from(timeout=FRAME_TIMEOUT)
    assert error["code"] == "empty_message"
    assert error["message"].startswith("[en] ")


async def test_agent_error_in_console_language(
    sockets: Sockets,
    requester_chat: RequesterChatFactory,
    agent_admin: User,
    second_agent_admin: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        services, "_", lambda text: f"[{translation.get_language()}] {text}"
    )
    conversation, _token = await sync_to_async(requester_chat)()
    await sync_to_async(accept_conversation)(conversation, second_agent_admin)
    cookie = await sync_to_async(session_cookie)(agent_admin)
    communicator = sockets.communicator(
        "/ws/console/", cookie=f"{cookie}; {settings.LANGUAGE_COOKIE_NAME}=en"
    )
    await communicator.connect(timeout=FRAME_TIMEOUT)
    await sockets.receive_until(communicator, "hello")
    await communicator.send_json_to(
        {"type": "accept", "conversation": str(conversation.public_id)}
    )
    error = await communicator.receive_json_from(timeout=FRAME_TIMEOUT)
    assert error["code"] == "already_taken"
    assert error["message"].startswith("[en] ")


async def test_requester_non_json_frame_rejected(
    sockets: Sockets, requester_chat: RequesterChatFactory
) -> None:
    _conversation, token = await sync_to_async(requester_chat)()
    communicator, _ready = await sockets.requester(token)
    await communicator.send_to(text_data="bukan json {")
    error = await communicator.receive_json_from(timeout=FRAME_TIMEOUT)
    assert error["type"] == "error"
    assert error["code"] == "bad_frame"


@pytest.mark.parametrize(
    "frame", [[1, 2], "message", {"body": "Halo"}, {"type": "hapus"}]
)
async def test_requester_malformed_frame_rejected(
    sockets: Sockets, requester_chat: RequesterChatFactory, frame: object
) -> None:
    _conversation, token = await sync_to_async(requester_chat)()
    communicator, _ready = await sockets.requester(token)
    await communicator.send_json_to(frame)
    error = await communicator.receive_json_from(timeout=FRAME_TIMEOUT)
    assert error["code"] == "bad_frame"


async def test_requester_socket_survives_rejected_frame(
    sockets: Sockets, requester_chat: RequesterChatFactory
) -> None:
    _conversation, token = await sync_to_async(requester_chat)()
    communicator, _ready = await sockets.requester(token)
    await communicator.send_to(text_data="bukan json {")
    await sockets.receive_until(communicator, "error")
    await communicator.send_json_to({"type": "ping"})
    pong = await communicator.receive_json_from(timeout=FRAME_TIMEOUT)
    assert pong == {"type": "pong"}


async def test_requester_unicode_round_trip(
    sockets: Sockets, requester_chat: RequesterChatFactory
) -> None:
    body = "Terima kasih 🙏🏽 — 谢谢 · شكرا · Спасибо · ꦩꦠꦸꦂꦤꦸꦮꦸꦤ꧀\n👨‍👩‍👧"
    conversation, token = await sync_to_async(requester_chat)()
    communicator, _ready = await sockets.requester(token)
    await communicator.send_json_to(message_frame("c-1", body))
    frames = await sockets.receive_until(communicator, "message")
    raw = await _raw_replay(sockets, token)
    assert frames[-1]["message"]["body"] == body
    assert await stored_messages(conversation) == [(1, "c-1", body)]
    assert "谢谢 · شكرا" in raw


async def _raw_replay(sockets: Sockets, token: str) -> str:
    """Return the replayed message frame as the socket sent it, unparsed."""
    communicator, _ready = await sockets.requester(token)
    return str(await communicator.receive_from(timeout=FRAME_TIMEOUT))


# Agent socket: connecting and the queue


async def test_agent_socket_anonymous_closed(sockets: Sockets) -> None:
    communicator = sockets.communicator("/ws/console/")
    connected, _subprotocol = await communicator.connect(timeout=FRAME_TIMEOUT)
    closing = await communicator.receive_output(timeout=FRAME_TIMEOUT)
    assert connected
    assert closing == {"type": "websocket.close", "code": 4401}


async def test_agent_hello_lists_own_team_queue(
    sockets: Sockets,
    requester_chat: RequesterChatFactory,
    agent_admin: User,
    ti_service: Service,
) -> None:
    admin_chat, _token = await sync_to_async(requester_chat)()
    ti_chat, _token = await sync_to_async(requester_chat)(ti_service)
    _communicator, hello = await sockets.agent(agent_admin)
    assert hello["status"] == "online"
    assert [item["id"] for item in hello["queue"]] == [str(admin_chat.public_id)]
    assert str(ti_chat.public_id) not in str(hello)


async def test_agent_hello_queue_item_fields(
    sockets: Sockets, requester_chat: RequesterChatFactory, agent_admin: User
) -> None:
    conversation, _token = await sync_to_async(requester_chat)(name="Budi Santoso")
    _communicator, hello = await sockets.agent(agent_admin)
    item = hello["queue"][0]
    assert set(item) == QUEUE_ITEM_FIELDS
    assert item["id"] == str(conversation.public_id)
    assert item["requester_name"] == "Budi Santoso"
    assert item["team"] == "Administrasi"
    assert item["topic"] == "Surat tugas seminar"
    assert item["waiting_seconds"] >= 0


async def test_agent_hello_leaves_out_accepted_and_ended_chats(
    sockets: Sockets,
    requester_chat: RequesterChatFactory,
    agent_admin: User,
    second_agent_admin: User,
) -> None:
    waiting, _token = await sync_to_async(requester_chat)()
    accepted, _token = await sync_to_async(requester_chat)()
    ended, _token = await sync_to_async(requester_chat)()
    await sync_to_async(accept_conversation)(accepted, second_agent_admin)
    await sync_to_async(end_conversation)(ended, Ending(ended_by=EndedBy.REQUESTER))
    _communicator, hello = await sockets.agent(agent_admin)
    assert [item["id"] for item in hello["queue"]] == [str(waiting.public_id)]


async def test_agent_hello_away_status(sockets: Sockets, agent_admin: User) -> None:
    first, _hello = await sockets.agent(agent_admin)
    await first.send_json_to({"type": "status", "status": "away"})
    status = await first.receive_json_from(timeout=FRAME_TIMEOUT)
    _second, hello = await sockets.agent(agent_admin)
    assert status == {"type": "status", "status": "away"}
    assert hello["status"] == "away"


@sync_to_async
def connection_times(user: User) -> list[datetime]:
    return list(
        AgentConnection.objects.filter(user=user).values_list("last_seen", flat=True)
    )


async def test_agent_socket_marks_team_online_while_open(
    sockets: Sockets, agent_admin: User, admin_team: Team
) -> None:
    communicator, _hello = await sockets.agent(agent_admin)
    online_while_open = await sync_to_async(presence.team_is_online)(admin_team.pk)
    await communicator.disconnect(timeout=FRAME_TIMEOUT)
    online_in_grace = await sync_to_async(presence.team_is_online)(admin_team.pk)
    after_grace = timezone.now() + presence.CLOSE_GRACE + timedelta(seconds=1)
    online_after_grace = await sync_to_async(presence.online_team_ids)(after_grace)
    assert online_while_open
    assert online_in_grace
    assert admin_team.pk not in online_after_grace


async def test_agent_ping_refreshes_presence(
    sockets: Sockets, agent_admin: User
) -> None:
    communicator, _hello = await sockets.agent(agent_admin)
    long_ago = timezone.now() - timedelta(hours=1)
    await sync_to_async(AgentConnection.objects.update)(last_seen=long_ago)
    await communicator.send_json_to({"type": "ping"})
    await sockets.receive_until(communicator, "pong")
    [last_seen] = await connection_times(agent_admin)
    assert last_seen > long_ago + timedelta(minutes=59)


async def test_agent_new_chat_reaches_own_team_only(
    sockets: Sockets,
    requester_chat: RequesterChatFactory,
    agent_admin: User,
    agent_ti: User,
) -> None:
    admin_socket, _hello = await sockets.agent(agent_admin)
    ti_socket, _hello = await sockets.agent(agent_ti)
    conversation, _token = await sync_to_async(requester_chat)()
    added = await admin_socket.receive_json_from(timeout=FRAME_TIMEOUT)
    assert added["type"] == "queue.added"
    assert added["item"]["id"] == str(conversation.public_id)
    assert set(added["item"]) == QUEUE_ITEM_FIELDS
    assert await ti_socket.receive_nothing(timeout=0.3)


async def test_supervisor_sees_every_team_queue(
    sockets: Sockets,
    requester_chat: RequesterChatFactory,
    supervisor: User,
    ti_service: Service,
) -> None:
    admin_chat, _token = await sync_to_async(requester_chat)()
    ti_chat, _token = await sync_to_async(requester_chat)(ti_service)
    communicator, hello = await sockets.agent(supervisor)
    later_chat, _token = await sync_to_async(requester_chat)(ti_service)
    added = await communicator.receive_json_from(timeout=FRAME_TIMEOUT)
    assert {item["id"] for item in hello["queue"]} == {
        str(admin_chat.public_id),
        str(ti_chat.public_id),
    }
    assert added["type"] == "queue.added"
    assert added["item"]["id"] == str(later_chat.public_id)


async def test_outsider_console_socket_closed(
    sockets: Sockets, requester_chat: RequesterChatFactory, outsider: User
) -> None:
    await sync_to_async(requester_chat)()
    cookie = await sync_to_async(session_cookie)(outsider)
    communicator = sockets.communicator("/ws/console/", cookie=cookie)
    await communicator.connect(timeout=FRAME_TIMEOUT)
    closed = await communicator.receive_output(timeout=FRAME_TIMEOUT)
    assert closed == {"type": "websocket.close", "code": 4403}
    assert not await sync_to_async(AgentConnection.objects.exists)()


async def test_agent_subscribe_other_team_chat_not_found(
    sockets: Sockets, requester_chat: RequesterChatFactory, agent_ti: User
) -> None:
    conversation, _token = await sync_to_async(requester_chat)()
    communicator, _hello = await sockets.agent(agent_ti)
    await communicator.send_json_to(
        {"type": "subscribe", "conversation": str(conversation.public_id)}
    )
    error = await communicator.receive_json_from(timeout=FRAME_TIMEOUT)
    assert error["code"] == "not_found"


async def test_supervisor_subscribe_replays_any_chat(
    sockets: Sockets,
    requester_chat: RequesterChatFactory,
    supervisor: User,
    ti_service: Service,
) -> None:
    conversation, token = await sync_to_async(requester_chat)(ti_service)
    requester, _ready = await sockets.requester(token)
    await send_and_ack(sockets, requester, "r-1", "Aplikasi tidak bisa dibuka")
    communicator, _hello = await sockets.agent(supervisor)
    public_id = str(conversation.public_id)
    await communicator.send_json_to(
        {"type": "subscribe", "conversation": public_id, "last_seq": 0}
    )
    ready = await communicator.receive_json_from(timeout=FRAME_TIMEOUT)
    replayed = await communicator.receive_json_from(timeout=FRAME_TIMEOUT)
    assert ready["type"] == "ready"
    assert ready["conversation"] == public_id
    assert ready["last_seq"] == 1
    assert set(ready["state"]) == CONVERSATION_FIELDS
    assert replayed["message"]["body"] == "Aplikasi tidak bisa dibuka"


# Accepting


async def test_agent_accept_race_has_one_winner(
    sockets: Sockets,
    requester_chat: RequesterChatFactory,
    agent_admin: User,
    second_agent_admin: User,
) -> None:
    conversation, _token = await sync_to_async(requester_chat)()
    public_id = str(conversation.public_id)
    first, _hello = await sockets.agent(agent_admin)
    second, _hello = await sockets.agent(second_agent_admin)
    accept = {"type": "accept", "conversation": public_id}
    await asyncio.gather(first.send_json_to(accept), second.send_json_to(accept))
    outcomes = {}
    removed = {}
    for user, communicator in ((agent_admin, first), (second_agent_admin, second)):
        frames = await sockets.receive_until(communicator, "queue.removed")
        frames += await sockets.drain(communicator)
        replies = [frame for frame in frames if frame["type"] in ("accepted", "error")]
        assert len(replies) == 1, frames
        outcomes[user.pk] = replies[0]
        removed[user.pk] = [
            frame["conversation"]
            for frame in frames
            if frame["type"] == "queue.removed"
        ]
    winners = [pk for pk, reply in outcomes.items() if reply["type"] == "accepted"]
    losers = [pk for pk, reply in outcomes.items() if reply["type"] == "error"]
    stored = await reload(conversation)
    assert len(winners) == 1
    assert len(losers) == 1
    assert outcomes[losers[0]]["code"] == "already_taken"
    assert outcomes[winners[0]]["state"]["status"] == "active"
    assert stored.agent_id == winners[0]
    assert stored.status == ConversationStatus.ACTIVE
    assert removed[losers[0]] == [public_id]
    assert removed[winners[0]] == [public_id]


async def test_agent_accept_tells_requester(
    sockets: Sockets, requester_chat: RequesterChatFactory, agent_admin: User
) -> None:
    conversation, token = await sync_to_async(requester_chat)()
    requester, _ready = await sockets.requester(token)
    agent, _hello = await sockets.agent(agent_admin)
    await agent.send_json_to(
        {"type": "accept", "conversation": str(conversation.public_id)}
    )
    frames = await sockets.receive_until(requester, "state")
    frames += await sockets.drain(requester)
    states = [frame["conversation"] for frame in frames if frame["type"] == "state"]
    notes = [frame["message"] for frame in frames if frame["type"] == "message"]
    assert states[-1]["status"] == "active"
    assert states[-1]["agent_name"] == "Sari Wulandari"
    assert states[-1]["queue_position"] is None
    assert [note["sender_kind"] for note in notes] == ["system"]
    assert "Sari Wulandari" in notes[0]["body"]


async def test_agent_accept_moves_next_chat_up(
    sockets: Sockets, requester_chat: RequesterChatFactory, agent_admin: User
) -> None:
    first_chat, _token = await sync_to_async(requester_chat)()
    _second_chat, token = await sync_to_async(requester_chat)()
    requester, ready = await sockets.requester(token)
    agent, _hello = await sockets.agent(agent_admin)
    await agent.send_json_to(
        {"type": "accept", "conversation": str(first_chat.public_id)}
    )
    frames = await sockets.receive_until(requester, "state")
    assert ready["conversation"]["queue_position"] == 2
    assert frames[-1]["conversation"]["queue_position"] == 1


async def test_agent_accept_other_team_refused(
    sockets: Sockets, requester_chat: RequesterChatFactory, agent_ti: User
) -> None:
    conversation, _token = await sync_to_async(requester_chat)()
    communicator, _hello = await sockets.agent(agent_ti)
    await communicator.send_json_to(
        {"type": "accept", "conversation": str(conversation.public_id)}
    )
    error = await communicator.receive_json_from(timeout=FRAME_TIMEOUT)
    stored = await reload(conversation)
    assert error["type"] == "error"
    assert error["code"] in ("not_allowed", "not_found")
    assert stored.status == ConversationStatus.WAITING
    assert stored.agent_id is None


@pytest.mark.parametrize("public_id", ["", "bukan-uuid", "00000000-0000-0000-0000-0"])
async def test_agent_accept_unknown_chat_not_found(
    sockets: Sockets, agent_admin: User, public_id: str
) -> None:
    communicator, _hello = await sockets.agent(agent_admin)
    await communicator.send_json_to({"type": "accept", "conversation": public_id})
    error = await communicator.receive_json_from(timeout=FRAME_TIMEOUT)
    assert error["code"] == "not_found"


# Talking


async def test_agent_message_before_accept_not_allowed(
    sockets: Sockets, requester_chat: RequesterChatFactory, agent_admin: User
) -> None:
    conversation, _token = await sync_to_async(requester_chat)()
    communicator, _hello = await sockets.agent(agent_admin)
    await communicator.send_json_to(
        {
            "type": "message",
            "conversation": str(conversation.public_id),
            "client_id": "a-1",
            "body": "Halo",
        }
    )
    error = await communicator.receive_json_from(timeout=FRAME_TIMEOUT)
    assert error["code"] == "not_allowed"
    assert error["client_id"] == "a-1"
    assert await stored_messages(conversation) == []


async def test_agent_message_on_colleague_chat_not_allowed(
    sockets: Sockets,
    requester_chat: RequesterChatFactory,
    agent_admin: User,
    second_agent_admin: User,
) -> None:
    conversation, _token = await sync_to_async(requester_chat)()
    await sync_to_async(accept_conversation)(conversation, second_agent_admin)
    communicator, _hello = await sockets.agent(agent_admin)
    await communicator.send_json_to(
        {
            "type": "message",
            "conversation": str(conversation.public_id),
            "client_id": "a-1",
            "body": "Halo",
        }
    )
    error = await communicator.receive_json_from(timeout=FRAME_TIMEOUT)
    assert error["code"] == "not_allowed"


async def test_agent_and_requester_exchange_messages(
    sockets: Sockets, requester_chat: RequesterChatFactory, agent_admin: User
) -> None:
    conversation, token = await sync_to_async(requester_chat)()
    public_id = str(conversation.public_id)
    requester, _ready = await sockets.requester(token)
    await send_and_ack(sockets, requester, "r-1", "Selamat pagi")
    agent, _hello = await sockets.agent(agent_admin)
    await agent.send_json_to({"type": "accept", "conversation": public_id})
    await sockets.receive_until(agent, "accepted")
    await agent.send_json_to(
        {"type": "subscribe", "conversation": public_id, "last_seq": 0}
    )
    history = await sockets.receive_until(agent, "message", conversation=public_id)
    history += await sockets.drain(agent)
    await sockets.drain(requester)

    await requester.send_json_to(message_frame("r-2", "Saya butuh surat tugas"))
    to_agent = await sockets.receive_until(agent, "message")
    await agent.send_json_to(
        {
            "type": "message",
            "conversation": public_id,
            "client_id": "a-1",
            "body": "Baik, saya bantu.",
        }
    )
    agent_frames = await sockets.receive_until(agent, "message")
    await sockets.receive_until(requester, "ack", client_id="r-2")
    requester_frames = await sockets.drain(requester)

    replayed = [
        frame["message"]["seq"] for frame in history if frame["type"] == "message"
    ]
    acks = [frame for frame in agent_frames if frame["type"] == "ack"]
    to_requester = [
        frame["message"] for frame in requester_frames if frame["type"] == "message"
    ]
    assert replayed == [1, 2]
    assert to_agent[-1]["conversation"] == public_id
    assert to_agent[-1]["message"]["body"] == "Saya butuh surat tugas"
    assert to_agent[-1]["message"]["sender_kind"] == "requester"
    assert acks == [
        {"type": "ack", "conversation": public_id, "client_id": "a-1", "seq": 4}
    ]
    assert [message["seq"] for message in to_requester] == [3, 4]
    assert to_requester[-1]["body"] == "Baik, saya bantu."
    assert to_requester[-1]["sender_kind"] == "agent"
    assert to_requester[-1]["sender_name"] == "Sari Wulandari"


async def test_requester_typing_reaches_agent_only(
    sockets: Sockets, requester_chat: RequesterChatFactory, agent_admin: User
) -> None:
    conversation, requester, agent = await open_held_chat(
        sockets, requester_chat, agent_admin
    )
    await requester.send_json_to({"type": "typing", "active": True})
    typing = await agent.receive_json_from(timeout=FRAME_TIMEOUT)
    assert typing == {
        "type": "typing",
        "conversation": str(conversation.public_id),
        "sender_kind": "requester",
        "active": True,
    }
    assert await requester.receive_nothing(timeout=0.3)


async def test_agent_typing_reaches_requester_only(
    sockets: Sockets, requester_chat: RequesterChatFactory, agent_admin: User
) -> None:
    conversation, requester, agent = await open_held_chat(
        sockets, requester_chat, agent_admin
    )
    await agent.send_json_to(
        {
            "type": "typing",
            "conversation": str(conversation.public_id),
            "active": False,
        }
    )
    typing = await requester.receive_json_from(timeout=FRAME_TIMEOUT)
    assert typing == {"type": "typing", "sender_kind": "agent", "active": False}
    assert await agent.receive_nothing(timeout=0.3)


async def test_typing_is_not_replayed(
    sockets: Sockets, requester_chat: RequesterChatFactory, agent_admin: User
) -> None:
    conversation, requester, _agent = await open_held_chat(
        sockets, requester_chat, agent_admin
    )
    await requester.send_json_to({"type": "typing", "active": True})
    late_agent, _hello = await sockets.agent(agent_admin)
    await late_agent.send_json_to(
        {"type": "subscribe", "conversation": str(conversation.public_id)}
    )
    frames = await sockets.receive_until(late_agent, "ready")
    frames += await sockets.drain(late_agent)
    assert "typing" not in [frame["type"] for frame in frames]


async def test_requester_read_reaches_agent(
    sockets: Sockets, requester_chat: RequesterChatFactory, agent_admin: User
) -> None:
    # The requester has sent nothing, so every seq read was stored by the other side.
    conversation, requester, agent = await open_held_chat(
        sockets, requester_chat, agent_admin
    )
    public_id = str(conversation.public_id)
    await agent.send_json_to(
        {
            "type": "message",
            "conversation": public_id,
            "client_id": "a-1",
            "body": "Halo",
        }
    )
    ack = (await sockets.receive_until(agent, "ack"))[-1]
    await sockets.receive_until(requester, "message")
    await requester.send_json_to({"type": "read", "seq": ack["seq"]})
    read = (await sockets.receive_until(agent, "read"))[-1]
    stored = await reload(conversation)
    await agent.send_json_to(
        {"type": "subscribe", "conversation": public_id, "last_seq": ack["seq"]}
    )
    ready = (await sockets.receive_until(agent, "ready"))[-1]
    assert read == {
        "type": "read",
        "conversation": public_id,
        "sender_kind": "requester",
        "seq": ack["seq"],
    }
    assert stored.requester_read_seq == ack["seq"]
    assert ready["state"]["peer_read_seq"] == ack["seq"]
    assert await requester.receive_nothing(timeout=0.2)


async def test_agent_read_reaches_requester(
    sockets: Sockets, requester_chat: RequesterChatFactory, agent_admin: User
) -> None:
    conversation, token = await sync_to_async(requester_chat)()
    requester, _ready = await sockets.requester(token)
    await send_and_ack(sockets, requester, "r-1", "Halo")
    agent, _hello = await sockets.agent(agent_admin)
    await accept_and_subscribe(sockets, agent, conversation)
    await sockets.drain(requester)
    await agent.send_json_to(
        {"type": "read", "conversation": str(conversation.public_id), "seq": 2}
    )
    read = await requester.receive_json_from(timeout=FRAME_TIMEOUT)
    _again, ready = await sockets.requester(token, last_seq=2)
    assert read == {"type": "read", "sender_kind": "agent", "seq": 2}
    assert ready["conversation"]["peer_read_seq"] == 2


async def test_read_beyond_last_seq_is_capped(
    sockets: Sockets, requester_chat: RequesterChatFactory, agent_admin: User
) -> None:
    conversation, requester, agent = await open_held_chat(
        sockets, requester_chat, agent_admin
    )
    await requester.send_json_to({"type": "read", "seq": 99})
    read = (await sockets.receive_until(agent, "read"))[-1]
    stored = await reload(conversation)
    assert read["seq"] == stored.last_seq
    assert stored.requester_read_seq == stored.last_seq


# Ended chats


async def test_requester_message_after_end_refused(
    sockets: Sockets, requester_chat: RequesterChatFactory
) -> None:
    conversation, token = await sync_to_async(requester_chat)()
    requester, _ready = await sockets.requester(token)
    await sync_to_async(end_conversation)(
        conversation, Ending(ended_by=EndedBy.REQUESTER)
    )
    await sockets.receive_until(requester, "state")
    await sockets.drain(requester)
    before = await stored_messages(conversation)
    await requester.send_json_to(message_frame("r-late", "Masih di sana?"))
    error = await requester.receive_json_from(timeout=FRAME_TIMEOUT)
    assert error["type"] == "error"
    assert error["code"] == "chat_ended"
    assert error["client_id"] == "r-late"
    assert await stored_messages(conversation) == before


async def test_requester_message_to_ended_chat_after_reconnect_refused(
    sockets: Sockets, requester_chat: RequesterChatFactory
) -> None:
    conversation, token = await sync_to_async(requester_chat)()
    await sync_to_async(end_conversation)(
        conversation, Ending(ended_by=EndedBy.REQUESTER)
    )
    requester, ready = await sockets.requester(token, last_seq=1)
    await requester.send_json_to(message_frame("r-late", "Masih di sana?"))
    error = await requester.receive_json_from(timeout=FRAME_TIMEOUT)
    assert ready["conversation"]["status"] == "ended"
    assert ready["conversation"]["ended_by"] == "requester"
    assert error["code"] == "chat_ended"


async def test_agent_message_after_end_refused(
    sockets: Sockets, requester_chat: RequesterChatFactory, agent_admin: User
) -> None:
    conversation, _requester, agent = await open_held_chat(
        sockets, requester_chat, agent_admin
    )
    await sync_to_async(end_conversation)(
        conversation, Ending(ended_by=EndedBy.REQUESTER)
    )
    await sockets.receive_until(agent, "state")
    await sockets.drain(agent)
    await agent.send_json_to(
        {
            "type": "message",
            "conversation": str(conversation.public_id),
            "client_id": "a-late",
            "body": "Halo?",
        }
    )
    error = await agent.receive_json_from(timeout=FRAME_TIMEOUT)
    assert error["code"] == "chat_ended"


async def test_idle_end_reaches_both_sockets(
    sockets: Sockets, requester_chat: RequesterChatFactory, agent_admin: User
) -> None:
    conversation, requester, agent = await open_held_chat(
        sockets, requester_chat, agent_admin
    )
    later = timezone.now() + timedelta(minutes=settings.CHAT_IDLE_MINUTES + 1)
    ended = await sync_to_async(end_idle_conversations)(now=later)
    requester_frames = await sockets.receive_until(requester, "state")
    requester_frames += await sockets.drain(requester)
    agent_frames = await sockets.receive_until(agent, "state")
    agent_frames += await sockets.drain(agent)
    stored = await reload(conversation)
    assert ended == 1
    assert stored.status == ConversationStatus.ENDED
    assert stored.ended_by == EndedBy.IDLE
    for frames in (requester_frames, agent_frames):
        states = [frame["conversation"] for frame in frames if frame["type"] == "state"]
        notes = [frame["message"] for frame in frames if frame["type"] == "message"]
        assert states[-1]["status"] == "ended"
        assert states[-1]["ended_by"] == "idle"
        assert len(notes) == 1
        assert notes[0]["sender_kind"] == SenderKind.SYSTEM
        assert str(settings.CHAT_IDLE_MINUTES) in notes[0]["body"]


async def test_idle_end_leaves_recent_chat_open(
    sockets: Sockets, requester_chat: RequesterChatFactory
) -> None:
    conversation, token = await sync_to_async(requester_chat)()
    requester, _ready = await sockets.requester(token)
    ended = await sync_to_async(end_idle_conversations)()
    stored = await reload(conversation)
    assert ended == 0
    assert stored.status == ConversationStatus.WAITING
    assert await requester.receive_nothing(timeout=0.3)


async def test_ping_answered_on_both_sockets(
    sockets: Sockets, requester_chat: RequesterChatFactory, agent_admin: User
) -> None:
    _conversation, token = await sync_to_async(requester_chat)()
    requester, _ready = await sockets.requester(token)
    agent, _hello = await sockets.agent(agent_admin)
    await requester.send_json_to({"type": "ping"})
    await agent.send_json_to({"type": "ping"})
    assert await requester.receive_json_from(timeout=FRAME_TIMEOUT) == {"type": "pong"}
    assert await agent.receive_json_from(timeout=FRAME_TIMEOUT) == {"type": "pong"}
