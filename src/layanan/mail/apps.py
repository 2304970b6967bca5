from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailConfig(AppConfig):
    name = "layanan.mail"
    label = "mail"
    verbose_name = _("Email")

    def ready(self) -> None:
        # Importing the module registers its periodic jobs with the worker.
        from layanan.mail import jobs  # noqa: F401
