"""Generate a made-up but realistic history of chats and tickets, fast.

``generate_history`` fills a migrated database with requesters, chats, tickets,
ticket entries and pauses for the dashboard, its tests and its benchmark. The
same options and seed give the same rows on a database in the same state.

Rows go in with one ``executemany`` per batch (``COPY`` on PostgreSQL), never
through the ORM one row at a time. Primary keys are chosen here, after the
highest existing one, so rows can point at each other without reading ids back.

Times follow office hours in settings.TIME_ZONE: weekdays 08:00 to 15:59 are
busiest, evenings light, weekends and national holidays rare. Business minutes
come from each team's calendar (layanan.catalog.calendars), through an index of
its open spans, so each sum takes one binary search with a binary search.
"""

from layanan.console.history.clock import BusinessClock
from layanan.console.history.generator import (
    HistoryOptions,
    HistoryReport,
    generate_history,
)
from layanan.console.history.rows import COLUMNS, DatabaseWriter, RowWriter

__all__ = [
    "COLUMNS",
    "BusinessClock",
    "DatabaseWriter",
    "HistoryOptions",
    "HistoryReport",
    "RowWriter",
    "generate_history",
]
