"""Console pages for team settings: chat routing, wait limit, calendar, capacities.

Team leads change their led teams' settings and admins change every team's.
Heads of department see every team's settings read-only. Anyone else gets 404
for a team page, so that team ids tell an outsider nothing.
"""

import logging
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.models import User
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from layanan.audit.services import history, record
from layanan.catalog.models import BusinessCalendar, RoutingMode, Team
from layanan.chat.services import agent_display_name
from layanan.console.access import (
    NotFound,
    get_team_for_settings,
    may_change_team_settings,
    teams_for_settings,
)
from layanan.console.pages import Viewer, console_view, render_page
from layanan.people.models import AgentProfile

logger = logging.getLogger(__name__)

# Upper bounds that catch a mistyped number, lower than the models allow.
# NOTE: both bounds are judgement calls, not measured limits. A day of waiting
# and 50 chats at once are far beyond what one desk agent handles.
MAX_WAIT_LIMIT_MINUTES = 24 * 60
MAX_CHAT_CAPACITY = 50

CAPACITY_PREFIX = "capacity_"
# Every way a number field can fail gets the one message that states the range.
NUMBER_ERROR_CODES = ("required", "invalid", "min_value", "max_value")

WAIT_LIMIT_ERROR = gettext_lazy(
    "Enter the chat wait limit as a whole number of minutes from 1 to %(maximum)d."
)
CAPACITY_ERROR = gettext_lazy(
    "Enter the chat capacity of %(name)s as a whole number from 0 to %(maximum)d."
)


class TeamSettingsForm(forms.Form):
    """The team's routing, wait limit and calendar, and one capacity per member."""

    routing = forms.ChoiceField(
        label=gettext_lazy("Chat routing"),
        choices=RoutingMode.choices,
        error_messages={
            "required": gettext_lazy(
                "Choose a routing mode in “Chat routing”: shared queue or round-robin."
            ),
            "invalid_choice": gettext_lazy(
                "The routing mode chosen in “Chat routing” does not exist. Choose "
                "shared queue or round-robin."
            ),
        },
    )
    chat_wait_limit_minutes = forms.IntegerField(
        label=gettext_lazy("Chat wait limit (minutes)"),
        min_value=1,
        max_value=MAX_WAIT_LIMIT_MINUTES,
        help_text=gettext_lazy(
            "Minutes a chat waits for an agent before it becomes a missed chat and "
            "the requester is offered a ticket."
        ),
    )
    calendar = forms.ModelChoiceField(
        label=gettext_lazy("Business calendar"),
        queryset=BusinessCalendar.objects.all(),
        required=False,
        empty_label=gettext_lazy("Default calendar"),
        help_text=gettext_lazy(
            "The business hours that the team's service-level clocks run on."
        ),
        error_messages={
            "invalid_choice": gettext_lazy(
                "The calendar chosen in “Business calendar” does not exist. Reload "
                "the page and choose again."
            ),
        },
    )

    def __init__(self, *args: Any, members: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        wait_error = WAIT_LIMIT_ERROR % {"maximum": MAX_WAIT_LIMIT_MINUTES}
        self.fields["chat_wait_limit_minutes"].error_messages.update(
            {key: wait_error for key in NUMBER_ERROR_CODES}
        )
        self.members = members
        for member in members:
            name = agent_display_name(member)
            error = CAPACITY_ERROR % {"name": name, "maximum": MAX_CHAT_CAPACITY}
            self.fields[capacity_field(member)] = forms.IntegerField(
                label=name,
                min_value=0,
                max_value=MAX_CHAT_CAPACITY,
                error_messages={key: error for key in NUMBER_ERROR_CODES},
            )

    def team_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in TEAM_FIELDS]

    def capacity_fields(self) -> list[forms.BoundField]:
        return [self[capacity_field(member)] for member in self.members]


TEAM_FIELDS = ("routing", "chat_wait_limit_minutes", "calendar")


def capacity_field(member: User) -> str:
    return f"{CAPACITY_PREFIX}{member.pk}"


def team_members(team: Team) -> list[User]:
    """Return the team's active members by name, with their agent profiles."""
    return list(
        team.members.filter(is_active=True)
        .select_related("agent")
        .order_by("first_name", "last_name", "username")
    )


def capacity_of(member: User) -> int:
    profile = getattr(member, "agent", None)
    if profile is None:
        return int(AgentProfile._meta.get_field("chat_capacity").get_default())
    return profile.chat_capacity


def initial_settings(team: Team, members: list[User]) -> dict[str, Any]:
    initial: dict[str, Any] = {
        "routing": team.routing,
        "chat_wait_limit_minutes": team.chat_wait_limit_minutes,
        "calendar": team.calendar_id,
    }
    for member in members:
        initial[capacity_field(member)] = capacity_of(member)
    return initial


@dataclass(frozen=True)
class SettingsChange:
    """The changes of one save: team fields as [old, new], capacities by user id."""

    team_fields: dict[str, list[Any]]
    capacities: dict[int, list[int]]

    @property
    def is_empty(self) -> bool:
        return not self.team_fields and not self.capacities


