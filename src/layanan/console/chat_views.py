"""Console pages for live chats: the queue, one chat, and its actions."""

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
    QueryDict,
)
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET, require_POST

from layanan.audit.services import history
from layanan.catalog.models import Service, Team
from layanan.chat import access as chat_access
from layanan.chat import routing
from layanan.chat.models import (
    Conversation,
    ConversationStatus,
    EndedBy,
    Message,
    SenderKind,
)
from layanan.chat.payloads import message_payload
from layanan.chat.services import (
    ChatError,
    Ending,
    agent_display_name,
    end_conversation,
    wait_limit_text,
)
from layanan.chat.transcripts import send_transcript
from layanan.chat.views import attach_file, error_response, file_response
from layanan.console.access import tickets_for_agent
from layanan.console.pages import (
    PAGE_SIZE,
    RECENT_CHATS,
    Viewer,
    console_view,
    conversation_or_404,
    ending_reasons,
    redirect_to_chat,
    render_page,
)
from layanan.tickets.models import Ticket
from layanan.tickets.services import create_ticket_from_conversation

logger = logging.getLogger(__name__)

# The requester's earlier chats and tickets shown beside a chat, at most.
HISTORY_ITEMS = 10


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
        "user_id": viewer.user.pk,
        "my_chats": list(active.filter(agent_id=viewer.user.pk)),
        "other_chats": list(active.exclude(agent_id=viewer.user.pk)[:PAGE_SIZE]),
        "recent_chats": list(
            conversations.filter(status=ConversationStatus.ENDED).order_by(
                "-ended_at", "-id"
            )[:RECENT_CHATS]
        ),
    }
    return render_page(
        request,
        viewer,
        "console/home.html",
        context,
        page="home",
        config=routing_js_config(),
    )


def routing_js_config() -> dict[str, Any]:
    """Return the texts console.js needs for offers and browser notifications."""
    return {
        "routingStrings": {
            "offeredToYou": _("Offered to you"),
            "offeredToOther": _("Offered to another agent"),
            "waitingForAgent": _("Waiting for a free agent"),
            "notificationsOn": _("Notifications on"),
            "enableNotifications": _("Turn on notifications"),
            "notificationsBlocked": _(
                "Notifications are blocked in this browser. Allow them in the "
                "site settings, then reload the page."
            ),
            "newChatTitle": _("New chat"),
            "offerTitle": _("A chat is offered to you"),
            "transferTitle": _("A chat was transferred to you"),
        }
    }


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
    is_member = viewer.role.may_act_on_team(conversation.team_id)
    holds_chat = conversation.agent_id == viewer.user.pk
    is_ended = conversation.status == ConversationStatus.ENDED
    can_transfer = routing.may_transfer(viewer.user, conversation)
    context = {
        "conversation": conversation,
        "requester": conversation.requester,
        "service_name": conversation.service.localized_name(),
        "chat_messages": payloads,
        "is_member": is_member,
        "holds_chat": holds_chat,
        "is_ended": is_ended,
        "can_accept": may_accept_here(viewer, conversation),
        "offered_to_other": conversation.status == ConversationStatus.WAITING
        and routing.uses_round_robin(conversation.team)
        and conversation.offered_to_id != viewer.user.pk,
        "can_end": not is_ended and may_end(viewer, conversation),
        "ended_by_name": ending_actor_name(conversation),
        "ending_reason": ending_reason(conversation),
        "can_transfer": can_transfer,
        "transfer_targets": transfer_targets(viewer) if can_transfer else [],
        "max_note_length": routing.MAX_NOTE_LENGTH,
        "notes": list(conversation.notes.all()),
        "earlier_chats": earlier_chats(viewer, conversation),
        "earlier_tickets": earlier_tickets(viewer, conversation),
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
        request,
        viewer,
        "console/chat.html",
        context,
        page="chat",
        config={**config, **routing_js_config()},
    )


def may_accept_here(viewer: Viewer, conversation: Conversation) -> bool:
    """Tell whether the viewer may accept the waiting chat: any member of a shared
    team, or in a round-robin team the member it is offered to."""
    if conversation.status != ConversationStatus.WAITING:
        return False
    if not viewer.role.is_member_of(conversation.team_id):
        return False
    if routing.uses_round_robin(conversation.team):
        return conversation.offered_to_id == viewer.user.pk
    return True


