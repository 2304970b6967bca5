"""The agent console: queue, chats, tickets and the email log.

Views parse, authorise and delegate to the chat and ticket services. Every view
requires a login, and a user who is neither a team member nor a supervisor gets
an explanatory page instead of data. Live updates reach the pages through the
``/ws/console/`` socket that ``static/layanan/console.js`` opens.
"""

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, Concatenate, ParamSpec
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.db import transaction
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_POST

from layanan.audit.services import history
from layanan.catalog.models import Service
from layanan.chat import access as chat_access
from layanan.chat.models import Conversation, ConversationStatus, EndedBy, SenderKind
from layanan.chat.payloads import message_payload
from layanan.chat.services import (
    MAX_BODY_LENGTH,
    ChatError,
    Ending,
    agent_display_name,
    end_conversation,
)
from layanan.chat.transcripts import send_transcript
from layanan.chat.views import attach_file, error_response, file_response
from layanan.console.access import (
    ConsoleRole,
    NotFound,
    console_role,
    get_attachment_for_ticket_agent,
    get_outbound_email_for_agent,
    get_ticket_for_agent,
    outbound_emails_for_agent,
    tickets_for_agent,
)
from layanan.mail.models import OutboundEmail
from layanan.mail.outbox import attachments_of, build_message
from layanan.people.models import AgentProfile, AgentStatus, RequesterKind
from layanan.tickets import replies, workflow
from layanan.tickets.models import Ticket, TicketPriority, TicketStatus
from layanan.tickets.services import create_ticket_from_conversation

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


@console_view
@require_GET
def home(request: HttpRequest, viewer: Viewer) -> HttpResponse:
    """Show the live queue (filled by console.js) and the active chats."""
    conversations = chat_access.conversations_for_agent(viewer.user).select_related(
        "agent"
    )
    active = conversations.filter(status=ConversationStatus.ACTIVE).order_by(
        "accepted_at", "id"
    )
    context = {
        "my_chats": list(active.filter(agent_id=viewer.user.pk)),
        "other_chats": list(active.exclude(agent_id=viewer.user.pk)[:PAGE_SIZE]),
        "recent_chats": list(
            conversations.filter(status=ConversationStatus.ENDED).order_by(
                "-ended_at", "-id"
            )[:RECENT_CHATS]
        ),
    }
    return render_page(request, viewer, "console/home.html", context, page="home")


def ending_actor_name(conversation: Conversation) -> str:
    """Return the name of the agent who ended the chat, or "" if none did."""
    if conversation.ended_by != EndedBy.AGENT:
        return ""
    for event in reversed(history("conversation", conversation.public_id)):
        if event.action == "ended" and event.actor is not None:
            return agent_display_name(event.actor)
    return ""


@console_view
@require_GET
def chat(request: HttpRequest, viewer: Viewer, public_id: uuid.UUID) -> HttpResponse:
    conversation = conversation_or_404(viewer, public_id)
    payloads = [
        message_payload(message)
        for message in conversation.messages.select_related("attachment").order_by(
            "seq"
        )
    ]
    is_member = viewer.role.is_member_of(conversation.team_id)
    holds_chat = conversation.agent_id == viewer.user.pk
    is_ended = conversation.status == ConversationStatus.ENDED
    context = {
        "conversation": conversation,
        "requester": conversation.requester,
        "service_name": conversation.service.localized_name(),
        "chat_messages": payloads,
        "is_member": is_member,
        "holds_chat": holds_chat,
        "is_ended": is_ended,
        "can_accept": is_member and conversation.status == ConversationStatus.WAITING,
        "can_end": not is_ended and may_end(viewer, conversation),
        "ended_by_name": ending_actor_name(conversation),
        "ending_reason": ending_reasons().get(conversation.ended_by, ""),
    }
    config = {
        "chat": {
            "id": str(conversation.public_id),
            "status": conversation.status,
            "lastSeq": payloads[-1]["seq"] if payloads else 0,
            "peerReadSeq": conversation.requester_read_seq,
            "canReply": holds_chat and not is_ended,
            "uploadUrl": reverse("console:chat_upload", args=[conversation.public_id]),
            "uploadMaxBytes": settings.UPLOAD_MAX_BYTES,
            "ticketNumber": conversation.ticket_number or None,
            "requesterName": conversation.requester_name,
        }
    }
    return render_page(
        request, viewer, "console/chat.html", context, page="chat", config=config
    )


