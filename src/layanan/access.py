"""The access layer of the console and the chat: who may read and change what.

Roles, from the least to the most:

- agent: a member of ``Team.members``. Reads and works on the chats, tickets and
  mail of their own teams.
- team lead: in ``Team.leads``. Reads and works on the led team like a member,
  assigns its tickets to anyone and changes its settings.
- head of department (``AgentProfile.is_supervisor``): reads every team's records,
  the dashboard and the exports. A head of department changes only the records
  of teams they are a member or lead of.
- admin (an active Django superuser): reads and changes everything.

Reads return querysets or raise ``NotFound`` both when the object is missing and
when the caller may not see it, so that probing ids or numbers reveals nothing to
an outsider. Writes are ``may_*`` predicates that the views and services check.
"""

import hashlib
import uuid
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import CharField, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat, Replace
from django.utils.translation import gettext as _

from layanan.catalog.models import Team
from layanan.chat.models import Attachment, Conversation
from layanan.mail.models import InboundEmail, OutboundEmail
from layanan.people.models import AgentProfile
from layanan.tickets.models import Ticket

AnyUser = User | AnonymousUser

# Ticket numbers look like EKB-2026-000123, so anything much longer is a probe.
MAX_TICKET_NUMBER_LENGTH = 32
MAX_TOKEN_LENGTH = 200


class NotFound(Exception):
    """The object does not exist or the caller may not see it."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# Roles


def is_admin(user: AnyUser) -> bool:
    """Return whether the user is an active superuser, who may do everything."""
    return bool(user.is_authenticated and user.is_active and user.is_superuser)


def is_supervisor(user: AnyUser) -> bool:
    """Return whether the user is a head of department (the supervisor flag)."""
    if not user.is_authenticated or not user.is_active:
        return False
    profile = AgentProfile.objects.filter(user_id=user.pk).first()
    return bool(profile and profile.is_supervisor)


def reads_every_team(user: AnyUser) -> bool:
    return is_admin(user) or is_supervisor(user)


def team_ids_for_agent(user: AnyUser) -> list[int]:
    """Return the ids of the teams whose queues the user serves as a member."""
    if not user.is_authenticated or not user.is_active:
        return []
    return list(Team.objects.filter(members__pk=user.pk).values_list("pk", flat=True))


def led_team_ids(user: AnyUser) -> frozenset[int]:
    """Return the ids of the teams the user leads."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    return frozenset(
        Team.objects.filter(leads__pk=user.pk).values_list("pk", flat=True)
    )


def _own_teams(user: AnyUser) -> QuerySet[Team]:
    """Return the teams the user is a member or a lead of, for use in a subquery."""
    if not user.is_authenticated or not user.is_active:
        return Team.objects.none()
    return Team.objects.filter(Q(members__pk=user.pk) | Q(leads__pk=user.pk))


def own_team_ids(user: AnyUser) -> frozenset[int]:
    """Return the ids of the teams the user is a member or a lead of."""
    return frozenset(_own_teams(user).values_list("pk", flat=True))


@dataclass(frozen=True)
class ConsoleRole:
    """A console user's teams and the roles that reach past them."""

    team_ids: frozenset[int]
    team_names: frozenset[str]
    is_supervisor: bool
    led_team_ids: frozenset[int] = frozenset()
    is_admin: bool = False

    @property
    def may_use_console(self) -> bool:
        return self.reads_every_team or bool(self.team_ids or self.led_team_ids)

    @property
    def reads_every_team(self) -> bool:
        return self.is_supervisor or self.is_admin

    @property
    def may_view_dashboard(self) -> bool:
        return self.reads_every_team or bool(self.led_team_ids)

    def is_member_of(self, team_id: int) -> bool:
        return team_id in self.team_ids

    def leads(self, team_id: int) -> bool:
        return team_id in self.led_team_ids

    def may_act_on_team(self, team_id: int) -> bool:
        """Return whether the user may change the team's chats and tickets."""
        return self.is_admin or self.is_member_of(team_id) or self.leads(team_id)


def console_role(user: AnyUser) -> ConsoleRole:
    """Return the user's teams, led teams and whether they read every team."""
    if not user.is_authenticated or not user.is_active:
        return ConsoleRole(frozenset(), frozenset(), is_supervisor=False)
    teams = list(Team.objects.filter(members__pk=user.pk).values_list("pk", "name"))
    return ConsoleRole(
        team_ids=frozenset(team_id for team_id, _name in teams),
        team_names=frozenset(name for _team_id, name in teams),
        is_supervisor=is_supervisor(user),
        led_team_ids=led_team_ids(user),
        is_admin=is_admin(user),
    )


