"""Dashboard aggregates over a generated history: plain SQL and the dashboard's code.

``run.py`` calls ``run_dashboard``. It builds or reuses the histories of
``history_data.py``: 100,000 tickets on SQLite and, when PostgreSQL is
installed, ``--postgres-tickets`` (2,000,000) on a throwaway PostgreSQL server
(10,000 on each with --quick). On each it starts one worker process, this file run as
``python bench/dashboard.py measure``. The worker times, for the last 30 days
and the last 365 days of the history:

- raw-sql: the tiles' figures as plain SQL on the raw tables (tickets and chats
  per local day and service, first-response values for p50/p90, SLA compliance
  per service, missed chats, the backlog by status and age bucket);
- ours-metrics: ``layanan.dashboard.metrics.compute_dashboard``, every tile,
  when that module exists;
- ours-export: the CSV export of the 365-day window through
  ``layanan.dashboard.exports``, when that module exists.

Each figure is repeated and reported as p50 and p95 in ms (nearest rank): the
plain SQL 20 times (5 with --quick), a whole dashboard a quarter as often but at
least 3 times, the export once. The worker is pinned to the servers' CPU.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import history_data
import report
import servers

PATH = "dashboard"
FULL_TICKETS = 100_000
QUICK_TICKETS = 10_000
WINDOWS = (30, 365)
WORKER_TIMEOUT_SECONDS = 3600.0
EXPORT_ROWS = 100_000


@dataclass(frozen=True)
class DashboardContext:
    quick: bool
    repetitions: int
    # 0 skips PostgreSQL.
    postgres_tickets: int
    log_path: Path


# Plain SQL on the raw tables. Times are stored in UTC. On SQLite the local day is
# taken with a fixed offset, which is exact for Asia/Jakarta (no daylight saving).
LOCAL_DAY = {
    "sqlite": "date(created, %(offset)s)",
    "postgresql": "(created AT TIME ZONE %(zone)s)::date",
}
# SQLite has no percentile aggregate, so the values come sorted and the worker
# picks the ranks; PostgreSQL computes both in the query.
FIRST_RESPONSE = {
    "sqlite": (
        "SELECT first_response_minutes FROM tickets_ticket "
        "WHERE created >= %(start)s AND created < %(end)s "
        "AND first_response_minutes IS NOT NULL ORDER BY first_response_minutes"
    ),
    "postgresql": (
        "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY first_response_minutes), "
        "percentile_disc(0.9) WITHIN GROUP (ORDER BY first_response_minutes) "
        "FROM tickets_ticket WHERE created >= %(start)s AND created < %(end)s "
        "AND first_response_minutes IS NOT NULL"
    ),
}


def raw_queries(vendor: str) -> dict[str, str]:
    """Return the SQL of each figure, by name, in the dialect of vendor."""
    # The day expression comes from LOCAL_DAY, never from input.
    day = LOCAL_DAY[vendor]
    return {
        "tickets-by-day-service": (
            f"SELECT {day} AS day, service_id, count(*) FROM tickets_ticket "  # noqa: S608
            "WHERE created >= %(start)s AND created < %(end)s GROUP BY 1, 2"
        ),
        "chats-by-day-service": (
            f"SELECT {day} AS day, service_id, count(*) FROM chat_conversation "  # noqa: S608
            "WHERE created >= %(start)s AND created < %(end)s GROUP BY 1, 2"
        ),
        "first-response-p50-p90": FIRST_RESPONSE[vendor],
        "sla-by-service": (
            "SELECT t.service_id, count(*), sum(CASE WHEN "
            "(s.first_response_minutes IS NULL "
            "OR t.first_response_minutes <= s.first_response_minutes) AND "
            "(s.resolution_minutes IS NULL "
            "OR t.resolution_minutes <= s.resolution_minutes) THEN 1 ELSE 0 END) "
            "FROM tickets_ticket t JOIN catalog_service s ON s.id = t.service_id "
            "WHERE t.resolved_at >= %(start)s AND t.resolved_at < %(end)s "
            "GROUP BY t.service_id"
        ),
        "missed-chats": (
            "SELECT count(*) FROM chat_conversation WHERE created >= %(start)s "
            "AND created < %(end)s AND status = 'ended' AND accepted_at IS NULL"
        ),
        # Age in calendar days, where the dashboard counts working days.
        "backlog-buckets": (
            "SELECT status, CASE WHEN created >= %(one_day)s THEN '<1' "
            "WHEN created >= %(three_days)s THEN '1-3' "
            "WHEN created >= %(seven_days)s THEN '3-7' ELSE '>7' END AS bucket, "
            "count(*) FROM tickets_ticket "
            "WHERE status NOT IN ('resolved', 'closed') GROUP BY 1, 2"
        ),
    }


def percentile(values: list[float], share: float) -> float:
    """Return the nearest-rank percentile: the value at rank ceil(share * n)."""
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)), 1) - 1]


def timed_runs(function: Callable[[], Any], repetitions: int) -> dict[str, Any]:
    durations = []
    result: Any = None
    for _run in range(repetitions):
        started = time.perf_counter()
        result = function()
        durations.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": percentile(durations, 0.5),
        "p95_ms": percentile(durations, 0.95),
        "runs": repetitions,
        "result_size": len(result) if isinstance(result, list) else None,
    }


# The worker


def measure_raw(end: datetime, days: int, repetitions: int) -> dict[str, Any]:
    """Time each plain SQL figure over the window, and all of them in a row."""
    from django.db import connection

    adapt = connection.ops.adapt_datetimefield_value
    parameters = {
        "offset": "+7 hours",
        "zone": "Asia/Jakarta",
        "start": adapt(end - timedelta(days=days)),
        "end": adapt(end),
        "one_day": adapt(end - timedelta(days=1)),
        "three_days": adapt(end - timedelta(days=3)),
        "seven_days": adapt(end - timedelta(days=7)),
    }
    queries = raw_queries(connection.vendor)

    def run_query(sql: str) -> list[Any]:
        used = {key: value for key, value in parameters.items() if f"%({key})s" in sql}
        with connection.cursor() as cursor:
            cursor.execute(sql, used)
            rows = list(cursor.fetchall())
        if connection.vendor == "sqlite" and sql is FIRST_RESPONSE["sqlite"] and rows:
            values = [row[0] for row in rows]
            return [percentile(values, 0.5), percentile(values, 0.9)]
        return rows

    results = {}
    for name, sql in queries.items():
        results[name] = timed_runs(lambda sql=sql: run_query(sql), repetitions)
    results["all"] = timed_runs(
        lambda: [run_query(sql) for sql in queries.values()], repetitions
    )
    return results


def measure_metrics(end: datetime, days: int, repetitions: int) -> dict[str, Any]:
    try:
        from layanan.dashboard.filters import DashboardFilters, Period
        from layanan.dashboard.metrics import compute_dashboard
        from layanan.dashboard.views import kind_labels, source_labels
    except ImportError as error:
        return {"skipped": f"layanan.dashboard.metrics is not importable: {error}"}
    last_day = (end - timedelta(days=1)).astimezone(_zone()).date()
    filters = DashboardFilters(
        period=Period(last_day - timedelta(days=days - 1), last_day), team_scope=None
    )

    def run() -> None:
        compute_dashboard(filters, end, kind_labels(), source_labels())

    try:
        return {"all": timed_runs(run, repetitions)}
    # A failing dashboard function is reported as skipped, so the other figures
    # still print.
    except Exception as error:
        return {"skipped": f"compute_dashboard failed: {error!r}"}


def measure_export(end: datetime, repetitions: int) -> dict[str, Any]:
    try:
        from layanan.dashboard.exports import RowCounter, csv_chunks, export_rows
        from layanan.dashboard.filters import DashboardFilters, Period
    except ImportError as error:
        return {"skipped": f"layanan.dashboard.exports is not importable: {error}"}
    last_day = (end - timedelta(days=1)).astimezone(_zone()).date()
    filters = DashboardFilters(
        period=Period(last_day - timedelta(days=729), last_day), team_scope=None
    )
    counter = RowCounter()
    sizes = []

    def run() -> None:
        counter.rows = 0
        written = 0
        rows = export_rows(filters, end)
        limited = (row for index, row in enumerate(rows) if index <= EXPORT_ROWS)
        for chunk in csv_chunks(limited, counter):
            written += len(chunk)
        sizes.append(written)

    try:
        timing = timed_runs(run, repetitions)
    # A failing dashboard function is reported as skipped, so the other figures
    # still print.
    except Exception as error:
        return {"skipped": f"the CSV export failed: {error!r}"}
    timing["rows"] = counter.rows
    timing["bytes"] = sizes[-1] if sizes else 0
    return {"csv": timing}


def _zone() -> Any:
    from zoneinfo import ZoneInfo

    from django.conf import settings

    return ZoneInfo(settings.TIME_ZONE)


def drop_summary_tables() -> None:
    """Drop the dashboard app's tables and forget its migrations, whatever shape."""
    from django.apps import apps
    from django.db import connection

    cascade = " CASCADE" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        for model in apps.get_app_config("dashboard").get_models():
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(f"DROP TABLE IF EXISTS {table}{cascade}")
        cursor.execute("DELETE FROM django_migrations WHERE app = 'dashboard'")


