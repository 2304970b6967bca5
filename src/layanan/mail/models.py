from django.db import models
from django.utils.translation import gettext_lazy as _


class OutboundStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class OutboundEmail(models.Model):
    """A message in the durable outbox: stored first, sent later by the worker."""

    created = models.DateTimeField(auto_now_add=True, db_index=True)
    kind = models.CharField(max_length=32)
    # What the mail is about, as "ticket:EKB-2026-000001" or "conversation:<uuid>",
    # so that this app depends on no other.
    reference = models.CharField(max_length=80, db_index=True)
    from_email = models.CharField(max_length=300)
    to = models.JSONField()
    subject = models.CharField(max_length=300)
    body_text = models.TextField()
    body_html = models.TextField()
    headers = models.JSONField(default=dict)
    message_id = models.CharField(max_length=250, unique=True)
    status = models.CharField(
        max_length=8, choices=OutboundStatus.choices, default=OutboundStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Sent by the system on its own (notifications, acknowledgements), as opposed to
    # an agent's reply; these carry Auto-Submitted and count towards the loop cap.
    automatic = models.BooleanField(default=False)
    in_reply_to = models.CharField(max_length=250, blank=True)
    references = models.TextField(blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    bounce_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = _("outbound email")
        verbose_name_plural = _("outbound emails")

    def __str__(self) -> str:
        return f"{self.kind} {self.subject}"


class AutomaticMailRecipient(models.Model):
    """One address an automatic mail went to, so the loop guard counts by index."""

    outbound = models.ForeignKey(
        OutboundEmail, on_delete=models.CASCADE, related_name="automatic_recipients"
    )
    # Lower-case addr-spec, as ``bare_address`` returns it.
    address = models.CharField(max_length=254)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["address", "created"])]

    def __str__(self) -> str:
        return f"{self.address} {self.created:%Y-%m-%d %H:%M}"


class InboundOutcome(models.TextChoices):
    RECEIVED = "received", _("Received")
    NEW_TICKET = "new_ticket", _("New ticket")
    REPLY = "reply", _("Reply")
    REOPENED = "reopened", _("Reopened")
    AUTO_REPLY = "auto_reply", _("Automatic reply")
    BULK = "bulk", _("Bulk or list mail")
    BOUNCE = "bounce", _("Bounce")
    COMPLAINT = "complaint", _("Complaint")
    LOOP = "loop", _("Our own mail")
    DUPLICATE = "duplicate", _("Duplicate")
    QUARANTINED = "quarantined", _("Quarantined")


class InboundEmail(models.Model):
    """Every message received, kept raw before anything else happens to it."""

    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # The raw bytes live in a file under VAR_DIR/mail, named by this hash.
    sha256 = models.CharField(max_length=64, unique=True)
    size = models.PositiveBigIntegerField()
    message_id = models.CharField(max_length=250, blank=True, db_index=True)
    via = models.CharField(max_length=8)  # "imap" or "pipe"
    from_address = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    outcome = models.CharField(
        max_length=16, choices=InboundOutcome.choices, default=InboundOutcome.RECEIVED
    )
    reason = models.TextField(blank=True)
    ticket_number = models.CharField(max_length=32, blank=True, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("inbound email")
        verbose_name_plural = _("inbound emails")

    def __str__(self) -> str:
        return f"{self.outcome} {self.subject}"
