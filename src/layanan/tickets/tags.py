"""Tags on tickets: free-text labels that agents add, remove and filter by.

A tag name is normalised before it is stored or looked up: blank space at the
ends is removed, runs of blank space become one space, and letters become lower
case. So "Wisuda  2026" and "wisuda 2026" are the same tag.
"""

import logging
import re

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.translation import gettext as _

from layanan.audit.services import record
from layanan.tickets.models import Tag, Ticket
from layanan.tickets.workflow import WorkflowError

logger = logging.getLogger(__name__)

MAX_TAG_LENGTH = 50
# Letters and digits of any script, "_", "-" and single spaces.
TAG_PATTERN = re.compile(r"[\w\- ]+")


def normalise_tag_name(value: str) -> str:
    """Return the stored form of a tag name; it may still be invalid."""
    return " ".join(value.split()).lower()


def clean_tag_name(value: str) -> str:
    """Return the normalised tag name, or raise WorkflowError naming the fix."""
    name = normalise_tag_name(value)
    if not name:
        raise WorkflowError(
            "tag_empty",
            _("The tag is empty. Type a tag in “Tag”, then add it."),
        )
    if len(name) > MAX_TAG_LENGTH:
        raise WorkflowError(
            "tag_too_long",
            _(
                "The tag in “Tag” is %(length)d characters long, more than the "
                "%(max)d allowed. Shorten it."
            )
            % {"length": len(name), "max": MAX_TAG_LENGTH},
        )
    if not TAG_PATTERN.fullmatch(name):
        raise WorkflowError(
            "tag_invalid",
            _(
                "The tag “%(tag)s” in “Tag” contains other characters than "
                "letters, digits, “-”, “_” and spaces. Remove them."
            )
            % {"tag": name},
        )
    return name


def add_tag(ticket: Ticket, value: str, *, actor: User) -> Tag:
    """Put the tag named ``value`` on the ticket, creating the tag if it is new.

    The caller checks that ``actor`` serves the ticket's team. Raise WorkflowError
    for an invalid name or a tag the ticket already has.
    """
    name = clean_tag_name(value)
    with transaction.atomic():
        tag, created = Tag.objects.get_or_create(name=name)
        if not created and ticket.tags.filter(pk=tag.pk).exists():
            raise WorkflowError(
                "tag_present",
                _(
                    "Ticket %(number)s already has the tag “%(tag)s”. In “Tag”, "
                    "type another tag."
                )
                % {"number": ticket.number, "tag": name},
            )
        ticket.tags.add(tag)
        ticket.save(update_fields=["updated"])
        record("ticket", ticket.number, "tag_added", actor=actor, tag=name)
    logger.info(
        "ticket tag added ticket=%s tag=%s new_tag=%s actor=%s",
        ticket.number,
        tag.pk,
        created,
        actor.pk,
    )
    return tag


def remove_tag(ticket: Ticket, value: str, *, actor: User) -> None:
    """Take the tag named ``value`` off the ticket; the tag itself stays.

    Raise WorkflowError when the ticket does not have that tag.
    """
    name = normalise_tag_name(value)
    with transaction.atomic():
        tag = ticket.tags.filter(name=name).first()
        if tag is None:
            raise WorkflowError(
                "tag_absent",
                _(
                    "Ticket %(number)s has no tag “%(tag)s”, so there is nothing to "
                    "remove. Reload the page to see its current tags."
                )
                % {"number": ticket.number, "tag": name},
            )
        ticket.tags.remove(tag)
        ticket.save(update_fields=["updated"])
        record("ticket", ticket.number, "tag_removed", actor=actor, tag=name)
    logger.info(
        "ticket tag removed ticket=%s tag=%s actor=%s",
        ticket.number,
        tag.pk,
        actor.pk,
    )