def prepare_summaries() -> dict[str, Any]:
    """Bring the cached history's schema up to date and rebuild its summary rows.

    The dashboard reads summary tables that the worker keeps current; a history
    generated and cached earlier has none, so they are rebuilt once, timed.
    """
    from django.core.management import call_command

    try:
        from layanan.dashboard.summaries import rebuild_summaries
    except ImportError as error:
        return {"skipped": f"layanan.dashboard.summaries is not importable: {error}"}
    # The summary tables hold only derived rows: a cached history may carry them
    # in an older shape, so they are dropped and made again from the migrations.
    drop_summary_tables()
    call_command("migrate", interactive=False, verbosity=0)
    started = time.perf_counter()
    rows = rebuild_summaries()
    return {"rows": rows, "seconds": time.perf_counter() - started}


def worker_main() -> None:
    parser = argparse.ArgumentParser(description="Time the dashboard aggregates.")
    parser.add_argument("command", choices=["measure"])
    parser.add_argument("--end", required=True, help="History end date, YYYY-MM-DD.")
    parser.add_argument("--repetitions", type=int, required=True)
    arguments = parser.parse_args()

    import django

    django.setup()
    result: dict[str, Any] = {"windows": {}, "summaries": prepare_summaries()}
    end = datetime.combine(
        date.fromisoformat(arguments.end), datetime.min.time(), tzinfo=_zone()
    ).astimezone(UTC)
    # A whole dashboard takes seconds on the larger histories, so it and the
    # export repeat fewer times than the plain SQL.
    slow_repetitions = max(arguments.repetitions // 4, 3)
    for days in WINDOWS:
        result["windows"][str(days)] = {
            "raw-sql": measure_raw(end, days, arguments.repetitions),
            "ours-metrics": measure_metrics(end, days, slow_repetitions),
        }
    result["export"] = measure_export(end, max(arguments.repetitions // 10, 1))
    print(json.dumps(result))


# The parent


def run_dashboard(context: DashboardContext, results_file: report.ResultsFile) -> None:
    """Time the aggregates on SQLite, then on PostgreSQL when it is installed."""
    tickets = QUICK_TICKETS if context.quick else FULL_TICKETS
    history = history_data.ensure_sqlite_history(tickets, context.log_path)
    measure_history(history, "sqlite", context, results_file)
    if context.postgres_tickets == 0:
        print("\nDashboard on PostgreSQL: skipped (--postgres-tickets 0).")
        return
    if history_data.postgres_bin() is None:
        print("\nDashboard on PostgreSQL: skipped, no PostgreSQL server installed.")
        return
    tickets = context.postgres_tickets
    with history_data.postgres_history(tickets, context.log_path) as history:
        measure_history(history, "postgresql", context, results_file)


def measure_history(
    history: history_data.HistoryDatabase,
    database: str,
    context: DashboardContext,
    results_file: report.ResultsFile,
) -> None:
    """Run the measuring worker on one history and print what it measured."""
    origin = "reused" if history.reused else "generated"
    print(
        f"\nDashboard on {database}: {history.tickets:,} tickets and "
        f"{history.chats:,} chats over {history_data.DAYS} days ending "
        f"{history.end}, {origin} "
        f"({history.path.relative_to(servers.REPOSITORY_DIR)}); generation took "
        f"{history.generation_seconds:.1f} s"
    )
    with tempfile.TemporaryDirectory(prefix="layanan-dashboard-") as var_dir:
        variables = history_data.environment(history.database_url, Path(var_dir))
        stdout, pinned = run_worker(
            [
                "measure",
                f"--end={history.end.isoformat()}",
                f"--repetitions={context.repetitions}",
            ],
            {**variables, "PYTHONPATH": str(servers.BENCH_DIR)},
            context.log_path,
        )
    result = json.loads(stdout)
    load_average = os.getloadavg()[0]
    print(
        f"  worker pinned to CPU {servers.SERVER_CPU}: {pinned}; "
        f"1-minute load average at its end {load_average:.2f}"
    )
    detail = {
        "tickets": history.tickets,
        "chats": history.chats,
        "generation_seconds": round(history.generation_seconds, 2),
        "database": database,
        "worker_pinned": pinned,
        "load_average_1min": round(load_average, 2),
    }
    summaries = result.get("summaries", {})
    if "skipped" in summaries:
        print(f"  summary rebuild skipped: {summaries['skipped']}")
    elif summaries:
        print(
            f"  summary rebuild: {summaries['rows']:,} rows in "
            f"{summaries['seconds']:.1f} s"
        )
    print_windows(result["windows"], results_file, detail)
    print_export(result["export"], results_file, detail)


def run_worker(
    arguments: list[str], variables: dict[str, str], log_path: Path
) -> tuple[bytes, bool]:
    """Run this file as a worker on the server CPU; return its output and pinning."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, str(servers.BENCH_DIR / "dashboard.py"), *arguments],
            cwd=servers.REPOSITORY_DIR,
            env=variables,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
        )
        pinned = servers.pin_server(process.pid)
        try:
            stdout, _stderr = process.communicate(timeout=WORKER_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=servers.STOP_TIMEOUT_SECONDS)
            raise
    if process.returncode != 0:
        raise RuntimeError(
            f"The dashboard worker failed with exit code {process.returncode}: "
            f"see {log_path}."
        )
    return stdout, pinned


def print_windows(
    windows: dict[str, Any], results_file: report.ResultsFile, detail: dict[str, Any]
) -> None:
    print(
        f"  {'window':<8} {'config':<14} {'figure':<24} {'p50 ms':>9} {'p95 ms':>9} "
        f"{'runs':>5}"
    )
    for days, configs in windows.items():
        for config, figures in configs.items():
            if "skipped" in figures:
                print(f"  {days + ' d':<8} {config:<14} skipped: {figures['skipped']}")
                continue
            for name, timing in figures.items():
                print(
                    f"  {days + ' d':<8} {config:<14} {name:<24} "
                    f"{timing['p50_ms']:>9.1f} {timing['p95_ms']:>9.1f} "
                    f"{timing['runs']:>5}"
                )
                for metric in ("p50_ms", "p95_ms"):
                    results_file.write(
                        path=f"{PATH}-{detail['database']}-{days}d-{name}",
                        config=config,
                        metric=metric,
                        value=timing[metric],
                        detail={**detail, "runs": timing["runs"]},
                    )
        raw_all = configs["raw-sql"]["all"]
        ours = configs["ours-metrics"].get("all")
        if ours is not None:
            ratio = report.ratio(ours["p95_ms"], raw_all["p95_ms"])
            print(f"  {days + ' d':<8} every tile, p95 ours / raw SQL: {ratio:.2f}")


def print_export(
    export: dict[str, Any], results_file: report.ResultsFile, detail: dict[str, Any]
) -> None:
    if "skipped" in export:
        print(f"  export: skipped: {export['skipped']}")
        return
    timing = export["csv"]
    print(
        f"  export CSV of {timing['rows']:,} rows ({timing['bytes']:,} B): "
        f"p50 {timing['p50_ms'] / 1000:.2f} s over {timing['runs']} run(s)"
    )
    results_file.write(
        path=f"{PATH}-{detail['database']}-export-csv",
        config="ours-export",
        metric="p50_ms",
        value=timing["p50_ms"],
        detail={**detail, "rows": timing["rows"], "bytes": timing["bytes"]},
    )


if __name__ == "__main__":
    worker_main()
