"""Checks for what a requester types before a chat: NPM/NIP, name and topic.

Each check returns the cleaned value or raises ``ValidationError`` with a
translated sentence that names the field and the fix, and a stable ``code``.
"""

import datetime
import re
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from layanan.people.models import RequesterKind

NIP_LENGTH = 18
NAME_MIN_LENGTH = 2
NAME_MAX_LENGTH = 100
TOPIC_MIN_LENGTH = 3
TOPIC_MAX_LENGTH = 200
MESSAGE_MAX_LENGTH = 4000

# Joiners shape Arabic and Indic script, so a name may contain them.
_JOINERS = frozenset({"\u200c", "\u200d"})
_CONTROL_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
# A message may contain tabs and line breaks, and nothing else from these sets.
_MESSAGE_ALLOWED_CONTROLS = frozenset({"\t", "\n"})
# Matches a bare length pattern such as \d{8,12} or [0-9]{10}.
_LENGTH_PATTERN = re.compile(r"(?:\\d|\[0-9\])\{(\d+)(?:,(\d+))?\}")


@dataclass(frozen=True)
class Identifier:
    """An NPM or NIP with its whitespace removed, and the kind of person it names."""

    value: str
    kind: RequesterKind


def parse_identifier(raw: str) -> Identifier:
    """Parse an NPM (students) or an 18-digit NIP (lecturers and staff)."""
    value = "".join(raw.split())
    if not value:
        raise ValidationError(
            _(
                "Enter your Student/Staff ID: your NPM if you are a student, or "
                "your NIP if you are a lecturer or staff member."
            ),
            code="required",
        )
    if not re.fullmatch(r"[0-9]+", value):
        raise ValidationError(
            _(
                "Student/Staff ID may contain only digits. "
                "Remove any letters, dots or dashes."
            ),
            code="not_digits",
        )
    if len(value) == NIP_LENGTH:
        _check_nip(value)
        return Identifier(value=value, kind=RequesterKind.STAFF)
    _check_npm(value)
    return Identifier(value=value, kind=RequesterKind.STUDENT)


def _check_npm(value: str) -> None:
    pattern: str = settings.NPM_PATTERN
    if re.fullmatch(pattern, value):
        return
    lengths = _npm_lengths(pattern)
    if lengths is None or lengths[0] <= len(value) <= lengths[1]:
        raise ValidationError(
            _(
                "Student/Staff ID is not a valid NPM. "
                "Enter the number exactly as it appears on your student card."
            ),
            code="invalid_npm",
        )
    minimum, maximum = lengths
    if minimum == maximum:
        message = _(
            "Student/Staff ID must have %(minimum)d digits for an NPM or 18 digits "
            "for a NIP. Check the number and enter it again."
        )
    else:
        message = _(
            "Student/Staff ID must have %(minimum)d to %(maximum)d digits for an "
            "NPM or 18 digits for a NIP. Check the number and enter it again."
        )
    raise ValidationError(
        message, code="wrong_length", params={"minimum": minimum, "maximum": maximum}
    )


def _npm_lengths(pattern: str) -> tuple[int, int] | None:
    """Return the NPM lengths a bare length pattern allows, or None for others."""
    match = _LENGTH_PATTERN.fullmatch(pattern)
    if match is None:
        return None
    minimum = int(match.group(1))
    maximum = int(match.group(2)) if match.group(2) is not None else minimum
    return minimum, maximum


def _check_nip(value: str) -> None:
    """Check the birth date, appointment month and sex digit inside a NIP."""
    today = timezone.localdate()
    birth = _parse_birth_date(value[0:8])
    if birth is None or birth.year < 1900 or birth > today:
        raise ValidationError(
            _(
                "Student/Staff ID is not a valid NIP: its first 8 digits must be a "
                "real date of birth (YYYYMMDD). Check the number and enter it again."
            ),
            code="nip_birth_date",
        )
    appointment = (int(value[8:12]), int(value[12:14]))
    if (
        not 1 <= appointment[1] <= 12
        or appointment < (birth.year, birth.month)
        or appointment > (today.year, today.month)
    ):
        raise ValidationError(
            _(
                "Student/Staff ID is not a valid NIP: digits 9 to 14 must be the "
                "year and month of appointment (YYYYMM), not before the date of "
                "birth and not in the future. Check the number and enter it again."
            ),
            code="nip_appointment_date",
        )
    if value[14] not in {"1", "2"}:
        raise ValidationError(
            _(
                "Student/Staff ID is not a valid NIP: digit 15 must be 1 or 2. "
                "Check the number and enter it again."
            ),
            code="nip_sex_digit",
        )


