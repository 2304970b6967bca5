"""The tickets app's periodic jobs, registered when the app is ready."""

from layanan.jobs.registry import register
from layanan.tickets.notices import SLA_NOTICES_EVERY_SECONDS, send_sla_notices
from layanan.tickets.workflow import AUTOCLOSE_EVERY_SECONDS, close_resolved_tickets

register(
    "tickets.autoclose",
    every_seconds=AUTOCLOSE_EVERY_SECONDS,
    function=close_resolved_tickets,
)
register(
    "tickets.sla_notices",
    every_seconds=SLA_NOTICES_EVERY_SECONDS,
    function=send_sla_notices,
)
