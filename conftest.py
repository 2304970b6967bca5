"""Repository-wide pytest hooks."""

import os
from collections.abc import Generator
from typing import Any

import pytest


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
