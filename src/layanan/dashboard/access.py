"""Who may open the dashboard, and which teams' data they see.

The head of department (a supervisor profile) and superusers see every team. A
team lead sees the teams they lead, and everyone else gets no dashboard.

NOTE: the console's access layer is getting functions with the same names and
meaning. Once they exist, these two are replaced by imports from there.
"""

from django.contrib.auth.models import AnonymousUser, User

from layanan.catalog.models import Team
from layanan.people.models import AgentProfile


def dashboard_team_ids(user: User | AnonymousUser) -> frozenset[int] | None:
    """Return the ids of the teams whose data the user sees, None for every team.

    An empty set means no dashboard at all.
    """
    if not user.is_authenticated:
        return frozenset()
    if user.is_superuser:
        return None
    if AgentProfile.objects.filter(user_id=user.pk, is_supervisor=True).exists():
        return None
    return frozenset(
        Team.objects.filter(leads__pk=user.pk).values_list("pk", flat=True)
    )


def may_view_dashboard(user: User | AnonymousUser) -> bool:
    """Return whether the user may open the dashboard at all."""
    return dashboard_team_ids(user) != frozenset()
