from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy as _

from layanan.people.models import AgentProfile, Requester, RequesterEmail


class AgentProfileInline(admin.StackedInline[AgentProfile, User]):
    model = AgentProfile
    can_delete = False
    verbose_name = _("agent profile")
    fields = ["is_supervisor", "status"]


admin.site.unregister(User)


@admin.register(User)
class AgentUserAdmin(UserAdmin):
    """Django's user admin, with the supervisor flag and status on the same page."""

    inlines = [AgentProfileInline]


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
