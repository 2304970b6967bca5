"""The dashboard's periodic job, registered when the app is ready."""

from layanan.dashboard.summaries import REFRESH_EVERY_SECONDS, refresh_recent_days
from layanan.jobs.registry import register

# Also the lease name, which dashboard-rebuild takes to keep the job out.
REFRESH_JOB = "dashboard.refresh_summaries"

register(REFRESH_JOB, every_seconds=REFRESH_EVERY_SECONDS, function=refresh_recent_days)
