from django.contrib import admin

from layanan.catalog.models import Service, StudyProgramme, Team


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin[Team]):
    list_display = ["name", "email", "is_triage"]
    filter_horizontal = ["members"]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin[Service]):
    list_display = ["order", "name_id", "name_en", "team", "active"]
    list_display_links = ["name_id"]
    list_filter = ["team", "active"]
    ordering = ["order"]


@admin.register(StudyProgramme)
class StudyProgrammeAdmin(admin.ModelAdmin[StudyProgramme]):
    list_display = ["name", "order", "active"]
