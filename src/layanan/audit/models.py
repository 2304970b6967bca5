from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ActorKind(models.TextChoices):
    AGENT = "agent", _("agent")
    REQUESTER = "requester", _("requester")
    SYSTEM = "system", _("system")


class Event(models.Model):
    """One step in the life of a conversation or ticket; rows are never changed."""

    created = models.DateTimeField(auto_now_add=True, db_index=True)
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    action = models.CharField(max_length=64)
    # The subject is named by type and key so that this app depends on no other.
    subject_type = models.CharField(max_length=32)
    subject_id = models.CharField(max_length=64)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["subject_type", "subject_id", "created"])]
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"{self.subject_type}:{self.subject_id} {self.action}"
