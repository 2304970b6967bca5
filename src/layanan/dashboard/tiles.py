"""The dashboard's tiles and charts as text: titles, values, changes and links.

Every tile links to the console list of the records behind it, with the
parameters those lists read. Both take team and service ids. The ticket list
takes assignee, kind and status, and the chat list agent, ended_by and the
local dates date_from and date_to.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.formats import number_format
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from layanan.chat.models import EndedBy
from layanan.dashboard.backlog import AgeBucket
from layanan.dashboard.filters import DashboardFilters
from layanan.dashboard.metrics import AgentRow, Dashboard, PeriodMetrics
from layanan.dashboard.rows import OPEN_STATUSES
from layanan.dashboard.statistics import Compliance
from layanan.dashboard.svg import Series, bar_chart, heatmap
from layanan.tickets.models import TicketStatus

# A plain path rather than reverse(), so that the page renders even where the
# console's chat list is not installed.
CHAT_LIST_PATH = "/console/chats/"

# Shown where a value cannot be computed, such as a median of no durations.
NO_VALUE = "\u2013"
MINUS_SIGN = "\u2212"

TILE_TITLES = {
    "volume": gettext_lazy("Volume"),
    "waiting": gettext_lazy("Waiting time"),
    "first_response": gettext_lazy("First response time"),
    "resolution": gettext_lazy("Resolution time"),
    "sla": gettext_lazy("SLA compliance"),
    "missed": gettext_lazy("Missed chats"),
    "satisfaction": gettext_lazy("Satisfaction"),
    "backlog": gettext_lazy("Backlog"),
}


def format_number(value: float, decimals: int = 0) -> str:
    return str(number_format(round(value, decimals), decimal_pos=decimals))


def format_seconds(seconds: float | None) -> str:
    """Return a duration as "45 s", "3 min 20 s" or "2 h 5 min", a dash for none."""
    if seconds is None:
        return NO_VALUE
    whole = round(abs(seconds))
    if whole < 60:
        return _("%(seconds)d s") % {"seconds": whole}
    if whole < 3600:
        return _("%(minutes)d min %(seconds)d s") % {
            "minutes": whole // 60,
            "seconds": whole % 60,
        }
    return _("%(hours)d h %(minutes)d min") % {
        "hours": whole // 3600,
        "minutes": whole % 3600 // 60,
    }


def format_minutes(minutes: float | None) -> str:
    return format_seconds(None if minutes is None else minutes * 60)


def format_percent(percent: float | None) -> str:
    if percent is None:
        return NO_VALUE
    return f"{format_number(percent, 1)}%"


def _signed(difference: float, text: str) -> str:
    if difference > 0:
        return f"+{text}"
    if difference < 0:
        return f"{MINUS_SIGN}{text}"
    return text


def change_text(
    current: float | None,
    previous: float | None,
    formatter: Callable[[float], str],
) -> str:
    """Return the change against the previous period, such as "+3 against ..."."""
    if current is None or previous is None:
        return _("no data to compare")
    difference = current - previous
    return _("%(change)s against the previous period") % {
        "change": _signed(difference, formatter(abs(difference)))
    }


def _count_change(value: float) -> str:
    return format_number(value)


def _points_change(value: float) -> str:
    return _("%(points)s points") % {"points": format_number(value, 1)}


def _rating_change(value: float) -> str:
    return format_number(value, 2)


@dataclass(frozen=True)
class Tile:
    key: str
    title: str
    value: str
    details: list[str]
    change: str
    definition: str
    link: str


def _scope_params(filters: DashboardFilters, agent_param: str) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = []
    if filters.team_id is not None:
        params.append(("team", str(filters.team_id)))
    if filters.service_id is not None:
        params.append(("service", str(filters.service_id)))
    if filters.agent_id is not None:
        params.append((agent_param, str(filters.agent_id)))
    return params


def _period_params(filters: DashboardFilters) -> list[tuple[str, str]]:
    return [
        ("date_from", filters.period.first_day.isoformat()),
        ("date_to", filters.period.last_day.isoformat()),
    ]


def _with_query(base: str, params: list[tuple[str, str]]) -> str:
    query = urlencode(params)
    return f"{base}?{query}" if query else base


def ticket_link(
    filters: DashboardFilters, *, status: str = "", with_period: bool = True
) -> str:
    """Return the console ticket list URL for the tickets a tile counted."""
    params = _scope_params(filters, "assignee")
    if filters.requester_kind:
        params.append(("kind", filters.requester_kind))
    if status:
        params.append(("status", status))
    if with_period:
        params += _period_params(filters)
    return _with_query(reverse("console:tickets"), params)


def chat_link(filters: DashboardFilters, *, ended_by: str = "") -> str:
    """Return the console chat list URL for the chats a tile counted.

    The chat list has no requester-kind filter, so a kind filter is not passed.
    """
    params = _scope_params(filters, "agent")
    if ended_by:
        params.append(("ended_by", ended_by))
    params += _period_params(filters)
    return _with_query(CHAT_LIST_PATH, params)


def compliance_text(name: str, compliance: Compliance) -> str:
    return _("%(name)s %(percent)s (%(met)d of %(measured)d)") % {
        "name": name,
        "percent": format_percent(compliance.percent),
        "met": compliance.met,
        "measured": compliance.measured,
    }


def volume_tile(dashboard: Dashboard) -> Tile:
    current, previous = dashboard.current, dashboard.previous
    return Tile(
        key="volume",
        title=str(TILE_TITLES["volume"]),
        value=format_number(current.volume),
        details=[
            _("%(chats)d chats · %(tickets)d tickets")
            % {"chats": current.chat_count, "tickets": current.ticket_count}
        ],
        change=change_text(current.volume, previous.volume, _count_change),
        definition=_(
            "Chats and tickets opened in the period. A chat that became a ticket "
            "counts once in each."
        ),
        link=ticket_link(dashboard.filters),
    )


def waiting_tile(dashboard: Dashboard) -> Tile:
    current, previous = dashboard.current, dashboard.previous
    return Tile(
        key="waiting",
        title=str(TILE_TITLES["waiting"]),
        value=format_seconds(current.chat_wait.median),
        details=[
            _("90th percentile %(p90)s · %(count)d accepted chats")
            % {
                "p90": format_seconds(current.chat_wait.p90),
                "count": current.chat_wait.count,
            },
            _("Chat first reply: median %(median)s, 90th percentile %(p90)s")
            % {
                "median": format_seconds(current.chat_first_response.median),
                "p90": format_seconds(current.chat_first_response.p90),
            },
            _("Chat duration: median %(median)s")
            % {"median": format_seconds(current.chat_duration.median)},
        ],
        change=change_text(
            current.chat_wait.median, previous.chat_wait.median, format_seconds
        ),
        definition=_(
            "Median time from the start of a chat until an agent accepted it, over "
            "the chats accepted in the period."
        ),
        link=chat_link(dashboard.filters),
    )


def first_response_tile(dashboard: Dashboard) -> Tile:
    current, previous = dashboard.current, dashboard.previous
    return Tile(
        key="first_response",
        title=str(TILE_TITLES["first_response"]),
        value=format_minutes(current.first_response_business.median),
        details=[
            _("90th percentile %(p90)s in business hours")
            % {"p90": format_minutes(current.first_response_business.p90)},
            _("Calendar time: median %(median)s, 90th percentile %(p90)s")
            % {
                "median": format_minutes(current.first_response_calendar.median),
                "p90": format_minutes(current.first_response_calendar.p90),
            },
        ],
        change=change_text(
            current.first_response_business.median,
            previous.first_response_business.median,
            format_minutes,
        ),
        definition=_(
            "Median business time from a ticket's creation to its first public "
            "reply, over the first replies sent in the period, pauses excluded. "
            "Calendar time counts every hour."
        ),
        link=ticket_link(dashboard.filters),
    )


def resolution_tile(dashboard: Dashboard) -> Tile:
    current, previous = dashboard.current, dashboard.previous
    return Tile(
        key="resolution",
        title=str(TILE_TITLES["resolution"]),
        value=format_minutes(current.resolution_business.median),
        details=[
            _("90th percentile %(p90)s in business hours")
            % {"p90": format_minutes(current.resolution_business.p90)},
            _("Calendar time: median %(median)s, 90th percentile %(p90)s")
            % {
                "median": format_minutes(current.resolution_calendar.median),
                "p90": format_minutes(current.resolution_calendar.p90),
            },
            _("Reopened: %(percent)s of tickets")
            % {"percent": format_percent(current.reopen_percent)},
        ],
        change=change_text(
            current.resolution_business.median,
            previous.resolution_business.median,
            format_minutes,
        ),
        definition=_(
            "Median business time from a ticket's request to its resolution, "
            "pauses excluded. It counts tickets, not resolutions: a ticket resolved "
            "more than once counts once, in the period of its latest resolution. "
            "The reopen rate is the share of those tickets reopened at least once."
        ),
        link=ticket_link(dashboard.filters, status=TicketStatus.RESOLVED),
    )


def sla_tile(dashboard: Dashboard) -> Tile:
    current, previous = dashboard.current, dashboard.previous
    return Tile(
        key="sla",
        title=str(TILE_TITLES["sla"]),
        value=format_percent(current.sla_compliance.percent),
        details=[
            compliance_text(_("First response"), current.first_response_compliance),
            compliance_text(_("Resolution"), current.resolution_compliance),
            _("Open now: %(at_risk)d at risk, %(breached)d breached")
            % {
                "at_risk": dashboard.backlog.at_risk,
                "breached": dashboard.backlog.breached,
            },
        ],
        change=change_text(
            current.sla_compliance.percent,
            previous.sla_compliance.percent,
            _points_change,
        ),
        definition=_(
            "Share of the first responses and resolutions given in the period that "
            "met their target. Open tickets past a due time count as breached, and "
            "at risk means over 80% of a target used."
        ),
        link=ticket_link(dashboard.filters),
    )


def missed_tile(dashboard: Dashboard) -> Tile:
    current, previous = dashboard.current, dashboard.previous
    return Tile(
        key="missed",
        title=str(TILE_TITLES["missed"]),
        value=format_number(current.missed_total),
        details=[
            _("%(percent)s of chats and offline-form tickets")
            % {"percent": format_percent(current.missed_percent)},
            _("%(chats)d chats nobody accepted · %(offline)d offline-form tickets")
            % {"chats": current.missed_chats, "offline": current.offline_tickets},
        ],
        change=change_text(current.missed_total, previous.missed_total, _count_change),
        definition=_(
            "Chats that ended in the period before an agent accepted them, because "
            "the requester left or the wait limit passed, plus tickets opened from "
            "the offline form."
        ),
        link=chat_link(dashboard.filters, ended_by=EndedBy.WAIT_LIMIT),
    )


def satisfaction_tile(dashboard: Dashboard) -> Tile:
    current, previous = dashboard.current, dashboard.previous
    average = current.ratings.average
    return Tile(
        key="satisfaction",
        title=str(TILE_TITLES["satisfaction"]),
        value=NO_VALUE if average is None else f"{format_number(average, 2)} / 5",
        details=[
            _("%(count)d ratings · response rate %(percent)s")
            % {
                "count": current.ratings.count,
                "percent": format_percent(current.rating_response_percent),
            }
        ],
        change=change_text(average, previous.ratings.average, _rating_change),
        definition=_(
            # An en dash, written as itself so that makemessages reads it.
            "Mean of the 1–5 ratings given in the period. The response rate is "  # noqa: RUF001
            "ratings per ticket resolved or answered chat ended in the period."
        ),
        link=ticket_link(dashboard.filters),
    )


def backlog_tile(dashboard: Dashboard) -> Tile:
    backlog = dashboard.backlog
    oldest = backlog.oldest[0].working_days if backlog.oldest else None
    return Tile(
        key="backlog",
        title=str(TILE_TITLES["backlog"]),
        value=format_number(backlog.total),
        details=[
            _("%(at_risk)d at risk · %(breached)d breached")
            % {"at_risk": backlog.at_risk, "breached": backlog.breached},
            _("Oldest: %(days)s working days")
            % {"days": NO_VALUE if oldest is None else oldest},
        ],
        change=_("open now, whenever created"),
        definition=_(
            "Tickets not yet resolved or closed, whenever they were created, by "
            "state and by age in working days of their team's calendar."
        ),
        link=ticket_link(
            dashboard.filters, status=TicketStatus.OPEN, with_period=False
        ),
    )


def tiles(dashboard: Dashboard) -> list[Tile]:
    """Return the eight tiles in the order the page shows them."""
    return [
        volume_tile(dashboard),
        waiting_tile(dashboard),
        first_response_tile(dashboard),
        resolution_tile(dashboard),
        sla_tile(dashboard),
        missed_tile(dashboard),
        satisfaction_tile(dashboard),
        backlog_tile(dashboard),
    ]


def agent_cells(row: AgentRow) -> dict[str, object]:
    """Return one agent's row of the agents table, formatted."""
    average = row.ratings.average
    return {
        "label": row.label,
        "chats": row.chats,
        "tickets": row.tickets,
        "chat_first_response": format_seconds(row.chat_first_response_median),
        "ticket_first_response": format_minutes(row.ticket_first_response_median),
        "rating": NO_VALUE if average is None else format_number(average, 2),
        "active_chats": row.active_chats,
        "open_tickets": row.open_tickets,
    }


