from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    name = "layanan.tickets"
    label = "tickets"
    verbose_name = _("Tickets")

    def ready(self) -> None:
        from layanan.chat.transcripts import transcript_sent

        # Importing jobs registers the periodic jobs with the worker, and
        # importing services connects the receiver that makes missed chats tickets.
        from layanan.tickets import (
            jobs,  # noqa: F401
            services,  # noqa: F401
        )

        transcript_sent.connect(_on_transcript_sent, dispatch_uid="tickets.transcript")


def _on_transcript_sent(sender: object, **kwargs: Any) -> None:
    from layanan.tickets.services import record_transcript_on_ticket

    record_transcript_on_ticket(kwargs["conversation"], kwargs["email"])
