"""State changes for requesters: the people who open chats and tickets."""

import logging

from django.contrib.auth.base_user import BaseUserManager
from django.db import transaction

from layanan.catalog.models import StudyProgramme
from layanan.people.models import Requester, RequesterEmail
from layanan.people.validation import Identifier

logger = logging.getLogger(__name__)


def upsert_requester(
    *,
    identifier: Identifier,
    name: str,
    study_programme: StudyProgramme | None,
    email: str,
) -> Requester:
    """Create or update the requester with this NPM/NIP and record the email.

    A returning requester keeps its row and gets the latest name, study
    programme and email. Every address ever used stays in ``RequesterEmail``.
    Runs in its own transaction, or in a savepoint of the caller's.
    """
    # Lowercasing the domain keeps one history row per mailbox, because
    # domains are case-insensitive.
    email = BaseUserManager.normalize_email(email)
    with transaction.atomic():
        # select_for_update serialises two requests for the same NPM/NIP on
        # databases that lock rows. get_or_create retries the read when a
        # concurrent insert wins the unique constraint on identifier.
        requester, created = Requester.objects.select_for_update().get_or_create(
            identifier=identifier.value,
            defaults={
                "kind": identifier.kind,
                "name": name,
                "study_programme": study_programme,
                "email": email,
            },
        )
        if not created:
            requester.kind = identifier.kind
            requester.name = name
            requester.study_programme = study_programme
            requester.email = email
            requester.save(
                update_fields=["kind", "name", "study_programme", "email", "updated"]
            )
        email_created = _remember_email(requester, email)
    logger.info(
        "requester saved requester=%s created=%s new_email=%s",
        requester.pk,
        created,
        email_created,
    )
    return requester


def _remember_email(requester: Requester, email: str) -> bool:
    """Store the address in the requester's history and return whether it is new."""
    # The lookup ignores case, so Budi@mail.example and budi@mail.example share
    # one history row. The unique constraint still guards concurrent inserts.
    record, created = RequesterEmail.objects.get_or_create(
        requester=requester, email__iexact=email, defaults={"email": email}
    )
    if not created:
        # auto_now sets last_seen on every save.
        record.save(update_fields=["last_seen"])
    return created
