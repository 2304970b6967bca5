from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    name = "layanan.tickets"
    label = "tickets"
    verbose_name = _("Tickets")

    def ready(self) -> None:
        # Importing the module registers its periodic jobs with the worker.
        from layanan.chat.transcripts import transcript_sent
        from layanan.tickets import jobs  # noqa: F401

        transcript_sent.connect(_on_transcript_sent, dispatch_uid="tickets.transcript")


def _on_transcript_sent(sender: object, **kwargs: Any) -> None:
    from layanan.tickets.services import record_transcript_on_ticket

    record_transcript_on_ticket(kwargs["conversation"], kwargs["email"])
