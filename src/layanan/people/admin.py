from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy as _

from layanan.catalog.models import Team
from layanan.people.models import AgentProfile, Requester, RequesterEmail


class AgentProfileInline(admin.StackedInline[AgentProfile, User]):
    model = AgentProfile
    can_delete = False
    verbose_name = _("agent profile")
    fields = ["is_supervisor", "status", "chat_capacity"]


class TeamMembershipInline(admin.TabularInline[Any, User]):
    """The teams whose chats and tickets the user serves."""

    model = Team.members.through
    extra = 0
    verbose_name = _("team membership")
    verbose_name_plural = _("team memberships")


class TeamLeadershipInline(admin.TabularInline[Any, User]):
    """The teams the user leads: assigns their tickets and changes their settings."""

    model = Team.leads.through
    extra = 0
    verbose_name = _("led team")
    verbose_name_plural = _("led teams")


admin.site.unregister(User)


@admin.register(User)
class AgentUserAdmin(UserAdmin):
    """Django's user admin, with the agent profile (supervisor flag, status and
    chat capacity) on the same page."""

    inlines = [AgentProfileInline, TeamMembershipInline, TeamLeadershipInline]


class RequesterEmailInline(admin.TabularInline[RequesterEmail, Requester]):
    model = RequesterEmail
    extra = 0
    readonly_fields = ["email", "first_seen", "last_seen"]
    can_delete = False


@admin.register(Requester)
class RequesterAdmin(admin.ModelAdmin[Requester]):
    list_display = ["identifier", "name", "kind", "email", "email_bouncing"]
    list_filter = ["kind", "email_bouncing"]
    search_fields = ["identifier", "name", "email"]
    inlines = [RequesterEmailInline]
