"""Append-only audit trail shared by every app."""

from typing import Any

from django.contrib.auth.models import User

from layanan.audit.models import ActorKind, Event


def record(
    subject_type: str,
    subject_id: object,
    action: str,
    *,
    actor: User | None = None,
    actor_kind: ActorKind | None = None,
    **data: Any,
) -> Event:
    """Store one audit event; call inside the transaction that makes the change."""
    if actor_kind is None:
        actor_kind = ActorKind.AGENT if actor is not None else ActorKind.SYSTEM
    return Event.objects.create(
        subject_type=subject_type,
        subject_id=str(subject_id),
        action=action,
        actor=actor,
        actor_kind=actor_kind,
        data=data,
    )


def history(subject_type: str, subject_id: object) -> list[Event]:
    return list(
        Event.objects.filter(subject_type=subject_type, subject_id=str(subject_id))
        .select_related("actor")
        .order_by("created", "id")
    )