def save_settings(team: Team, form: TeamSettingsForm, *, actor: User) -> SettingsChange:
    """Store the valid form's values, record an audit event per change, return them."""
    data = form.cleaned_data
    calendar = data["calendar"]
    new_values = {
        "routing": data["routing"],
        "chat_wait_limit_minutes": data["chat_wait_limit_minutes"],
        "calendar": calendar.pk if calendar else None,
    }
    with transaction.atomic():
        locked = Team.objects.select_for_update().get(pk=team.pk)
        old_values = {
            "routing": locked.routing,
            "chat_wait_limit_minutes": locked.chat_wait_limit_minutes,
            "calendar": locked.calendar_id,
        }
        team_fields = {
            name: [old_values[name], value]
            for name, value in new_values.items()
            if old_values[name] != value
        }
        if team_fields:
            locked.routing = data["routing"]
            locked.chat_wait_limit_minutes = data["chat_wait_limit_minutes"]
            locked.calendar = calendar
            locked.save(
                update_fields=["routing", "chat_wait_limit_minutes", "calendar"]
            )
            record(
                "team", team.pk, "settings_changed", actor=actor, changes=team_fields
            )
        capacities = save_capacities(team, form, actor=actor)
    return SettingsChange(team_fields=team_fields, capacities=capacities)


def save_capacities(
    team: Team, form: TeamSettingsForm, *, actor: User
) -> dict[int, list[int]]:
    changed: dict[int, list[int]] = {}
    for member in form.members:
        capacity = form.cleaned_data[capacity_field(member)]
        profile, _created = AgentProfile.objects.select_for_update().get_or_create(
            user=member
        )
        if profile.chat_capacity == capacity:
            continue
        changed[member.pk] = [profile.chat_capacity, capacity]
        record(
            "team",
            team.pk,
            "capacity_changed",
            actor=actor,
            agent=member.pk,
            old=profile.chat_capacity,
            new=capacity,
        )
        profile.chat_capacity = capacity
        profile.save(update_fields=["chat_capacity"])
    return changed


SETTINGS_EVENT_LABELS = {
    "settings_changed": gettext_lazy("Team settings changed"),
    "capacity_changed": gettext_lazy("Chat capacity changed"),
}


def settings_events(team: Team) -> list[dict[str, Any]]:
    """Return the team's recorded settings changes, newest first, with labels."""
    names = {user.pk: agent_display_name(user) for user in team.members.all()}
    events = []
    for event in reversed(history("team", team.pk)):
        label = SETTINGS_EVENT_LABELS.get(event.action)
        if label is None:
            continue
        detail = ""
        if event.action == "capacity_changed":
            detail = _("%(name)s: %(old)s → %(new)s") % {
                "name": names.get(event.data.get("agent"), event.data.get("agent")),
                "old": event.data.get("old"),
                "new": event.data.get("new"),
            }
        events.append({"event": event, "label": label, "detail": detail})
    return events


def team_or_404(viewer: Viewer, team_id: int) -> Team:
    try:
        return get_team_for_settings(viewer.user, team_id)
    except NotFound:
        raise Http404 from None


@console_view
@require_GET
def teams(request: HttpRequest, viewer: Viewer) -> HttpResponse:
    """List the teams whose settings the viewer may open."""
    found = list(teams_for_settings(viewer.user).select_related("calendar"))
    if not found:
        raise Http404
    return render_page(request, viewer, "console/teams.html", {"teams": found})


@console_view
@require_http_methods(["GET", "POST"])
def team(request: HttpRequest, viewer: Viewer, team_id: int) -> HttpResponseBase:
    """Show the team's settings, and save them for its leads and admins."""
    found = team_or_404(viewer, team_id)
    members = team_members(found)
    may_change = may_change_team_settings(viewer.user, found)
    if request.method != "POST":
        form = TeamSettingsForm(
            initial=initial_settings(found, members), members=members
        )
        return render_team(request, viewer, found, form, may_change=may_change)
    if not may_change:
        logger.info(
            "team settings change rejected: not a lead team=%s user=%s",
            found.pk,
            viewer.user.pk,
        )
        messages.error(
            request,
            _(
                "Only the leads of the %(team)s team and admins can change its "
                "settings. Ask a team lead to do it."
            )
            % {"team": found.name},
        )
        form = TeamSettingsForm(
            initial=initial_settings(found, members), members=members
        )
        return render_team(request, viewer, found, form, may_change=False, status=403)
    form = TeamSettingsForm(request.POST, members=members)
    if not form.is_valid():
        return render_team(request, viewer, found, form, may_change=True, status=400)
    change = save_settings(found, form, actor=viewer.user)
    if change.is_empty:
        messages.info(request, _("Nothing changed: the settings were already saved."))
    else:
        logger.info(
            "team settings changed team=%s user=%s fields=%s capacities=%s",
            found.pk,
            viewer.user.pk,
            sorted(change.team_fields),
            sorted(change.capacities),
        )
        messages.success(
            request,
            _("The settings of the %(team)s team were saved.") % {"team": found.name},
        )
    return redirect("console:team", team_id=found.pk)


def render_team(
    request: HttpRequest,
    viewer: Viewer,
    found: Team,
    form: TeamSettingsForm,
    *,
    may_change: bool,
    status: int = 200,
) -> HttpResponse:
    context = {
        "team": found,
        "form": form,
        "may_change": may_change,
        "routing_label": found.get_routing_display(),
        "calendar_label": str(found.calendar)
        if found.calendar
        else _("Default calendar"),
        "events": settings_events(found),
    }
    response = render_page(request, viewer, "console/team.html", context)
    response.status_code = status
    return response