def day_label(day: date) -> str:
    return f"{day.day}/{day.month}"


def daily_chart(dashboard: Dashboard) -> SafeString:
    labels = [day_label(item.day) for item in dashboard.daily]
    return bar_chart(
        _("Chats and tickets per day"),
        labels,
        [
            Series(_("chats"), "series-chats", [i.chats for i in dashboard.daily]),
            Series(
                _("tickets"), "series-tickets", [i.tickets for i in dashboard.daily]
            ),
        ],
        label_every=max(len(labels) // 10, 1),
    )


def heatmap_chart(dashboard: Dashboard) -> SafeString:
    weekdays = [str(WEEKDAYS_ABBR[index]) for index in range(7)]
    return heatmap(
        _("Chats and tickets by weekday and hour"), dashboard.heatmap, weekdays
    )


def rating_chart(metrics: PeriodMetrics) -> SafeString:
    return bar_chart(
        _("Ratings from 1 to 5"),
        ["1", "2", "3", "4", "5"],
        [Series(_("ratings"), "series-ratings", metrics.ratings.distribution)],
    )


def backlog_chart(dashboard: Dashboard) -> SafeString:
    return bar_chart(
        _("Open tickets by age in working days"),
        [str(bucket.label) for bucket in AgeBucket],
        [
            Series(
                str(TicketStatus(status).label),
                f"series-{status}",
                [dashboard.backlog.by_state[status][bucket] for bucket in AgeBucket],
            )
            for status in OPEN_STATUSES
        ],
    )
