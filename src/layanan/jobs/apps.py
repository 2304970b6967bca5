from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "layanan.jobs"
    label = "jobs"
    verbose_name = "Background jobs"
