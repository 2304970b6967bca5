from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from layanan.mail.models import OutboundEmail


@admin.register(OutboundEmail)
class OutboundEmailAdmin(admin.ModelAdmin[OutboundEmail]):
    """Show the outbox read-only: only the worker changes its rows."""

    list_display = [
        "created",
        "kind",
        "reference",
        "recipients",
        "subject",
        "status",
        "attempts",
    ]
    list_filter = ["status", "kind"]
    search_fields = ["reference", "message_id"]
    date_hierarchy = "created"

    @admin.display(description=_("to"))
    def recipients(self, row: OutboundEmail) -> str:
        return ", ".join(str(address) for address in row.to)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: OutboundEmail | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: OutboundEmail | None = None
    ) -> bool:
        return False
