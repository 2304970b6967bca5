from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from layanan.access import may_read_inbound_log
from layanan.mail.models import InboundEmail, OutboundEmail


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


@admin.register(InboundEmail)
class InboundEmailAdmin(admin.ModelAdmin[InboundEmail]):
    """The inbound log: every message received and what became of it, read-only.

    Quarantined messages show their error in ``reason``; the raw message can be
    downloaded from each row.
    """

    list_display = [
        "received_at",
        "via",
        "from_address",
        "subject",
        "outcome",
        "ticket_number",
        "raw_link",
    ]
    list_filter = ["outcome", "via"]
    search_fields = ["message_id", "from_address", "subject", "ticket_number"]
    date_hierarchy = "received_at"
    readonly_fields = [field.name for field in InboundEmail._meta.fields] + ["raw_link"]

    @admin.display(description=_("raw message"))
    def raw_link(self, row: InboundEmail) -> str:
        url = reverse("admin:mail_inboundemail_raw", args=[row.pk])
        return format_html('<a href="{}">{}</a>', url, _("Download"))

    def get_urls(self) -> list[URLPattern]:
        raw = path(
            "<int:pk>/raw/",
            self.admin_site.admin_view(self.raw_view),
            name="mail_inboundemail_raw",
        )
        return [raw, *super().get_urls()]

    def raw_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        from layanan.mail.inbound import read_raw

        row = get_object_or_404(InboundEmail, pk=pk)
        response = HttpResponse(read_raw(row), content_type="message/rfc822")
        response["Content-Disposition"] = f'attachment; filename="inbound-{row.pk}.eml"'
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(
        self, request: HttpRequest, obj: InboundEmail | None = None
    ) -> bool:
        # Heads of department read the log as well as users Django allows; the
        # admin site still admits only staff accounts.
        return may_read_inbound_log(request.user) or super().has_view_permission(
            request, obj
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: InboundEmail | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: InboundEmail | None = None
    ) -> bool:
        return False
