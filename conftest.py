"""Repository-wide pytest hooks."""

import os
from collections.abc import Generator
from typing import Any

import pytest

# Set by tests/backing_services.py for the pass on PostgreSQL and Redis.
ON_POSTGRES = os.environ.get("LAYANAN_DATABASE_URL", "").startswith("postgres")


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Leave ``postgres`` tests out of the SQLite pass, without calling it a skip.

    They run in the second pass (``make services``), where the database is
    PostgreSQL; every other test runs in both passes.
    """
    if ON_POSTGRES:
        return
    selected = [item for item in items if item.get_closest_marker("postgres") is None]
    deselected = [item for item in items if item.get_closest_marker("postgres")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Generator[None]:
    """Turn a skip into a failure when LAYANAN_TEST_NO_SKIP=1 (set by .ci/run).

    Tests skip when a service they need (Chromium, say) is missing. CI installs
    every service, so a skip there means the set-up is broken.
    """
    outcome = yield
    report = outcome.get_result()
    in_ci = os.environ.get("LAYANAN_TEST_NO_SKIP") == "1"
    if in_ci and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where nothing may skip: {report.longrepr}"
