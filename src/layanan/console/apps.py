from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsoleConfig(AppConfig):
    name = "layanan.console"
    label = "console"
    verbose_name = _("Agent console")

    def ready(self) -> None:
        # Importing the module registers its periodic jobs with the worker.
        from layanan.console import jobs  # noqa: F401
