"""Opening hours of live chat: whether a team's desk is open, and the closed notice.

The widget offers live chat only while the team's business calendar is open. The
services endpoint reports the hours of each service, and the start endpoint rejects
a chat while the desk is closed.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import dateformat, translation
from django.utils.translation import gettext as _

from layanan.catalog.calendars import (
    Calendar,
    CalendarError,
    calendar_for_team,
    is_open,
    next_opening,
)
from layanan.catalog.models import Team

logger = logging.getLogger(__name__)

# Indonesian writes the time of day with a full stop, as in 07.30.
CLOCK_FORMATS = {"id": "H.i"}


def desk_calendar(team: Team | None, request: HttpRequest) -> Calendar:
    """Return the calendar whose hours decide whether live chat with team is open.

    Tests replace this function to keep the desk open at any wall-clock time, so
    every opening-hours check of the widget goes through it.
    """
    return calendar_for_team(team, request)


@dataclass(frozen=True)
class DeskHours:
    """Whether live chat is open at a moment, and if not, when it opens next."""

    open: bool
    # The next opening in the calendar's time zone. None while open, and when the
    # calendar has no business hours at all.
    opens_at: datetime | None


def desk_hours(calendar: Calendar, moment: datetime) -> DeskHours:
    """Return whether calendar is open at moment and, if closed, its next opening."""
    if is_open(moment, calendar):
        return DeskHours(open=True, opens_at=None)
    try:
        opening = next_opening(moment, calendar)
    except CalendarError:
        _warn_never_opens(calendar)
        return DeskHours(open=False, opens_at=None)
    return DeskHours(open=False, opens_at=opening.astimezone(calendar.time_zone))


def team_desk_hours(
    team: Team | None, request: HttpRequest, moment: datetime
) -> DeskHours:
    """Return whether live chat with team is open at moment, through desk_calendar."""
    return desk_hours(desk_calendar(team, request), moment)


# Calendars already logged as never opening, so each is logged once per process
# rather than on every services request.
_never_opening_logged: set[str] = set()


def _warn_never_opens(calendar: Calendar) -> None:
    name = calendar.name or "default"
    if name in _never_opening_logged:
        return
    _never_opening_logged.add(name)
    logger.warning(
        "desk calendar has no business hours, so live chat stays closed calendar=%s",
        name,
    )


def closed_notice(hours: DeskHours, language: str) -> str:
    """Return the sentence that says the desk is closed and when it opens, in language.

    The Indonesian form reads "Layanan sedang tutup. Buka kembali Senin, 7 Desember
    2026 pukul 07.30 WIB." once the catalogue translates the message.
    """
    with translation.override(language):
        if hours.opens_at is None:
            return _("The service is closed, and no opening hours are set for it.")
        return _(
            "The service is closed. It opens again on %(date)s at %(time)s %(zone)s."
        ) % {
            "date": dateformat.format(hours.opens_at, "l, j F Y"),
            "time": dateformat.format(
                hours.opens_at, CLOCK_FORMATS.get(language, "H:i")
            ),
            "zone": hours.opens_at.tzname() or "",
        }


def desk_hours_payload(hours: DeskHours) -> dict[str, Any]:
    """Return the opening-hours fields of a service in the services endpoint."""
    if hours.open:
        return {"open": True, "opens_at": None, "closed_notice": None}
    return {
        "open": False,
        "opens_at": None if hours.opens_at is None else hours.opens_at.isoformat(),
        "closed_notice": {
            code: closed_notice(hours, code) for code, _name in settings.LANGUAGES
        },
    }
