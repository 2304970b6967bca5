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


class Ticket(models.Model):
    number = models.CharField(_("number"), max_length=32, unique=True)
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

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["team", "status", "created"])]

    def __str__(self) -> str:
        return f"{self.number} {self.subject}"


class EntryKind(models.TextChoices):
    PUBLIC = "public", _("Public reply")
    NOTE = "note", _("Internal note")
    SYSTEM = "system", _("System")


class TicketEntry(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(max_length=8, choices=EntryKind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT
    )
    author_name = models.CharField(max_length=150)
    body = models.TextField()
    attachments = models.ManyToManyField(Attachment, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.kind}"
