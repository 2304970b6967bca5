from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class Team(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    email = models.EmailField(_("notification address"), blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="teams",
        blank=True,
        verbose_name=_("members"),
    )
    # Requests that arrive without a service (mail to the general address, say) land
    # in the triage team's queue.
    is_triage = models.BooleanField(_("triage queue"), default=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name


class ServiceQuerySet(models.QuerySet["Service"]):
    def active(self) -> "ServiceQuerySet":
        return self.filter(active=True).order_by("order", "id")


class Service(models.Model):
    code = models.SlugField(_("code"), max_length=50, unique=True)
    name_id = models.CharField(_("name (Indonesian)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200)
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, related_name="services", verbose_name=_("team")
    )
    order = models.PositiveIntegerField(_("order"), default=0)
    active = models.BooleanField(_("active"), default=True)

    objects = ServiceQuerySet.as_manager()

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("service")
        verbose_name_plural = _("services")

    def __str__(self) -> str:
        return self.name_id

    def localized_name(self, language: str | None = None) -> str:
        language = language or get_language() or "id"
        return self.name_en if language.startswith("en") else self.name_id


class StudyProgramme(models.Model):
    name = models.CharField(_("name"), max_length=150, unique=True)
    order = models.PositiveIntegerField(_("order"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["order", "name"]
        verbose_name = _("study programme")
        verbose_name_plural = _("study programmes")

    def __str__(self) -> str:
        return self.name
