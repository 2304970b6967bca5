"""The dashboard's filters: the period in local days, and who and what to count.

Periods are whole days in settings.TIME_ZONE. A period from 1 to 2 December covers
the UTC interval from local midnight on 1 December up to, but not including, local
midnight on 3 December, so a chat at 23:30 WIB belongs to the day it shows.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.contrib.auth.models import User
from django.db import models
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from layanan.catalog.models import Service, Team
from layanan.people.models import RequesterKind

# A longer custom range makes every tile read more rows than the page should.
MAX_PERIOD_DAYS = 731


class PeriodKind(models.TextChoices):
    TODAY = "today", gettext_lazy("Today")
    LAST_7_DAYS = "7d", gettext_lazy("Last 7 days")
    LAST_30_DAYS = "30d", gettext_lazy("Last 30 days")
    THIS_MONTH = "month", gettext_lazy("This month")
    THIS_SEMESTER = "semester", gettext_lazy("This semester")
    CUSTOM = "custom", gettext_lazy("Custom dates")


def local_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def local_midnight(day: date) -> datetime:
    """Return the start of the local date day as a UTC datetime."""
    return datetime.combine(day, time.min, tzinfo=local_zone()).astimezone(UTC)


def local_date(moment: datetime) -> date:
    return moment.astimezone(local_zone()).date()


@dataclass(frozen=True)
class Period:
    """The local dates first_day to last_day, both included."""

    first_day: date
    last_day: date

    # Cached because contains() runs once per row. cached_property writes to the
    # instance dict directly, which a frozen dataclass allows.
    @cached_property
    def start(self) -> datetime:
        return local_midnight(self.first_day)

    @cached_property
    def end(self) -> datetime:
        """Return the exclusive upper bound: local midnight after last_day, in UTC."""
        return local_midnight(self.last_day + timedelta(days=1))

    @property
    def length_days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def days(self) -> list[date]:
        return [
            self.first_day + timedelta(days=offset)
            for offset in range(self.length_days)
        ]

    def previous(self) -> "Period":
        """Return the period of the same length that ends the day before this one."""
        last_day = self.first_day - timedelta(days=1)
        return Period(last_day - timedelta(days=self.length_days - 1), last_day)

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


def semester_start(today: date) -> date:
    """Return the first day of the semester of today.

    The odd semester (ganjil) runs from August to January and the even one
    (genap) from February to July.
    """
    if today.month >= 8:
        return date(today.year, 8, 1)
    if today.month == 1:
        return date(today.year - 1, 8, 1)
    return date(today.year, 2, 1)


def period_for(kind: str, today: date) -> Period:
    """Return the period that kind names, ending today, or the last 30 days.

    CUSTOM is read from the form's dates instead, so it falls back to 30 days here.
    """
    if kind == PeriodKind.TODAY:
        return Period(today, today)
    if kind == PeriodKind.LAST_7_DAYS:
        return Period(today - timedelta(days=6), today)
    if kind == PeriodKind.THIS_MONTH:
        return Period(today.replace(day=1), today)
    if kind == PeriodKind.THIS_SEMESTER:
        return Period(semester_start(today), today)
    return Period(today - timedelta(days=29), today)


@dataclass(frozen=True)
class DashboardFilters:
    """The dashboard's selection: a period, a team scope and optional filters.

    team_scope is None when the viewer sees every team. The other filters narrow
    the scope and never widen it.
    """

    period: Period
    team_scope: frozenset[int] | None
    service_id: int | None = None
    team_id: int | None = None
    agent_id: int | None = None
    requester_kind: str = ""

    def ticket_filter(self) -> Q:
        return self._common_filter() & self._person_filter("assignee_id")

    def chat_filter(self) -> Q:
        return self._common_filter() & self._person_filter("agent_id")

    def summary_filter(self) -> Q:
        """Return the condition on the summary tables' dimension columns."""
        condition = Q()
        if self.team_scope is not None:
            condition &= Q(team_id__in=sorted(self.team_scope))
        if self.team_id is not None:
            condition &= Q(team_id=self.team_id)
        if self.service_id is not None:
            condition &= Q(service_id=self.service_id)
        if self.requester_kind:
            condition &= Q(requester_kind=self.requester_kind)
        if self.agent_id is not None:
            condition &= Q(agent_id=self.agent_id)
        return condition

    def _common_filter(self) -> Q:
        condition = Q()
        if self.team_scope is not None:
            condition &= Q(team_id__in=sorted(self.team_scope))
        if self.team_id is not None:
            condition &= Q(team_id=self.team_id)
        if self.service_id is not None:
            condition &= Q(service_id=self.service_id)
        if self.requester_kind:
            condition &= Q(requester__kind=self.requester_kind)
        return condition

    def _person_filter(self, field: str) -> Q:
        if self.agent_id is None:
            return Q()
        return Q(**{field: self.agent_id})


