"""The weekly digest: last week's figures, mailed to the head of department.

A week runs from Monday 00:00 to the next Monday 00:00 in settings.TIME_ZONE.
The ``reports.weekly_digest`` job queues the digest of the week before once the
moment in LAYANAN_DIGEST_SCHEDULE (default Monday 07:00) has passed. The outbox
row it writes, of kind DIGEST_KIND with the week as its reference, records that
the week was sent, so a restarted worker does not send it again. A week that
ended before any ticket or chat was created has nothing to report: the job
skips it and stores a SKIPPED_ACTION audit event instead, so it never retries.

Medians use the nearest-rank method: the value at rank ceil(n / 2) of the
sorted values, so of an even count the lower middle one.
"""

import logging
import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet, Sum
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from layanan.audit.models import ActorKind, Event
from layanan.audit.services import record
from layanan.chat.models import Conversation, ConversationStatus
from layanan.mail.models import OutboundEmail
from layanan.mail.outbox import queue_email
from layanan.tickets.models import Ticket, TicketStatus

logger = logging.getLogger(__name__)

DIGEST_KIND = "weekly_digest"
# The audit subject and action that mark a week skipped for lack of data.
DIGEST_SUBJECT = "digest"
SKIPPED_ACTION = "digest_skipped"
# How often the worker checks whether the digest is due, in seconds.
CHECK_EVERY_SECONDS = 300
LISTED_TICKETS = 10
# Shown for a figure with no data in the week, such as a median of no tickets.
NO_VALUE = "-"
CLOSED_STATUSES = (TicketStatus.RESOLVED, TicketStatus.CLOSED)
# Weeks whose missing recipients this process already logged.
_weeks_without_recipients: set[str] = set()


@dataclass(frozen=True)
class TicketLine:
    """One ticket as the digest lists it."""

    number: str
    subject: str
    status: str
    created: datetime
    due_at: datetime | None


@dataclass(frozen=True)
class WeeklyFigures:
    """Last week's figures: volumes, medians in business minutes, backlog."""

    week_start: datetime
    week_end: datetime
    tickets: int
    chats: int
    median_first_response_minutes: float | None
    median_resolution_minutes: float | None
    sla_met: int
    sla_total: int
    missed_chats: int
    rating_average: float | None
    rating_count: int
    backlog: int
    breached: list[TicketLine]
    oldest: list[TicketLine]

    @property
    def week_label(self) -> str:
        """Return the ISO week reported, such as 2026-W48."""
        return week_label(self.week_start)

    @property
    def sla_percent(self) -> float | None:
        if self.sla_total == 0:
            return None
        return self.sla_met / self.sla_total * 100


def _zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def week_label(start: datetime) -> str:
    """Return the ISO week that contains start, such as 2026-W48."""
    year, week, _weekday = start.astimezone(_zone()).isocalendar()
    return f"{year}-W{week:02d}"


def week_before(now: datetime) -> tuple[datetime, datetime]:
    """Return the start and end of the week before the one that contains now."""
    today = now.astimezone(_zone()).date()
    this_monday = today - timedelta(days=today.weekday())
    end = datetime.combine(this_monday, time.min, tzinfo=_zone())
    return end - timedelta(days=7), end


def scheduled_moment(now: datetime) -> datetime:
    """Return when the digest of the week before now's week is due."""
    today = now.astimezone(_zone()).date()
    this_monday = today - timedelta(days=today.weekday())
    day: date = this_monday + timedelta(days=settings.DIGEST_WEEKDAY)
    hour, minute = settings.DIGEST_TIME
    return datetime.combine(day, time(hour, minute), tzinfo=_zone())


