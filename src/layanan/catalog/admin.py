from typing import Any

from django.contrib import admin
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from layanan.catalog.models import (
    BusinessCalendar,
    BusinessHours,
    Holiday,
    Service,
    StudyProgramme,
    Team,
)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin[Team]):
    list_display = [
        "name",
        "email",
        "is_triage",
        "calendar",
        "routing",
        "chat_wait_limit_minutes",
    ]
    list_filter = ["routing"]
    filter_horizontal = ["members", "leads"]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin[Service]):
    list_display = [
        "order",
        "name_id",
        "name_en",
        "team",
        "active",
        "first_response_minutes",
        "update_minutes",
        "resolution_minutes",
    ]
    list_display_links = ["name_id"]
    list_filter = ["team", "active"]
    ordering = ["order"]


@admin.register(StudyProgramme)
class StudyProgrammeAdmin(admin.ModelAdmin[StudyProgramme]):
    list_display = ["name", "order", "active"]


class BusinessHoursInline(admin.TabularInline[BusinessHours, BusinessCalendar]):
    model = BusinessHours
    extra = 0
    # A calendar without hours never opens, and every due date on it would fail.
    min_num = 1

    def get_formset(
        self, request: HttpRequest, obj: BusinessCalendar | None = None, **kwargs: Any
    ) -> type[BaseInlineFormSet[BusinessHours, BusinessCalendar, Any]]:
        # Django 5.2's InlineModelAdmin passes min_num to the formset but not
        # validate_min, so without this a calendar could lose all its rows.
        kwargs.setdefault("validate_min", True)
        return super().get_formset(request, obj, **kwargs)


class HolidayInline(admin.TabularInline[Holiday, BusinessCalendar]):
    model = Holiday
    extra = 0


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin[BusinessCalendar]):
    list_display = ["name", "time_zone", "national_holidays", "is_default"]
    inlines = [BusinessHoursInline, HolidayInline]


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin[Holiday]):
    list_display = ["date", "name", "calendar"]
    list_filter = ["calendar"]
    date_hierarchy = "date"
    search_fields = ["name"]
