"""Agent presence: an agent with the console open is online unless set away."""

import logging
from datetime import timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from layanan.catalog.models import Team
from layanan.chat.access import is_supervisor
from layanan.chat.models import Conversation
from layanan.people.models import AgentConnection, AgentProfile, AgentStatus

logger = logging.getLogger(__name__)

# A console pings every 25 s. A connection silent for longer than this died without
# a clean close (a server crash, say), so it no longer counts.
STALE_AFTER = timedelta(seconds=90)


def profile_for(user: User) -> AgentProfile:
    profile, _created = AgentProfile.objects.get_or_create(user_id=user.pk)
    return profile


def queue_team_ids(user: User) -> list[int]:
    """Return the teams whose queue the user watches: their own, or all for a
    supervisor."""
    teams = Team.objects.all() if is_supervisor(user) else user.teams.all()
    return list(teams.values_list("pk", flat=True))


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
    # NOTE: requesters of the chats this agent holds get no notice when the agent's
    # last console closes. Their panel shows the agent until the idle timer ends it.
    AgentConnection.objects.filter(channel_name=channel_name).delete()


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


def online_team_ids() -> set[int]:
    """Return the teams with at least one agent online now."""
    fresh = timezone.now() - STALE_AFTER
    online_users = (
        AgentConnection.objects.filter(last_seen__gte=fresh)
        .exclude(user__agent__status=AgentStatus.AWAY)
        .values("user_id")
    )
    return set(
        Team.objects.filter(members__in=online_users).values_list("pk", flat=True)
    )


def team_is_online(team_id: int) -> bool:
    return team_id in online_team_ids()


def forget_stale_connections() -> int:
    deleted, _rows = AgentConnection.objects.filter(
        last_seen__lt=timezone.now() - STALE_AFTER
    ).delete()
    return deleted
