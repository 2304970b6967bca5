"""The chat's state changes, called directly, including from racing threads."""

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from conftest import RequesterChatFactory
from layanan.audit.models import Event
from layanan.chat.access import hash_token
from layanan.chat.models import (
    Conversation,
    ConversationStatus,
    EndedBy,
    Message,
    SenderKind,
)
from layanan.chat.services import (
    MAX_BODY_LENGTH,
    ChatError,
    Ending,
    NewChat,
    NewMessage,
    accept_conversation,
    end_conversation,
    end_idle_conversations,
    mark_read,
    post_message,
    start_conversation,
    validate_body,
    validate_client_id,
)

Result = TypeVar("Result")


def run_together(calls: list[Callable[[], Result]]) -> list[Result | ChatError]:
    """Run each call in its own thread, all released at once; return the outcomes.

    A call that raises ChatError yields that error; any other exception fails the
    test. Each thread closes its own database connection.
    """
    barrier = threading.Barrier(len(calls))
    outcomes: list[Result | ChatError | None] = [None] * len(calls)
    failures: list[BaseException] = []

    def run(index: int, call: Callable[[], Result]) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[index] = call()
        except ChatError as error:
            outcomes[index] = error
        except BaseException as error:
            failures.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(index, call))
        for index, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    return [outcome for outcome in outcomes if outcome is not None]


def requester_message(client_id: str, body: str = "Halo") -> NewMessage:
    return NewMessage(
        sender_kind=SenderKind.REQUESTER,
        sender_name="Budi Santoso",
        body=body,
        client_id=client_id,
    )


def fresh(conversation: Conversation) -> Conversation:
    return Conversation.objects.get(pk=conversation.pk)


def bodies(conversation: Conversation) -> list[tuple[int, str, str]]:
    return list(
        Message.objects.filter(conversation=conversation)
        .order_by("seq")
        .values_list("seq", "sender_kind", "body")
    )


# Starting


@pytest.mark.django_db
def test_start_conversation_stores_token_hash_only(
    requester_chat: RequesterChatFactory,
) -> None:
    conversation, token = requester_chat()
    stored = fresh(conversation)
    assert len(token) >= 40
    assert stored.token_hash == hash_token(token)
    assert token not in stored.token_hash


@pytest.mark.django_db
def test_start_conversation_waits_in_service_team(
    requester_chat: RequesterChatFactory,
) -> None:
    conversation, _token = requester_chat()
    stored = fresh(conversation)
    assert stored.status == ConversationStatus.WAITING
    assert stored.team.name == "Administrasi"
    assert stored.agent is None
    assert stored.last_seq == 0


@pytest.mark.django_db
def test_start_conversation_tokens_differ(requester_chat: RequesterChatFactory) -> None:
    _first, first_token = requester_chat()
    _second, second_token = requester_chat()
    assert first_token != second_token


# Accepting


@pytest.mark.django_db(transaction=True)
def test_accept_conversation_race_has_one_winner(
    requester_chat: RequesterChatFactory,
    agent_admin: User,
    second_agent_admin: User,
) -> None:
    conversation, _token = requester_chat()
    agents = [agent_admin, second_agent_admin] * 3

    def accept_as(agent: User) -> Callable[[], User]:
        def call() -> User:
            accept_conversation(fresh(conversation), agent)
            return agent

        return call

    outcomes = run_together([accept_as(agent) for agent in agents])
    winners = [outcome for outcome in outcomes if isinstance(outcome, User)]
    errors = [outcome for outcome in outcomes if isinstance(outcome, ChatError)]
    stored = fresh(conversation)
    assert len(outcomes) == len(agents)
    assert len(winners) == 1
    assert [error.code for error in errors] == ["already_taken"] * (len(agents) - 1)
    assert stored.agent_id == winners[0].pk
    assert stored.status == ConversationStatus.ACTIVE
    assert [kind for _seq, kind, _body in bodies(conversation)] == ["system"]
    assert Event.objects.filter(action="accepted").count() == 1


@pytest.mark.django_db
def test_accept_conversation_posts_joined_note(
    requester_chat: RequesterChatFactory, agent_admin: User
) -> None:
    conversation, _token = requester_chat(language="en")
    accept_conversation(conversation, agent_admin)
    assert bodies(conversation) == [(1, "system", "Sari Wulandari joined the chat.")]


@pytest.mark.django_db
def test_accept_conversation_ended_chat_refused(
    requester_chat: RequesterChatFactory, agent_admin: User
) -> None:
    conversation, _token = requester_chat()
    end_conversation(conversation, Ending(ended_by=EndedBy.REQUESTER))
    with pytest.raises(ChatError) as caught:
        accept_conversation(fresh(conversation), agent_admin)
    assert caught.value.code == "chat_ended"
    assert fresh(conversation).agent_id is None


# Messages


