from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from layanan.catalog.models import StudyProgramme


class RequesterKind(models.TextChoices):
    STUDENT = "student", _("student")
    STAFF = "staff", _("lecturer or staff")
    # Someone who wrote by email and has not given an NPM or NIP yet.
    UNKNOWN = "unknown", _("not identified")


class Requester(models.Model):
    """A person who requests service, known by NPM (students) or NIP (staff)."""

    # Null for requesters known only by an email address; NULLs never collide.
    identifier = models.CharField(
        _("NPM/NIP"), max_length=18, unique=True, null=True, blank=True
    )
    kind = models.CharField(_("kind"), max_length=16, choices=RequesterKind.choices)
    name = models.CharField(_("name"), max_length=100)
    study_programme = models.ForeignKey(
        StudyProgramme,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        verbose_name=_("study programme"),
    )
    email = models.EmailField(_("email"))
    # Set when mail to ``email`` bounced permanently, so that agents see it.
    email_bouncing = models.BooleanField(_("email bouncing"), default=False)
    email_bounce_reason = models.TextField(blank=True)
    # Last time a portal vouched for this person with a signed identity.
    verified_at = models.DateTimeField(_("identity verified"), null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("requester")
        verbose_name_plural = _("requesters")

    def __str__(self) -> str:
        return f"{self.name} ({self.identifier or self.email})"


class RequesterEmail(models.Model):
    """Every address a requester has used, so that an old one stays on record."""

    requester = models.ForeignKey(
        Requester, on_delete=models.CASCADE, related_name="emails"
    )
    email = models.EmailField()
    first_seen = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["requester", "email"], name="unique_requester_email"
            )
        ]
        ordering = ["first_seen"]

    def __str__(self) -> str:
        return self.email


class AgentStatus(models.TextChoices):
    """The status an agent chooses; with no open console an agent is offline."""

    ONLINE = "online", _("Online")
    AWAY = "away", _("Away")


class AgentProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent"
    )
    # Supervisors (the head of department) read every team's chats and tickets.
    is_supervisor = models.BooleanField(_("supervisor"), default=False)
    status = models.CharField(
        _("status"),
        max_length=8,
        choices=AgentStatus.choices,
        default=AgentStatus.ONLINE,
    )
    chat_capacity = models.PositiveSmallIntegerField(
        _("chat capacity"),
        default=3,
        help_text=_("How many chats at once round-robin routing offers this agent."),
    )
    # When round-robin routing last offered this agent a chat: the agent waiting
    # longest is offered the next one.
    last_offered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("agent profile")
        verbose_name_plural = _("agent profiles")

    def __str__(self) -> str:
        return self.user.get_username()


class AgentConnection(models.Model):
    """One open console socket; an agent with at least one fresh row is online."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="connections"
    )
    channel_name = models.CharField(max_length=200, unique=True)
    connected_at = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.user_id} {self.channel_name}"