def may_end(viewer: Viewer, conversation: Conversation) -> bool:
    """Tell whether the viewer may end the chat: its agent, or any team member
    while it still waits in the queue."""
    if not viewer.role.is_member_of(conversation.team_id):
        return False
    if conversation.status == ConversationStatus.WAITING:
        return True
    return conversation.agent_id == viewer.user.pk


def reject_non_member(request: HttpRequest, conversation: Conversation) -> None:
    messages.error(
        request,
        _(
            "Only members of the %(team)s team can act on this chat. Ask one of "
            "them to do it."
        )
        % {"team": conversation.team.name},
    )


@console_view
@require_POST
def chat_end(
    request: HttpRequest, viewer: Viewer, public_id: uuid.UUID
) -> HttpResponseBase:
    conversation = conversation_or_404(viewer, public_id)
    if not may_end(viewer, conversation):
        messages.error(
            request,
            _("Only the agent who accepted this chat can end it. Ask them to end it."),
        )
        return redirect_to_chat(conversation)
    ended = end_conversation(
        conversation, Ending(ended_by=EndedBy.AGENT, actor=viewer.user)
    )
    if ended:
        messages.success(request, _("The chat has ended."))
    else:
        messages.info(request, _("This chat had already ended."))
    return redirect_to_chat(conversation)


@console_view
@require_POST
def chat_ticket(
    request: HttpRequest, viewer: Viewer, public_id: uuid.UUID
) -> HttpResponseBase:
    """Turn the chat into a ticket ("Create ticket")."""
    conversation = conversation_or_404(viewer, public_id)
    if not viewer.role.is_member_of(conversation.team_id):
        reject_non_member(request, conversation)
        return redirect_to_chat(conversation)
    try:
        created = create_ticket_from_conversation(conversation, viewer.user)
    except ChatError as error:
        messages.error(request, error.message)
        return redirect_to_chat(conversation)
    messages.success(
        request, _("Ticket %(number)s was created.") % {"number": created.number}
    )
    return redirect_to_chat(conversation)


@console_view
@require_POST
def chat_transcript(
    request: HttpRequest, viewer: Viewer, public_id: uuid.UUID
) -> HttpResponseBase:
    """Queue the chat transcript again for the requester's email address."""
    conversation = conversation_or_404(viewer, public_id)
    if not viewer.role.is_member_of(conversation.team_id):
        reject_non_member(request, conversation)
        return redirect_to_chat(conversation)
    if conversation.status != ConversationStatus.ENDED:
        messages.error(
            request,
            _(
                "End the chat first, so that the transcript is complete, then "
                "resend it."
            ),
        )
        return redirect_to_chat(conversation)
    email = conversation.requester_email
    try:
        with transaction.atomic():
            send_transcript(conversation, email, actor=viewer.user)
    except ValueError:
        logger.warning(
            "transcript not queued: unusable address conversation=%s",
            conversation.public_id,
        )
        messages.error(
            request,
            _(
                "The transcript was not sent because the requester's email address "
                "is not usable. Ask the requester for a valid address."
            ),
        )
        return redirect_to_chat(conversation)
    messages.success(
        request, _("The transcript was queued for %(email)s.") % {"email": email}
    )
    return redirect_to_chat(conversation)


@console_view
@require_POST
def chat_upload(
    request: HttpRequest, viewer: Viewer, public_id: uuid.UUID
) -> JsonResponse:
    """Attach a file as the agent and return JSON, as the requester's upload does."""
    try:
        conversation = chat_access.get_conversation_for_agent(viewer.user, public_id)
    except chat_access.NotFound:
        return error_response(404, "not_found", _("This chat was not found."))
    if conversation.agent_id != viewer.user.pk:
        return error_response(403, "not_allowed", _("Accept the chat before replying."))
    if conversation.status == ConversationStatus.ENDED:
        return error_response(400, "chat_ended", _("This chat has ended."))
    return attach_file(
        request,
        conversation,
        sender_kind=SenderKind.AGENT,
        sender_name=agent_display_name(viewer.user),
    )


@console_view
@require_GET
def attachment(
    request: HttpRequest, viewer: Viewer, attachment_id: int
) -> HttpResponseBase:
    try:
        found = chat_access.get_attachment_for_agent(viewer.user, attachment_id)
    except chat_access.NotFound:
        raise Http404 from None
    try:
        return file_response(found, inline=request.GET.get("inline") == "1")
    except (FileNotFoundError, ValueError):
        logger.error("attachment file is missing attachment=%s", found.pk)
        raise Http404 from None