@pytest.mark.django_db(transaction=True)
def test_post_message_same_client_id_race_stores_one(
    requester_chat: RequesterChatFactory,
) -> None:
    conversation, _token = requester_chat()

    def resend() -> Message:
        message, _created = post_message(fresh(conversation), requester_message("dup"))
        return message

    outcomes = run_together([resend for _call in range(4)])
    seqs = {outcome.seq for outcome in outcomes if isinstance(outcome, Message)}
    assert len(outcomes) == 4
    assert seqs == {1}
    assert Message.objects.filter(conversation=conversation).count() == 1


@pytest.mark.django_db(transaction=True)
def test_post_message_parallel_writers_get_gapless_seqs(
    requester_chat: RequesterChatFactory,
) -> None:
    conversation, _token = requester_chat()

    def writer(name: str) -> Callable[[], list[int]]:
        def call() -> list[int]:
            own = fresh(conversation)
            return [
                post_message(own, requester_message(f"{name}-{number}"))[0].seq
                for number in range(10)
            ]

        return call

    outcomes = run_together([writer(name) for name in ("a", "b", "c", "d")])
    seqs = sorted(
        seq for outcome in outcomes if isinstance(outcome, list) for seq in outcome
    )
    stored = fresh(conversation)
    assert seqs == list(range(1, 41))
    assert stored.last_seq == 40
    assert Message.objects.filter(conversation=conversation).count() == 40


@pytest.mark.django_db
def test_post_message_resend_returns_original(
    requester_chat: RequesterChatFactory,
) -> None:
    conversation, _token = requester_chat()
    first, first_created = post_message(conversation, requester_message("c-1", "Halo"))
    again, again_created = post_message(
        conversation, requester_message("c-1", "Halo lagi")
    )
    assert first_created
    assert not again_created
    assert again.pk == first.pk
    assert bodies(conversation) == [(1, "requester", "Halo")]


@pytest.mark.django_db
def test_post_message_resend_after_end_returns_original(
    requester_chat: RequesterChatFactory,
) -> None:
    # The acknowledgement was lost just before the chat ended; the re-send must
    # still learn its seq.
    conversation, _token = requester_chat()
    first, _created = post_message(conversation, requester_message("c-1"))
    end_conversation(conversation, Ending(ended_by=EndedBy.REQUESTER))
    again, created = post_message(fresh(conversation), requester_message("c-1"))
    assert not created
    assert again.seq == first.seq


@pytest.mark.django_db
def test_post_message_stale_chat_after_end_refused(
    requester_chat: RequesterChatFactory,
) -> None:
    conversation, _token = requester_chat()
    end_conversation(fresh(conversation), Ending(ended_by=EndedBy.IDLE))
    with pytest.raises(ChatError) as caught:
        post_message(conversation, requester_message("c-late"))
    assert caught.value.code == "chat_ended"
    assert not Message.objects.filter(client_id="c-late").exists()


@pytest.mark.django_db
def test_post_message_first_agent_reply_recorded_once(
    requester_chat: RequesterChatFactory, agent_admin: User
) -> None:
    conversation, _token = requester_chat()
    accept_conversation(conversation, agent_admin)
    agent_message = NewMessage(
        sender_kind=SenderKind.AGENT,
        sender_name="Sari Wulandari",
        body="Halo",
        client_id="a-1",
        sender=agent_admin,
    )
    post_message(conversation, agent_message)
    first_reply = fresh(conversation).first_agent_reply_at
    post_message(
        conversation, NewMessage(**{**agent_message.__dict__, "client_id": "a-2"})
    )
    assert first_reply is not None
    assert fresh(conversation).first_agent_reply_at == first_reply


# Validation


@pytest.mark.parametrize("body", ["", " ", "\n\t", None, 42, ["Halo"]])
def test_validate_body_blank_rejected(body: object) -> None:
    with pytest.raises(ChatError) as caught:
        validate_body(body)
    assert caught.value.code == "empty_message"


def test_validate_body_limits() -> None:
    with pytest.raises(ChatError) as caught:
        validate_body("x" * (MAX_BODY_LENGTH + 1))
    assert caught.value.code == "message_too_long"
    assert validate_body("x" * MAX_BODY_LENGTH) == "x" * MAX_BODY_LENGTH


def test_validate_body_keeps_surrounding_space() -> None:
    assert validate_body("  Halo\n") == "  Halo\n"


@pytest.mark.parametrize(
    "client_id", ["", None, 7, "x" * 65, "system:ended", "system:accepted"]
)
def test_validate_client_id_rejected(client_id: object) -> None:
    with pytest.raises(ChatError) as caught:
        validate_client_id(client_id)
    assert caught.value.code == "bad_client_id"


@pytest.mark.parametrize(
    "client_id", ["a", "x" * 64, "0f6c7a9e-3d0b-4c1e-9a51-6f2b8a8d9c11", "systemic"]
)
def test_validate_client_id_accepted(client_id: str) -> None:
    assert validate_client_id(client_id) == client_id


# Reading


@pytest.mark.django_db
def test_mark_read_uses_stored_last_seq(
    requester_chat: RequesterChatFactory, agent_admin: User
) -> None:
    conversation, _token = requester_chat()
    stale = fresh(conversation)
    accept_conversation(conversation, agent_admin)
    mark_read(stale, SenderKind.REQUESTER, 1)
    assert fresh(conversation).requester_read_seq == 1


