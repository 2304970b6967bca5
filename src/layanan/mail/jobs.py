"""The mail app's periodic jobs, registered when the app is ready."""

import logging

from django.conf import settings

from layanan.jobs.registry import register
from layanan.mail.imap import ImapUnavailable, fetch_mail, ingest_from_imap
from layanan.mail.outbox import send_due

logger = logging.getLogger(__name__)


def fetch_imap() -> None:
    """Poll the IMAP mailbox once, storing new messages through inbound.ingest."""
    if settings.IMAP is None:
        return
    try:
        fetch_mail(settings.IMAP, ingest_from_imap)
    except ImapUnavailable as error:
        # An outage is expected now and then, and the next poll retries, so one
        # line without a traceback is enough.
        logger.warning("IMAP poll failed: %s", error)


register("mail.send_outbox", every_seconds=2, function=send_due)
if settings.IMAP is not None:
    register(
        "mail.fetch_imap", every_seconds=settings.IMAP_POLL_SECONDS, function=fetch_imap
    )