@console_view
@require_GET
def tickets(request: HttpRequest, viewer: Viewer) -> HttpResponse:
    """List the viewer's tickets, filtered by status and by assignee."""
    queryset = tickets_for_agent(viewer.user).order_by("-created", "-id")
    status = request.GET.get("status", "")
    if status in TicketStatus.values:
        queryset = queryset.filter(status=status)
    else:
        status = ""
    assignee = request.GET.get("assignee", "")
    if assignee == "mine":
        queryset = queryset.filter(assignee=viewer.user)
    elif assignee == "nobody":
        queryset = queryset.filter(assignee__isnull=True)
    else:
        assignee = ""
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    chosen = [("status", status), ("assignee", assignee)]
    filters = urlencode([(key, value) for key, value in chosen if value])
    context = {
        "page": page,
        "statuses": TicketStatus.choices,
        "selected_status": status,
        "selected_assignee": assignee,
        "query_prefix": f"{filters}&" if filters else "",
    }
    return render_page(request, viewer, "console/tickets.html", context)


TICKET_EVENT_LABELS = {
    "created": gettext_noop("Ticket created"),
    "transcript_sent": gettext_noop("Transcript emailed"),
    "replied": gettext_noop("Reply sent"),
    "note_added": gettext_noop("Internal note added"),
    "status_changed": gettext_noop("Status changed"),
    "assigned": gettext_noop("Assignee changed"),
    "transferred": gettext_noop("Transferred to another team"),
    "priority_changed": gettext_noop("Priority changed"),
    "follow_up_opened": gettext_noop("Follow-up ticket opened"),
    "follows": gettext_noop("Follows an earlier ticket"),
}


def event_label(action: str) -> str:
    label = TICKET_EVENT_LABELS.get(action)
    return _(label) if label else action.replace("_", " ")


def ticket_or_404(viewer: Viewer, number: str) -> Ticket:
    try:
        return get_ticket_for_agent(viewer.user, number)
    except NotFound:
        raise Http404 from None


def render_ticket(
    request: HttpRequest,
    viewer: Viewer,
    found: Ticket,
    *,
    status: int = 200,
    typed: dict[str, str] | None = None,
) -> HttpResponse:
    """Render the ticket page; ``typed`` refills a form that was turned down."""
    entries = list(
        found.entries.select_related("author").prefetch_related("attachments")
    )
    # Hide the quoted history in a reply's HTML, as the parser left it out of the
    # text. Forwards keep their whole text, so their HTML stays whole too.
    folded = {
        entry.pk
        for entry in entries
        if entry.body_html and entry.full_body.strip() != entry.body.strip()
    }

    recorded = history("ticket", found.number)
    details = workflow.event_details(recorded)
    events = [
        {
            "event": event,
            "label": event_label(event.action),
            "detail": details.get(event.pk, ""),
        }
        for event in recorded
    ]
    is_member = viewer.role.is_member_of(found.team_id)
    context = {
        "ticket": found,
        "entries": entries,
        "folded_entries": folded,
        "events": events,
        "participants": list(found.participants.all()),
        "service_name": found.service.localized_name(),
        "is_member": is_member,
        **(workflow_choices(found) if is_member else {}),
        "reply_max_length": replies.MAX_BODY_LENGTH,
        "reply_max_files": replies.MAX_FILES,
        "reply_max_mib": replies.MAX_ATTACHMENT_BYTES // (1024 * 1024),
        "typed": typed or {},
    }
    response = render_page(request, viewer, "console/ticket.html", context)
    response.status_code = status
    return response


def workflow_choices(found: Ticket) -> dict[str, Any]:
    """Return the options of the ticket page's status, assignee, team and
    priority forms."""
    return {
        "next_statuses": [
            (status.value, status.label)
            for status in workflow.next_statuses(found.status)
        ],
        "team_members": workflow.team_members(found.team_id),
        "transfer_teams": workflow.transfer_teams(found),
        "priorities": TicketPriority.choices,
    }


@console_view
@require_GET
def ticket(request: HttpRequest, viewer: Viewer, number: str) -> HttpResponse:
    return render_ticket(request, viewer, ticket_or_404(viewer, number))


def reject_ticket_non_member(request: HttpRequest, found: Ticket) -> None:
    messages.error(
        request,
        _(
            "Only members of the %(team)s team can reply to this ticket or add "
            "notes. Ask one of them to do it."
        )
        % {"team": found.team.name},
    )


