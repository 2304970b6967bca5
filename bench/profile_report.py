"""Summaries of a server profile written by ``profile_server.py``.

The profile contains CPU time per function (``time.thread_time``), summed over the
server's threads. Profiling slows Python calls unevenly, so the shares are a guide
to where the time goes, not a measurement of it.
"""

import pstats
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

TOP_FUNCTIONS = 25
SITE_PACKAGES = "/site-packages/"
STANDARD_LIBRARY = re.compile(r"/lib/python3\.\d+/([^/]+)")
FunctionKey = tuple[str, int, str]


C_LIBRARIES = ("sqlite3", "SQLiteCursorWrapper", "json", "uvloop", "_thread")


def bucket(key: FunctionKey) -> str:
    """Name the package or module a profiled function belongs to."""
    filename, _line, name = key
    if filename == "~":
        for marker in C_LIBRARIES:
            if marker in name:
                return "sqlite3 (C)" if "sqlite" in marker.lower() else f"{marker} (C)"
        return "built-ins"
    if filename.startswith("<frozen"):
        return "imports (start-up)"
    if SITE_PACKAGES in filename:
        parts = filename.split(SITE_PACKAGES, 1)[1].split("/")
        if parts[0] == "django" and len(parts) > 2:
            return f"django.{parts[1]}"
        return parts[0].removesuffix(".py")
    if "/src/layanan/" in filename:
        return "layanan"
    match = STANDARD_LIBRARY.search(filename)
    if match:
        return f"stdlib {match.group(1).removesuffix('.py')}"
    return "other"


def package_shares(rows: dict[FunctionKey, Any]) -> dict[str, float]:
    """Sum own CPU time per package; generic built-ins count for their caller.

    ``getattr`` or ``dict.get`` called from Django's ORM is ORM work, so a
    built-in's time goes to the packages of its callers, in proportion to the
    time spent under each. Built-ins of a C library (sqlite3, json) keep their own
    bucket.
    """
    shares: dict[str, float] = defaultdict(float)
    for key, (_calls, _primitive, own, _cumulative, callers) in rows.items():
        name = bucket(key)
        if name != "built-ins" or not callers:
            shares[name] += own
            continue
        for caller, (
            _caller_calls,
            _caller_primitive,
            caller_own,
            _total,
        ) in callers.items():
            shares[bucket(caller)] += caller_own
    return shares


def print_profile(path: Path, messages: int) -> None:
    """Print the CPU time per package and the top functions by own CPU time."""
    stats = pstats.Stats(str(path))
    # pstats keeps per-function rows in .stats: (calls, primitive calls, own time,
    # cumulative time, callers); the stubs do not declare the attribute.
    rows: dict[FunctionKey, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(row[2] for row in rows.values()) or 1.0
    print(f"\nServer profile ({path.name}): {total:.2f} s CPU in Python-visible calls")
    print(f"  Own CPU per package or module ({messages:,} messages):")
    shares = package_shares(rows)
    for name, seconds in sorted(shares.items(), key=lambda item: -item[1])[:16]:
        share, per_message = seconds / total, seconds / messages * 1e6
        print(f"    {name:<28} {share:6.1%}  {per_message:7.1f} µs/msg")
    statements = sum(
        row[0]
        for (filename, _line, name), row in rows.items()
        if filename.endswith("django/db/backends/utils.py") and name == "_execute"
    )
    per_message = statements / messages
    print(f"  SQL statements through Django's cursor per message: {per_message:.2f}")
    print(f"  Top {TOP_FUNCTIONS} functions by own CPU time:")
    print(f"    {'own %':>6} {'µs/msg':>7} {'calls/msg':>9}  function")
    ordered = sorted(rows.items(), key=lambda item: -item[1][2])[:TOP_FUNCTIONS]
    for (filename, line, name), row in ordered:
        calls, own = row[0], row[2]
        where = name if filename == "~" else f"{short_path(filename)}:{line} {name}"
        print(
            f"    {own / total:6.1%} {own / messages * 1e6:7.1f} "
            f"{calls / messages:9.2f}  {where}"
        )


def short_path(filename: str) -> str:
    if SITE_PACKAGES in filename:
        return filename.split(SITE_PACKAGES, 1)[1]
    if "/src/" in filename:
        return filename.split("/src/", 1)[1]
    match = STANDARD_LIBRARY.search(filename)
    return filename[match.start(1) :] if match else filename
