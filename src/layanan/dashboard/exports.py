"""CSV and XLSX exports of the dashboard's filtered tickets and chats.

One row per ticket, then one per chat, with a ``type`` column and every metric
column. Rows are read with ``.iterator()``, so 100,000 of them are never in
memory at once. CSV is streamed as it is written. XLSX is written row by row in
openpyxl's write-only mode into a temporary file, which is then streamed.

In CSV, a text cell that starts with = + - @, a tab or a carriage return gets a
leading apostrophe, so that a spreadsheet shows it as text instead of running it
as a formula. XLSX stores each cell's type, so such a cell is written as an
explicit string cell with its text unchanged, which no spreadsheet evaluates.
"""

import csv
import io
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import IO, Any

from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest
from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped]
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # type: ignore[import-untyped]
from openpyxl.worksheet._write_only import (  # type: ignore[import-untyped]
    WriteOnlyWorksheet,
)

from layanan.dashboard.filters import DashboardFilters, local_zone
from layanan.dashboard.metrics import Labels, load_labels
from layanan.dashboard.rows import ChatRow, TicketRow, chat_queryset, ticket_queryset

CHUNK_ROWS = 2000
CSV_FLUSH_BYTES = 64 * 1024
FILE_CHUNK_BYTES = 256 * 1024
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

COLUMNS = [
    "type",
    "reference",
    "created",
    "created_day",
    "created_weekday",
    "created_hour",
    "service",
    "team",
    "agent",
    "requester_kind",
    "study_programme",
    "requester_name",
    "subject",
    "source",
    "status",
    "priority",
    "ended_by",
    "missed",
    "accepted_at",
    "first_response_at",
    "resolved_at",
    "ended_at",
    "wait_seconds",
    "chat_first_response_seconds",
    "chat_duration_seconds",
    "first_response_business_minutes",
    "first_response_calendar_minutes",
    "resolution_business_minutes",
    "resolution_calendar_minutes",
    "first_response_target_met",
    "resolution_target_met",
    "reopen_count",
    "rating",
    "rating_comment",
    "ticket_number",
]

Cell = str | int | float | None


def neutralise(value: str) -> str:
    """Return value with a leading apostrophe if a spreadsheet would run it."""
    if value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def local_time(moment: datetime | None) -> str:
    """Return moment in settings.TIME_ZONE with its offset, such as +07:00."""
    if moment is None:
        return ""
    return moment.astimezone(local_zone()).isoformat(sep=" ")


def _yes_no(value: bool | None) -> str:
    if value is None:
        return ""
    return "yes" if value else "no"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _created_columns(moment: datetime) -> list[Cell]:
    local = moment.astimezone(local_zone())
    return [
        local_time(moment),
        local.date().isoformat(),
        local.isoweekday(),
        local.hour,
    ]


def ticket_cells(ticket: TicketRow, labels: Labels, now: datetime) -> list[Cell]:
    team = labels.teams.get(ticket.team_id)
    return [
        "ticket",
        ticket.number,
        *_created_columns(ticket.created),
        labels.service_codes.get(ticket.service_id, ""),
        team.name if team else "",
        labels.agent(ticket.assignee_id),
        ticket.requester_kind,
        labels.programmes.get(ticket.study_programme_id or 0, ""),
        ticket.requester_name,
        ticket.subject,
        ticket.source,
        ticket.status,
        ticket.priority,
        "",
        _yes_no(ticket.is_offline),
        "",
        local_time(ticket.first_response_at),
        local_time(ticket.resolved_at),
        "",
        None,
        None,
        None,
        _round(ticket.first_response_minutes),
        _round(ticket.first_response_calendar_minutes),
        _round(ticket.resolution_minutes),
        _round(ticket.resolution_calendar_minutes),
        _yes_no(ticket.first_response_met(now)),
        _yes_no(ticket.resolution_met(now)),
        ticket.reopen_count,
        ticket.rating,
        ticket.rating_comment,
        ticket.number,
    ]


