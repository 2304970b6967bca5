"""Run a command against a throwaway PostgreSQL and Redis started for it.

    python tests/backing_services.py [--timeout SECONDS] -- COMMAND...

Both servers listen on 127.0.0.1 only, on ports the system picks free, and keep
their files under ``$LAYANAN_VAR_DIR/services`` (``var/test/services`` by
default). The command runs with ``LAYANAN_DATABASE_URL`` and ``LAYANAN_REDIS_URL``
pointing at them; afterwards each server is stopped by the PID started here, and
its files are removed. The exit status is the command's.

Without PostgreSQL or Redis installed this prints why and exits with status 0,
so that a developer's machine without them can still run ``make test``. Under
``LAYANAN_TEST_NO_SKIP=1`` (set by ``.ci/run``) a missing server is an error.
"""

import argparse
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 15.0
DEFAULT_COMMAND_TIMEOUT_SECONDS = 1800.0
DATABASE_USER = "layanan"
DATABASE_NAME = "layanan"
# A test database is thrown away: durability settings only slow it down.
POSTGRES_SPEED_SETTINGS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
    "-c max_connections=100"
)


class MissingServer(Exception):
    """A server program is not installed here."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def postgres_program(name: str) -> str:
    """Return the path of a PostgreSQL server program such as initdb."""
    installed = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if installed:
        return installed[0]
    found = shutil.which(name)
    if found is None:
        raise MissingServer(
            f"PostgreSQL's {name} is not installed: install the postgresql package."
        )
    return found


def as_postgres_user(command: list[str]) -> list[str]:
    """Prefix ``command`` so that it runs as ``postgres`` when we are root.

    initdb and the server refuse to run as root.
    """
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def wait_for_port(port: int, process: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with status {process.returncode}.")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{name} did not listen on port {port} in time.")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop one server we started, by its PID: terminate, then kill if it hangs."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_SECONDS)


@contextmanager
def postgres(work_dir: Path) -> Iterator[str]:
    """Start a throwaway PostgreSQL cluster and yield its database URL."""
    initdb = postgres_program("initdb")
    server = postgres_program("postgres")
    data_dir = work_dir / "pg"
    data_dir.mkdir()
    if os.geteuid() == 0:
        shutil.chown(work_dir, "postgres", "postgres")
        shutil.chown(data_dir, "postgres", "postgres")
    subprocess.run(
        as_postgres_user(
            [
                initdb,
                "-D",
                str(data_dir),
                f"--username={DATABASE_USER}",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=120,
    )
    port = free_port()
    log = (work_dir / "postgres.log").open("wb")
    process = subprocess.Popen(
        as_postgres_user(
            [
                server,
                "-D",
                str(data_dir),
                "-c",
                f"listen_addresses={HOST}",
                "-p",
                str(port),
                "-c",
                f"unix_socket_directories={work_dir}",
                *POSTGRES_SPEED_SETTINGS.split(),
            ]
        ),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, process, "PostgreSQL")
        # The server owns the runuser child; its PID is the one we stop.
        yield f"postgres://{DATABASE_USER}@{HOST}:{port}/{DATABASE_NAME}"
    finally:
        stop(process)
        log.close()


@contextmanager
def redis(work_dir: Path) -> Iterator[str]:
    """Start a throwaway Redis without persistence and yield its URL."""
    program = shutil.which("redis-server")
    if program is None:
        raise MissingServer("redis-server is not installed: install redis-server.")
    port = free_port()
    log = (work_dir / "redis.log").open("wb")
    process = subprocess.Popen(
        [
            program,
            "--bind",
            HOST,
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(work_dir),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, process, "Redis")
        yield f"redis://{HOST}:{port}/0"
    finally:
        stop(process)
        log.close()


def run_command(command: list[str], timeout: float, environment: dict[str, str]) -> int:
    child = subprocess.Popen(command, env=environment)
    try:
        return child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        print(
            f"backing_services: the command ran past {timeout:.0f} s and was stopped.",
            file=sys.stderr,
        )
        stop(child)
        return 1
    except KeyboardInterrupt:
        stop(child)
        raise


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_COMMAND_TIMEOUT_SECONDS
    )
    parser.add_argument("command", nargs=argparse.REMAINDER)
    arguments = parser.parse_args()
    command = [part for part in arguments.command if part != "--"]
    if not command:
        parser.error("give the command to run after --")
    var_dir = Path(os.environ.get("LAYANAN_VAR_DIR", "var/test")).resolve()
    services_dir = var_dir / "services"
    services_dir.mkdir(parents=True, exist_ok=True)
    # SIGTERM should unwind like Ctrl-C, so that the servers are stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    work_dir = Path(tempfile.mkdtemp(prefix="run-", dir=services_dir))
    try:
        with postgres(work_dir) as database_url, redis(work_dir) as redis_url:
            environment = {
                **os.environ,
                "LAYANAN_DATABASE_URL": database_url,
                "LAYANAN_REDIS_URL": redis_url,
            }
            print(f"backing_services: PostgreSQL {database_url}, Redis {redis_url}")
            return run_command(command, arguments.timeout, environment)
    except MissingServer as missing:
        if os.environ.get("LAYANAN_TEST_NO_SKIP") == "1":
            print(f"backing_services: {missing}", file=sys.stderr)
            return 1
        print(f"backing_services: skipped, {missing}")
        return 0
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
