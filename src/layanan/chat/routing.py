"""Chat routing: the agents who may see and accept a waiting chat, and transfers.

A team routes its chats in one of two ways (``Team.routing``):

- ``shared``: every online member can see the chat in the queue and accept it;
- ``round_robin``: the chat is offered to one eligible member at a time (see
  ``presence.eligible_agents``), and only that member may accept it. An offer not
  accepted within ``CHAT_OFFER_SECONDS`` moves to the next eligible member.

The sweeper calls ``route_waiting_chats``, ``end_waited_chats`` and
``announce_offline_agents`` under its lease. Chat events also route at once: a new
chat, an agent who connects or comes back from away, and a chat that ends.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.dispatch import Signal
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from layanan import realtime
from layanan.audit.models import ActorKind
from layanan.audit.services import record
from layanan.catalog.models import RoutingMode, Team
from layanan.chat import presence
from layanan.chat.models import (
    Conversation,
    ConversationNote,
    ConversationStatus,
    EndedBy,
)
from layanan.chat.payloads import conversation_payload, queue_item
from layanan.chat.services import (
    ChatError,
    Ending,
    agent_display_name,
    end_conversation,
    post_system_message,
    publish_state,
)
from layanan.people.models import AgentProfile, AgentStatus

logger = logging.getLogger(__name__)

MAX_NOTE_LENGTH = 2000

# Sent inside a transaction with ``conversation`` when a chat waited past its
# team's wait limit. The tickets app turns the chat into a ticket and returns the
# ticket number, which the closing system message shows the requester.
chat_missed = Signal()


def uses_round_robin(team: Team) -> bool:
    return team.routing == RoutingMode.ROUND_ROBIN


def _queue_frame(conversation: Conversation) -> dict[str, object]:
    return {"type": "queue.updated", "item": queue_item(conversation)}


def offer_next(conversation: Conversation, now: datetime | None = None) -> int | None:
    """Offer a waiting round-robin chat to the next eligible agent.

    Agents in ``offered_agent_ids`` are skipped until every eligible agent was
    offered the chat, then the round starts over. With nobody eligible the offer
    is withdrawn and the chat waits unoffered. Return the offered agent's id, or
    None. A conditional UPDATE on the current offer keeps two callers from
    offering the same chat at once: the later one changes nothing.
    """
    now = now or timezone.now()
    team = conversation.team
    if not uses_round_robin(team) or conversation.status != ConversationStatus.WAITING:
        return None
    eligible = list(
        presence.eligible_agents(team, now, ignoring=conversation.pk).values_list(
            "pk", flat=True
        )
    )
    tried = [int(agent_id) for agent_id in conversation.offered_agent_ids or []]
    untried = [agent_id for agent_id in eligible if agent_id not in tried]
    if untried:
        chosen: int | None = untried[0]
        offered_ids = [*tried, untried[0]]
    elif eligible:
        chosen = eligible[0]
        offered_ids = [eligible[0]]
    else:
        chosen = None
        offered_ids = tried
    with transaction.atomic():
        changed = Conversation.objects.filter(
            pk=conversation.pk,
            status=ConversationStatus.WAITING,
            offered_to_id=conversation.offered_to_id,
            offered_at=conversation.offered_at,
        ).update(
            offered_to_id=chosen,
            offered_at=now if chosen is not None else None,
            offered_agent_ids=offered_ids,
        )
        if not changed:
            return None
        previous = conversation.offered_to_id
        conversation.offered_to_id = chosen
        conversation.offered_at = now if chosen is not None else None
        conversation.offered_agent_ids = offered_ids
        if chosen is not None:
            AgentProfile.objects.filter(user_id=chosen).update(last_offered_at=now)
            record("conversation", conversation.public_id, "offered", agent=chosen)
        if chosen != previous:
            realtime.publish(
                realtime.team_group(conversation.team_id),
                _queue_frame(conversation),
                audience="agent",
            )
    if chosen is not None:
        logger.info(
            "conversation offered conversation=%s agent=%s",
            conversation.public_id,
            chosen,
        )
    return chosen


def _waiting(team_ids: list[int] | None = None) -> list[Conversation]:
    waiting = Conversation.objects.filter(
        status=ConversationStatus.WAITING, team__routing=RoutingMode.ROUND_ROBIN
    )
    if team_ids is not None:
        waiting = waiting.filter(team_id__in=team_ids)
    return list(
        waiting.select_related(
            "team", "service", "requester__study_programme"
        ).order_by("created", "pk")
    )


def route_unoffered(team_ids: list[int], now: datetime | None = None) -> int:
    """Offer the teams' unoffered waiting chats, oldest first; return how many."""
    count = 0
    for conversation in _waiting(team_ids):
        if conversation.offered_to_id is None and offer_next(conversation, now):
            count += 1
    return count