# Dashboard and reports


def may_view_dashboard(user: AnyUser) -> bool:
    """Return whether the user may open the dashboard and its exports.

    Heads of department and admins see every team, team leads their led teams,
    and agents who lead no team see no dashboard.
    """
    return reads_every_team(user) or bool(led_team_ids(user))


def dashboard_team_ids(user: AnyUser) -> frozenset[int]:
    """Return the ids of the teams whose figures the user may see on the dashboard.

    The set is empty for a user who may not view the dashboard. It contains every
    team for heads of department and admins, and the led teams for team leads.
    """
    if reads_every_team(user):
        return frozenset(Team.objects.values_list("pk", flat=True))
    return led_team_ids(user)


# Chats


def conversations_for_agent(user: AnyUser) -> QuerySet[Conversation]:
    """Return the conversations a console user may read: their teams', or all."""
    queryset = Conversation.objects.select_related("requester", "service", "team")
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    if reads_every_team(user):
        return queryset
    return queryset.filter(team__in=_own_teams(user).values("pk"))


def get_conversation_for_token(token: str) -> Conversation:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise NotFound
    try:
        return Conversation.objects.select_related("requester", "service", "team").get(
            token_hash=hash_token(token)
        )
    except Conversation.DoesNotExist:
        raise NotFound from None


def get_conversation_for_agent(
    user: AnyUser, public_id: str | uuid.UUID
) -> Conversation:
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        raise NotFound from None
    conversation = conversations_for_agent(user).filter(public_id=key).first()
    if conversation is None:
        raise NotFound
    return conversation


def get_attachment_for_token(token: str, attachment_id: int) -> Attachment:
    conversation = get_conversation_for_token(token)
    attachment = conversation.attachments.filter(pk=attachment_id).first()
    if attachment is None:
        raise NotFound
    return attachment


def get_attachment_for_agent(user: AnyUser, attachment_id: int) -> Attachment:
    attachment = (
        Attachment.objects.filter(
            pk=attachment_id, conversation__in=conversations_for_agent(user)
        )
        .select_related("conversation")
        .first()
    )
    if attachment is None:
        raise NotFound
    return attachment


def may_act_on_conversation(user: AnyUser, conversation: Conversation) -> bool:
    """Return whether the user may end a chat, upload to it or make a ticket of it.

    Replying also needs the chat accepted, which only team members can do.
    """
    return _may_act_on_team(user, conversation.team_id)


# Tickets


def tickets_for_agent(user: AnyUser) -> QuerySet[Ticket]:
    """Return the tickets a console user may read: their teams', or all."""
    queryset = Ticket.objects.select_related(
        "requester", "service", "team", "assignee", "conversation"
    )
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    if reads_every_team(user):
        return queryset
    return queryset.filter(team__in=_own_teams(user).values("pk"))


def get_ticket_for_agent(user: AnyUser, number: str) -> Ticket:
    if not number or len(number) > MAX_TICKET_NUMBER_LENGTH:
        raise NotFound
    ticket = tickets_for_agent(user).filter(number=number).first()
    if ticket is None:
        raise NotFound
    return ticket


def get_attachment_for_ticket_agent(
    user: AnyUser, number: str, attachment_id: int
) -> Attachment:
    """Return a file carried by an entry of ticket ``number``, if the user may read it.

    This is the only door to the files of email and reply entries, which belong to
    no chat. A file of another ticket is not found, even one the user may read
    through that other ticket.
    """
    ticket = get_ticket_for_agent(user, number)
    attachment = (
        Attachment.objects.filter(pk=attachment_id, ticketentry__ticket=ticket)
        .distinct()
        .first()
    )
    if attachment is None:
        raise NotFound
    return attachment


def _may_act_on_team(user: AnyUser, team_id: int) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if is_admin(user):
        return True
    return _own_teams(user).filter(pk=team_id).exists()


def may_act_on_ticket(user: AnyUser, ticket: Ticket) -> bool:
    """Return whether the user may reply to, annotate or change the ticket.

    Members and leads of the ticket's team and admins may. A head of department
    who is neither member nor lead of that team may only read it.
    """
    return _may_act_on_team(user, ticket.team_id)


