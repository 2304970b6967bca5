"""Build, or reuse, the history databases the dashboard benchmark reads.

Each history is made once by ``layanan migrate`` and ``layanan demo-data`` in a
subprocess, with a JSON file beside it in ``var/bench/`` that records the options
and how long generation took. A later run reuses both.

- SQLite: ``var/bench/history-<tickets>.sqlite3``, built under a temporary name
  and renamed when complete, so an interrupted build leaves no half-filled cache.
- PostgreSQL, when its server binaries are installed: a throwaway server on
  127.0.0.1 and a unix socket in a temporary directory, started here and
  stopped by its PID. demo-data loads the rows with COPY, and the database is
  kept as ``var/bench/history-pg-<tickets>.pgdump`` (pg_dump's custom format), which
  later runs restore instead of generating again.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import servers

CACHE_DIR = servers.REPOSITORY_DIR / "var" / "bench"
SEED = 1
# Two years, so that a one-year window and the year before it both contain data.
DAYS = 730
GENERATION_TIMEOUT_SECONDS = 3600.0
POSTGRES_ROOT = Path("/usr/lib/postgresql")
POSTGRES_USER = "bench"
POSTGRES_DATABASE = "history"
POSTGRES_START_TIMEOUT_SECONDS = 60.0
POSTGRES_STOP_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class HistoryDatabase:
    """A generated history: where it is, what it holds, what it cost to make."""

    path: Path
    database_url: str
    tickets: int
    chats: int
    end: date
    generation_seconds: float
    reused: bool


def chats_for(tickets: int) -> int:
    return tickets // 2


def environment(database_url: str, var_dir: Path) -> dict[str, str]:
    """Return the environment of a Layanan process on the history database."""
    variables = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("LAYANAN_") and name != "DJANGO_SETTINGS_MODULE"
    }
    variables.update(
        DJANGO_SETTINGS_MODULE="layanan.settings",
        LAYANAN_VAR_DIR=str(var_dir),
        LAYANAN_DATABASE_URL=database_url,
        LAYANAN_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return variables


def ensure_sqlite_history(tickets: int, log_path: Path) -> HistoryDatabase:
    """Return the cached database of ``tickets`` tickets, generating it if missing."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    path = CACHE_DIR / f"history-{tickets}.sqlite3"
    url = f"sqlite:///{path}"
    cached = read_metadata(path, url)
    if cached is not None:
        return cached
    building = path.with_name(path.name + ".building")
    for stale in CACHE_DIR.glob(building.name + "*"):
        stale.unlink()
    with tempfile.TemporaryDirectory(prefix="layanan-history-") as var_dir:
        variables = environment(f"sqlite:///{building}", Path(var_dir))
        history = generate(path, url, tickets, variables, log_path)
    # The WAL must be folded into the main file before the file is renamed.
    checkpoint(building)
    building.rename(path)
    write_metadata(history)
    return history


def read_metadata(path: Path, url: str) -> HistoryDatabase | None:
    """Return the cached history at path, or None when it is not complete."""
    metadata_path = path.with_suffix(".json")
    if not (path.exists() and metadata_path.exists()):
        return None
    metadata = json.loads(metadata_path.read_text())
    return HistoryDatabase(
        path=path,
        database_url=url,
        tickets=metadata["tickets"],
        chats=metadata["chats"],
        end=date.fromisoformat(metadata["end"]),
        generation_seconds=metadata["generation_seconds"],
        reused=True,
    )


def write_metadata(history: HistoryDatabase) -> None:
    history.path.with_suffix(".json").write_text(
        json.dumps(
            {
                "tickets": history.tickets,
                "chats": history.chats,
                "seed": SEED,
                "days": DAYS,
                "end": history.end.isoformat(),
                "generation_seconds": round(history.generation_seconds, 2),
            }
        )
    )


def generate(
    path: Path,
    url: str,
    tickets: int,
    variables: dict[str, str],
    log_path: Path,
) -> HistoryDatabase:
    """Migrate the database that variables name, then run demo-data on it, timed."""
    end = date.today()
    chats = chats_for(tickets)
    run_layanan(["migrate", "--verbosity", "0"], variables, log_path)
    started = time.monotonic()
    run_layanan(
        [
            "demo-data",
            f"--tickets={tickets}",
            f"--chats={chats}",
            f"--seed={SEED}",
            f"--days={DAYS}",
            f"--end={end.isoformat()}",
        ],
        variables,
        log_path,
    )
    seconds = time.monotonic() - started
    return HistoryDatabase(path, url, tickets, chats, end, seconds, reused=False)


def postgres_bin() -> Path | None:
    """Return the newest installed PostgreSQL server's bin directory, if any."""
    if not POSTGRES_ROOT.is_dir():
        return None
    versions = sorted(
        (entry for entry in POSTGRES_ROOT.iterdir() if (entry / "bin/initdb").exists()),
        key=lambda entry: int(entry.name) if entry.name.isdigit() else 0,
    )
    return versions[-1] / "bin" if versions else None


