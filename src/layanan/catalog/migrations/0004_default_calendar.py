"""Create the default business calendar with the department's office hours.

Monday to Thursday run 07:30 to 16:00 and Friday 07:30 to 16:30, in the site's time
zone. Teams without a calendar of their own use this one.
"""

from datetime import time

from django.conf import settings
from django.db import migrations

DEFAULT_CALENDAR_NAME = "Jam kerja jurusan"

# (weekday with Monday as 0, opens, closes)
DEFAULT_HOURS = [
    (0, time(7, 30), time(16, 0)),
    (1, time(7, 30), time(16, 0)),
    (2, time(7, 30), time(16, 0)),
    (3, time(7, 30), time(16, 0)),
    (4, time(7, 30), time(16, 30)),
]


def create(apps, schema_editor):
    BusinessCalendar = apps.get_model("catalog", "BusinessCalendar")
    BusinessHours = apps.get_model("catalog", "BusinessHours")
    if BusinessCalendar.objects.filter(is_default=True).exists():
        return
    calendar = BusinessCalendar.objects.create(
        name=DEFAULT_CALENDAR_NAME,
        time_zone=settings.TIME_ZONE,
        national_holidays=True,
        is_default=True,
    )
    BusinessHours.objects.bulk_create(
        BusinessHours(calendar=calendar, weekday=weekday, start=start, end=end)
        for weekday, start, end in DEFAULT_HOURS
    )


def remove(apps, schema_editor):
    apps.get_model("catalog", "BusinessCalendar").objects.filter(
        name=DEFAULT_CALENDAR_NAME, is_default=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("catalog", "0003_calendars_and_sla_targets")]
    operations = [migrations.RunPython(create, remove)]
