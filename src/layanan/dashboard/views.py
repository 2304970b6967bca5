"""The dashboard page and its CSV and XLSX exports.

The views parse the filters, apply the viewer's team scope and delegate to
``metrics`` and ``exports``. Anonymous users are sent to the login page. A
logged-in user who is neither head of department, superuser nor team lead gets a
page that explains why there is no dashboard.
"""

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any, Concatenate, ParamSpec

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from layanan.audit.services import record
from layanan.console.access import console_role
from layanan.console.pages import Viewer
from layanan.dashboard import exports, tiles
from layanan.dashboard.access import dashboard_team_ids
from layanan.dashboard.backlog import AgeBucket
from layanan.dashboard.filters import DashboardFilters, DashboardForm, local_date
from layanan.dashboard.metrics import cached_dashboard
from layanan.dashboard.models import DailySummary
from layanan.people.models import RequesterKind
from layanan.tickets.models import TicketSource, TicketStatus

logger = logging.getLogger(__name__)

P = ParamSpec("P")


@dataclass(frozen=True)
class DashboardViewer:
    """The logged-in user and the teams whose data they see (None for all)."""

    user: User
    team_scope: frozenset[int] | None


DashboardView = Callable[Concatenate[HttpRequest, DashboardViewer, P], HttpResponseBase]


def header_context(user: User) -> dict[str, Any]:
    """Return the console header's context, with the links render_page shows."""
    role = console_role(user)
    return {
        "viewer": Viewer(user=user, role=role),
        # The same rule as the console's render_page uses for both links.
        "may_view_dashboard": role.may_view_dashboard,
        "may_see_teams": role.may_view_dashboard,
    }


def dashboard_view(
    view: DashboardView[P],
) -> Callable[Concatenate[HttpRequest, P], HttpResponseBase]:
    """Require a login and dashboard access, then pass the ``DashboardViewer``."""

    @wraps(view)
    def wrapped(
        request: HttpRequest, *args: P.args, **kwargs: P.kwargs
    ) -> HttpResponseBase:
        user = request.user
        if not isinstance(user, User):
            # login_required below has redirected anonymous users already.
            raise Http404
        team_scope = dashboard_team_ids(user)
        if team_scope == frozenset():
            logger.info("dashboard rejected: user leads no team user=%s", user.pk)
            return render(
                request, "dashboard/no_access.html", header_context(user), status=403
            )
        return view(request, DashboardViewer(user, team_scope), *args, **kwargs)

    return login_required(wrapped)


def _form(
    request: HttpRequest, viewer: DashboardViewer, now: datetime
) -> DashboardForm:
    data = request.GET.copy()
    data.pop("lang", None)
    return DashboardForm(
        data if data else None, team_scope=viewer.team_scope, today=local_date(now)
    )


def kind_labels() -> dict[object, str]:
    return {kind.value: str(kind.label) for kind in RequesterKind}


def source_labels() -> dict[object, str]:
    return {source.value: str(source.label) for source in TicketSource}


@dashboard_view
@require_GET
def dashboard(request: HttpRequest, viewer: DashboardViewer) -> HttpResponse:
    """Show the tiles, charts and tables for the filters in the query string."""
    now = timezone.now()
    form = _form(request, viewer, now)
    filters = form.to_filters()
    data = cached_dashboard(filters, now, kind_labels(), source_labels())
    query = request.GET.urlencode()
    context: dict[str, Any] = {
        **header_context(viewer.user),
        "form": form,
        "filters": filters,
        "previous_period": filters.period.previous(),
        "dashboard": data,
        "tiles": tiles.tiles(data),
        "daily_chart": tiles.daily_chart(data),
        "heatmap_chart": tiles.heatmap_chart(data),
        "rating_chart": tiles.rating_chart(data.current),
        "backlog_chart": tiles.backlog_chart(data),
        "kind_labels": kind_labels(),
        "state_rows": [
            (
                TicketStatus(status).label,
                tiles.ticket_link(filters, status=status, with_period=False),
                [data.backlog.by_state[status][bucket] for bucket in AgeBucket],
            )
            for status in data.backlog.by_state
        ],
        "age_buckets": [bucket.label for bucket in AgeBucket],
        "csv_url": _with_query("dashboard:export_csv", query),
        "xlsx_url": _with_query("dashboard:export_xlsx", query),
        "filter_fields": [form[name] for name in ("service", "team", "agent", "kind")],
        "time_zone": settings.TIME_ZONE,
        "agent_rows": [tiles.agent_cells(row) for row in data.agents],
        "summaries_missing": not DailySummary.objects.exists(),
    }
    return render(request, "dashboard/dashboard.html", context)


