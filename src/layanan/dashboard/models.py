"""Summary rows that the dashboard reads instead of every ticket and chat.

Each row counts the events of one local day (settings.TIME_ZONE), or of one
local month, for one combination of service, team, agent and requester kind.
An event counts on the day it happened: a ticket on the day it was opened, its
first response on the day that was sent, its resolution on the day it was
resolved. Only today's and yesterday's rows change as work goes on, so
``layanan.dashboard.summaries.refresh_recent_days`` recomputes just those days
and their months.
"""

from django.db import models


class Span(models.TextChoices):
    """The stretch of time a summary row covers, starting on its ``day``."""

    DAY = "day", "day"
    MONTH = "month", "month"


class DailySummary(models.Model):
    """Event counts of one local day or month and one combination of dimensions.

    A month row (span MONTH, day the first of the month) is the sum of that
    month's day rows. Tickets count their current assignee as the agent.
    """

    span = models.CharField(max_length=5, choices=Span.choices, default=Span.DAY)
    day = models.DateField()
    service_id = models.IntegerField()
    team_id = models.IntegerField()
    agent_id = models.IntegerField(null=True)
    requester_kind = models.CharField(max_length=16)

    tickets_opened = models.IntegerField(default=0)
    tickets_from_chat = models.IntegerField(default=0)
    tickets_from_email = models.IntegerField(default=0)
    tickets_from_offline = models.IntegerField(default=0)
    tickets_from_agent = models.IntegerField(default=0)
    tickets_resolved = models.IntegerField(default=0)
    tickets_resolved_reopened = models.IntegerField(default=0)
    first_response_measured = models.IntegerField(default=0)
    first_response_met = models.IntegerField(default=0)
    resolution_measured = models.IntegerField(default=0)
    resolution_met = models.IntegerField(default=0)
    chats_started = models.IntegerField(default=0)
    chats_accepted = models.IntegerField(default=0)
    chats_missed = models.IntegerField(default=0)
    chats_answered_ended = models.IntegerField(default=0)
    rating_1 = models.IntegerField(default=0)
    rating_2 = models.IntegerField(default=0)
    rating_3 = models.IntegerField(default=0)
    rating_4 = models.IntegerField(default=0)
    rating_5 = models.IntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["span", "day", "team_id"])]

    def __str__(self) -> str:
        return f"{self.span} {self.day} service {self.service_id}"


class ProgrammeVolume(models.Model):
    """Chats and tickets opened per study programme, by day or month."""

    span = models.CharField(max_length=5, choices=Span.choices, default=Span.DAY)
    day = models.DateField()
    service_id = models.IntegerField()
    team_id = models.IntegerField()
    agent_id = models.IntegerField(null=True)
    requester_kind = models.CharField(max_length=16)
    study_programme_id = models.IntegerField(null=True)
    chats_started = models.IntegerField(default=0)
    tickets_opened = models.IntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["span", "day", "team_id"])]

    def __str__(self) -> str:
        return f"{self.span} {self.day} programme {self.study_programme_id}"


class DurationMetric(models.TextChoices):
    """The durations whose percentiles the tiles show, and their unit."""

    CHAT_WAIT = "chat_wait", "chat wait (s)"
    CHAT_FIRST_RESPONSE = "chat_first", "chat first reply (s)"
    CHAT_DURATION = "chat_duration", "chat duration (s)"
    FIRST_RESPONSE_BUSINESS = "fr_business", "ticket first response (business min)"
    FIRST_RESPONSE_CALENDAR = "fr_calendar", "ticket first response (min)"
    RESOLUTION_BUSINESS = "res_business", "ticket resolution (business min)"
    RESOLUTION_CALENDAR = "res_calendar", "ticket resolution (min)"


class DailyDuration(models.Model):
    """How many durations of one metric fell in one bucket, per day and dimensions.

    ``bucket`` is the duration rounded to three significant digits (see
    ``summaries.duration_bucket``), in seconds for chats and minutes for tickets.
    There are no month rows: at three digits they would be nearly as many.
    """

    day = models.DateField()
    service_id = models.IntegerField()
    team_id = models.IntegerField()
    agent_id = models.IntegerField(null=True)
    requester_kind = models.CharField(max_length=16)
    metric = models.CharField(max_length=16, choices=DurationMetric.choices)
    bucket = models.FloatField()
    count = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["day", "team_id"])]

    def __str__(self) -> str:
        return f"{self.day} {self.metric} {self.bucket}: {self.count}"


class HourlyVolume(models.Model):
    """Chats plus tickets opened in one local hour, for the weekday-by-hour heatmap."""

    day = models.DateField()
    hour = models.PositiveSmallIntegerField()
    service_id = models.IntegerField()
    team_id = models.IntegerField()
    agent_id = models.IntegerField(null=True)
    requester_kind = models.CharField(max_length=16)
    count = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["day", "team_id"])]

    def __str__(self) -> str:
        return f"{self.day} {self.hour:02d}h: {self.count}"
