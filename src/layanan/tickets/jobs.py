"""The tickets app's periodic jobs, registered when the app is ready."""

from layanan.jobs.registry import register
from layanan.tickets.workflow import AUTOCLOSE_EVERY_SECONDS, close_resolved_tickets

register(
    "tickets.autoclose",
    every_seconds=AUTOCLOSE_EVERY_SECONDS,
    function=close_resolved_tickets,
)
