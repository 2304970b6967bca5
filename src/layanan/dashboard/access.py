"""The dashboard's scope: the teams whose figures a user may see.

The rules are the access layer's (``layanan.access``): heads of department and
admins see every team, team leads the teams they lead, and everyone else gets no
dashboard.
"""

from django.contrib.auth.models import AnonymousUser, User

from layanan import access


def dashboard_team_ids(user: User | AnonymousUser) -> frozenset[int] | None:
    """Return the ids of the teams whose figures the user may see, None for all.

    An empty set means no dashboard at all. None, rather than every id, keeps the
    queries of an unrestricted dashboard free of a team filter.
    """
    if access.reads_every_team(user):
        return None
    return access.led_team_ids(user)