@contextmanager
def postgres_history(tickets: int, log_path: Path) -> Iterator[HistoryDatabase]:
    """Start a throwaway PostgreSQL, load the history into it, stop it on exit.

    Restores the cached dump when there is one; otherwise generates the history
    and dumps it. Raises FileNotFoundError when no PostgreSQL is installed.
    """
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise FileNotFoundError(f"No PostgreSQL server under {POSTGRES_ROOT}.")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    dump_path = CACHE_DIR / f"history-pg-{tickets}.pgdump"
    # SIGTERM (from timeout, say) must still stop the server below.
    previous_handler = signal.signal(signal.SIGTERM, _exit_on_signal)
    with tempfile.TemporaryDirectory(prefix="layanan-pg-") as work:
        work_dir = Path(work)
        port = servers.free_port()
        try:
            start_postgres(bin_dir, work_dir, port, log_path)
            url = (
                f"postgres://{POSTGRES_USER}@{servers.HOST}:{port}/{POSTGRES_DATABASE}"
            )
            run_client(bin_dir, "createdb", port, [POSTGRES_DATABASE], log_path)
            history = read_metadata(dump_path, url)
            if history is None:
                variables = environment(url, work_dir / "var")
                history = generate(dump_path, url, tickets, variables, log_path)
                run_client(bin_dir, "psql", port, [POSTGRES_DATABASE, "-c", "ANALYZE"],
                           log_path)  # fmt: skip
                run_client(
                    bin_dir, "pg_dump", port,
                    ["-Fc", "-f", str(dump_path) + ".building", POSTGRES_DATABASE],
                    log_path,
                )  # fmt: skip
                Path(str(dump_path) + ".building").rename(dump_path)
                write_metadata(history)
            else:
                run_client(
                    bin_dir, "pg_restore", port,
                    ["-j", "2", "--no-owner", "-d", POSTGRES_DATABASE, str(dump_path)],
                    log_path,
                )  # fmt: skip
                run_client(bin_dir, "psql", port, [POSTGRES_DATABASE, "-c", "ANALYZE"],
                           log_path)  # fmt: skip
            yield history
        finally:
            stop_postgres(work_dir / "data", log_path)
            signal.signal(signal.SIGTERM, previous_handler)


def _exit_on_signal(signal_number: int, frame: object) -> None:
    raise SystemExit(f"Stopped by signal {signal_number}.")


def as_postgres_user(command: list[str]) -> list[str]:
    """Prefix command with runuser when running as root: initdb refuses root."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def start_postgres(bin_dir: Path, work_dir: Path, port: int, log_path: Path) -> None:
    data_dir = work_dir / "data"
    if os.geteuid() == 0:
        shutil.chown(work_dir, "postgres", "postgres")
    with log_path.open("ab") as log:
        subprocess.run(
            as_postgres_user(
                [
                    str(bin_dir / "initdb"), "-D", str(data_dir),
                    f"--username={POSTGRES_USER}", "--auth=trust",
                    "--encoding=UTF8", "--locale=C.UTF-8",
                ]
            ),
            check=True, timeout=POSTGRES_START_TIMEOUT_SECONDS,
            stdout=log, stderr=log,
        )  # fmt: skip
        # Durability is off: the database is rebuilt from the dump if lost.
        options = (
            f"-c listen_addresses={servers.HOST} -p {port} "
            f"-c unix_socket_directories={work_dir} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        subprocess.run(
            as_postgres_user(
                [
                    str(bin_dir / "pg_ctl"), "-D", str(data_dir),
                    "-l", str(work_dir / "server.log"), "-w", "-o", options, "start",
                ]
            ),
            check=True, timeout=POSTGRES_START_TIMEOUT_SECONDS,
            stdout=log, stderr=log,
        )  # fmt: skip


def stop_postgres(data_dir: Path, log_path: Path) -> None:
    """Stop the server by the PID in its postmaster.pid (a fast shutdown)."""
    pid_file = data_dir / "postmaster.pid"
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text().splitlines()[0])
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + POSTGRES_STOP_TIMEOUT_SECONDS
    while pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_file.exists():
        with log_path.open("a") as log:
            log.write(f"PostgreSQL {pid} did not stop in time; killing it\n")
        os.kill(pid, signal.SIGKILL)


def run_client(
    bin_dir: Path, program: str, port: int, arguments: list[str], log_path: Path
) -> None:
    with log_path.open("ab") as log:
        subprocess.run(
            [
                str(bin_dir / program), "-h", servers.HOST, "-p", str(port),
                "-U", POSTGRES_USER, *arguments,
            ],
            check=True, timeout=GENERATION_TIMEOUT_SECONDS,
            stdout=log, stderr=log,
        )  # fmt: skip


def run_layanan(
    arguments: list[str], variables: dict[str, str], log_path: Path
) -> None:
    with log_path.open("ab") as log:
        subprocess.run(
            [sys.executable, "-m", "layanan.cli", *arguments],
            env=variables,
            cwd=servers.REPOSITORY_DIR,
            check=True,
            timeout=GENERATION_TIMEOUT_SECONDS,
            stdout=log,
            stderr=log,
        )


def checkpoint(path: Path) -> None:
    import sqlite3

    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("PRAGMA journal_mode=DELETE")
    finally:
        connection.close()