def _with_query(name: str, query: str) -> str:
    url = reverse(name)
    return f"{url}?{query}" if query else url


def _invalid_filters(form: DashboardForm) -> HttpResponseBadRequest:
    messages = [str(error) for errors in form.errors.values() for error in errors]
    text = _("The export was not made because a filter is invalid: %(errors)s") % {
        "errors": " ".join(messages)
    }
    return HttpResponseBadRequest(text, content_type="text/plain; charset=utf-8")


def _audit_description(filters: DashboardFilters) -> dict[str, Any]:
    return {
        "from": filters.period.first_day.isoformat(),
        "to": filters.period.last_day.isoformat(),
        "team_scope": None
        if filters.team_scope is None
        else sorted(filters.team_scope),
        "team": filters.team_id,
        "service": filters.service_id,
        "agent": filters.agent_id,
        "kind": filters.requester_kind,
    }


def _record_export(
    user: User, export_format: str, filters: DashboardFilters, rows: int
) -> None:
    record(
        "dashboard",
        user.pk,
        "exported",
        actor=user,
        format=export_format,
        filters=_audit_description(filters),
        rows=rows,
    )
    logger.info(
        "dashboard exported format=%s rows=%d user=%s", export_format, rows, user.pk
    )


def _filename(filters: DashboardFilters, extension: str) -> str:
    period = filters.period
    return f"layanan-{period.first_day:%Y%m%d}-{period.last_day:%Y%m%d}.{extension}"


@dashboard_view
@require_GET
def export_csv(request: HttpRequest, viewer: DashboardViewer) -> HttpResponseBase:
    """Stream the filtered tickets and chats as CSV, and audit it once all is sent."""
    user = viewer.user
    now = timezone.now()
    form = _form(request, viewer, now)
    if form.is_bound and not form.is_valid():
        return _invalid_filters(form)
    filters = form.to_filters()
    counter = exports.RowCounter()

    # NOTE: a download the client aborts never reaches the end of this generator,
    # so it leaves no audit record.
    def audited_chunks() -> Iterator[bytes]:
        yield from exports.csv_chunks(exports.export_rows(filters, now), counter)
        _record_export(user, "csv", filters, counter.rows)

    response = StreamingHttpResponse(
        exports.streaming_content(request, audited_chunks()),
        content_type="text/csv; charset=utf-8",
    )
    filename = _filename(filters, "csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@dashboard_view
@require_GET
def export_xlsx(request: HttpRequest, viewer: DashboardViewer) -> HttpResponseBase:
    """Write the filtered tickets and chats to XLSX, audit it and stream the file."""
    now = timezone.now()
    form = _form(request, viewer, now)
    if form.is_bound and not form.is_valid():
        return _invalid_filters(form)
    filters = form.to_filters()
    counter = exports.RowCounter()
    output = exports.write_xlsx(exports.export_rows(filters, now), counter)
    _record_export(viewer.user, "xlsx", filters, counter.rows)
    response = StreamingHttpResponse(
        exports.streaming_content(request, exports.file_chunks(output)),
        content_type=(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        ),
    )
    filename = _filename(filters, "xlsx")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
