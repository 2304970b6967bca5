"""Signed identities: a portal vouches for its signed-in user so the widget can skip
the identity part of the pre-chat form.

The portal puts ``data-identity`` (base64url of a JSON object with ``id``, ``name``,
``email``, optional ``programme`` and ``exp`` in Unix seconds) and
``data-signature`` (hex HMAC-SHA256 of that exact base64url text, keyed with
``settings.IDENTITY_SECRET``) on the widget's script tag. ``verify_identity``
checks both and returns the identity in the pre-chat form's own field values, so
the fields pass the same validation as typed ones.
"""

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from layanan.catalog.models import StudyProgramme
from layanan.chat.forms import NOT_A_STUDENT, PreChatForm

# A signed identity may be valid for at most this long, so a copied page stops
# working by the next day.
MAX_IDENTITY_LIFETIME = timedelta(hours=24)
# Longer data-identity text is rejected before decoding. Four fields of at most a
# few hundred characters each fit with room to spare.
MAX_ENCODED_LENGTH = 4096

IDENTITY_FIELDS = ("identifier", "name", "study_programme", "email")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


class IdentityRejected(Exception):
    """A signed identity that is missing, forged, expired or invalid.

    ``code`` is stable for programs and ``reason`` is a sentence for the portal's
    developers, shown by the widget in the browser console.
    """

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class SignedIdentity:
    """A requester identity whose signature and fields were checked."""

    identifier: str
    name: str
    email: str
    # The form's value for study_programme: a programme's primary key as text, or
    # NOT_A_STUDENT.
    study_programme: str
    programme_name: str
    expires_at: datetime

    def form_fields(self) -> dict[str, str]:
        """Return the identity as pre-chat form data, to replace any typed values."""
        return {
            "identifier": self.identifier,
            "name": self.name,
            "study_programme": self.study_programme,
            "email": self.email,
        }

    def public_payload(self) -> dict[str, Any]:
        """Return what the panel shows read-only in place of the identity fields."""
        return {
            "verified": True,
            "identifier": self.identifier,
            "name": self.name,
            "email": self.email,
            "programme": self.programme_name,
        }


def identity_enabled() -> bool:
    return bool(settings.IDENTITY_SECRET)


def sign_identity(encoded: str, secret: str) -> str:
    """Return the hex HMAC-SHA256 of the data-identity text, as a portal computes it."""
    return hmac.new(
        secret.encode("utf-8"), encoded.encode("ascii"), hashlib.sha256
    ).hexdigest()


def verify_identity(
    encoded: str, signature: str, *, now: datetime | None = None
) -> SignedIdentity:
    """Check a signed identity and return it; raise IdentityRejected otherwise.

    The signature is checked before the text is decoded, so nothing unsigned is
    parsed. Raises IdentityRejected when the feature is off, the signature is
    wrong, the text is not base64url JSON, ``exp`` has passed or lies more than
    24 hours ahead, or a field fails the pre-chat form's validation.
    """
    if not identity_enabled():
        raise IdentityRejected(
            "identity_disabled",
            _(
                "Signed identities are turned off on this server: set "
                "LAYANAN_IDENTITY_SECRET, or remove data-identity from the page."
            ),
        )
    _check_signature(encoded, signature)
    claims = _decode(encoded)
    expires_at = _expiry(claims, now or datetime.now(UTC))
    fields, programme_name = _form_fields(claims)
    return SignedIdentity(
        identifier=fields["identifier"],
        name=fields["name"],
        email=fields["email"],
        study_programme=fields["study_programme"],
        programme_name=programme_name,
        expires_at=expires_at,
    )


def _check_signature(encoded: str, signature: str) -> None:
    if not encoded or not signature:
        raise IdentityRejected(
            "identity_missing",
            _(
                "The signed identity is incomplete: put both data-identity and "
                "data-signature on the script tag."
            ),
        )
    if len(encoded) > MAX_ENCODED_LENGTH or not _BASE64URL.fullmatch(encoded):
        raise IdentityRejected(
            "identity_malformed",
            _(
                "data-identity is not base64url text of at most %(max)d characters: "
                "encode the JSON with base64url."
            )
            % {"max": MAX_ENCODED_LENGTH},
        )
    if not _HEX_SHA256.fullmatch(signature):
        raise IdentityRejected(
            "signature_malformed",
            _(
                "data-signature is not 64 hexadecimal digits: send the hex "
                "HMAC-SHA256 of data-identity."
            ),
        )
    expected = sign_identity(encoded, settings.IDENTITY_SECRET)
    if not hmac.compare_digest(expected, signature.lower()):
        raise IdentityRejected(
            "signature_invalid",
            _(
                "data-signature does not match data-identity: sign the exact "
                "data-identity text with the secret in LAYANAN_IDENTITY_SECRET."
            ),
        )


