"""Console pages for tickets: the list, one ticket, and the actions on it."""

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
)
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_GET, require_POST

from layanan.audit.services import history
from layanan.chat.services import (
    agent_display_name,
)
from layanan.chat.views import file_response
from layanan.console.access import (
    NotFound,
    get_attachment_for_ticket_agent,
    get_ticket_for_agent,
    tickets_for_agent,
)
from layanan.console.pages import (
    PAGE_SIZE,
    Viewer,
    console_view,
    render_page,
)
from layanan.tickets import replies, workflow
from layanan.tickets.models import Ticket, TicketPriority, TicketStatus

logger = logging.getLogger(__name__)


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
