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

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = _("outbound email")
        verbose_name_plural = _("outbound emails")

    def __str__(self) -> str:
        return f"{self.kind} {self.subject}"
