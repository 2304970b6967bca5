from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

# Service-level targets a new service starts with, in business minutes: about half
# a working day to the first reply, about one working day to reply to a requester's
# message, and about one working week to resolve.
DEFAULT_FIRST_RESPONSE_MINUTES = 240
DEFAULT_UPDATE_MINUTES = 480
DEFAULT_RESOLUTION_MINUTES = 2400


def default_time_zone() -> str:
    """Return the site's time zone, the one a new calendar starts with."""
    return settings.TIME_ZONE


def validate_time_zone(value: str) -> None:
    """Raise ValidationError unless value names a time zone in the IANA database."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValidationError(
            _(
                "The time zone “%(value)s” is not known: enter an IANA time zone "
                "name such as Asia/Jakarta."
            ),
            code="invalid_time_zone",
            params={"value": value},
        ) from error


class BusinessCalendar(models.Model):
    """Weekly business hours and holidays that service-level clocks run on."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        default=default_time_zone,
        validators=[validate_time_zone],
        help_text=_("IANA time zone name of the business hours, such as Asia/Jakarta."),
    )
    national_holidays = models.BooleanField(
        _("closed on national holidays"),
        default=True,
        help_text=_(
            "Closes on Indonesian national holidays. Holidays added in the admin "
            "close the calendar either way."
        ),
    )
    is_default = models.BooleanField(
        _("default"),
        default=False,
        help_text=_(
            "Used by every team that has no calendar of its own. Only one calendar "
            "can be the default."
        ),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="catalog_one_default_calendar",
                violation_error_message=_(
                    "Another calendar is already the default: clear “default” on "
                    "that calendar first."
                ),
            )
        ]

    def __str__(self) -> str:
        return self.name


class Weekday(models.IntegerChoices):
    """Days of the week, numbered as Python's date.weekday() numbers them."""

    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class BusinessHours(models.Model):
    """One interval of a calendar's week when the service-level clock runs."""

    calendar = models.ForeignKey(
        BusinessCalendar,
        on_delete=models.CASCADE,
        related_name="hours",
        verbose_name=_("calendar"),
    )
    weekday = models.PositiveSmallIntegerField(_("day"), choices=Weekday.choices)
    start = models.TimeField(_("opens"))
    end = models.TimeField(
        _("closes"), help_text=_("00:00 means midnight at the end of the day.")
    )

    class Meta:
        ordering = ["calendar", "weekday", "start"]
        verbose_name = _("business hours")
        verbose_name_plural = _("business hours")

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}-{self.end:%H:%M}"

    def clean(self) -> None:
        if self.start is None or self.end is None:
            return
        if self.end <= self.start and self.end != time(0):
            raise ValidationError(
                {
                    "end": _(
                        "The closing time must be after the opening time: enter a "
                        "later time, or 00:00 for midnight."
                    )
                },
                code="end_before_start",
            )


class Holiday(models.Model):
    """A day with no business hours, added on top of the national holidays."""

    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=150)
    calendar = models.ForeignKey(
        BusinessCalendar,
        on_delete=models.CASCADE,
        related_name="holidays",
        null=True,
        blank=True,
        verbose_name=_("calendar"),
        help_text=_("Leave empty to close every calendar on this day."),
    )

    class Meta:
        ordering = ["-date"]
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")
        constraints = [
            models.UniqueConstraint(
                fields=["date", "calendar"],
                condition=models.Q(calendar__isnull=False),
                name="catalog_holiday_once_per_calendar",
                violation_error_message=_(
                    "This calendar already has a holiday on that date: edit that "
                    "holiday instead."
                ),
            ),
            models.UniqueConstraint(
                fields=["date"],
                condition=models.Q(calendar__isnull=True),
                name="catalog_holiday_once_for_all",
                violation_error_message=_(
                    "A holiday for every calendar already exists on that date: edit "
                    "that holiday instead."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}"


class RoutingMode(models.TextChoices):
    SHARED = "shared", _("Shared queue: any online agent accepts")
    ROUND_ROBIN = "round_robin", _("Round-robin among agents below their capacity")


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
    calendar = models.ForeignKey(
        BusinessCalendar,
        on_delete=models.SET_NULL,
        related_name="teams",
        null=True,
        blank=True,
        verbose_name=_("business calendar"),
        help_text=_("Leave empty to use the default calendar."),
    )
    # Team leads assign the team's work and change its settings.
    leads = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="led_teams",
        blank=True,
        verbose_name=_("team leads"),
    )
    routing = models.CharField(
        _("chat routing"),
        max_length=16,
        choices=RoutingMode.choices,
        default=RoutingMode.SHARED,
    )
    chat_wait_limit_minutes = models.PositiveIntegerField(
        _("chat wait limit (minutes)"),
        default=5,
        validators=[MinValueValidator(1)],
        help_text=_(
            "A chat that no agent accepts within this time becomes a missed chat "
            "and the requester is offered a ticket."
        ),
    )

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
    first_response_minutes = models.PositiveIntegerField(
        _("first-response target"),
        null=True,
        blank=True,
        default=DEFAULT_FIRST_RESPONSE_MINUTES,
        help_text=_(
            "Business minutes from a new request to the first agent reply. Leave "
            "empty for no target."
        ),
    )
    update_minutes = models.PositiveIntegerField(
        _("update target"),
        null=True,
        blank=True,
        default=DEFAULT_UPDATE_MINUTES,
        help_text=_(
            "Business minutes from a requester's message to the next agent reply. "
            "Leave empty for no target."
        ),
    )
    resolution_minutes = models.PositiveIntegerField(
        _("resolution target"),
        null=True,
        blank=True,
        default=DEFAULT_RESOLUTION_MINUTES,
        help_text=_(
            "Business minutes from a new request to its resolution. Leave empty "
            "for no target."
        ),
    )

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