def route_waiting_chats(now: datetime | None = None) -> int:
    """Move timed-out offers on and offer unoffered chats; return offers made."""
    now = now or timezone.now()
    timeout = timedelta(seconds=settings.CHAT_OFFER_SECONDS)
    count = 0
    for conversation in _waiting():
        expired = conversation.offered_at is not None and (
            conversation.offered_at <= now - timeout
        )
        if (conversation.offered_to_id is None or expired) and offer_next(
            conversation, now
        ):
            count += 1
    return count


def withdraw_offers(user: User, now: datetime | None = None) -> int:
    """Move the chats offered to ``user`` on, as when they set themselves away."""
    count = 0
    for conversation in _waiting():
        if conversation.offered_to_id == user.pk and offer_next(conversation, now):
            count += 1
    return count


def wait_started_at(conversation: Conversation) -> datetime:
    """Return when the chat started waiting in its current queue.

    NOTE: a chat put back into a queue by a transfer has no field for that moment,
    so its last activity (the transfer or a later requester message) is used.
    """
    if conversation.accepted_at is None:
        return conversation.created
    return conversation.last_activity_at


def end_waited_chats(now: datetime | None = None) -> int:
    """End every chat that waited past its team's wait limit; return how many.

    Each one becomes a ticket through ``chat_missed`` before it ends, so that the
    closing note names the ticket.
    """
    now = now or timezone.now()
    count = 0
    for team in Team.objects.all():
        cutoff = now - timedelta(minutes=team.chat_wait_limit_minutes)
        waiting = Conversation.objects.filter(
            team=team, status=ConversationStatus.WAITING
        ).filter(
            Q(accepted_at__isnull=True, created__lt=cutoff)
            | Q(accepted_at__isnull=False, last_activity_at__lt=cutoff)
        )
        for conversation in waiting.select_related("team", "service", "requester"):
            if _end_waited_chat(conversation):
                count += 1
    return count


def _end_waited_chat(conversation: Conversation) -> bool:
    with transaction.atomic():
        # The lock makes an agent's accept wait for this end and then find the
        # chat no longer waiting.
        locked = (
            Conversation.objects.select_for_update()
            .filter(pk=conversation.pk, status=ConversationStatus.WAITING)
            .first()
        )
        if locked is None:
            return False
        responses = chat_missed.send(sender=Conversation, conversation=conversation)
        numbers = [number for _receiver, number in responses if number]
        ended = end_conversation(conversation, Ending(ended_by=EndedBy.WAIT_LIMIT))
    logger.info(
        "conversation passed wait limit conversation=%s ticket=%s",
        conversation.public_id,
        numbers[0] if numbers else "none",
    )
    return ended


def announce_offline_agents(user_ids: list[int]) -> int:
    """Post a system message to each active chat of these agents: they went offline.

    Return the number of chats that got the message.
    """
    if not user_ids:
        return 0
    held = Conversation.objects.filter(
        agent_id__in=user_ids, status=ConversationStatus.ACTIVE
    ).select_related("agent", "service", "team")
    now = timezone.now()
    count = 0
    for conversation in held:
        agent = conversation.agent
        if agent is None:
            continue
        with translation.override(conversation.language):
            text = _(
                "%(name)s has gone offline. The chat stays open: write here and "
                "the reply will come when an agent is back."
            ) % {"name": agent_display_name(agent)}
        with transaction.atomic():
            post_system_message(
                conversation, f"agent_offline:{int(now.timestamp())}", text
            )
        count += 1
    return count


def may_transfer(user: User, conversation: Conversation) -> bool:
    """Tell whether ``user`` may transfer the chat: its agent or a lead of its team."""
    if conversation.status != ConversationStatus.ACTIVE:
        return False
    if conversation.agent_id == user.pk:
        return True
    return conversation.team.leads.filter(pk=user.pk).exists()


@dataclass(frozen=True)
class Transfer:
    """Target of a transfer: ``agent`` in ``team``, or the team's queue when
    ``agent`` is None."""

    team: Team
    agent: User | None = None
    note: str = ""


def validate_note(note: str) -> str:
    note = note.strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise ChatError(
            "note_too_long",
            _("The note is longer than %(max)d characters: shorten it.")
            % {"max": MAX_NOTE_LENGTH},
        )
    return note


