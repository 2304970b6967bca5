"""Round-robin offers, the wait limit, presence grace and live transfers."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone, translation
from pytest_django.fixtures import Settings

from conftest import RequesterChatFactory
from layanan.audit.services import history
from layanan.catalog.models import RoutingMode, Team
from layanan.chat import presence, routing, sweeper
from layanan.chat.models import (
    Conversation,
    ConversationNote,
    ConversationStatus,
    EndedBy,
    Message,
    SenderKind,
)
from layanan.chat.services import (
    ChatError,
    Ending,
    accept_conversation,
    end_conversation,
)
from layanan.people.models import AgentConnection, AgentProfile, AgentStatus
from layanan.tickets.models import Ticket

pytestmark = pytest.mark.django_db


def go_live(user: User, name: str = "") -> AgentConnection:
    """Give ``user`` an open console socket, as the agent consumer records it."""
    return AgentConnection.objects.create(
        user=user,
        channel_name=name or f"channel-{user.pk}",
        last_seen=timezone.now(),
    )


def fresh(conversation: Conversation) -> Conversation:
    return Conversation.objects.select_related("team").get(pk=conversation.pk)


def system_bodies(conversation: Conversation) -> list[str]:
    return list(
        Message.objects.filter(
            conversation=conversation, sender_kind=SenderKind.SYSTEM
        ).values_list("body", flat=True)
    )


@pytest.fixture
def round_robin(admin_team: Team) -> Team:
    admin_team.routing = RoutingMode.ROUND_ROBIN
    admin_team.save(update_fields=["routing"])
    return admin_team


# Offers


def test_offer_prefers_never_offered_agent(
    round_robin: Team,
    agent_admin: User,
    second_agent_admin: User,
    requester_chat: RequesterChatFactory,
) -> None:
    go_live(agent_admin)
    go_live(second_agent_admin)
    AgentProfile.objects.filter(user=agent_admin).update(
        last_offered_at=timezone.now() - timedelta(hours=1)
    )
    conversation, _token = requester_chat()
    stored = fresh(conversation)
    assert stored.offered_to_id == second_agent_admin.pk
    assert stored.offered_agent_ids == [second_agent_admin.pk]


def test_offer_ties_broken_by_user_id(
    round_robin: Team,
    agent_admin: User,
    second_agent_admin: User,
    requester_chat: RequesterChatFactory,
) -> None:
    go_live(second_agent_admin)
    go_live(agent_admin)
    conversation, _token = requester_chat()
    assert fresh(conversation).offered_to_id == min(
        agent_admin.pk, second_agent_admin.pk
    )


def test_offer_records_last_offered_at(
    round_robin: Team, agent_admin: User, requester_chat: RequesterChatFactory
) -> None:
    go_live(agent_admin)
    before = timezone.now()
    requester_chat()
    profile = AgentProfile.objects.get(user=agent_admin)
    assert profile.last_offered_at is not None
    assert profile.last_offered_at >= before


def test_offer_skips_away_agent(
    round_robin: Team,
    agent_admin: User,
    second_agent_admin: User,
    requester_chat: RequesterChatFactory,
) -> None:
    go_live(agent_admin)
    go_live(second_agent_admin)
    AgentProfile.objects.filter(user=agent_admin).update(status=AgentStatus.AWAY)
    conversation, _token = requester_chat()
    assert fresh(conversation).offered_to_id == second_agent_admin.pk


def test_offer_skips_agent_with_closed_console(
    round_robin: Team,
    agent_admin: User,
    second_agent_admin: User,
    requester_chat: RequesterChatFactory,
) -> None:
    go_live(agent_admin, "closing")
    go_live(second_agent_admin)
    presence.disconnect("closing")
    conversation, _token = requester_chat()
    assert fresh(conversation).offered_to_id == second_agent_admin.pk


def test_offer_skips_agent_at_capacity(
    round_robin: Team,
    agent_admin: User,
    second_agent_admin: User,
    requester_chat: RequesterChatFactory,
) -> None:
    go_live(agent_admin)
    go_live(second_agent_admin)
    AgentProfile.objects.filter(user=agent_admin).update(chat_capacity=1)
    AgentProfile.objects.filter(user=second_agent_admin).update(
        last_offered_at=timezone.now()
    )
    held, _token = requester_chat()
    Conversation.objects.filter(pk=held.pk).update(
        status=ConversationStatus.ACTIVE, agent=agent_admin, offered_to=None
    )
    conversation, _token = requester_chat()
    assert fresh(conversation).offered_to_id == second_agent_admin.pk


def test_offer_counts_open_offers_against_capacity(
    round_robin: Team, agent_admin: User, requester_chat: RequesterChatFactory
) -> None:
    go_live(agent_admin)
    AgentProfile.objects.filter(user=agent_admin).update(chat_capacity=1)
    first, _token = requester_chat()
    second, _token = requester_chat()
    assert fresh(first).offered_to_id == agent_admin.pk
    assert fresh(second).offered_to_id is None


def test_offer_none_in_shared_team(
    admin_team: Team, agent_admin: User, requester_chat: RequesterChatFactory
) -> None:
    go_live(agent_admin)
    conversation, _token = requester_chat()
    assert fresh(conversation).offered_to_id is None


def test_offer_timeout_moves_to_next_agent(
    round_robin: Team,
    agent_admin: User,
    second_agent_admin: User,
    requester_chat: RequesterChatFactory,
    settings: Settings,
) -> None:
    settings.CHAT_OFFER_SECONDS = 60
    go_live(agent_admin)
    go_live(second_agent_admin)
    conversation, _token = requester_chat()
    first = fresh(conversation).offered_to_id
    later = timezone.now() + timedelta(seconds=61)
    for connection in AgentConnection.objects.all():
        connection.last_seen = later
        connection.save(update_fields=["last_seen"])
    moved = routing.route_waiting_chats(later)
    stored = fresh(conversation)
    assert moved == 1
    assert stored.offered_to_id not in (None, first)
    assert stored.offered_agent_ids == [first, stored.offered_to_id]


def test_offer_before_timeout_stays(
    round_robin: Team,
    agent_admin: User,
    second_agent_admin: User,
    requester_chat: RequesterChatFactory,
) -> None:
    go_live(agent_admin)
    go_live(second_agent_admin)
    conversation, _token = requester_chat()
    first = fresh(conversation).offered_to_id
    assert routing.route_waiting_chats(timezone.now() + timedelta(seconds=5)) == 0
    assert fresh(conversation).offered_to_id == first


def test_offer_starts_over_after_every_agent_tried(
    round_robin: Team, agent_admin: User, requester_chat: RequesterChatFactory
) -> None:
    go_live(agent_admin)
    conversation, _token = requester_chat()
    later = timezone.now() + timedelta(seconds=120)
    AgentConnection.objects.update(last_seen=later)
    routing.route_waiting_chats(later)
    stored = fresh(conversation)
    assert stored.offered_to_id == agent_admin.pk
    assert stored.offered_agent_ids == [agent_admin.pk]
    assert stored.offered_at is not None
    assert stored.offered_at >= later


def test_offer_waits_until_agent_connects(
    round_robin: Team, agent_admin: User, requester_chat: RequesterChatFactory
) -> None:
    conversation, _token = requester_chat()
    unoffered = fresh(conversation).offered_to_id
    go_live(agent_admin)
    offered = routing.route_for_agent(agent_admin.pk)
    assert unoffered is None
    assert offered == 1
    assert fresh(conversation).offered_to_id == agent_admin.pk


def test_offer_made_when_agent_ends_chat(
    round_robin: Team, agent_admin: User, requester_chat: RequesterChatFactory
) -> None:
    go_live(agent_admin)
    AgentProfile.objects.filter(user=agent_admin).update(chat_capacity=1)
    held, _token = requester_chat()
    accept_conversation(fresh(held), agent_admin)
    waiting, _token = requester_chat()
    before_end = fresh(waiting).offered_to_id
    end_conversation(fresh(held), Ending(ended_by=EndedBy.AGENT, actor=agent_admin))
    assert before_end is None
    assert fresh(waiting).offered_to_id == agent_admin.pk


def test_withdraw_offers_moves_chat_of_away_agent(
    round_robin: Team,
    agent_admin: User,
    second_agent_admin: User,
    requester_chat: RequesterChatFactory,
) -> None:
    go_live(agent_admin)
    go_live(second_agent_admin)
    conversation, _token = requester_chat()
    first_id = fresh(conversation).offered_to_id
    assert first_id is not None
    first = User.objects.get(pk=first_id)
    presence.set_status(first, AgentStatus.AWAY)
    routing.withdraw_offers(first)
    assert fresh(conversation).offered_to_id not in (None, first_id)


# Accepting in round-robin teams


def test_accept_by_agent_not_offered_rejected(
    round_robin: Team,
    agent_admin: User,
    second_agent_admin: User,
    requester_chat: RequesterChatFactory,
) -> None:
    go_live(agent_admin)
    conversation, _token = requester_chat()
    with pytest.raises(ChatError) as raised:
        accept_conversation(fresh(conversation), second_agent_admin)
    assert raised.value.code == "not_offered"
    assert fresh(conversation).status == ConversationStatus.WAITING


def test_accept_by_offered_agent_succeeds(
    round_robin: Team, agent_admin: User, requester_chat: RequesterChatFactory
) -> None:
    go_live(agent_admin)
    conversation, _token = requester_chat()
    accept_conversation(fresh(conversation), agent_admin)
    stored = fresh(conversation)
    assert stored.status == ConversationStatus.ACTIVE
    assert stored.agent_id == agent_admin.pk


def test_accept_shared_team_any_member(
    admin_team: Team,
    agent_admin: User,
    second_agent_admin: User,
    requester_chat: RequesterChatFactory,
) -> None:
    conversation, _token = requester_chat()
    accept_conversation(fresh(conversation), second_agent_admin)
    assert fresh(conversation).agent_id == second_agent_admin.pk


# Wait limit and missed chats


def test_wait_limit_ends_chat_as_ticket(
    admin_team: Team, requester_chat: RequesterChatFactory
) -> None:
    conversation, _token = requester_chat(language="en")
    later = timezone.now() + timedelta(minutes=admin_team.chat_wait_limit_minutes + 1)
    ended = routing.end_waited_chats(later)
    stored = fresh(conversation)
    ticket = Ticket.objects.get(conversation=conversation)
    assert ended == 1
    assert stored.status == ConversationStatus.ENDED
    assert stored.ended_by == EndedBy.WAIT_LIMIT
    assert stored.accepted_at is None
    assert stored.ticket_number == ticket.number
    assert ticket.assignee_id is None


def test_wait_limit_message_names_ticket(
    admin_team: Team, requester_chat: RequesterChatFactory
) -> None:
    conversation, _token = requester_chat(language="en")
    later = timezone.now() + timedelta(minutes=admin_team.chat_wait_limit_minutes + 1)
    routing.end_waited_chats(later)
    number = fresh(conversation).ticket_number
    closing = system_bodies(conversation)[-1]
    assert number in closing
    assert "No agent was free" in closing
    assert "email" in closing


def test_wait_limit_message_in_chat_language(
    admin_team: Team, requester_chat: RequesterChatFactory
) -> None:
    conversation, _token = requester_chat(language="en")
    later = timezone.now() + timedelta(minutes=admin_team.chat_wait_limit_minutes + 1)
    with translation.override("id"):
        routing.end_waited_chats(later)
    assert "No agent was free" in system_bodies(conversation)[-1]


def test_wait_limit_leaves_recent_chat(
    admin_team: Team, requester_chat: RequesterChatFactory
) -> None:
    conversation, _token = requester_chat()
    soon = timezone.now() + timedelta(minutes=admin_team.chat_wait_limit_minutes - 1)
    assert routing.end_waited_chats(soon) == 0
    assert fresh(conversation).status == ConversationStatus.WAITING


def test_wait_limit_leaves_accepted_chat(
    admin_team: Team, agent_admin: User, requester_chat: RequesterChatFactory
) -> None:
    conversation, _token = requester_chat()
    accept_conversation(fresh(conversation), agent_admin)
    later = timezone.now() + timedelta(minutes=admin_team.chat_wait_limit_minutes + 1)
    assert routing.end_waited_chats(later) == 0
    assert not Ticket.objects.filter(conversation=conversation).exists()


def test_wait_limit_per_team(
    admin_team: Team, requester_chat: RequesterChatFactory
) -> None:
    admin_team.chat_wait_limit_minutes = 20
    admin_team.save(update_fields=["chat_wait_limit_minutes"])
    conversation, _token = requester_chat()
    later = timezone.now() + timedelta(minutes=10)
    assert routing.end_waited_chats(later) == 0
    assert fresh(conversation).status == ConversationStatus.WAITING


def test_wait_limit_keeps_ticket_made_while_waiting(
    admin_team: Team, agent_admin: User, requester_chat: RequesterChatFactory
) -> None:
    from layanan.tickets.services import create_ticket_from_conversation

    conversation, _token = requester_chat()
    made = create_ticket_from_conversation(fresh(conversation), agent_admin)
    later = timezone.now() + timedelta(minutes=admin_team.chat_wait_limit_minutes + 1)
    routing.end_waited_chats(later)
    assert Ticket.objects.filter(conversation=conversation).count() == 1
    assert fresh(conversation).ticket_number == made.number


def test_requester_leaving_unaccepted_chat_missed(
    requester_chat: RequesterChatFactory,
) -> None:
    conversation, _token = requester_chat()
    end_conversation(fresh(conversation), Ending(ended_by=EndedBy.REQUESTER))
    stored = fresh(conversation)
    assert stored.ended_by == EndedBy.REQUESTER
    assert stored.accepted_at is None


def test_sweep_ends_waited_chat(
    admin_team: Team,
    requester_chat: RequesterChatFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # close_old_connections would close the test transaction's connection.
    monkeypatch.setattr(sweeper, "close_old_connections", lambda: None)
    conversation, _token = requester_chat()
    long_ago = timezone.now() - timedelta(
        minutes=admin_team.chat_wait_limit_minutes + 1
    )
    Conversation.objects.filter(pk=conversation.pk).update(created=long_ago)
    sweeper.sweep()
    assert fresh(conversation).ended_by == EndedBy.WAIT_LIMIT


# Presence


def test_closed_console_online_during_grace(
    admin_team: Team, agent_admin: User
) -> None:
    go_live(agent_admin, "reloading")
    presence.disconnect("reloading")
    assert presence.team_is_online(admin_team.pk)


def test_closed_console_offline_after_grace(
    admin_team: Team, agent_admin: User
) -> None:
    go_live(agent_admin, "closing")
    presence.disconnect("closing")
    later = timezone.now() + presence.CLOSE_GRACE + timedelta(seconds=1)
    assert admin_team.pk not in presence.online_team_ids(later)


def test_expire_connections_returns_offline_agents(agent_admin: User) -> None:
    go_live(agent_admin, "closing")
    presence.disconnect("closing")
    later = timezone.now() + presence.CLOSE_GRACE + timedelta(seconds=1)
    assert presence.expire_connections(later) == [agent_admin.pk]
    assert not AgentConnection.objects.filter(user=agent_admin).exists()


def test_expire_connections_keeps_agent_with_new_socket(agent_admin: User) -> None:
    go_live(agent_admin, "old")
    presence.disconnect("old")
    later = timezone.now() + presence.CLOSE_GRACE + timedelta(seconds=1)
    AgentConnection.objects.create(
        user=agent_admin, channel_name="new", last_seen=later
    )
    assert presence.expire_connections(later) == []


def test_expire_connections_within_grace_keeps_row(agent_admin: User) -> None:
    go_live(agent_admin, "reloading")
    presence.disconnect("reloading")
    assert presence.expire_connections() == []
    assert AgentConnection.objects.filter(user=agent_admin).exists()


def test_offline_agent_requester_messaged(
    agent_admin: User, requester_chat: RequesterChatFactory
) -> None:
    conversation, _token = requester_chat(language="en")
    accept_conversation(fresh(conversation), agent_admin)
    told = routing.announce_offline_agents([agent_admin.pk])
    assert told == 1
    assert "Sari Wulandari has gone offline" in system_bodies(conversation)[-1]


def test_offline_agent_ended_chat_skipped(
    agent_admin: User, requester_chat: RequesterChatFactory
) -> None:
    conversation, _token = requester_chat()
    accept_conversation(fresh(conversation), agent_admin)
    end_conversation(fresh(conversation), Ending(ended_by=EndedBy.AGENT))
    assert routing.announce_offline_agents([agent_admin.pk]) == 0


# Transfers


@pytest.fixture
def held_chat(agent_admin: User, requester_chat: RequesterChatFactory) -> Conversation:
    conversation, _token = requester_chat(language="en")
    accept_conversation(fresh(conversation), agent_admin)
    return fresh(conversation)


def test_transfer_to_agent_moves_chat(
    held_chat: Conversation,
    admin_team: Team,
    agent_admin: User,
    second_agent_admin: User,
) -> None:
    go_live(second_agent_admin)
    routing.transfer_conversation(
        held_chat,
        agent_admin,
        routing.Transfer(team=admin_team, agent=second_agent_admin, note="NPM cek"),
    )
    stored = fresh(held_chat)
    assert stored.agent_id == second_agent_admin.pk
    assert stored.status == ConversationStatus.ACTIVE


def test_transfer_note_kept_from_requester(
    held_chat: Conversation,
    admin_team: Team,
    agent_admin: User,
    second_agent_admin: User,
) -> None:
    go_live(second_agent_admin)
    routing.transfer_conversation(
        held_chat,
        agent_admin,
        routing.Transfer(team=admin_team, agent=second_agent_admin, note="Rahasia"),
    )
    note = ConversationNote.objects.get(conversation=held_chat)
    bodies = list(
        Message.objects.filter(conversation=held_chat).values_list("body", flat=True)
    )
    assert note.body == "Rahasia"
    assert note.author_id == agent_admin.pk
    assert not any("Rahasia" in body for body in bodies)
    assert "You are now chatting with Dewi Lestari." in bodies


def test_transfer_recorded_in_audit(
    held_chat: Conversation,
    admin_team: Team,
    agent_admin: User,
    second_agent_admin: User,
) -> None:
    go_live(second_agent_admin)
    routing.transfer_conversation(
        held_chat,
        agent_admin,
        routing.Transfer(team=admin_team, agent=second_agent_admin),
    )
    [event] = [
        event
        for event in history("conversation", held_chat.public_id)
        if event.action == "transferred"
    ]
    assert event.actor_id == agent_admin.pk
    assert event.data["to_agent"] == second_agent_admin.pk


def test_transfer_to_other_team_queue(
    held_chat: Conversation, ti_team: Team, agent_admin: User
) -> None:
    routing.transfer_conversation(
        held_chat, agent_admin, routing.Transfer(team=ti_team)
    )
    stored = fresh(held_chat)
    assert stored.status == ConversationStatus.WAITING
    assert stored.agent_id is None
    assert stored.team_id == ti_team.pk
    assert "Waiting for an agent of TI." in system_bodies(held_chat)


def test_transfer_to_queue_offers_round_robin_team(
    held_chat: Conversation, ti_team: Team, agent_admin: User, agent_ti: User
) -> None:
    ti_team.routing = RoutingMode.ROUND_ROBIN
    ti_team.save(update_fields=["routing"])
    go_live(agent_ti)
    routing.transfer_conversation(
        held_chat, agent_admin, routing.Transfer(team=ti_team)
    )
    assert fresh(held_chat).offered_to_id == agent_ti.pk


def test_transfer_to_agent_of_other_team(
    held_chat: Conversation, ti_team: Team, agent_admin: User, agent_ti: User
) -> None:
    go_live(agent_ti)
    routing.transfer_conversation(
        held_chat, agent_admin, routing.Transfer(team=ti_team, agent=agent_ti)
    )
    stored = fresh(held_chat)
    assert stored.agent_id == agent_ti.pk
    assert stored.team_id == ti_team.pk


def test_transfer_by_other_agent_rejected(
    held_chat: Conversation, admin_team: Team, second_agent_admin: User
) -> None:
    with pytest.raises(ChatError) as raised:
        routing.transfer_conversation(
            held_chat, second_agent_admin, routing.Transfer(team=admin_team)
        )
    assert raised.value.code == "not_allowed"
    assert fresh(held_chat).status == ConversationStatus.ACTIVE


def test_transfer_by_team_lead_allowed(
    held_chat: Conversation, admin_team: Team, second_agent_admin: User
) -> None:
    admin_team.leads.add(second_agent_admin)
    routing.transfer_conversation(
        held_chat, second_agent_admin, routing.Transfer(team=admin_team)
    )
    assert fresh(held_chat).status == ConversationStatus.WAITING


def test_transfer_to_offline_agent_rejected(
    held_chat: Conversation,
    admin_team: Team,
    agent_admin: User,
    second_agent_admin: User,
) -> None:
    with pytest.raises(ChatError) as raised:
        routing.transfer_conversation(
            held_chat,
            agent_admin,
            routing.Transfer(team=admin_team, agent=second_agent_admin),
        )
    assert raised.value.code == "agent_offline"
    assert fresh(held_chat).agent_id == agent_admin.pk


def test_transfer_to_away_agent_rejected(
    held_chat: Conversation,
    admin_team: Team,
    agent_admin: User,
    second_agent_admin: User,
) -> None:
    go_live(second_agent_admin)
    AgentProfile.objects.filter(user=second_agent_admin).update(status=AgentStatus.AWAY)
    with pytest.raises(ChatError) as raised:
        routing.transfer_conversation(
            held_chat,
            agent_admin,
            routing.Transfer(team=admin_team, agent=second_agent_admin),
        )
    assert raised.value.code == "agent_offline"


def test_transfer_to_non_member_rejected(
    held_chat: Conversation, ti_team: Team, agent_admin: User, second_agent_admin: User
) -> None:
    go_live(second_agent_admin)
    with pytest.raises(ChatError) as raised:
        routing.transfer_conversation(
            held_chat,
            agent_admin,
            routing.Transfer(team=ti_team, agent=second_agent_admin),
        )
    assert raised.value.code == "invalid_target"


def test_transfer_to_self_rejected(
    held_chat: Conversation, admin_team: Team, agent_admin: User
) -> None:
    go_live(agent_admin)
    with pytest.raises(ChatError) as raised:
        routing.transfer_conversation(
            held_chat,
            agent_admin,
            routing.Transfer(team=admin_team, agent=agent_admin),
        )
    assert raised.value.code == "invalid_target"


def test_transfer_long_note_rejected(
    held_chat: Conversation, admin_team: Team, agent_admin: User
) -> None:
    with pytest.raises(ChatError) as raised:
        routing.transfer_conversation(
            held_chat,
            agent_admin,
            routing.Transfer(team=admin_team, note="x" * (routing.MAX_NOTE_LENGTH + 1)),
        )
    assert raised.value.code == "note_too_long"


def test_transfer_waiting_chat_rejected(
    admin_team: Team, agent_admin: User, requester_chat: RequesterChatFactory
) -> None:
    conversation, _token = requester_chat()
    with pytest.raises(ChatError) as raised:
        routing.transfer_conversation(
            fresh(conversation), agent_admin, routing.Transfer(team=admin_team)
        )
    assert raised.value.code == "not_allowed"