@console_view
@require_POST
def ticket_reply(request: HttpRequest, viewer: Viewer, number: str) -> HttpResponseBase:
    """Send a public reply ("Send reply"): an entry and one email."""
    found = ticket_or_404(viewer, number)
    if not viewer.role.is_member_of(found.team_id):
        reject_ticket_non_member(request, found)
        return redirect("console:ticket", number=found.number)
    body = request.POST.get("body", "")
    try:
        replies.add_public_reply(
            found, viewer.user, body, request.FILES.getlist("files")
        )
    except replies.ReplyRejected as error:
        messages.error(request, error.message)
        return render_ticket(request, viewer, found, status=400, typed={"reply": body})
    messages.success(request, _("The reply was sent to the requester."))
    return redirect("console:ticket", number=found.number)


@console_view
@require_POST
def ticket_note(request: HttpRequest, viewer: Viewer, number: str) -> HttpResponseBase:
    """Save an internal note ("Save note"), which is never emailed."""
    found = ticket_or_404(viewer, number)
    if not viewer.role.is_member_of(found.team_id):
        reject_ticket_non_member(request, found)
        return redirect("console:ticket", number=found.number)
    body = request.POST.get("body", "")
    try:
        replies.add_internal_note(found, viewer.user, body)
    except replies.ReplyRejected as error:
        messages.error(request, error.message)
        return render_ticket(request, viewer, found, status=400, typed={"note": body})
    messages.success(request, _("The internal note was saved."))
    return redirect("console:ticket", number=found.number)


def act_on_ticket(
    request: HttpRequest,
    viewer: Viewer,
    number: str,
    action: Callable[[Ticket], str],
    typed: dict[str, str] | None = None,
) -> HttpResponseBase:
    """Run a workflow action for a member of the ticket's team, then report it.

    ``action`` changes the ticket and returns the success message. A rejected
    change shows the page again with its message, status 400 and ``typed``.
    """
    found = ticket_or_404(viewer, number)
    if not viewer.role.is_member_of(found.team_id):
        logger.info(
            "ticket change rejected: not a team member ticket=%s user=%s",
            found.number,
            viewer.user.pk,
        )
        messages.error(
            request,
            _(
                "Only members of the %(team)s team can change this ticket's status, "
                "assignee, team or priority. Ask one of them to do it."
            )
            % {"team": found.team.name},
        )
        return redirect("console:ticket", number=found.number)
    try:
        done = action(found)
    except workflow.WorkflowError as error:
        logger.info(
            "ticket change rejected ticket=%s code=%s user=%s",
            found.number,
            error.code,
            viewer.user.pk,
        )
        messages.error(request, error.message)
        return render_ticket(request, viewer, found, status=400, typed=typed)
    messages.success(request, done)
    # After a transfer the ticket may belong to a team the viewer cannot read.
    if viewer.role.is_member_of(found.team_id) or viewer.role.is_supervisor:
        return redirect("console:ticket", number=found.number)
    return redirect("console:tickets")


@console_view
@require_POST
def ticket_status(
    request: HttpRequest, viewer: Viewer, number: str
) -> HttpResponseBase:
    """Move the ticket to another status ("Change status")."""
    note = request.POST.get("note", "")

    def change(found: Ticket) -> str:
        workflow.change_status(
            found, request.POST.get("status", ""), actor=viewer.user, note=note
        )
        return _("Ticket %(number)s is now “%(status)s”.") % {
            "number": found.number,
            "status": found.get_status_display(),
        }

    return act_on_ticket(request, viewer, number, change, {"status_note": note})


@console_view
@require_POST
def ticket_claim(request: HttpRequest, viewer: Viewer, number: str) -> HttpResponseBase:
    """Assign the ticket to the viewer ("Assign to me")."""

    def claim(found: Ticket) -> str:
        workflow.claim(found, actor=viewer.user)
        return _("Ticket %(number)s is assigned to you.") % {"number": found.number}

    return act_on_ticket(request, viewer, number, claim)


@console_view
@require_POST
def ticket_assign(
    request: HttpRequest, viewer: Viewer, number: str
) -> HttpResponseBase:
    """Assign the ticket to a member of its team, or to nobody ("Assign")."""

    def assign(found: Ticket) -> str:
        assignee = workflow.find_member(
            request.POST.get("assignee", ""), found.team, field=_("Assignee")
        )
        workflow.assign(found, assignee, actor=viewer.user)
        if assignee is None:
            return _("Ticket %(number)s is unassigned.") % {"number": found.number}
        return _("Ticket %(number)s is assigned to %(name)s.") % {
            "number": found.number,
            "name": agent_display_name(assignee),
        }

    return act_on_ticket(request, viewer, number, assign)


