import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from layanan.catalog.models import Service, Team
from layanan.people.models import Requester


class ConversationStatus(models.TextChoices):
    WAITING = "waiting", _("waiting")
    ACTIVE = "active", _("active")
    ENDED = "ended", _("ended")


class EndedBy(models.TextChoices):
    REQUESTER = "requester", _("requester")
    AGENT = "agent", _("agent")
    IDLE = "idle", _("idle timeout")
    # Nobody accepted the chat within its team's wait limit.
    WAIT_LIMIT = "wait_limit", _("wait limit passed")


class Conversation(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # SHA-256 of the requester's bearer token; the token itself is never stored.
    token_hash = models.CharField(max_length=64, unique=True)
    requester = models.ForeignKey(
        Requester, on_delete=models.PROTECT, related_name="conversations"
    )
    # The name given in this chat's pre-chat form: a later chat under the same
    # NPM/NIP may change the requester's name, never what this chat showed.
    requester_name = models.CharField(_("name"), max_length=100)
    requester_email = models.EmailField(_("email"))
    service = models.ForeignKey(Service, on_delete=models.PROTECT)
    team = models.ForeignKey(Team, on_delete=models.PROTECT)
    topic = models.CharField(_("topic"), max_length=200)
    language = models.CharField(max_length=8, default="id")
    page_url = models.CharField(max_length=500, blank=True)
    status = models.CharField(
        max_length=8,
        choices=ConversationStatus.choices,
        default=ConversationStatus.WAITING,
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="conversations",
    )
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    first_agent_reply_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.CharField(
        max_length=16, choices=EndedBy.choices, blank=True, default=""
    )
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    rating_comment = models.TextField(blank=True)
    transcript_sent_at = models.DateTimeField(null=True, blank=True)
    # Set by the tickets app when the chat becomes a ticket. The chat app never
    # imports tickets, so the link back is stored here as the number.
    ticket_number = models.CharField(max_length=32, blank=True)
    # True when the portal signed the requester's identity (see docs/protocol.md).
    identity_verified = models.BooleanField(default=False)
    # Round-robin routing: the agent the waiting chat is offered to now, since when,
    # and every agent it was offered to before.
    offered_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="offered_conversations",
    )
    offered_at = models.DateTimeField(null=True, blank=True)
    offered_agent_ids = models.JSONField(default=list, blank=True)
    last_seq = models.PositiveIntegerField(default=0)
    requester_read_seq = models.PositiveIntegerField(default=0)
    agent_read_seq = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["team", "status", "created"])]
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.public_id} {self.topic}"

    @property
    def group_name(self) -> str:
        return f"conversation.{self.public_id.hex}"


class ConversationNote(models.Model):
    """An agent's note on a chat, such as the reason for a transfer.

    Requesters never see notes: they are neither messages nor sent to the widget.
    """

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="notes"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT
    )
    author_name = models.CharField(max_length=150)
    body = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"{self.conversation_id} note {self.pk}"


class SenderKind(models.TextChoices):
    REQUESTER = "requester", _("requester")
    AGENT = "agent", _("agent")
    SYSTEM = "system", _("system")


class Attachment(models.Model):
    # Null for files that came by email or with an agent's ticket reply; those are
    # reached through the ticket entries that carry them.
    conversation = models.ForeignKey(
        Conversation,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="attachments",
    )
    # Path relative to UPLOAD_ROOT, named by a random id, never by the upload's name.
    storage_path = models.CharField(max_length=200, unique=True)
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=120)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.CharField(max_length=16, choices=SenderKind.choices)
    # The Content-ID of an inline image in an email, for cid: links in its HTML.
    content_id = models.CharField(max_length=250, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.original_name


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    seq = models.PositiveIntegerField()
    # Idempotency key chosen by the client, so a re-sent message is stored once.
    client_id = models.CharField(max_length=64)
    sender_kind = models.CharField(max_length=16, choices=SenderKind.choices)
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT
    )
    sender_name = models.CharField(max_length=150)
    body = models.TextField(blank=True)
    attachment = models.OneToOneField(
        Attachment, null=True, blank=True, on_delete=models.SET_NULL
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "seq"], name="unique_message_seq"
            ),
            models.UniqueConstraint(
                fields=["conversation", "client_id"], name="unique_message_client_id"
            ),
        ]
        ordering = ["conversation", "seq"]

    def __str__(self) -> str:
        return f"{self.conversation_id}#{self.seq}"