@pytest.mark.django_db
def test_mark_read_never_moves_back(requester_chat: RequesterChatFactory) -> None:
    conversation, _token = requester_chat()
    for number in range(3):
        post_message(conversation, requester_message(f"c-{number}"))
    mark_read(conversation, SenderKind.AGENT, 3)
    mark_read(conversation, SenderKind.AGENT, 1)
    assert fresh(conversation).agent_read_seq == 3


@pytest.mark.django_db
def test_mark_read_caps_at_last_seq(requester_chat: RequesterChatFactory) -> None:
    conversation, _token = requester_chat()
    post_message(conversation, requester_message("c-1"))
    mark_read(conversation, SenderKind.AGENT, 50)
    assert fresh(conversation).agent_read_seq == 1


# Ending


@pytest.mark.django_db
def test_end_conversation_only_once(requester_chat: RequesterChatFactory) -> None:
    conversation, _token = requester_chat()
    first = end_conversation(conversation, Ending(ended_by=EndedBy.AGENT))
    second = end_conversation(fresh(conversation), Ending(ended_by=EndedBy.REQUESTER))
    stored = fresh(conversation)
    assert first
    assert not second
    assert stored.ended_by == EndedBy.AGENT
    assert [kind for _seq, kind, _body in bodies(conversation)] == ["system"]


@pytest.mark.django_db
def test_end_conversation_late_rating_kept(
    requester_chat: RequesterChatFactory,
) -> None:
    conversation, _token = requester_chat()
    end_conversation(conversation, Ending(ended_by=EndedBy.IDLE))
    end_conversation(
        fresh(conversation),
        Ending(ended_by=EndedBy.REQUESTER, rating=5, comment="Cepat sekali"),
    )
    stored = fresh(conversation)
    assert stored.ended_by == EndedBy.IDLE
    assert stored.rating == 5
    assert stored.rating_comment == "Cepat sekali"


@pytest.mark.django_db
def test_end_idle_conversations_ends_only_idle_open_chats(
    requester_chat: RequesterChatFactory, agent_admin: User
) -> None:
    idle_waiting, _token = requester_chat()
    idle_active, _token = requester_chat()
    recent, _token = requester_chat()
    already_ended, _token = requester_chat()
    accept_conversation(idle_active, agent_admin)
    end_conversation(already_ended, Ending(ended_by=EndedBy.REQUESTER))
    long_ago = timezone.now() - timedelta(minutes=settings.CHAT_IDLE_MINUTES + 5)
    Conversation.objects.exclude(pk=recent.pk).update(last_activity_at=long_ago)

    ended = end_idle_conversations()

    assert ended == 2
    assert fresh(idle_waiting).ended_by == EndedBy.IDLE
    assert fresh(idle_active).ended_by == EndedBy.IDLE
    assert fresh(recent).status == ConversationStatus.WAITING
    assert fresh(already_ended).ended_by == EndedBy.REQUESTER


@pytest.mark.django_db
def test_end_idle_conversations_respects_cutoff(
    requester_chat: RequesterChatFactory,
) -> None:
    conversation, _token = requester_chat()
    almost = timezone.now() + timedelta(minutes=settings.CHAT_IDLE_MINUTES - 1)
    assert end_idle_conversations(now=almost) == 0
    assert fresh(conversation).status == ConversationStatus.WAITING


# Hidden characters and names kept per chat


@pytest.mark.parametrize(
    "body",
    ["nul \x00 byte", "bell \x07", "escape \x1b[31m", "RTL \u202eevil\u202c end"],
)
def test_validate_body_rejects_hidden_characters(body: str) -> None:
    with pytest.raises(ChatError) as caught:
        validate_body(body)
    assert caught.value.code == "control_character"


def test_validate_body_keeps_line_breaks_and_tabs() -> None:
    body = "Baris satu\n\tBaris dua\r\nBaris tiga 😀"
    assert validate_body(body) == body


@pytest.mark.django_db
def test_returning_requester_renamed_keeps_old_chat_name(
    admin_service: object,
) -> None:
    from layanan.catalog.models import Service
    from layanan.people.services import upsert_requester
    from layanan.people.validation import parse_identifier

    identifier = parse_identifier("198501012010121001")
    service = Service.objects.get(code="surat-tugas")
    first = upsert_requester(
        identifier=identifier,
        name="Budi Santoso",
        study_programme=None,
        email="budi@example.com",
    )
    chat, _token = start_conversation(
        NewChat(
            requester=first,
            email="budi@example.com",
            service=service,
            topic="Surat tugas",
            language="id",
        )
    )
    upsert_requester(
        identifier=identifier,
        name="Nama Lain",
        study_programme=None,
        email="budi@example.com",
    )
    chat.refresh_from_db()
    assert chat.requester_name == "Budi Santoso"
    assert chat.requester.name == "Nama Lain"