def transfer_conversation(
    conversation: Conversation, actor: User, transfer: Transfer
) -> None:
    """Give an active chat to another agent or put it in a team's queue.

    The note is stored as a ``ConversationNote``, which requesters never see. The
    requester gets a neutral system message only. Raise ChatError when the actor
    may not transfer, the target is not valid, or the chat changed meanwhile.
    """
    note = validate_note(transfer.note)
    if not may_transfer(actor, conversation):
        raise ChatError(
            "not_allowed",
            _(
                "Only the agent holding this active chat or a lead of its team can "
                "transfer it."
            ),
        )
    target = transfer.agent
    if target is not None:
        _check_target_agent(conversation, transfer.team, target)
    previous_agent_id = conversation.agent_id
    previous_team_id = conversation.team_id
    now = timezone.now()
    with transaction.atomic():
        changes: dict[str, object] = {"team": transfer.team, "last_activity_at": now}
        if target is not None:
            changes["agent"] = target
        else:
            changes.update(
                agent=None,
                status=ConversationStatus.WAITING,
                offered_to=None,
                offered_at=None,
                offered_agent_ids=[],
            )
        moved = Conversation.objects.filter(
            pk=conversation.pk,
            status=ConversationStatus.ACTIVE,
            agent_id=previous_agent_id,
        ).update(**changes)
        if not moved:
            raise ChatError(
                "chat_changed",
                _("The chat changed meanwhile (it ended or moved). Reload the page."),
            )
        conversation.refresh_from_db()
        if note:
            ConversationNote.objects.create(
                conversation=conversation,
                author=actor,
                author_name=agent_display_name(actor),
                body=note,
            )
        record(
            "conversation",
            conversation.public_id,
            "transferred",
            actor=actor,
            actor_kind=ActorKind.AGENT,
            from_agent=previous_agent_id,
            to_agent=target.pk if target else None,
            from_team=previous_team_id,
            to_team=transfer.team.pk,
        )
        _announce_transfer(conversation, target, now)
    logger.info(
        "conversation transferred conversation=%s from_agent=%s to_agent=%s to_team=%s",
        conversation.public_id,
        previous_agent_id,
        target.pk if target else None,
        transfer.team.pk,
    )
    if target is None:
        offer_next(conversation)
    # The previous agent has one active chat fewer, so an unoffered chat may fit.
    if previous_agent_id is not None:
        route_unoffered(_team_ids_of(previous_agent_id))


def _team_ids_of(user_id: int) -> list[int]:
    return list(Team.objects.filter(members__pk=user_id).values_list("pk", flat=True))


def route_for_agent(user_id: int) -> int:
    """Offer unoffered chats of the agent's teams, as when the agent becomes
    eligible (connects, comes back from away, or ends a chat)."""
    return route_unoffered(_team_ids_of(user_id))


def _check_target_agent(conversation: Conversation, team: Team, agent: User) -> None:
    if agent.pk == conversation.agent_id:
        raise ChatError(
            "invalid_target",
            _("%(name)s holds this chat already: choose another agent or a queue.")
            % {"name": agent_display_name(agent)},
        )
    if not team.members.filter(pk=agent.pk).exists():
        raise ChatError(
            "invalid_target",
            _("%(name)s is not a member of the %(team)s team: choose a member.")
            % {"name": agent_display_name(agent), "team": team.name},
        )
    online = presence.live_user_ids().filter(user_id=agent.pk).exists()
    away = AgentProfile.objects.filter(
        user_id=agent.pk, status=AgentStatus.AWAY
    ).exists()
    if not online or away:
        raise ChatError(
            "agent_offline",
            _("%(name)s is not online now: choose an online agent or the team's queue.")
            % {"name": agent_display_name(agent)},
        )


def _announce_transfer(
    conversation: Conversation, target: User | None, now: datetime
) -> None:
    key = f"transfer:{int(now.timestamp() * 1000)}"
    with translation.override(conversation.language):
        if target is not None:
            text = _("You are now chatting with %(name)s.") % {
                "name": agent_display_name(target)
            }
        else:
            text = _("Waiting for an agent of %(team)s.") % {
                "team": conversation.team.name
            }
    post_system_message(conversation, key, text)
    publish_state(conversation)
    frame = {
        "type": "transferred",
        "conversation": str(conversation.public_id),
        "agent_id": target.pk if target else None,
        "team": conversation.team.name,
        "state": conversation_payload(conversation, for_agent=True),
    }
    # Consoles showing the chat reload it. The new agent's sockets are not in the
    # chat's group yet, so they get the frame through the agent's own group.
    realtime.publish(conversation.group_name, frame, audience="agent")
    if target is not None:
        realtime.publish(realtime.agent_group(target.pk), frame, audience="agent")
    else:
        realtime.publish(
            realtime.team_group(conversation.team_id),
            {"type": "queue.added", "item": queue_item(conversation)},
            audience="agent",
        )
