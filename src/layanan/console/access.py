"""The console's doors to tickets and outbound mail: who may see what.

They mirror ``layanan.chat.access``: team members see their teams' records,
supervisors see every record, anyone else sees nothing. ``get_*`` helpers raise
``NotFound`` both for a missing and for a forbidden object, so that probing
numbers tells an outsider nothing.
"""

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import CharField, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat, Replace

from layanan.catalog.models import Team
from layanan.chat.access import NotFound, conversations_for_agent, is_supervisor
from layanan.chat.models import Attachment
from layanan.mail.models import OutboundEmail
from layanan.tickets.models import Ticket

__all__ = [
    "ConsoleRole",
    "NotFound",
    "console_role",
    "get_attachment_for_ticket_agent",
    "get_outbound_email_for_agent",
    "get_ticket_for_agent",
    "outbound_emails_for_agent",
    "tickets_for_agent",
]


@dataclass(frozen=True)
class ConsoleRole:
    """A console user's role: member of some teams, supervisor, both or neither."""

    team_ids: frozenset[int]
    team_names: frozenset[str]
    is_supervisor: bool

    @property
    def may_use_console(self) -> bool:
        return self.is_supervisor or bool(self.team_ids)

    def is_member_of(self, team_id: int) -> bool:
        return team_id in self.team_ids


def console_role(user: User | AnonymousUser) -> ConsoleRole:
    """Return the user's teams and whether they supervise every team."""
    if not user.is_authenticated:
        return ConsoleRole(frozenset(), frozenset(), is_supervisor=False)
    teams = list(Team.objects.filter(members__pk=user.pk).values_list("pk", "name"))
    return ConsoleRole(
        team_ids=frozenset(team_id for team_id, _name in teams),
        team_names=frozenset(name for _team_id, name in teams),
        is_supervisor=is_supervisor(user),
    )


def tickets_for_agent(user: User | AnonymousUser) -> QuerySet[Ticket]:
    """Return the tickets a console user may read: their teams', or all."""
    queryset = Ticket.objects.select_related(
        "requester", "service", "team", "assignee", "conversation"
    )
    if not user.is_authenticated:
        return queryset.none()
    if is_supervisor(user):
        return queryset
    return queryset.filter(team__members__pk=user.pk)


def get_ticket_for_agent(user: User | AnonymousUser, number: str) -> Ticket:
    if not number or len(number) > 32:
        raise NotFound
    ticket = tickets_for_agent(user).filter(number=number).first()
    if ticket is None:
        raise NotFound
    return ticket


def get_attachment_for_ticket_agent(
    user: User | AnonymousUser, number: str, attachment_id: int
) -> Attachment:
    """Return a file carried by an entry of ticket ``number``, if the user may read it.

    This is the only door to the files of email and reply entries, which belong to
    no chat: agents of the ticket's team and supervisors pass, no one else.
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


def _without_hyphens(expression: Concat | Cast | Value | str) -> Replace:
    return Replace(expression, Value("-"), Value(""), output_field=CharField())


def outbound_emails_for_agent(
    user: User | AnonymousUser,
) -> QuerySet[OutboundEmail]:
    """Return the outbox rows a console user may read.

    Supervisors read every row. A team member reads the mail whose ``reference``
    names a ticket ("ticket:NUMBER") or a chat ("conversation:UUID") of their
    teams, and no mail about anything else.
    """
    queryset = OutboundEmail.objects.all()
    if not user.is_authenticated:
        return queryset.none()
    if is_supervisor(user):
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


def get_outbound_email_for_agent(
    user: User | AnonymousUser, email_id: int
) -> OutboundEmail:
    email = outbound_emails_for_agent(user).filter(pk=email_id).first()
    if email is None:
        raise NotFound
    return email