def _decode(encoded: str) -> dict[str, Any]:
    padded = encoded.rstrip("=") + "=" * (-len(encoded.rstrip("=")) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(padded).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise IdentityRejected(
            "identity_malformed",
            _(
                "data-identity is not base64url of a UTF-8 JSON object: encode the "
                "JSON text with base64url."
            ),
        ) from error
    if not isinstance(claims, dict):
        raise IdentityRejected(
            "identity_malformed",
            _(
                "data-identity is not a JSON object: encode an object with id, name, "
                "email and exp."
            ),
        )
    return claims


def _expiry(claims: dict[str, Any], now: datetime) -> datetime:
    expiry = claims.get("exp")
    # bool is an int in Python, and "exp": true is no time.
    if not isinstance(expiry, int | float) or isinstance(expiry, bool):
        raise IdentityRejected(
            "expiry_invalid",
            _("The identity's exp is missing: set it to a time in Unix seconds."),
        )
    try:
        expires_at = datetime.fromtimestamp(expiry, UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise IdentityRejected(
            "expiry_invalid",
            _("The identity's exp is out of range: set it to a time in Unix seconds."),
        ) from error
    if expires_at <= now:
        raise IdentityRejected(
            "identity_expired",
            _(
                "The signed identity has expired: sign a new one with an exp in the "
                "future each time the page is served."
            ),
        )
    if expires_at > now + MAX_IDENTITY_LIFETIME:
        raise IdentityRejected(
            "expiry_too_far",
            _(
                "The identity's exp is more than 24 hours ahead: set it to at most "
                "24 hours after the time of signing."
            ),
        )
    return expires_at


def _form_fields(claims: dict[str, Any]) -> tuple[dict[str, str], str]:
    """Return the claims as cleaned pre-chat form values, and the programme's name."""
    texts: dict[str, str] = {}
    for claim in ("id", "name", "email", "programme"):
        value = claims.get(claim, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise IdentityRejected(
                "field_invalid",
                _("The identity's %(claim)s is not a string: send it as JSON text.")
                % {"claim": claim},
            )
        texts[claim] = value

    programme_value, programme_name = _programme_choice(texts["programme"])
    form = PreChatForm(
        {
            "identifier": texts["id"],
            "name": texts["name"],
            "study_programme": programme_value,
            "email": texts["email"],
        }
    )
    form.is_valid()
    for field in IDENTITY_FIELDS:
        if field in form.errors:
            raise IdentityRejected(
                "field_invalid",
                _("The identity's field %(field)s is invalid: %(message)s")
                % {"field": _CLAIM_NAMES[field], "message": form.errors[field][0]},
            )
    identifier = form.cleaned_data["identifier"]
    return (
        {
            "identifier": identifier.value,
            "name": form.cleaned_data["name"],
            "study_programme": programme_value,
            "email": form.cleaned_data["email"],
        },
        programme_name,
    )


# The claim each pre-chat form field comes from, for error messages.
_CLAIM_NAMES = {
    "identifier": "id",
    "name": "name",
    "study_programme": "programme",
    "email": "email",
}


def _programme_choice(name: str) -> tuple[str, str]:
    """Return the form value and display name of the study programme called name."""
    name = name.strip()
    if not name:
        return NOT_A_STUDENT, ""
    programme = (
        StudyProgramme.objects.filter(active=True, name__iexact=name)
        .order_by("pk")
        .first()
    )
    if programme is None:
        raise IdentityRejected(
            "field_invalid",
            _(
                "The identity's programme “%(name)s” is not an active study "
                "programme: send the name exactly as the admin lists it, or leave it "
                "out for staff."
            )
            % {"name": name},
        )
    return str(programme.pk), programme.name
