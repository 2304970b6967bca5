"""Agent presence: online, away or offline.

An agent with a console socket open is online unless they set themselves away. When
the last socket closes, the agent still counts as online for ``CLOSE_GRACE`` so that
a page reload does not flip the widget to its offline form. A closed socket's row
stays in ``AgentConnection`` for that time, with ``CLOSED_PREFIX`` before its
channel name, and the sweeper deletes it afterwards.
"""

import logging
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from layanan import access
from layanan.catalog.models import Team
from layanan.chat.models import Conversation, ConversationStatus
from layanan.people.models import AgentConnection, AgentProfile, AgentStatus

logger = logging.getLogger(__name__)

# A console pings every 25 s. A connection silent for longer than this died without
# a clean close (a server crash, say), so it no longer counts.
STALE_AFTER = timedelta(seconds=90)
# How long an agent whose last console closed still counts as online.
CLOSE_GRACE = timedelta(seconds=30)
CLOSED_PREFIX = "closed:"


def profile_for(user: User) -> AgentProfile:
    profile, _created = AgentProfile.objects.get_or_create(user_id=user.pk)
    return profile


def queue_team_ids(user: User) -> list[int]:
    """Return the teams whose queue the user watches: the teams they serve or
    lead, or all for a head of department or an admin."""
    if access.reads_every_team(user):
        return list(Team.objects.values_list("pk", flat=True))
    return sorted(access.own_team_ids(user))


def may_accept(user: User, conversation: Conversation) -> bool:
    return Team.objects.filter(pk=conversation.team_id, members__pk=user.pk).exists()


def connect(user: User, channel_name: str) -> str:
    AgentConnection.objects.create(
        user_id=user.pk, channel_name=channel_name, last_seen=timezone.now()
    )
    status = profile_for(user).status
    logger.info("agent connected agent=%s status=%s", user.pk, status)
    return status


def disconnect(channel_name: str) -> None:
    """Mark the socket closed; the agent goes offline after ``CLOSE_GRACE``.

    Once the grace period has passed without a new socket, the sweeper posts a
    system message to the requesters of the agent's active chats.
    """
    AgentConnection.objects.filter(channel_name=channel_name).update(
        channel_name=CLOSED_PREFIX + channel_name[: 200 - len(CLOSED_PREFIX)],
        last_seen=timezone.now(),
    )


def heartbeat(channel_name: str) -> None:
    AgentConnection.objects.filter(channel_name=channel_name).update(
        last_seen=timezone.now()
    )


def set_status(user: User, status: str) -> str:
    if status not in AgentStatus.values:
        status = AgentStatus.ONLINE
    AgentProfile.objects.update_or_create(user_id=user.pk, defaults={"status": status})
    logger.info("agent status agent=%s status=%s", user.pk, status)
    return status


def _counted_connections(now: datetime) -> QuerySet[AgentConnection]:
    """Return the rows that keep an agent online: open and fresh, or closed
    within the grace period."""
    is_closed = Q(channel_name__startswith=CLOSED_PREFIX)
    return AgentConnection.objects.filter(
        (~is_closed & Q(last_seen__gte=now - STALE_AFTER))
        | (is_closed & Q(last_seen__gte=now - CLOSE_GRACE))
    )


def online_team_ids(now: datetime | None = None) -> set[int]:
    """Return the teams with at least one agent online now."""
    online_users = (
        _counted_connections(now or timezone.now())
        .exclude(user__agent__status=AgentStatus.AWAY)
        .values("user_id")
    )
    return set(
        Team.objects.filter(members__in=online_users).values_list("pk", flat=True)
    )


def team_is_online(team_id: int) -> bool:
    return team_id in online_team_ids()


def live_user_ids(
    now: datetime | None = None,
) -> QuerySet[AgentConnection, Any]:
    """Return a subquery of the users with an open, fresh console socket."""
    fresh = (now or timezone.now()) - STALE_AFTER
    return (
        AgentConnection.objects.filter(last_seen__gte=fresh)
        .exclude(channel_name__startswith=CLOSED_PREFIX)
        .values("user_id")
    )


def eligible_agents(
    team: Team, now: datetime | None = None, *, ignoring: int | None = None
) -> QuerySet[User]:
    """Return the team's members that round-robin routing may offer a chat now.

    Eligible are members whose status is online (not away), with an open console
    socket, whose active chats plus chats offered to them now are below their
    ``chat_capacity``. Counting open offers keeps one agent from being offered more
    chats at once than they may hold. Ordered by ``last_offered_at`` (never offered
    first), then by id. The offer of chat ``ignoring`` does not count, so that a
    chat being re-offered does not hold a place of its own.
    """
    offered_waiting = Q(offered_conversations__status=ConversationStatus.WAITING)
    if ignoring is not None:
        offered_waiting &= ~Q(offered_conversations__pk=ignoring)
    return (
        team.members.filter(agent__status=AgentStatus.ONLINE, pk__in=live_user_ids(now))
        .annotate(
            active_chats=Count(
                "conversations",
                filter=Q(conversations__status=ConversationStatus.ACTIVE),
                distinct=True,
            ),
            open_offers=Count(
                "offered_conversations",
                filter=offered_waiting,
                distinct=True,
            ),
        )
        .filter(active_chats__lt=F("agent__chat_capacity") - F("open_offers"))
        .order_by(F("agent__last_offered_at").asc(nulls_first=True), "pk")
    )


def expire_connections(now: datetime | None = None) -> list[int]:
    """Delete closed rows past the grace period and stale open rows.

    Return the ids of the agents left with no counted connection, that is, the
    agents who went offline now.
    """
    now = now or timezone.now()
    is_closed = Q(channel_name__startswith=CLOSED_PREFIX)
    expired = AgentConnection.objects.filter(
        (is_closed & Q(last_seen__lt=now - CLOSE_GRACE))
        | (~is_closed & Q(last_seen__lt=now - STALE_AFTER))
    )
    user_ids = set(expired.values_list("user_id", flat=True))
    if not user_ids:
        return []
    expired.delete()
    still_online = set(
        _counted_connections(now)
        .filter(user_id__in=user_ids)
        .values_list("user_id", flat=True)
    )
    offline = sorted(user_ids - still_online)
    for user_id in offline:
        logger.info("agent offline agent=%s", user_id)
    return offline
