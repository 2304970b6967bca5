"""The console app's periodic jobs, registered when the app is ready."""

from layanan.console.digest import CHECK_EVERY_SECONDS, send_weekly_digest
from layanan.jobs.registry import register

register(
    "reports.weekly_digest",
    every_seconds=CHECK_EVERY_SECONDS,
    function=send_weekly_digest,
)