class ServiceChoiceField(forms.ModelChoiceField[Service]):
    def label_from_instance(self, obj: Service) -> str:
        return obj.localized_name()


class AgentChoiceField(forms.ModelChoiceField[User]):
    def label_from_instance(self, obj: User) -> str:
        return obj.get_full_name() or obj.get_username()


def agents_in_scope(team_scope: frozenset[int] | None) -> QuerySet[User]:
    """Return the agents whose work the scope covers: members of its teams."""
    users = User.objects.filter(agent__isnull=False)
    if team_scope is not None:
        users = users.filter(teams__in=sorted(team_scope))
    return users.distinct().order_by("first_name", "last_name", "username")


class DashboardForm(forms.Form):
    period = forms.ChoiceField(
        label=gettext_lazy("Period"),
        choices=PeriodKind.choices,
        required=False,
        initial=PeriodKind.LAST_30_DAYS,
    )
    date_from = forms.DateField(label=gettext_lazy("From"), required=False)
    date_to = forms.DateField(label=gettext_lazy("Until"), required=False)
    service = ServiceChoiceField(
        label=gettext_lazy("Service"),
        queryset=Service.objects.order_by("order", "id"),
        required=False,
        empty_label=gettext_lazy("All services"),
    )
    team = forms.ModelChoiceField(
        label=gettext_lazy("Team"),
        queryset=Team.objects.none(),
        required=False,
        empty_label=gettext_lazy("All teams"),
    )
    agent = AgentChoiceField(
        label=gettext_lazy("Agent"),
        queryset=User.objects.none(),
        required=False,
        empty_label=gettext_lazy("All agents"),
    )
    kind = forms.ChoiceField(
        label=gettext_lazy("Requester kind"),
        choices=[("", gettext_lazy("All kinds")), *RequesterKind.choices],
        required=False,
    )

    def __init__(
        self, data: Any, *, team_scope: frozenset[int] | None, today: date
    ) -> None:
        super().__init__(data)
        self.team_scope = team_scope
        self.today = today
        teams = Team.objects.order_by("name")
        if team_scope is not None:
            teams = teams.filter(pk__in=sorted(team_scope))
        self._set_choices("team", teams)
        self._set_choices("agent", agents_in_scope(team_scope))

    def _set_choices(self, name: str, queryset: QuerySet[Any]) -> None:
        choice_field = self.fields[name]
        if not isinstance(choice_field, forms.ModelChoiceField):
            raise TypeError(f"The form field {name} is not a model choice field.")
        choice_field.queryset = queryset

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("period") != PeriodKind.CUSTOM:
            return cleaned
        date_from = cleaned.get("date_from")
        date_to = cleaned.get("date_to")
        if date_from is None and "date_from" not in self.errors:
            self.add_error(
                "date_from",
                _("The start date is missing: enter the first day of the period."),
            )
        if date_to is None and "date_to" not in self.errors:
            self.add_error(
                "date_to",
                _("The end date is missing: enter the last day of the period."),
            )
        if date_from is None or date_to is None:
            return cleaned
        if date_to < date_from:
            self.add_error(
                "date_to",
                _(
                    "The end date is before the start date: choose an end date on "
                    "or after %(date)s."
                )
                % {"date": date_from.isoformat()},
            )
        elif (date_to - date_from).days + 1 > MAX_PERIOD_DAYS:
            self.add_error(
                "date_to",
                _(
                    "The period is longer than %(days)d days: choose an end date "
                    "closer to the start date."
                )
                % {"days": MAX_PERIOD_DAYS},
            )
        return cleaned

    def to_filters(self) -> DashboardFilters:
        """Return the chosen filters, or the default ones if the form is invalid.

        Call is_valid() first. The team scope applies either way.
        """
        if not self.is_valid():
            return DashboardFilters(
                period=period_for(PeriodKind.LAST_30_DAYS, self.today),
                team_scope=self.team_scope,
            )
        cleaned = self.cleaned_data
        kind = cleaned.get("period") or PeriodKind.LAST_30_DAYS
        if kind == PeriodKind.CUSTOM:
            period = Period(cleaned["date_from"], cleaned["date_to"])
        else:
            period = period_for(kind, self.today)
        service = cleaned.get("service")
        team = cleaned.get("team")
        agent = cleaned.get("agent")
        return DashboardFilters(
            period=period,
            team_scope=self.team_scope,
            service_id=service.pk if service else None,
            team_id=team.pk if team else None,
            agent_id=agent.pk if agent else None,
            requester_kind=cleaned.get("kind") or "",
        )
