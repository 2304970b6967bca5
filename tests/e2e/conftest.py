"""Browser tests: the product on a real ASGI server, driven in Debian's Chromium.

These run in their own pytest process (``pytest -m e2e``) because Playwright's sync
API leaves an asyncio loop running in the main thread, which breaks async tests
that come after it in the same process.
"""

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from pytest_django.fixtures import Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Blocks third-party cookies as current Chromium does by default for users.
    "--test-third-party-cookie-phaseout",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def live_server_url(transactional_db: None, settings: Settings) -> Iterator[str]:
    """Serve the ASGI application on 127.0.0.1 in a thread, HTTP and sockets."""
    from layanan.asgi import application

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    settings.BASE_URL = base
    settings.BASE_ORIGIN = base
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    settings.CSRF_TRUSTED_ORIGINS = [base, f"http://localhost:{port}"]
    server = uvicorn.Server(
        uvicorn.Config(application, lifespan="off", log_level="warning")
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test ASGI server did not start within 10 s")
        time.sleep(0.02)
    yield base
    server.should_exit = True
    thread.join(10)
    listener.close()


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Start Debian's Chromium through Playwright, one per test."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    # Playwright's loop runs in this thread while the test also uses the ORM.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()
