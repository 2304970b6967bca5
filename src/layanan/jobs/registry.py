"""Periodic jobs that several workers share through leases in the database.

Each job's lease is taken before it runs and then held until its next run is
due, so that across every worker a job runs once per interval, never twice at
the same time. Workers' clocks should agree to within a small part of the
shortest interval.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from layanan.jobs.models import Lease

logger = logging.getLogger(__name__)

# A running job's lease lasts its interval plus this margin, so a slow run is not
# started again beside itself, while a crashed worker blocks the job this long.
RUNNING_MARGIN_SECONDS = 5 * 60


def acquire_lease(
    name: str, holder: str, seconds: float, *, now: datetime | None = None
) -> bool:
    """Take or renew the lease ``name`` for ``seconds``; return whether it is ours.

    The lease is free when it does not exist or has expired; its holder may
    always renew it. Atomic on SQLite and PostgreSQL.
    """
    now = now or timezone.now()
    expires_at = now + timedelta(seconds=seconds)
    # Of two workers updating at once, the second re-reads the row after the
    # first commits and no longer finds it expired.
    updated = (
        Lease.objects.filter(name=name)
        .filter(Q(expires_at__lt=now) | Q(holder=holder))
        .update(holder=holder, expires_at=expires_at)
    )
    if updated:
        return True
    if Lease.objects.filter(name=name).exists():
        return False
    try:
        # The savepoint keeps a caller's transaction usable if another worker
        # inserted the row first.
        with transaction.atomic():
            Lease.objects.create(name=name, holder=holder, expires_at=expires_at)
    except IntegrityError:
        return False
    return True


def release_lease(name: str, holder: str) -> None:
    """Give up the lease ``name`` if ``holder`` holds it."""
    Lease.objects.filter(name=name, holder=holder).delete()


def _hold_until(name: str, holder: str, until: datetime) -> None:
    """Move our lease's expiry to ``until``, unless someone else holds it now."""
    Lease.objects.filter(name=name, holder=holder).update(expires_at=until)


@dataclass
class Job:
    """A registered periodic job, with the time this process last ran it."""

    name: str
    every_seconds: float
    function: Callable[[], object]
    last_run: datetime | None = None

    def is_due(self, now: datetime) -> bool:
        """Tell whether the interval since this process last ran the job passed."""
        if self.last_run is None:
            return True
        return now >= self.last_run + timedelta(seconds=self.every_seconds)


class JobRegistry:
    """The periodic jobs registered in one process, in registration order."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}

    def register(
        self, name: str, every_seconds: float, function: Callable[[], object]
    ) -> None:
        """Add a job; raise ValueError for a taken name or a non-positive interval."""
        if name in self._jobs:
            raise ValueError(f"The job name {name!r} is taken: pick another name.")
        if every_seconds <= 0:
            raise ValueError(
                f"The interval of job {name!r} is {every_seconds} s: use more than 0."
            )
        max_length = Lease._meta.get_field("name").max_length
        if max_length is not None and len(name) > max_length:
            raise ValueError(
                f"The job name {name!r} is longer than {max_length} characters: "
                "shorten it."
            )
        self._jobs[name] = Job(name, every_seconds, function)

    def names(self) -> list[str]:
        return list(self._jobs)

    def run_due(
        self,
        holder: str,
        now: datetime | None = None,
        *,
        ignore_intervals: bool = False,
    ) -> list[str]:
        """Run every due job whose lease ``holder`` can take; return their names.

        A job that raises is logged and counted as run. ``ignore_intervals`` runs
        each job now, but still skips a job another holder's lease covers.
        """
        now = now or timezone.now()
        ran = []
        for job in self._jobs.values():
            if not ignore_intervals and not job.is_due(now):
                continue
            try:
                if self._run(job, holder, now):
                    ran.append(job.name)
            except Exception:
                # Taking or moving the lease failed, for example because the
                # database is unreachable. The next round tries again.
                logger.exception(
                    "Lease of job %s failed in worker %s", job.name, holder
                )
        return ran

    def _run(self, job: Job, holder: str, now: datetime) -> bool:
        """Run ``job`` under its lease; return False when another holder has it."""
        seconds = job.every_seconds + RUNNING_MARGIN_SECONDS
        if not acquire_lease(job.name, holder, seconds, now=now):
            logger.debug("Job %s is leased to another worker", job.name)
            return False
        job.last_run = now
        try:
            job.function()
        except Exception:
            logger.exception("Job %s failed in worker %s", job.name, holder)
        # Holding the lease until the next run is due keeps other workers from
        # running the job again within its interval.
        _hold_until(job.name, holder, now + timedelta(seconds=job.every_seconds))
        return True


default_registry = JobRegistry()


def register(name: str, every_seconds: float, function: Callable[[], object]) -> None:
    """Add a periodic job to the registry the ``worker`` command runs."""
    default_registry.register(name, every_seconds, function)


def run_due(
    holder: str, now: datetime | None = None, *, ignore_intervals: bool = False
) -> list[str]:
    """Run the registered jobs that are due; see ``JobRegistry.run_due``."""
    return default_registry.run_due(holder, now, ignore_intervals=ignore_intervals)