def chat_cells(chat: ChatRow, labels: Labels) -> list[Cell]:
    team = labels.teams.get(chat.team_id)
    return [
        "chat",
        chat.public_id,
        *_created_columns(chat.created),
        labels.service_codes.get(chat.service_id, ""),
        team.name if team else "",
        labels.agent(chat.agent_id),
        chat.requester_kind,
        labels.programmes.get(chat.study_programme_id or 0, ""),
        chat.requester_name,
        chat.topic,
        "chat",
        chat.status,
        "",
        chat.ended_by,
        _yes_no(chat.is_missed),
        local_time(chat.accepted_at),
        local_time(chat.first_agent_reply_at),
        "",
        local_time(chat.ended_at),
        _round(chat.wait_seconds),
        _round(chat.first_response_seconds),
        _round(chat.duration_seconds),
        None,
        None,
        None,
        None,
        "",
        "",
        None,
        chat.rating,
        chat.rating_comment,
        chat.ticket_number,
    ]


def _safe(cells: list[Cell]) -> list[Cell]:
    return [neutralise(cell) if isinstance(cell, str) else cell for cell in cells]


def export_rows(filters: DashboardFilters, now: datetime) -> Iterator[list[Cell]]:
    """Yield the header and then every ticket and chat row, text as stored.

    Each writer makes formula-like text safe in its own format.
    """
    period = filters.period
    user_ids = User.objects.filter(agent__isnull=False).values_list("pk", flat=True)
    labels = load_labels(user_ids)
    yield list(COLUMNS)
    tickets = ticket_queryset(filters, period.start, period.end)
    for values in tickets.iterator(chunk_size=CHUNK_ROWS):
        yield ticket_cells(TicketRow.from_values(values), labels, now)
    chats = chat_queryset(filters, period.start, period.end)
    for values in chats.iterator(chunk_size=CHUNK_ROWS):
        yield chat_cells(ChatRow.from_values(values), labels)


class RowCounter:
    """Count the data rows an export wrote, for the audit record at its end."""

    def __init__(self) -> None:
        self.rows = 0


def csv_chunks(rows: Iterator[list[Cell]], counter: RowCounter) -> Iterator[bytes]:
    """Yield UTF-8 CSV with a byte-order mark, about CSV_FLUSH_BYTES at a time.

    The byte-order mark makes spreadsheet programs read the file as UTF-8.
    Formula-like text gets a leading apostrophe, because CSV has no cell types.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    for index, row in enumerate(rows):
        writer.writerow(["" if cell is None else cell for cell in _safe(row)])
        if index > 0:
            counter.rows += 1
        if buffer.tell() >= CSV_FLUSH_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _xlsx_cell(sheet: WriteOnlyWorksheet, cell: Cell) -> Any:
    if not isinstance(cell, str):
        return cell
    text = ILLEGAL_CHARACTERS_RE.sub("", cell)
    if not text.startswith(FORMULA_PREFIXES):
        return text
    # openpyxl stores text starting with "=" as a formula, so the type is set
    # to string after the value: the file then contains the text, not a formula.
    string_cell = WriteOnlyCell(sheet, value=text)
    string_cell.data_type = "s"
    return string_cell


def write_xlsx(rows: Iterator[list[Cell]], counter: RowCounter) -> IO[bytes]:
    """Write rows to a temporary XLSX file and return it, rewound."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Layanan")
    for index, row in enumerate(rows):
        sheet.append([_xlsx_cell(sheet, cell) for cell in row])
        if index > 0:
            counter.rows += 1
    output = tempfile.TemporaryFile()  # noqa: SIM115 - closed by file_chunks
    workbook.save(output)
    output.seek(0)
    return output


def file_chunks(output: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := output.read(FILE_CHUNK_BYTES):
            yield chunk
    finally:
        output.close()


def _next_or_none(chunks: Iterator[bytes]) -> bytes | None:
    return next(chunks, None)


async def _async_chunks(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    # Each step runs in the thread that serves the request's sync code, so the
    # database cursor behind the iterator stays on one connection.
    next_chunk = sync_to_async(_next_or_none, thread_sensitive=True)
    while True:
        chunk = await next_chunk(chunks)
        if chunk is None:
            return
        yield chunk


def streaming_content(
    request: HttpRequest, chunks: Iterator[bytes]
) -> Iterator[bytes] | AsyncIterator[Any]:
    """Return chunks in the form the server streams without buffering them.

    Under ASGI, Django reads a synchronous iterator into a list before sending
    it, so ASGI requests get an asynchronous iterator instead.
    """
    if isinstance(request, ASGIRequest):
        return _async_chunks(chunks)
    return chunks
