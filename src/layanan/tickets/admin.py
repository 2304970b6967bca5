from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from layanan.tickets.models import CannedResponse, Tag


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin[Tag]):
    """Tags are made from the console. The admin renames or deletes them."""

    list_display = ["name"]
    search_fields = ["name"]


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin[CannedResponse]):
    """Ready replies. A response without a team is offered to every team."""

    list_display = ["title", "team", "active", "updated"]
    list_filter = ["active", "team"]
    search_fields = ["title", "body"]
    fields = ["title", "body", "team", "active"]

    def get_form(
        self,
        request: HttpRequest,
        obj: CannedResponse | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> type[forms.ModelForm[CannedResponse]]:
        help_texts = {
            "body": _(
                "Plain text. {name} becomes the requester's name, {ticket} the "
                "ticket number and {service} the service's name."
            ),
            "team": _("Leave empty to offer the response to every team."),
        }
        kwargs.setdefault("help_texts", help_texts)
        return super().get_form(request, obj, change, **kwargs)