def median(values: list[float]) -> float | None:
    """Return the nearest-rank median of values, or None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(len(ordered) / 2) - 1]


def compute_figures(now: datetime) -> WeeklyFigures:
    """Compute the figures of the week before now's week, backlog as of now.

    NOTE: the backlog and the breached and oldest lists read each ticket's
    current status, so for a now in the past they are approximate.
    """
    start, end = week_before(now)
    created_in_week = Ticket.objects.filter(created__gte=start, created__lt=end)
    resolved_in_week = Ticket.objects.filter(
        resolved_at__gte=start, resolved_at__lt=end
    )
    chats_in_week = Conversation.objects.filter(created__gte=start, created__lt=end)
    ratings = _ratings(start, end)
    open_tickets = Ticket.objects.exclude(status__in=CLOSED_STATUSES).filter(
        created__lt=now
    )
    return WeeklyFigures(
        week_start=start,
        week_end=end,
        tickets=created_in_week.count(),
        chats=chats_in_week.count(),
        median_first_response_minutes=median(
            _values(created_in_week, "first_response_minutes")
        ),
        median_resolution_minutes=median(
            _values(resolved_in_week, "resolution_minutes")
        ),
        sla_met=_met_targets(resolved_in_week).count(),
        sla_total=resolved_in_week.count(),
        missed_chats=chats_in_week.filter(
            status=ConversationStatus.ENDED, accepted_at=None
        ).count(),
        rating_average=ratings[0],
        rating_count=ratings[1],
        backlog=open_tickets.count(),
        breached=_lines(_breached(open_tickets, now).order_by("created")),
        oldest=_lines(open_tickets.order_by("created", "id")),
    )


def _values(tickets: QuerySet[Ticket], name: str) -> list[float]:
    return [
        value
        for value in tickets.exclude(**{name: None}).values_list(name, flat=True)
        if value is not None
    ]


def _met_targets(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """Return the tickets that met both targets of their service.

    A service without a first-response or resolution target counts as met.
    """
    first_response_met = Q(service__first_response_minutes=None) | Q(
        first_response_minutes__lte=F("service__first_response_minutes")
    )
    resolution_met = Q(service__resolution_minutes=None) | Q(
        resolution_minutes__lte=F("service__resolution_minutes")
    )
    return tickets.filter(first_response_met, resolution_met)


def _breached(tickets: QuerySet[Ticket], now: datetime) -> QuerySet[Ticket]:
    return tickets.filter(
        Q(first_response_due_at__lt=now)
        | Q(update_due_at__lt=now)
        | Q(resolution_due_at__lt=now)
    )


def _ratings(start: datetime, end: datetime) -> tuple[float | None, int]:
    """Return the average and count of ticket and chat ratings given in the week."""
    tickets = Ticket.objects.filter(
        rated_at__gte=start, rated_at__lt=end, rating__isnull=False
    ).aggregate(total=Sum("rating"), count=Count("rating"))
    # A chat records no rating time, so its rating counts in the week it ended.
    chats = Conversation.objects.filter(
        ended_at__gte=start, ended_at__lt=end, rating__isnull=False
    ).aggregate(total=Sum("rating"), count=Count("rating"))
    count = (tickets["count"] or 0) + (chats["count"] or 0)
    if count == 0:
        return None, 0
    total = (tickets["total"] or 0) + (chats["total"] or 0)
    return total / count, count


def _lines(tickets: QuerySet[Ticket]) -> list[TicketLine]:
    lines = []
    for ticket in tickets[:LISTED_TICKETS]:
        due_moments = [
            moment
            for moment in (
                ticket.first_response_due_at,
                ticket.update_due_at,
                ticket.resolution_due_at,
            )
            if moment is not None
        ]
        lines.append(
            TicketLine(
                number=ticket.number,
                subject=ticket.subject,
                status=ticket.get_status_display(),
                created=ticket.created,
                due_at=min(due_moments) if due_moments else None,
            )
        )
    return lines


def format_minutes(minutes: float | None) -> str:
    """Return business minutes as "3 h 05 min", or NO_VALUE for None."""
    if minutes is None:
        return NO_VALUE
    whole = round(minutes)
    hours, rest = divmod(whole, 60)
    if hours == 0:
        return _("%(minutes)d min") % {"minutes": rest}
    return _("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": rest}


def digest_context(figures: WeeklyFigures) -> dict[str, object]:
    """Return the template context of the digest mail, values formatted."""
    zone = _zone()
    last_day = (figures.week_end - timedelta(days=1)).astimezone(zone)
    sla = figures.sla_percent
    rating = figures.rating_average
    return {
        "figures": figures,
        "week_label": figures.week_label,
        "first_day": f"{figures.week_start.astimezone(zone):%Y-%m-%d}",
        "last_day": f"{last_day:%Y-%m-%d}",
        "first_response": format_minutes(figures.median_first_response_minutes),
        "resolution": format_minutes(figures.median_resolution_minutes),
        "sla": NO_VALUE if sla is None else f"{sla:.0f}%",
        "rating": NO_VALUE if rating is None else f"{rating:.1f}",
        "breached": [_line_context(line) for line in figures.breached],
        "oldest": [_line_context(line) for line in figures.oldest],
        "console_url": f"{settings.BASE_URL}/console/",
    }


def _line_context(line: TicketLine) -> dict[str, str]:
    zone = _zone()
    due = (
        "" if line.due_at is None else f"{line.due_at.astimezone(zone):%Y-%m-%d %H:%M}"
    )
    return {
        "number": line.number,
        "subject": line.subject,
        "status": line.status,
        "created": f"{line.created.astimezone(zone):%Y-%m-%d %H:%M}",
        "due": due,
    }


def render_digest(figures: WeeklyFigures, language: str) -> tuple[str, str]:
    """Return the subject and the plain-text body of the digest in language."""
    context = digest_context(figures)
    with translation.override(language):
        subject = render_to_string("mail/digest.subject.txt", context).strip()
        body = render_to_string("mail/digest.txt", context)
    return subject, body


def digest_recipients() -> list[str]:
    """Return the addresses of active supervisors, the heads of department."""
    addresses = (
        User.objects.filter(is_active=True, agent__is_supervisor=True)
        .exclude(email="")
        .order_by("id")
        .values_list("email", flat=True)
    )
    return list(dict.fromkeys(addresses))


def week_reference(start: datetime) -> str:
    """Return the outbox reference of the digest of the week that starts at start."""
    return f"digest:{week_label(start)}"


def already_sent(start: datetime) -> bool:
    """Return whether the digest of the week that starts at start was queued."""
    return OutboundEmail.objects.filter(
        kind=DIGEST_KIND, reference=week_reference(start)
    ).exists()


def was_skipped(start: datetime) -> bool:
    """Return whether the job skipped the week that starts at start for no data."""
    return Event.objects.filter(
        subject_type=DIGEST_SUBJECT,
        subject_id=week_label(start),
        action=SKIPPED_ACTION,
    ).exists()


def has_data_before(end: datetime) -> bool:
    """Return whether any ticket or chat was created before end."""
    return (
        Ticket.objects.filter(created__lt=end).exists()
        or Conversation.objects.filter(created__lt=end).exists()
    )


def skip_empty_week(start: datetime) -> None:
    """Record that the week starting at start is skipped: it ended before any data.

    A fresh install would otherwise mail a digest of zeros for the week before
    it existed.
    """
    label = week_label(start)
    record(
        DIGEST_SUBJECT,
        label,
        SKIPPED_ACTION,
        actor_kind=ActorKind.SYSTEM,
        reason="no_ticket_or_chat_before_week_end",
    )
    logger.info("Weekly digest week=%s skipped: no ticket or chat yet", label)


def queue_digest(figures: WeeklyFigures, recipients: list[str]) -> OutboundEmail:
    """Store the digest in the outbox, which sends it. The row marks the week sent."""
    row = queue_email(
        kind=DIGEST_KIND,
        reference=week_reference(figures.week_start),
        to=recipients,
        template="digest",
        context=digest_context(figures),
        language=settings.LANGUAGE_CODE,
    )
    if row is None:
        raise RuntimeError("queue_email held back the digest, which is not automatic.")
    return row


def send_weekly_digest(now: datetime | None = None) -> bool:
    """Queue last week's digest once it is due and not yet sent, and return whether.

    The periodic job calls this every CHECK_EVERY_SECONDS. Skips, with a log
    line, a week for which no supervisor has an email address. Skips for good,
    with an audit event, a week that ended before the first ticket or chat.
    """
    now = now or timezone.now()
    if now < scheduled_moment(now):
        return False
    start, end = week_before(now)
    if already_sent(start) or was_skipped(start):
        return False
    if not has_data_before(end):
        skip_empty_week(start)
        return False
    recipients = digest_recipients()
    if not recipients:
        label = week_label(start)
        # The job checks every few minutes, so each week is logged once.
        if label not in _weeks_without_recipients:
            _weeks_without_recipients.add(label)
            logger.warning(
                "Weekly digest week=%s not sent: no supervisor has an email address",
                label,
            )
        return False
    with transaction.atomic():
        figures = compute_figures(now)
        row = queue_digest(figures, recipients)
    logger.info(
        "Weekly digest queued week=%s outbox=%s recipients=%s",
        figures.week_label,
        row.pk,
        len(recipients),
    )
    return True