@console_view
@require_POST
def ticket_transfer(
    request: HttpRequest, viewer: Viewer, number: str
) -> HttpResponseBase:
    """Move the ticket to another team, with a note ("Transfer")."""
    note = request.POST.get("note", "")

    def transfer(found: Ticket) -> str:
        team = workflow.find_team(request.POST.get("team", ""))
        assignee = workflow.find_member(
            request.POST.get("assignee", ""), team, field=_("Agent")
        )
        move = workflow.Transfer(team=team, note=note, assignee=assignee)
        workflow.transfer(found, move, actor=viewer.user)
        return _("Ticket %(number)s was transferred to the %(team)s team.") % {
            "number": found.number,
            "team": team.name,
        }

    return act_on_ticket(request, viewer, number, transfer, {"transfer_note": note})


@console_view
@require_POST
def ticket_priority(
    request: HttpRequest, viewer: Viewer, number: str
) -> HttpResponseBase:
    """Set the ticket's priority ("Change priority")."""

    def change(found: Ticket) -> str:
        workflow.change_priority(
            found, request.POST.get("priority", ""), actor=viewer.user
        )
        return _("Ticket %(number)s now has the priority “%(priority)s”.") % {
            "number": found.number,
            "priority": found.get_priority_display(),
        }

    return act_on_ticket(request, viewer, number, change)


@console_view
@require_GET
def ticket_attachment(
    request: HttpRequest, viewer: Viewer, number: str, attachment_id: int
) -> HttpResponseBase:
    """Serve a file of a ticket entry, reached through the ticket."""
    try:
        found = get_attachment_for_ticket_agent(viewer.user, number, attachment_id)
    except NotFound:
        raise Http404 from None
    try:
        return file_response(found, inline=request.GET.get("inline") == "1")
    except (FileNotFoundError, ValueError):
        logger.error("attachment file is missing attachment=%s", found.pk)
        raise Http404 from None


def reference_link(reference: str) -> tuple[str, str] | None:
    """Return the console URL and label of what a mail is about, if it names one."""
    kind, _separator, key = reference.partition(":")
    if kind == "ticket" and key:
        return reverse("console:ticket", args=[key]), key
    if kind == "conversation":
        try:
            public_id = uuid.UUID(key)
        except ValueError:
            return None
        return reverse("console:chat", args=[public_id]), _("Chat")
    return None


@console_view
@require_GET
def outbox(request: HttpRequest, viewer: Viewer) -> HttpResponse:
    """List the outbound mail the viewer may read, newest first."""
    queryset = outbound_emails_for_agent(viewer.user).order_by("-created", "-id")
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"email": email, "link": reference_link(email.reference)} for email in page]
    context = {"page": page, "rows": rows, "query_prefix": ""}
    return render_page(request, viewer, "console/outbox.html", context)


def email_or_404(viewer: Viewer, email_id: int) -> OutboundEmail:
    try:
        return get_outbound_email_for_agent(viewer.user, email_id)
    except NotFound:
        raise Http404 from None


@console_view
@require_GET
def outbox_message(request: HttpRequest, viewer: Viewer, email_id: int) -> HttpResponse:
    """Show one outbound mail as the recipient would receive it."""
    email = email_or_404(viewer, email_id)
    # The files stay unread: the page lists their names only.
    message = build_message(email, with_attachments=False)
    headers = [
        ("From", message.from_email),
        ("To", ", ".join(message.to)),
    ]
    if message.cc:
        headers.append(("Cc", ", ".join(message.cc)))
    headers.append(("Subject", str(message.subject)))
    if message.reply_to:
        headers.append(("Reply-To", ", ".join(message.reply_to)))
    headers.extend(message.extra_headers.items())
    try:
        names = [attachment.original_name for attachment in attachments_of(email)]
    except ValueError:
        names = [_("(a file that is no longer stored)")]
    if names:
        headers.append((_("Attachments"), ", ".join(names)))
    context = {
        "email": email,
        "headers": headers,
        "body_text": message.body,
        "link": reference_link(email.reference),
    }
    return render_page(request, viewer, "console/outbox_message.html", context)


@xframe_options_sameorigin
@console_view
@require_GET
def outbox_html(request: HttpRequest, viewer: Viewer, email_id: int) -> HttpResponse:
    """Serve a mail's HTML part for a sandboxed frame on the console's own page."""
    email = email_or_404(viewer, email_id)
    response = HttpResponse(email.body_html, content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = MAIL_HTML_POLICY
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
