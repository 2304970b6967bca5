"""The mail app's periodic jobs, registered when the app is ready."""

from layanan.jobs.registry import register
from layanan.mail.outbox import send_due

register("mail.send_outbox", every_seconds=2, function=send_due)
