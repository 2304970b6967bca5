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
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext
from django.views.decorators.http import require_GET, require_POST

from layanan.audit.models import Event
from layanan.audit.services import history
from layanan.chat.services import (
    agent_display_name,
)
from layanan.chat.views import file_response
from layanan.console.access import (
    NotFound,
    assignment_refusal,
    get_attachment_for_ticket_agent,
    get_ticket_for_agent,
    may_act_on_ticket,
    may_manage_team,
    tickets_for_agent,
)
from layanan.console.pages import (
    PAGE_SIZE,
    Viewer,
    console_view,
    render_page,
)
from layanan.people.models import RequesterKind
from layanan.tickets import bulk, canned, clocks, merge, replies, search, tags, workflow
from layanan.tickets.models import Ticket, TicketPriority, TicketStatus

logger = logging.getLogger(__name__)


@console_view
@require_GET
def tickets(request: HttpRequest, viewer: Viewer) -> HttpResponse:
    """List the tickets the viewer may read, filtered, searched and sorted."""
    role = viewer.role
    choices = search.list_choices(
        None if role.reads_every_team else role.team_ids | role.led_team_ids
    )
    query = search.parse_query(request.GET, choices)
    now = timezone.now()
    queryset = search.filter_tickets(
        tickets_for_agent(viewer.user).prefetch_related("tags"),
        query,
        user=viewer.user,
        now=now,
    )
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    # list(page) also caches the rows in the page, so the template shows these
    # same objects with the share of their target already used.
    clocks.annotate_percent_used(list(page), now)
    filters = urlencode(query.as_params())
    context = {
        "page": page,
        "query": query,
        "choices": choices,
        "now": now,
        "statuses": TicketStatus.choices,
        "priorities": TicketPriority.choices,
        "requester_kinds": RequesterKind.choices,
        "age_choices": search.AGE_CHOICES,
        "overdue_choices": search.OVERDUE_CHOICES,
        "sort_choices": search.SORT_CHOICES,
        "direction_choices": search.DIRECTION_CHOICES,
        "query_prefix": f"{filters}&" if filters else "",
        "list_path": request.get_full_path(),
        "max_tag_length": tags.MAX_TAG_LENGTH,
    }
    response = render_page(request, viewer, "console/tickets.html", context)
    if query.errors:
        logger.info(
            "ticket list filters rejected count=%d user=%s",
            len(query.errors),
            viewer.user.pk,
        )
        response.status_code = 400
    return response


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
    "tag_added": gettext_noop("Tag added"),
    "tag_removed": gettext_noop("Tag removed"),
    "merged": gettext_noop("Merged into another ticket"),
    "merge_received": gettext_noop("Another ticket was merged into this one"),
    "sla_warning": gettext_noop("Service-level warning sent"),
    "sla_breach": gettext_noop("Service-level breach notice sent"),
    "email_received": gettext_noop("Email received"),
    "participants_added": gettext_noop("Participants added"),
    "delivery_failed": gettext_noop("Email delivery failed"),
    "rated": gettext_noop("Rated by the requester"),
    "requester_page_reply": gettext_noop("Reply from the requester page"),
    "requester_link_sent": gettext_noop("New requester link emailed"),
    "requester_links_revoked": gettext_noop("Requester links revoked"),
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
            "detail": details.get(event.pk, "") or tag_or_merge_detail(event),
        }
        for event in recorded
    ]
    is_member = viewer.role.may_act_on_team(found.team_id)
    now = timezone.now()
    unread_reply = found.unread_reply
    if unread_reply and found.assignee_id == viewer.user.pk:
        # The assignee sees the reply now, so the list stops flagging it.
        Ticket.objects.filter(pk=found.pk).update(unread_reply=False)
        found.unread_reply = False
    context = {
        "ticket": found,
        "now": now,
        "sla_clocks": clocks.target_clocks(found, now),
        "unread_reply": unread_reply,
        "entries": entries,
        "folded_entries": folded,
        "events": events,
        "participants": list(found.participants.all()),
        "service_name": found.service.localized_name(),
        "is_member": is_member,
        "may_assign_others": is_member and may_manage_team(viewer.user, found.team_id),
        **(workflow_choices(found) if is_member else {}),
        **ticket_extras(found, is_member=is_member),
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


def ticket_extras(found: Ticket, *, is_member: bool) -> dict[str, Any]:
    """Return the ticket page's tags, merge links and canned responses."""
    return {
        "ticket_tags": list(found.tags.all()),
        "merged_tickets": list(
            found.merged_tickets.order_by("number").values_list("number", flat=True)
        ),
        "merged_into_number": (
            Ticket.objects.filter(pk=found.merged_into_id)
            .values_list("number", flat=True)
            .first()
            if found.merged_into_id
            else None
        ),
        "canned_responses": canned.filled_responses(found) if is_member else [],
        "max_tag_length": tags.MAX_TAG_LENGTH,
    }


def tag_or_merge_detail(event: Event) -> str:
    """Return the tag or the other ticket that a tag or merge event names."""
    data = event.data
    if event.action in ("tag_added", "tag_removed"):
        return str(data.get("tag", ""))
    if event.action == "merged":
        return str(data.get("into", ""))
    if event.action == "merge_received":
        return str(data.get("source", ""))
    return ""


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
    if not viewer.role.may_act_on_team(found.team_id):
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
    if not viewer.role.may_act_on_team(found.team_id):
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
    if not viewer.role.may_act_on_team(found.team_id):
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
    if viewer.role.may_act_on_team(found.team_id) or viewer.role.reads_every_team:
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
        if refusal := assignment_refusal(viewer.user, found, assignee):
            raise workflow.WorkflowError("not_allowed", refusal)
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


@console_view
@require_POST
def ticket_tag_add(
    request: HttpRequest, viewer: Viewer, number: str
) -> HttpResponseBase:
    """Put a tag on the ticket ("Add tag"), creating the tag if it is new."""
    value = request.POST.get("tag", "")

    def add(found: Ticket) -> str:
        tag = tags.add_tag(found, value, actor=viewer.user)
        return _("Ticket %(number)s now has the tag “%(tag)s”.") % {
            "number": found.number,
            "tag": tag.name,
        }

    return act_on_ticket(request, viewer, number, add, {"tag": value})


@console_view
@require_POST
def ticket_tag_remove(
    request: HttpRequest, viewer: Viewer, number: str
) -> HttpResponseBase:
    """Take a tag off the ticket ("Remove" beside the tag)."""
    value = request.POST.get("tag", "")

    def remove(found: Ticket) -> str:
        tags.remove_tag(found, value, actor=viewer.user)
        return _("The tag “%(tag)s” was removed from ticket %(number)s.") % {
            "number": found.number,
            "tag": tags.normalise_tag_name(value),
        }

    return act_on_ticket(request, viewer, number, remove)


@console_view
@require_POST
def ticket_canned(
    request: HttpRequest, viewer: Viewer, number: str
) -> HttpResponseBase:
    """Add a canned response to the reply box ("Insert"), without sending it.

    This is the path without JavaScript: the page comes back with the reply box
    holding what was typed plus the filled-in response. Chosen files are not
    kept, because a browser cannot refill a file field.
    """
    found = ticket_or_404(viewer, number)
    if not viewer.role.may_act_on_team(found.team_id):
        reject_ticket_non_member(request, found)
        return redirect("console:ticket", number=found.number)
    typed = request.POST.get("body", "")
    try:
        response = canned.find_response(request.POST.get("canned", ""), found)
    except workflow.WorkflowError as error:
        messages.error(request, error.message)
        return render_ticket(request, viewer, found, status=400, typed={"reply": typed})
    separator = "\n\n" if typed.strip() else ""
    reply = f"{typed.rstrip()}{separator}{response.text}"
    return render_ticket(request, viewer, found, typed={"reply": reply})


@console_view
@require_POST
def ticket_merge(request: HttpRequest, viewer: Viewer, number: str) -> HttpResponseBase:
    """Merge this duplicate into the ticket numbered in "Merge into"."""
    value = request.POST.get("target", "").strip().upper()

    def merge_into(found: Ticket) -> str:
        target = merge_target(viewer, value)
        merge.merge(found, target, actor=viewer.user)
        return _("Ticket %(source)s was merged into ticket %(target)s.") % {
            "source": found.number,
            "target": target.number,
        }

    return act_on_ticket(request, viewer, number, merge_into, {"merge_target": value})


def merge_target(viewer: Viewer, value: str) -> Ticket:
    """Return the ticket to merge into, which the viewer must be able to change."""
    try:
        target = get_ticket_for_agent(viewer.user, value)
    except NotFound:
        raise workflow.WorkflowError(
            "unknown_target",
            _(
                "No ticket numbered “%(number)s” exists among the tickets you can "
                "read. In “Merge into”, enter a number such as %(example)s."
            )
            % {"number": value[:40], "example": "EKB-2026-000123"},
        ) from None
    if not may_act_on_ticket(viewer.user, target):
        raise workflow.WorkflowError(
            "target_not_allowed",
            _(
                "Only members of the %(team)s team can change ticket %(number)s, so "
                "you cannot merge into it. Ask one of them to do the merge."
            )
            % {"team": target.team.name, "number": target.number},
        )
    return target


@console_view
@require_POST
def tickets_bulk(request: HttpRequest, viewer: Viewer) -> HttpResponseBase:
    """Run one bulk action on the tickets ticked in the list, then go back to it."""
    numbers = request.POST.getlist("tickets")
    action = request.POST.get("action", "")
    try:
        if action == "assign":
            result = bulk.bulk_assign(
                viewer.user, numbers, request.POST.get("assignee", "")
            )
        elif action == "status":
            result = bulk.bulk_change_status(
                viewer.user, numbers, request.POST.get("status", "")
            )
        elif action == "tag":
            result = bulk.bulk_add_tag(
                viewer.user, numbers, request.POST.get("tag", "")
            )
        else:
            raise bulk.BulkRejected(
                _(
                    "The bulk action is unknown. Use one of the buttons “Assign”, "
                    "“Change status” or “Add tag”."
                )
            )
    except (bulk.BulkRejected, workflow.WorkflowError) as error:
        messages.error(request, error.message)
    else:
        report_bulk_result(request, result)
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(back)
    return redirect("console:tickets")


def report_bulk_result(request: HttpRequest, result: bulk.BulkResult) -> None:
    """Add one message for the changed tickets and one per skipped ticket."""
    if result.changed:
        messages.success(
            request,
            ngettext(
                "%(count)d ticket was changed: %(numbers)s.",
                "%(count)d tickets were changed: %(numbers)s.",
                len(result.changed),
            )
            % {"count": len(result.changed), "numbers": ", ".join(result.changed)},
        )
    for skipped in result.skipped:
        messages.warning(
            request,
            _("Ticket %(number)s was skipped: %(reason)s")
            % {"number": skipped.number, "reason": skipped.reason},
        )
