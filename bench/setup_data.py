"""Create agents, console sessions and accepted chats for the relay benchmark.

Run with ``DJANGO_SETTINGS_MODULE=layanan.settings`` and the server's environment
after ``layanan migrate``. Prints one JSON object on stdout::

    {"pairs": [{"agent": "bench-agent-001", "cookie": "sessionid=...",
                "token": "...", "conversation": "<public id>"}, ...]}

The session cookie and the chat token are secrets of this throw-away database,
which lives in the benchmark's temporary directory.
"""

import argparse
import json
import sys
from importlib import import_module
from typing import Any

import django

TEAM_NAME = "Administrasi"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def create_pair(index: int, team: Any, service: Any) -> dict[str, str]:
    """Create one agent with a session and one chat that the agent accepted."""
    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )

    from layanan.chat.services import NewChat, accept_conversation, start_conversation
    from layanan.people.models import AgentProfile, RequesterKind
    from layanan.people.services import upsert_requester
    from layanan.people.validation import Identifier

    username = f"bench-agent-{index:03d}"
    # No password: the benchmark logs in by session, and hashing 50 passwords with
    # the default hasher would take longer than the whole setup.
    agent = get_user_model().objects.create_user(
        username=username, first_name="Agent", last_name=f"{index:03d}"
    )
    AgentProfile.objects.create(user=agent)
    team.members.add(agent)

    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(agent.pk)
    session[BACKEND_SESSION_KEY] = MODEL_BACKEND
    session[HASH_SESSION_KEY] = agent.get_session_auth_hash()
    session.create()

    requester = upsert_requester(
        identifier=Identifier(f"2199{index:06d}", RequesterKind.STUDENT),
        name=f"Requester {index:03d}",
        study_programme=None,
        email=f"requester{index:03d}@bench.example",
    )
    conversation, token = start_conversation(
        NewChat(
            requester=requester,
            email=requester.email,
            service=service,
            topic=f"Benchmark chat {index:03d}",
            language="en",
        )
    )
    accept_conversation(conversation, agent)
    return {
        "agent": username,
        "cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}",
        "token": token,
        "conversation": str(conversation.public_id),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pairs",
        type=int,
        default=50,
        help="Chats to create, each with its own agent (default 50).",
    )
    arguments = parser.parse_args()
    django.setup()

    from layanan.catalog.models import Service, Team

    team = Team.objects.get(name=TEAM_NAME)
    service = Service.objects.active().filter(team=team).first()
    if service is None:
        sys.exit(f"Team {TEAM_NAME!r} has no active service: run `layanan migrate`.")
    pairs = [
        create_pair(index, team, service) for index in range(1, arguments.pairs + 1)
    ]
    json.dump({"pairs": pairs}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
