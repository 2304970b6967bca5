from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardConfig(AppConfig):
    name = "layanan.dashboard"
    label = "dashboard"
    verbose_name = _("Dashboard")

    def ready(self) -> None:
        # Importing the module registers its periodic jobs with the worker.
        from layanan.dashboard import jobs  # noqa: F401
