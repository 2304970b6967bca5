"""Run uvicorn with cProfile in every thread; write one merged profile at exit.

Usage: ``python bench/profile_server.py OUTPUT.prof <uvicorn arguments>``.

``python -m cProfile`` profiles the main thread only, but Layanan's database work
runs in the ``sync_to_async`` worker thread. Each profiler here times with
``time.thread_time``, so the profile shows CPU time, and threads waiting on a
lock or the event loop waiting on epoll add nothing.
"""

import cProfile
import pstats
import signal
import sys
import threading
import time
from typing import Any


class Snapshot:
    """Stats already taken, in the shape ``pstats.Stats.add`` accepts."""

    def __init__(self, stats: dict[Any, Any]) -> None:
        self.stats = stats

    def create_stats(self) -> None:
        """Keep the stats as they are. ``pstats`` calls this before reading them."""


def profile_threads(profiles: list[cProfile.Profile]) -> None:
    """Make every thread started from now on run under its own profiler."""
    original_run = threading.Thread.run

    def profiled_run(self: threading.Thread) -> None:
        profile = cProfile.Profile(time.thread_time)
        profiles.append(profile)
        profile.enable()
        try:
            original_run(self)
        finally:
            profile.disable()

    threading.Thread.run = profiled_run  # type: ignore[method-assign]


def write_profile(
    main_profile: cProfile.Profile, profiles: list[cProfile.Profile], output: str
) -> None:
    """Merge the profiles and write them to ``output``.

    Worker threads may still be alive and idle at exit. ``snapshot_stats`` reads
    their profiler without disabling it, because ``disable`` would act on the
    calling thread instead of theirs.
    """
    main_profile.create_stats()
    merged = pstats.Stats(main_profile)
    for profile in list(profiles):
        profile.snapshot_stats()
        merged.add(Snapshot(profile.stats))  # type: ignore[arg-type]
    merged.dump_stats(output)


def main() -> None:
    output = sys.argv[1]
    sys.argv = ["uvicorn", *sys.argv[2:]]
    profiles: list[cProfile.Profile] = []
    profile_threads(profiles)

    import uvicorn.main

    # After a SIGTERM, uvicorn restores the previous handler and raises the signal
    # again. This handler turns that into SystemExit, so the profile gets written.
    signal.signal(signal.SIGTERM, lambda _number, _frame: sys.exit(0))
    main_profile = cProfile.Profile(time.thread_time)
    main_profile.enable()
    try:
        uvicorn.main.main()
    except SystemExit:
        pass
    finally:
        main_profile.disable()
        write_profile(main_profile, profiles, output)


if __name__ == "__main__":
    main()
