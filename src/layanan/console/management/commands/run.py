"""Run the whole product on one machine: migrate, demo data, server and worker."""

import logging
import subprocess
import sys
from typing import Any

import uvicorn
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from layanan.logfilters import redact_handlers

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Migrate, load demo data into an empty database, then run the ASGI server on "
        "LAYANAN_HOST:LAYANAN_PORT with one background worker; Ctrl-C stops both."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--no-demo", action="store_true", help="Do not load demo data."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        if not options["no_demo"] and not get_user_model().objects.exists():
            call_command("load-demo")
        self.print_banner(show_logins=not options["no_demo"])
        worker = subprocess.Popen([sys.executable, "-m", "layanan.cli", "worker"])
        logger.info("worker started pid=%d", worker.pid)
        try:
            config = uvicorn.Config(
                "layanan.asgi:application",
                host=settings.HOST,
                port=settings.PORT,
                lifespan="on",
                log_level="info",
                ws_per_message_deflate=False,
            )
            # uvicorn set up its loggers just now; its access log prints paths.
            redact_handlers("uvicorn", "uvicorn.access", "uvicorn.error")
            server = uvicorn.Server(config)
            server.run()
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
            logger.info("worker stopped pid=%d", worker.pid)

    def print_banner(self, show_logins: bool) -> None:
        from layanan.console.management.commands import load_demo_password

        base = settings.BASE_URL
        lines = [
            "",
            "Layanan is starting.",
            f"  Portal page with the widget: {base}/",
            f"  Standalone chat page:        {base}/chat/",
            f"  Agent console:               {base}/console/",
            f"  Admin:                       {base}/admin/",
            f"  Health check:                {base}/healthz",
        ]
        if show_logins:
            lines += [
                "",
                "Demo logins (agen1 Administrasi, agen2 Sarana & Kebersihan, agen3 TI,",
                "kajur head of department, admin Django admin), all with the password:",
                f"  {load_demo_password()}",
            ]
        if settings.SMTP is None:
            lines += [
                "",
                "LAYANAN_SMTP_URL is not set: mail stays in the outbox and shows in",
                f"the console's email log ({base}/console/email/).",
            ]
        self.stdout.write("\n".join(lines) + "\n")