def ending_reason(conversation: Conversation) -> str:
    if conversation.ended_by == EndedBy.WAIT_LIMIT:
        return wait_limit_text(conversation)
    return ending_reasons().get(conversation.ended_by, "")


def earlier_chats(viewer: Viewer, conversation: Conversation) -> list[Conversation]:
    """Return the requester's other chats that the viewer may read, newest first."""
    return list(
        chat_access.conversations_for_agent(viewer.user)
        .filter(requester_id=conversation.requester_id)
        .exclude(pk=conversation.pk)
        .select_related("agent")
        .order_by("-created", "-id")[:HISTORY_ITEMS]
    )


def earlier_tickets(viewer: Viewer, conversation: Conversation) -> list[Ticket]:
    """Return the requester's tickets that the viewer may read, newest first."""
    return list(
        tickets_for_agent(viewer.user)
        .filter(requester_id=conversation.requester_id)
        .order_by("-created", "-id")[:HISTORY_ITEMS]
    )


@dataclass(frozen=True)
class TransferTarget:
    """One choice of the transfer form: a team's queue or one of its members."""

    value: str
    label: str
    team_name: str


def transfer_targets(viewer: Viewer) -> list[TransferTarget]:
    """Return every team's queue and members, except the viewer, as choices."""
    targets: list[TransferTarget] = []
    teams = Team.objects.prefetch_related("members").order_by("name")
    for team in teams:
        targets.append(
            TransferTarget(
                value=f"team:{team.pk}",
                label=_("%(team)s queue") % {"team": team.name},
                team_name=team.name,
            )
        )
        for member in sorted(team.members.all(), key=agent_display_name):
            if member.pk == viewer.user.pk:
                continue
            targets.append(
                TransferTarget(
                    value=f"agent:{team.pk}:{member.pk}",
                    label=agent_display_name(member),
                    team_name=team.name,
                )
            )
    return targets


def parse_transfer_target(value: str) -> tuple[Team, User | None]:
    """Return the team and agent that a transfer form value names.

    Raise ChatError when the value names no team or no member of that team.
    """
    parts = value.split(":")
    try:
        if parts[0] == "team" and len(parts) == 2:
            return Team.objects.get(pk=int(parts[1])), None
        if parts[0] == "agent" and len(parts) == 3:
            team = Team.objects.get(pk=int(parts[1]))
            agent = team.members.get(pk=int(parts[2]))
            return team, agent
    except (ValueError, Team.DoesNotExist, User.DoesNotExist):
        pass
    raise ChatError(
        "invalid_target",
        _(
            "The transfer target is not valid: choose a team's queue or an agent "
            "from the list."
        ),
    )


@console_view
@require_POST
def chat_transfer(
    request: HttpRequest, viewer: Viewer, public_id: uuid.UUID
) -> HttpResponseBase:
    """Transfer the chat to another agent or a team's queue, with a private note."""
    conversation = conversation_or_404(viewer, public_id)
    try:
        team, agent = parse_transfer_target(request.POST.get("target", ""))
        routing.transfer_conversation(
            conversation,
            viewer.user,
            routing.Transfer(team=team, agent=agent, note=request.POST.get("note", "")),
        )
    except ChatError as error:
        messages.error(request, error.message)
        return redirect_to_chat(conversation)
    if agent is not None:
        text = _("The chat was transferred to %(name)s.") % {
            "name": agent_display_name(agent)
        }
    else:
        text = _("The chat is waiting in the %(team)s queue.") % {"team": team.name}
    messages.success(request, text)
    # A chat moved to a team the agent is not in is no longer theirs to read,
    # and its page would return 404, so the agent goes back to the queue.
    still_readable = (
        chat_access.conversations_for_agent(viewer.user)
        .filter(pk=conversation.pk)
        .exists()
    )
    if not still_readable:
        return redirect("console:home")
    return redirect_to_chat(conversation)


def may_end(viewer: Viewer, conversation: Conversation) -> bool:
    """Tell whether the viewer may end the chat: its agent, or any team member
    while it still waits in the queue."""
    if not viewer.role.may_act_on_team(conversation.team_id):
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
    if not viewer.role.may_act_on_team(conversation.team_id):
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
    if not viewer.role.may_act_on_team(conversation.team_id):
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