def may_assign(user: AnyUser, ticket: Ticket, assignee: User | None) -> bool:
    """Return whether the user may give the ticket to ``assignee``.

    An agent of the team may claim the ticket for themselves, also from another
    holder, and may give back a ticket they hold (``assignee`` None). Assigning
    anyone else, or unassigning someone else's ticket, needs a lead of the
    ticket's team or an admin. This checks no membership of ``assignee``, which
    ``workflow.assign`` checks.
    """
    if not may_act_on_ticket(user, ticket):
        return False
    if may_manage_team(user, ticket.team_id):
        return True
    if assignee is None:
        return ticket.assignee_id == user.pk
    return assignee.pk == user.pk


def assignment_refusal(user: AnyUser, ticket: Ticket, assignee: User | None) -> str:
    """Return why the user may not give the ticket to ``assignee``, or "" if allowed."""
    if may_assign(user, ticket, assignee):
        return ""
    if not may_act_on_ticket(user, ticket):
        return _(
            "Only members of the %(team)s team can assign ticket %(number)s. Ask "
            "one of them to do it."
        ) % {"team": ticket.team.name, "number": ticket.number}
    return _(
        "Only a lead of the %(team)s team can assign ticket %(number)s to someone "
        "else or unassign it. Use “Assign to me”, or ask a team lead."
    ) % {"team": ticket.team.name, "number": ticket.number}


def may_transfer(user: AnyUser, ticket: Ticket, team: Team) -> bool:
    """Return whether the user may move the ticket from its team to ``team``."""
    return may_act_on_ticket(user, ticket)


# Teams


def may_manage_team(user: AnyUser, team_id: int) -> bool:
    """Return whether the user leads the team or is an admin."""
    if is_admin(user):
        return True
    return team_id in led_team_ids(user)


def may_change_team_settings(user: AnyUser, team: Team) -> bool:
    """Return whether the user may change the team's settings and capacities."""
    return may_manage_team(user, team.pk)


def teams_for_settings(user: AnyUser) -> QuerySet[Team]:
    """Return the teams whose settings page the user may open.

    Admins and heads of department open every team's page, team leads their led
    teams' pages. Only ``may_change_team_settings`` allows a change.
    """
    if reads_every_team(user):
        return Team.objects.all()
    if not user.is_authenticated or not user.is_active:
        return Team.objects.none()
    return Team.objects.filter(leads__pk=user.pk)


def get_team_for_settings(user: AnyUser, team_id: int) -> Team:
    team = teams_for_settings(user).filter(pk=team_id).first()
    if team is None:
        raise NotFound
    return team


# Mail


def _without_hyphens(expression: Concat | Cast | Value | str) -> Replace:
    return Replace(expression, Value("-"), Value(""), output_field=CharField())


def outbound_emails_for_agent(user: AnyUser) -> QuerySet[OutboundEmail]:
    """Return the outbox rows a console user may read.

    Heads of department and admins read every row. Members and leads of a team
    read the mail whose ``reference`` names a ticket ("ticket:NUMBER") or a chat
    ("conversation:UUID") of that team, and no mail about anything else.
    """
    queryset = OutboundEmail.objects.all()
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    if reads_every_team(user):
        return queryset
    ticket_references = tickets_for_agent(user).annotate(
        reference=Concat(Value("ticket:"), "number", output_field=CharField())
    )
    # SQLite stores a UUID as 32 hex digits and PostgreSQL casts it to the
    # hyphenated form, so both sides are compared with their hyphens removed.
    chat_references = conversations_for_agent(user).annotate(
        reference_key=_without_hyphens(
            Concat(
                Value("conversation:"),
                Cast("public_id", output_field=CharField()),
                output_field=CharField(),
            )
        )
    )
    return queryset.annotate(reference_key=_without_hyphens("reference")).filter(
        Q(reference__in=ticket_references.values("reference"))
        | Q(reference_key__in=chat_references.values("reference_key"))
    )


def get_outbound_email_for_agent(user: AnyUser, email_id: int) -> OutboundEmail:
    email = outbound_emails_for_agent(user).filter(pk=email_id).first()
    if email is None:
        raise NotFound
    return email


def may_read_inbound_log(user: AnyUser) -> bool:
    """Return whether the user may read the inbound log and its raw messages.

    The log also contains mail that matched no ticket and no team, so it is not
    split by team. Heads of department and admins read all of it, agents none.
    Django's admin site admits only staff accounts, so a head of department needs
    staff status to reach the log there (the demo's kajur has it).
    """
    return reads_every_team(user)


def inbound_emails_for_agent(user: AnyUser) -> QuerySet[InboundEmail]:
    """Return the inbound log rows the user may read: every row or none."""
    if may_read_inbound_log(user):
        return InboundEmail.objects.all()
    return InboundEmail.objects.none()
