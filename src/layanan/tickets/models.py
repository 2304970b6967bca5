import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from layanan.catalog.models import Service, Team
from layanan.chat.models import Attachment, Conversation
from layanan.people.models import Requester


class TicketStatus(models.TextChoices):
    OPEN = "open", _("Open")
    IN_PROGRESS = "in_progress", _("In progress")
    WAITING = "waiting", _("Waiting on requester")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


class TicketPriority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


class TicketSource(models.TextChoices):
    CHAT = "chat", _("Chat")
    EMAIL = "email", _("Email")
    OFFLINE = "offline", _("Offline form")
    AGENT = "agent", _("Agent")


class TicketCounter(models.Model):
    """Last serial handed out per year; it only grows, so numbers are never reused."""

    year = models.PositiveIntegerField(primary_key=True)
    last_serial = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last_serial}"


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=50, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self) -> str:
        return self.name


def new_reply_token() -> str:
    """Return the secret that routes email replies to one ticket.

    Lower-case hexadecimal, because mail servers and our parser may lower the
    case of the address that carries it.
    """
    return secrets.token_hex(16)


class Ticket(models.Model):
    number = models.CharField(_("number"), max_length=32, unique=True)
    # Part of the Reply-To address (layanan+t.TOKEN@...); it cannot be guessed.
    reply_token = models.CharField(max_length=32, unique=True, default=new_reply_token)
    subject = models.CharField(_("subject"), max_length=200)
    requester = models.ForeignKey(
        Requester, on_delete=models.PROTECT, related_name="tickets"
    )
    requester_email = models.EmailField(_("email"))
    language = models.CharField(max_length=8, default="id")
    service = models.ForeignKey(Service, on_delete=models.PROTECT)
    team = models.ForeignKey(Team, on_delete=models.PROTECT)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_tickets",
    )
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=TicketStatus.choices,
        default=TicketStatus.OPEN,
    )
    priority = models.CharField(
        max_length=8, choices=TicketPriority.choices, default=TicketPriority.NORMAL
    )
    source = models.CharField(max_length=8, choices=TicketSource.choices)
    conversation = models.OneToOneField(
        Conversation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ticket",
    )
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    updated = models.DateTimeField(auto_now=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="tickets")
    # Set when the ticket was merged into another as a duplicate.
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_tickets",
    )
    # Service-level due moments, kept current by layanan.tickets.sla as the ticket
    # changes: None when the target does not apply now (met, paused or no target).
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    update_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    # Business minutes (pauses excluded) to the first response and to resolution,
    # recorded when they happen.
    first_response_minutes = models.FloatField(null=True, blank=True)
    resolution_minutes = models.FloatField(null=True, blank=True)
    reopen_count = models.PositiveIntegerField(default=0)
    # Set by a requester's reply, cleared when the assignee opens the ticket.
    unread_reply = models.BooleanField(default=False)
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    rating_comment = models.TextField(blank=True)
    rated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        indexes = [
            models.Index(fields=["team", "status", "created"]),
            models.Index(fields=["status", "resolution_due_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.subject}"


class EntryKind(models.TextChoices):
    PUBLIC = "public", _("Public reply")
    NOTE = "note", _("Internal note")
    SYSTEM = "system", _("System")
    # An auto-reply that threaded to the ticket: recorded, but it changes neither
    # the ticket's state nor its metrics.
    AUTOMATIC = "automatic", _("Automatic message")


class EntrySource(models.TextChoices):
    CONSOLE = "console", _("Console")
    EMAIL = "email", _("Email")
    CHAT = "chat", _("Chat")
    SYSTEM = "system", _("System")


class ParticipantRole(models.TextChoices):
    REQUESTER = "requester", _("Requester")
    CC = "cc", _("CC")


class TicketParticipant(models.Model):
    """An address that takes part in a ticket's email thread."""

    ticket = models.ForeignKey(
        "Ticket", on_delete=models.CASCADE, related_name="participants"
    )
    email = models.EmailField()
    name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=16, choices=ParticipantRole.choices)
    added = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "email"], name="unique_ticket_participant"
            )
        ]
        ordering = ["added", "id"]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.email}"


class TicketEntry(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT
    )
    author_name = models.CharField(max_length=150)
    author_email = models.EmailField(blank=True)
    source = models.CharField(
        max_length=8, choices=EntrySource.choices, default=EntrySource.CONSOLE
    )
    body = models.TextField()
    # Sanitised HTML of an email entry, shown instead of ``body`` where present.
    body_html = models.TextField(blank=True)
    # The whole text of an email entry, with the quoted history ``body`` leaves out.
    full_body = models.TextField(blank=True)
    message_id = models.CharField(max_length=250, blank=True, db_index=True)
    inbound_email_id = models.BigIntegerField(null=True, blank=True)
    attachments = models.ManyToManyField(Attachment, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.kind}"


class TicketPause(models.Model):
    """An interval in which the ticket waited on the requester: the SLA clock stops."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="pauses")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started_at", "id"]

    def __str__(self) -> str:
        return f"{self.ticket_id} paused {self.started_at:%Y-%m-%d %H:%M}"


class SlaTarget(models.TextChoices):
    FIRST_RESPONSE = "first_response", _("First response")
    UPDATE = "update", _("Update")
    RESOLUTION = "resolution", _("Resolution")


class SlaNoticeKind(models.TextChoices):
    WARNING = "warning", _("80% of the target used")
    BREACH = "breach", _("Target breached")


class SlaNotice(models.Model):
    """A warning or breach notice sent for one due moment of one target, once."""

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="sla_notices"
    )
    target = models.CharField(max_length=16, choices=SlaTarget.choices)
    kind = models.CharField(max_length=8, choices=SlaNoticeKind.choices)
    due_at = models.DateTimeField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "target", "kind", "due_at"],
                name="unique_sla_notice",
            )
        ]
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.target} {self.kind}"


class CannedResponse(models.Model):
    """A ready reply an agent inserts from the console.

    The body may hold the placeholders {name}, {ticket} and {service}.
    """

    title = models.CharField(_("title"), max_length=100)
    body = models.TextField(_("text"))
    # Empty for a response every team may use.
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="canned_responses",
        verbose_name=_("team"),
    )
    active = models.BooleanField(_("active"), default=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]
        verbose_name = _("canned response")
        verbose_name_plural = _("canned responses")

    def __str__(self) -> str:
        return self.title


class RequesterLink(models.Model):
    """A personal link to the requester page of one ticket.

    Only the SHA-256 of the token is stored. A link stops working when revoked or
    30 days after the ticket closes.
    """

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="requester_links"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"{self.ticket_id} link {self.pk}"
