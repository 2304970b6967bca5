"""The frame every console page shares: the login and role check, and the header.

The console's views (``chat_views``, ``ticket_views``, ``outbox_views``) parse,
authorise and delegate to the chat and ticket services. Every view requires a
login, and a user who is neither a team member nor a supervisor gets an
explanatory page instead of data. Live updates reach the pages through the
``/ws/console/`` socket that ``static/layanan/console.js`` opens.
"""

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, Concatenate, ParamSpec

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from layanan.catalog.models import Service
from layanan.chat import access as chat_access
from layanan.chat.models import Conversation, ConversationStatus, EndedBy
from layanan.chat.services import (
    MAX_BODY_LENGTH,
)
from layanan.console.access import (
    ConsoleRole,
    console_role,
)
from layanan.people.models import AgentProfile, AgentStatus, RequesterKind

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
RECENT_CHATS = 20
# Placeholders that the browser replaces to build URLs for ids it learns later.
CHAT_ID_PLACEHOLDER = uuid.UUID(int=0)
TICKET_NUMBER_PLACEHOLDER = "__number__"
# The HTML part of a mail is shown in a sandboxed frame: no scripts, no network,
# only its own inline styles and embedded images.
MAIL_HTML_POLICY = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'"
)

P = ParamSpec("P")


@dataclass(frozen=True)
class Viewer:
    """The logged-in console user and the teams they serve."""

    user: User
    role: ConsoleRole


ConsoleView = Callable[Concatenate[HttpRequest, Viewer, P], HttpResponseBase]


def console_view(
    view: ConsoleView[P],
) -> Callable[Concatenate[HttpRequest, P], HttpResponseBase]:
    """Require a login and a team or supervisor role, then pass the ``Viewer``."""

    @wraps(view)
    def wrapped(
        request: HttpRequest, *args: P.args, **kwargs: P.kwargs
    ) -> HttpResponseBase:
        user = request.user
        if not isinstance(user, User):
            # login_required below has redirected anonymous users already.
            raise Http404
        role = console_role(user)
        if not role.may_use_console:
            logger.info("console page rejected: user has no team user=%s", user.pk)
            return render(request, "console/no_access.html", status=403)
        return view(request, Viewer(user=user, role=role), *args, **kwargs)

    return login_required(wrapped)


def js_strings() -> dict[str, str]:
    """Return the translated texts that console.js shows."""
    return {
        "statusOnline": _("Status: Online"),
        "statusAway": _("Status: Away"),
        "sending": _("Sending…"),
        "sent": _("Sent"),
        "read": _("Read"),
        "notSent": _("Not sent"),
        "waiting": _("Waiting %(time)s"),
        "newChat": _("A new chat is waiting."),
        "connecting": _("Connecting…"),
        "reconnecting": _("Connection lost. Reconnecting…"),
        "offline": _(
            "The console is not connected. Wait until it reconnects, then try again."
        ),
        "sessionExpired": _("Your session has expired. Reload the page to log in."),
        "typing": _("%(name)s is typing…"),
        "emptyMessage": _("Type a message before sending."),
        "messageTooLong": _(
            "The message is longer than %(max)d characters: shorten it or split it."
        )
        % {"max": MAX_BODY_LENGTH},
        "fileTooLarge": _(
            "The file “%(name)s” is larger than the %(limit)s MiB limit. Compress "
            "it or split it into smaller files, then upload it again."
        ).replace("%(limit)s", str(settings.UPLOAD_MAX_MB)),
        "uploading": _("Uploading %(name)s…"),
        "uploadFailed": _(
            "The file could not be uploaded because the connection failed. Check "
            "the connection and choose the file again."
        ),
        "ticketLink": _("Ticket %(number)s"),
    }


def js_labels() -> dict[str, dict[str, str]]:
    """Return display labels by code, plus a map from any language's label to code.

    Queue items carry the requester kind and the service already translated, in
    the language that was active where the item was built (often the
    requester's), so the console maps them back to a label in its own language.
    """
    kinds: dict[str, str] = {}
    services: dict[str, str] = {}
    for service in Service.objects.all():
        services[service.name_id] = services[service.name_en] = service.localized_name()
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            for kind in RequesterKind:
                kinds[str(kind.label)] = kind.value
    return {
        "kindCodes": kinds,
        "kinds": {kind.value: str(kind.label) for kind in RequesterKind},
        "services": services,
        "statuses": {status.value: str(status.label) for status in ConversationStatus},
        "endedBy": {reason.value: str(reason.label) for reason in EndedBy},
        "endedReasons": ending_reasons(),
    }


def ending_reasons() -> dict[str, str]:
    return {
        EndedBy.REQUESTER.value: _("The requester ended the chat."),
        EndedBy.AGENT.value: _("The agent ended the chat."),
        EndedBy.IDLE.value: _(
            "The chat ended because no message was sent for %(minutes)d minutes."
        )
        % {"minutes": settings.CHAT_IDLE_MINUTES},
        EndedBy.WAIT_LIMIT.value: _(
            "No agent accepted the chat within the team's wait limit, so it became "
            "a ticket."
        ),
    }


def agent_status(user: User) -> str:
    status = (
        AgentProfile.objects.filter(user_id=user.pk)
        .values_list("status", flat=True)
        .first()
    )
    return status or AgentStatus.ONLINE


def render_page(
    request: HttpRequest,
    viewer: Viewer,
    template: str,
    context: dict[str, Any],
    *,
    page: str = "other",
    config: dict[str, Any] | None = None,
) -> HttpResponse:
    """Render a console page with the header's data and console.js's settings."""
    status = agent_status(viewer.user)
    console_config: dict[str, Any] = {
        "page": page,
        "socketPath": "/ws/console/",
        "timeZone": settings.TIME_ZONE,
        "status": status,
        "memberTeams": sorted(viewer.role.team_names),
        "urls": {
            "chat": reverse("console:chat", args=[CHAT_ID_PLACEHOLDER]),
            "chatPlaceholder": str(CHAT_ID_PLACEHOLDER),
            "attachment": reverse("console:attachment", args=[0]),
            "ticket": reverse("console:ticket", args=[TICKET_NUMBER_PLACEHOLDER]),
            "ticketPlaceholder": TICKET_NUMBER_PLACEHOLDER,
        },
        "strings": js_strings(),
        "labels": js_labels(),
        **(config or {}),
    }
    full_context = {
        "viewer": viewer,
        "console_config": console_config,
        "agent_status": status,
        "can_set_status": bool(viewer.role.team_ids),
        # Both pages are for those who read every team or lead one.
        "may_view_dashboard": viewer.role.may_view_dashboard,
        "may_see_teams": viewer.role.may_view_dashboard,
        **context,
    }
    return render(request, template, full_context)


def conversation_or_404(viewer: Viewer, public_id: uuid.UUID) -> Conversation:
    try:
        return chat_access.get_conversation_for_agent(viewer.user, public_id)
    except chat_access.NotFound:
        raise Http404 from None


def redirect_to_chat(conversation: Conversation) -> HttpResponseRedirect:
    return redirect("console:chat", public_id=conversation.public_id)
