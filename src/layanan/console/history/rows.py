"""Bulk insertion of generated rows: executemany, or COPY on PostgreSQL."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper

from layanan.chat.models import Conversation
from layanan.people.models import Requester, RequesterEmail
from layanan.tickets.models import Ticket, TicketEntry, TicketPause

BATCH_SIZE = 5_000


class RowWriter(Protocol):
    """A destination of generated rows: a database, or a list in a test."""

    def write(self, model: type[models.Model], rows: Sequence[tuple[Any, ...]]) -> None:
        """Store rows whose values follow ``COLUMNS[model]`` in that order."""


# The fields each generated row carries, in order. Fields left out get their
# default, so a field added to a model later does not break the generator.
COLUMNS: dict[type[models.Model], tuple[str, ...]] = {
    Requester: (
        "id", "identifier", "kind", "name", "study_programme_id", "email",
        "created", "updated",
    ),
    RequesterEmail: ("id", "requester_id", "email", "first_seen", "last_seen"),
    Conversation: (
        "id", "public_id", "token_hash", "requester_id", "requester_name",
        "requester_email", "service_id", "team_id", "topic", "language", "status",
        "agent_id", "created", "accepted_at", "first_agent_reply_at",
        "last_activity_at", "ended_at", "ended_by", "rating", "rating_comment",
        "transcript_sent_at",
    ),
    Ticket: (
        "id", "number", "reply_token", "subject", "requester_id", "requester_email",
        "language", "service_id", "team_id", "assignee_id", "status", "priority",
        "source", "conversation_id", "created", "updated", "first_response_at",
        "resolved_at", "closed_at", "first_response_due_at", "resolution_due_at",
        "first_response_minutes", "resolution_minutes", "reopen_count", "rating",
        "rating_comment", "rated_at",
    ),
    TicketEntry: (
        "id", "ticket_id", "kind", "author_id", "author_name", "author_email",
        "source", "body", "created",
    ),
    TicketPause: ("id", "ticket_id", "started_at", "ended_at"),
}  # fmt: skip


class DatabaseWriter:
    """Insert rows with executemany, or COPY on PostgreSQL, in one connection."""

    def __init__(self, using: str = DEFAULT_DB_ALIAS) -> None:
        self.connection: BaseDatabaseWrapper = connections[using]
        self._plans: dict[type[models.Model], TablePlan] = {}

    def write(self, model: type[models.Model], rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        plan = self._plans.get(model)
        if plan is None:
            plan = self._plans[model] = TablePlan.build(model, self.connection)
        prepared = [plan.prepare(row) for row in rows]
        with self.connection.cursor() as cursor:
            if self.connection.vendor == "postgresql":
                with cursor.cursor.copy(plan.copy_sql) as copy:
                    for row in prepared:
                        copy.write_row(row)
            else:
                cursor.executemany(plan.insert_sql, prepared)


@dataclass(frozen=True)
class TablePlan:
    """The SQL and value conversions that insert one model's generated rows."""

    insert_sql: str
    copy_sql: str
    # Per column: the index of the value in a generated row, or None for a
    # default, and the function that turns the value into a database value.
    sources: tuple[tuple[int | None, Callable[[Any], Any], Any], ...]

    @classmethod
    def build(
        cls, model: type[models.Model], connection: BaseDatabaseWrapper
    ) -> "TablePlan":
        quote = connection.ops.quote_name
        column_indexes = {name: index for index, name in enumerate(COLUMNS[model])}
        columns = []
        sources = []
        for model_field in model._meta.concrete_fields:
            columns.append(quote(str(model_field.column)))
            index = column_indexes.pop(model_field.attname, None)
            default = None if index is not None else model_field.get_default()
            sources.append((index, _converter(model_field, connection), default))
        if column_indexes:
            raise ValueError(
                f"COLUMNS names fields {sorted(column_indexes)} that "
                f"{model.__name__} lacks: update COLUMNS in "
                "layanan.console.history.rows."
            )
        table = quote(model._meta.db_table)
        column_list = ", ".join(columns)
        placeholders = ", ".join(["%s"] * len(columns))
        return cls(
            # Table and column names come from the models, never from input.
            insert_sql=(
                f"INSERT INTO {table} ({column_list}) "  # noqa: S608
                f"VALUES ({placeholders})"
            ),
            copy_sql=f"COPY {table} ({column_list}) FROM STDIN",
            sources=tuple(sources),
        )

    def prepare(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(
            convert(default if index is None else row[index])
            for index, convert, default in self.sources
        )


def _converter(
    model_field: models.Field[Any, Any], connection: BaseDatabaseWrapper
) -> Callable[[Any], Any]:
    if isinstance(model_field, models.DateTimeField):
        adapt = connection.ops.adapt_datetimefield_value
        return lambda value: None if value is None else adapt(value)
    if isinstance(model_field, models.UUIDField | models.JSONField):
        return lambda value: model_field.get_db_prep_save(value, connection)
    return lambda value: value


class RowBuffers:
    """Rows waiting to be written, flushed per model every BATCH_SIZE rows."""

    def __init__(self, writer: RowWriter) -> None:
        self.writer = writer
        self.rows: dict[type[models.Model], list[tuple[Any, ...]]] = {}
        self.counts: dict[str, int] = {}

    def add(self, model: type[models.Model], row: tuple[Any, ...]) -> None:
        pending = self.rows.setdefault(model, [])
        pending.append(row)
        if len(pending) >= BATCH_SIZE:
            self.flush(model)

    def flush(self, model: type[models.Model] | None = None) -> None:
        for pending_model in [model] if model else list(self.rows):
            pending = self.rows.get(pending_model, [])
            if pending:
                self.writer.write(pending_model, pending)
                label = pending_model._meta.label
                self.counts[label] = self.counts.get(label, 0) + len(pending)
                self.rows[pending_model] = []