def _parse_birth_date(digits: str) -> datetime.date | None:
    try:
        return datetime.date(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def clean_name(raw: str) -> str:
    """Return the name stripped and NFC-normalised. Any script and titles pass."""
    name = _normalise_line(raw)
    if not name:
        raise ValidationError(
            _("Name is required. Enter your full name."), code="required"
        )
    if _contains_control_character(name):
        raise ValidationError(
            _(
                "Name must be a single line without tabs or hidden characters. "
                "Type it again without them."
            ),
            code="control_character",
        )
    if len(name) < NAME_MIN_LENGTH:
        raise ValidationError(
            _("Name must have at least %(minimum)d characters. Enter your full name."),
            code="too_short",
            params={"minimum": NAME_MIN_LENGTH},
        )
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError(
            _(
                "Name must have at most %(maximum)d characters. "
                "Shorten it, for example by leaving out some titles."
            ),
            code="too_long",
            params={"maximum": NAME_MAX_LENGTH},
        )
    return name


def clean_topic(raw: str) -> str:
    """Return the topic stripped and NFC-normalised."""
    topic = _normalise_line(raw)
    if not topic:
        raise ValidationError(
            _("Topic is required. Describe your question in a few words."),
            code="required",
        )
    if _contains_control_character(topic):
        raise ValidationError(
            _(
                "Topic must be a single line without tabs or hidden characters. "
                "Type it again without them."
            ),
            code="control_character",
        )
    if len(topic) < TOPIC_MIN_LENGTH:
        raise ValidationError(
            _(
                "Topic must have at least %(minimum)d characters. "
                "Describe your question in a few words."
            ),
            code="too_short",
            params={"minimum": TOPIC_MIN_LENGTH},
        )
    if len(topic) > TOPIC_MAX_LENGTH:
        raise ValidationError(
            _(
                "Topic must have at most %(maximum)d characters. "
                "Shorten it and give the details in the chat."
            ),
            code="too_long",
            params={"maximum": TOPIC_MAX_LENGTH},
        )
    return topic


def clean_message(raw: str) -> str:
    """Return the message stripped, with CRLF and CR line breaks turned into LF."""
    # Browsers submit a textarea's line breaks as CRLF but count each as one
    # character, so the length check counts them the same way.
    unified = raw.replace("\r\n", "\n").replace("\r", "\n")
    message = unicodedata.normalize("NFC", unified).strip()
    if not message:
        raise ValidationError(
            _("Message is required. Describe your request."), code="required"
        )
    if _contains_control_character(message, allowed=_MESSAGE_ALLOWED_CONTROLS):
        raise ValidationError(
            _(
                "Message contains hidden control characters. "
                "Remove them and send it again."
            ),
            code="control_character",
        )
    if len(message) > MESSAGE_MAX_LENGTH:
        raise ValidationError(
            _(
                "Message must have at most %(maximum)d characters. "
                "Shorten it to the essentials."
            ),
            code="too_long",
            params={"maximum": MESSAGE_MAX_LENGTH},
        )
    return message


def _normalise_line(raw: str) -> str:
    # NFC makes "é" typed as e plus an accent and as one character the same
    # string, so lengths and later comparisons agree.
    return unicodedata.normalize("NFC", raw).strip()


def _contains_control_character(
    text: str, allowed: frozenset[str] = frozenset()
) -> bool:
    """Return whether text contains a control, format or line-separator character.

    Zero-width joiners and the characters in allowed do not count.
    """
    for character in text:
        if character in allowed or character in _JOINERS:
            continue
        category = unicodedata.category(character)
        if category in _CONTROL_CATEGORIES or category == "Cf":
            return True
    return False
