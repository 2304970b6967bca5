"""Console pages for live chats: the queue, one chat, and its actions."""

import logging
import uuid

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
)
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from layanan.audit.services import history
from layanan.chat import access as chat_access
from layanan.chat.models import Conversation, ConversationStatus, EndedBy, SenderKind
from layanan.chat.payloads import message_payload
from layanan.chat.services import (
    ChatError,
    Ending,
    agent_display_name,
    end_conversation,
)
from layanan.chat.transcripts import send_transcript
from layanan.chat.views import attach_file, error_response, file_response
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
from layanan.tickets.services import create_ticket_from_conversation

logger = logging.getLogger(__name__)


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