class ChatFilterForm(forms.Form):
    """The filters and search of the chat list; every field is optional."""

    q = forms.CharField(label=_lazy("Search"), required=False, max_length=200)
    status = forms.ChoiceField(label=_lazy("Status"), required=False)
    team = forms.ModelChoiceField(
        label=_lazy("Team"), required=False, queryset=Team.objects.none()
    )
    service = forms.ModelChoiceField(
        label=_lazy("Service"), required=False, queryset=Service.objects.none()
    )
    agent = forms.ModelChoiceField(
        label=_lazy("Agent"), required=False, queryset=User.objects.none()
    )
    ended_by = forms.ChoiceField(label=_lazy("Ended by"), required=False)
    date_from = forms.DateField(label=_lazy("From"), required=False)
    date_to = forms.DateField(label=_lazy("Until"), required=False)

    def __init__(self, data: QueryDict, viewer: Viewer) -> None:
        super().__init__(data)
        teams = Team.objects.order_by("name")
        if not viewer.role.is_supervisor:
            teams = teams.filter(pk__in=viewer.role.team_ids)
        self.fields["team"].queryset = teams  # type: ignore[attr-defined]
        self.fields["service"].queryset = Service.objects.filter(  # type: ignore[attr-defined]
            team__in=teams
        ).order_by("order", "id")
        self.fields["agent"].queryset = (  # type: ignore[attr-defined]
            User.objects.filter(teams__in=teams).distinct().order_by("first_name")
        )
        self.fields["status"].choices = [  # type: ignore[attr-defined]
            ("", _("All statuses")),
            *ConversationStatus.choices,
        ]
        self.fields["ended_by"].choices = [  # type: ignore[attr-defined]
            ("", _("Anyone")),
            *EndedBy.choices,
        ]
        for name in ("team", "service", "agent"):
            self.fields[name].error_messages["invalid_choice"] = _(
                "The chosen %(field)s is not in the list: choose one from the list."
            ) % {"field": self.fields[name].label}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if date_from and date_to and date_to < date_from:
            self.add_error(
                "date_to",
                _("The “Until” date is before the “From” date: choose a later date."),
            )
        return cleaned


def filter_chats(
    chats: QuerySet[Conversation], filters: dict[str, Any]
) -> QuerySet[Conversation]:
    """Apply the chat list's valid filters and its search text."""
    if filters.get("status"):
        chats = chats.filter(status=filters["status"])
    if filters.get("team"):
        chats = chats.filter(team=filters["team"])
    if filters.get("service"):
        chats = chats.filter(service=filters["service"])
    if filters.get("agent"):
        chats = chats.filter(agent=filters["agent"])
    if filters.get("ended_by"):
        chats = chats.filter(ended_by=filters["ended_by"])

    # Dates are days in the site's time zone, which __date applies with USE_TZ.
    if filters.get("date_from"):
        chats = chats.filter(created__date__gte=filters["date_from"])
    if filters.get("date_to"):
        chats = chats.filter(created__date__lte=filters["date_to"])

    text = (filters.get("q") or "").strip()
    if text:
        # A subquery, not a join, so that a chat with many matching messages is
        # listed once and the page costs the same number of queries.
        matching_messages = Message.objects.filter(
            conversation=OuterRef("pk"), body__icontains=text
        )
        chats = chats.filter(
            Q(topic__icontains=text)
            | Q(requester_name__icontains=text)
            | Q(requester_email__icontains=text)
            | Q(requester__identifier__icontains=text)
            | Q(requester__email__icontains=text)
            | Exists(matching_messages)
        )
    return chats


@console_view
@require_GET
def chats(request: HttpRequest, viewer: Viewer) -> HttpResponse:
    """List the chats the viewer may read, filtered and searched, newest first."""
    form = ChatFilterForm(request.GET, viewer)
    conversations = chat_access.conversations_for_agent(viewer.user).select_related(
        "agent", "requester"
    )
    form.is_valid()
    # Only the fields that passed validation filter the list.
    filters = {
        name: value
        for name, value in form.cleaned_data.items()
        if name not in form.errors
    }
    conversations = filter_chats(conversations, filters).order_by("-created", "-id")
    page = Paginator(conversations, PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    query_prefix = params.urlencode() + "&" if params else ""
    context = {"form": form, "page": page, "query_prefix": query_prefix}
    return render_page(
        request,
        viewer,
        "console/chats.html",
        context,
        page="chats",
        config=routing_js_config(),
    )
