"""parse_email against every message of the inbound mail corpus (tests/mail/corpus).

corpus/README.md describes how each field of expected.json is checked. The notes
of some entries allow more than one value, and ALLOWED_* below encode those.
Inline images that the HTML shows through cid: are not counted as files, because
they appear inside the body. No corpus message has one, but case 07 does.
"""

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from layanan.mail.parsing import MAX_SUBJECT_CHARACTERS, ParsedEmail, parse_email

CORPUS = Path(__file__).parent / "corpus"
EXPECTED: dict[str, dict[str, Any]] = json.loads(
    (CORPUS / "expected.json").read_text(encoding="utf-8")
)
ENTRIES = sorted(EXPECTED)
REPLY_ENTRIES = [key for key in ENTRIES if "reply_text" in EXPECTED[key]]
# Larger than any corpus attachment, so every file counts as kept.
MAX_ATTACHMENT_BYTES = 50 * 1024 * 1024

KINDS_FOR = {
    "new_request": {"human"},
    "bounce": {"bounce"},
    # The corpus files mailing-list mail (Precedence: bulk) under auto_reply.
    "auto_reply": {"auto_reply", "bulk"},
    "complaint": {"complaint"},
    "spam_or_broken": {"human", "auto_reply", "bulk", "bounce", "complaint"},
}
# Raw 8-bit subjects whose last character is a guess (see the entries' notes).
ALLOWED_SUBJECTS = {
    "flanker/spam/broken-headers.eml": re.compile(
        r"Forget Asking For A Link Exchange."
    ),
    "flanker/mailformed-headers.eml": re.compile(r".!"),
}
# The note allows showing the attached article in the body instead of as a file.
ALLOWED_ATTACHMENT_COUNTS = {"flanker/apache-message-news-mime.eml": {0, 1}}

time_limit = pytest.mark.timeout(10)


@cache
def parsed(key: str) -> ParsedEmail:
    """Parse one corpus message once for all the tests that look at it."""
    raw = (CORPUS / key).read_bytes()
    return parse_email(raw, max_attachment_bytes=MAX_ATTACHMENT_BYTES)


def spaced(text: str) -> str:
    """Turn every run of whitespace, U+00A0 included, into one space."""
    return re.sub(r"[\s\u00a0]+", " ", text)


def reply_form(text: str) -> str:
    """Normalise a reply as corpus/README.md describes: LF, no trailing spaces."""
    lines = text.replace("\r\n", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip()


def visible_file_count(email: ParsedEmail) -> int:
    kept = [attachment for attachment in email.attachments if not attachment.inline]
    return len(kept) + len(email.oversized)


def test_corpus_expected_lists_every_message_file() -> None:
    on_disk = {path.relative_to(CORPUS).as_posix() for path in CORPUS.rglob("*.eml")}
    assert on_disk == set(EXPECTED)


@time_limit
@pytest.mark.parametrize("key", ENTRIES)
def test_corpus_file_exists(key: str) -> None:
    assert (CORPUS / key).is_file(), f"{key} is listed but missing from the corpus"


@time_limit
@pytest.mark.parametrize("key", ENTRIES)
def test_corpus_kind(key: str) -> None:
    email = parsed(key)
    assert email.kind in KINDS_FOR[EXPECTED[key]["kind"]], email.kind_reason


@time_limit
@pytest.mark.parametrize("key", ENTRIES)
def test_corpus_kind_reason_given(key: str) -> None:
    assert parsed(key).kind_reason


@time_limit
@pytest.mark.parametrize("key", ENTRIES)
def test_corpus_subject(key: str) -> None:
    expected = EXPECTED[key]["subject"]
    subject = parsed(key).subject
    if key in ALLOWED_SUBJECTS:
        assert subject is not None
        assert ALLOWED_SUBJECTS[key].fullmatch(subject), subject
    elif expected is None:
        assert subject is None
    elif len(expected) > MAX_SUBJECT_CHARACTERS:
        assert subject, "a truncated subject must not be empty"
        assert expected.startswith(subject)
    else:
        assert subject == expected


@time_limit
@pytest.mark.parametrize("key", ENTRIES)
def test_corpus_subject_is_one_bounded_line(key: str) -> None:
    subject = parsed(key).subject or ""
    assert len(subject) <= MAX_SUBJECT_CHARACTERS
    assert not re.search(r"[\r\n\t]", subject)


@time_limit
@pytest.mark.parametrize("key", ENTRIES)
def test_corpus_from_address(key: str) -> None:
    assert parsed(key).from_address == EXPECTED[key]["from_address"]


@time_limit
@pytest.mark.parametrize("key", ENTRIES)
def test_corpus_message_id(key: str) -> None:
    assert parsed(key).message_id == EXPECTED[key]["message_id"]


@time_limit
@pytest.mark.parametrize("key", ENTRIES)
def test_corpus_attachment_count(key: str) -> None:
    allowed = ALLOWED_ATTACHMENT_COUNTS.get(key, {EXPECTED[key]["attachments"]})
    email = parsed(key)
    names = [attachment.filename for attachment in email.attachments]
    assert visible_file_count(email) in allowed, names


@time_limit
@pytest.mark.parametrize("key", ENTRIES)
def test_corpus_attachment_names_are_safe(key: str) -> None:
    for attachment in parsed(key).attachments:
        assert attachment.filename
        assert not set(attachment.filename) & {"/", "\\"}, attachment.filename
        assert not attachment.filename.startswith("."), attachment.filename


@time_limit
@pytest.mark.parametrize("key", ENTRIES)
def test_corpus_text_contains(key: str) -> None:
    text = spaced(parsed(key).text)
    for piece in EXPECTED[key]["text_contains"]:
        assert spaced(piece) in text, piece


@time_limit
@pytest.mark.parametrize("key", ENTRIES)
def test_corpus_text_has_no_nul(key: str) -> None:
    assert "\x00" not in parsed(key).text


@time_limit
@pytest.mark.parametrize("key", REPLY_ENTRIES)
def test_corpus_reply_text(key: str) -> None:
    expected = reply_form(EXPECTED[key]["reply_text"])
    assert reply_form(parsed(key).reply_text) == expected


@time_limit
@pytest.mark.parametrize("key", ENTRIES)
def test_corpus_bounce_info_only_on_bounces(key: str) -> None:
    email = parsed(key)
    assert (email.bounce is not None) == (email.kind == "bounce")
