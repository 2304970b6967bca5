"""Turn the raw bytes of an inbound email into the facts the service desk needs.

parse_email accepts any bytes without raising and never touches the database.
Broken MIME, unknown charsets, missing headers and hostile sizes all give a
ParsedEmail, with what went wrong listed in ``defects``. It reads the outermost
message only: an attached message is kept as one file, never searched for body
text. A cap on header length, on the parts walked and on nesting bounds the time
and memory it needs.
"""

import binascii
import codecs
import email
import email.parser
import email.utils
import io
import logging
import mimetypes
import re
import unicodedata
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.generator import BytesGenerator
from email.message import EmailMessage, Message
from email.policy import EmailPolicy, compat32
from html import escape
from typing import TYPE_CHECKING, Any

import nh3

from layanan.chat.uploads import UploadRejected, clean_filename
from layanan.mail.quotes import html_to_text, strip_quoted

if TYPE_CHECKING:
    from typing import TypeAlias

    _PolicyBase: TypeAlias = EmailPolicy[EmailMessage]
else:
    _PolicyBase = EmailPolicy

logger = logging.getLogger(__name__)

MAX_PARTS = 500
MAX_DEPTH = 20
# Longer header values are cut at a fold before parsing. Under policy.default,
# decoding the 209 KB subject of a corpus message took 0.6 s and 350 MiB.
MAX_HEADER_CHARACTERS = 8192
MAX_SUBJECT_CHARACTERS = 300
MAX_REFERENCES = 100
# Only this many copies of a repeated header (To, Cc, …) are read.
MAX_HEADER_INSTANCES = 20
MAX_RECIPIENTS = 200
MAX_DIAGNOSTIC_CHARACTERS = 1000
MAX_REASON_VALUE_CHARACTERS = 60
# Deeper HTML is shown as text: sanitising 20,000 nested elements took a second.
MAX_HTML_DEPTH = 1000
# A subject or description that names an unnamed file is cut to this length.
MAX_DESCRIBED_NAME_CHARACTERS = 80

KIND_HUMAN = "human"
KIND_AUTO_REPLY = "auto_reply"
KIND_BULK = "bulk"
KIND_BOUNCE = "bounce"
KIND_COMPLAINT = "complaint"


@dataclass(frozen=True)
class ParsedAttachment:
    """File that came with the message, decoded and safe to name."""

    filename: str
    content_type: str
    payload: bytes
    content_id: str | None
    # An image that the HTML body shows through a cid: reference.
    inline: bool
    # An attached message (message/rfc822 and the like), kept as one file.
    is_message: bool


@dataclass(frozen=True)
class BounceInfo:
    """Facts that a delivery failure or delay notice reports about the original."""

    original_message_id: str | None
    recipients: list[str]
    status: str
    diagnostic: str
    permanent: bool


@dataclass(frozen=True)
class ParsedEmail:
    """Inbound email reduced to headers, readable body, files and a kind."""

    message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    subject: str | None
    from_address: str | None
    from_name: str
    to: list[str]
    cc: list[str]
    recipients: list[str]
    text: str
    html: str | None
    reply_text: str
    attachments: list[ParsedAttachment]
    oversized: list[tuple[str, int]]
    kind: str
    kind_reason: str
    suppress_auto_response: bool
    bounce: BounceInfo | None
    defects: list[str]


class _MailPolicy(_PolicyBase):
    """policy.default that bounds header length and reads raw 8-bit header bytes.

    Header values longer than MAX_HEADER_CHARACTERS are cut at their last fold
    before that length. Raw non-ASCII bytes, which the stdlib would show as U+FFFD,
    are read as UTF-8 when they are (mostly) UTF-8, else as Windows-1252.
    Content-Type and Content-Transfer-Encoding come back as their plain text,
    which the stdlib's MIME methods read with their own parameter parser. The
    parser reads them several times per part, and building a structured header
    each time made a 3,000-part corpus message take about ten seconds.
    """

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if hasattr(value, "name"):
            return value
        value = _readable_header_value(value)
        if name.lower() in _STRUCTURE_HEADERS:
            return value
        return super().header_fetch_parse(name, value)


_STRUCTURE_HEADERS = frozenset({"content-type", "content-transfer-encoding"})
_POLICY = _MailPolicy()


def _readable_header_value(value: str) -> str:
    if len(value) > MAX_HEADER_CHARACTERS:
        value = _cut_at_fold(value, MAX_HEADER_CHARACTERS)
    if _has_surrogates(value):
        value = decode_bytes(value.encode("utf-8", "surrogateescape"), None)
    return value


def _cut_at_fold(value: str, limit: int) -> str:
    head = value[:limit]
    fold = max(head.rfind("\n"), head.rfind("\r"))
    if fold > 0:
        return head[:fold]
    space = head.rfind(" ")
    return head[:space] if space > 0 else head


def _has_surrogates(value: str) -> bool:
    return any("\udc80" <= character <= "\udcff" for character in value)


# Charset names that declare nothing useful, so the bytes are guessed.
_UNDECLARED_CHARSETS = frozenset(
    {"", "us-ascii", "ascii", "unknown-8bit", "x-unknown", "unknown", "default"}
)
# As web browsers do, Latin-1 labels are read as its superset Windows-1252.
_CHARSET_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "utf8": "utf-8",
    "x-sjis": "shift_jis",
    "ks_c_5601-1987": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
}


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode text bytes in their declared charset, guessing when that fails.

    An unknown, missing or ASCII charset is guessed: UTF-8, then Windows-1252,
    then Latin-1, which decodes anything. Bytes that do not fit a known declared
    charset other than UTF-8 are replaced, since a guess would be worse.
    """
    codec = _codec_for(charset)
    if codec is not None:
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            if codec.replace("_", "-") not in ("utf-8", "utf-8-sig"):
                return data.decode(codec, "replace")
        except (LookupError, ValueError):
            pass
    return _guess_decode(data)


def _codec_for(charset: str | None) -> str | None:
    if charset is None:
        return None
    name = charset.strip().strip("\"'").lower()
    if name in _UNDECLARED_CHARSETS:
        return None
    name = _CHARSET_ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError, TypeError):
        return None


def _guess_decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if _mostly_utf8(data):
        return data.decode("utf-8", "replace")
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _mostly_utf8(data: bytes) -> bool:
    """Tell whether bytes are UTF-8 with a few damaged characters (cut names)."""
    decoded = data.decode("utf-8", "replace")
    replaced = decoded.count("\ufffd") - data.decode("utf-8", "ignore").count("\ufffd")
    valid = sum(1 for character in decoded if ord(character) > 0x7F) - replaced
    return valid > 0 and replaced * 4 <= valid


def parse_email(
    raw: bytes, *, max_attachment_bytes: int, own_addresses: Iterable[str] = ()
) -> ParsedEmail:
    """Parse raw message bytes into a ParsedEmail, whatever the bytes are.

    Attachments larger than ``max_attachment_bytes`` are listed in ``oversized``
    instead of ``attachments``. ``own_addresses`` (the service desk's addresses)
    helps to find where the quoted history starts in ``reply_text``.
    """
    try:
        message = email.message_from_bytes(raw, policy=_POLICY)
    except Exception as error:  # any input must give a result
        return _unparsed_email(raw, type(error).__name__)
    try:
        return _parse_message(message, max_attachment_bytes, tuple(own_addresses))
    except Exception as error:  # any input must give a result
        return _unparsed_email(raw, type(error).__name__)


def _unparsed_email(raw: bytes, reason: str) -> ParsedEmail:
    """Return the headers that can still be read and the body as plain text.

    The kind is still decided from the headers, so a bounce whose body defeats
    the parser does not open a ticket either.
    """
    # Only the exception's type is logged: its text can quote the message.
    logger.warning("Inbound email fell back to headers only after %s", reason)
    defects = [f"0:ParseFailed:{reason}"]
    kind, kind_reason = KIND_HUMAN, "message could not be parsed; no markers read"
    try:
        parser = email.parser.BytesHeaderParser(policy=_POLICY)
        message = parser.parsebytes(raw)
        headers = _read_headers(message, defects)
        kind, kind_reason = _classify(message, headers, _Walk(defects=defects))
    except Exception:  # any input must give a result
        headers = _Headers()
    _head, _separator, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    text = decode_bytes(body, None)
    return ParsedEmail(
        message_id=headers.message_id,
        in_reply_to=headers.in_reply_to,
        references=headers.references,
        subject=headers.subject,
        from_address=headers.from_address,
        from_name=headers.from_name,
        to=headers.to,
        cc=headers.cc,
        recipients=headers.recipients,
        text=text,
        html=None,
        reply_text=text.strip(),
        attachments=[],
        oversized=[],
        kind=kind,
        kind_reason=kind_reason,
        suppress_auto_response=False,
        bounce=None,
        defects=defects,
    )


def _parse_message(
    message: EmailMessage, max_attachment_bytes: int, own_addresses: tuple[str, ...]
) -> ParsedEmail:
    defects: list[str] = []
    headers = _read_headers(message, defects)
    walk = _Walk(defects=defects)
    body = _walk_part(message, "0", 0, walk)

    text = _plain_text_of(body.pieces)
    html = _html_of(body.pieces)
    references = _cid_references(body.pieces)
    attachments, oversized = _attachments(body.files, references, max_attachment_bytes)

    kind, kind_reason = _classify(message, headers, walk)
    bounce = _bounce_info(message, headers, walk, text) if kind == KIND_BOUNCE else None
    if _is_forward(headers.subject):
        # A forward's quoted message is the content the sender means to pass on.
        reply_text = text.strip()
    else:
        reply_text = strip_quoted(_reply_source(body.pieces), own_addresses)

    return ParsedEmail(
        message_id=headers.message_id,
        in_reply_to=headers.in_reply_to,
        references=headers.references,
        subject=headers.subject,
        from_address=headers.from_address,
        from_name=headers.from_name,
        to=headers.to,
        cc=headers.cc,
        recipients=headers.recipients,
        text=text,
        html=html,
        reply_text=reply_text,
        attachments=attachments,
        oversized=oversized,
        kind=kind,
        kind_reason=kind_reason,
        suppress_auto_response=message.get("X-Auto-Response-Suppress") is not None,
        bounce=bounce,
        defects=_unique(defects),
    )


# --- headers ---------------------------------------------------------------------

_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
# The look-behind starts a match only where a run of address characters starts,
# which keeps the search linear on long runs that hold no "@".
_ADDRESS = re.compile(
    r"(?<![^\s<>()\[\],;:\"'])[^\s<>()\[\],;:\"'@]+@[^\s<>()\[\],;:\"']+"
)
_WHITESPACE = re.compile(r"\s+")
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_ENCODED_WORD_GAP = re.compile(r"(\?=)\s+(=\?)")
_RECIPIENT_HEADERS = (
    "To",
    "Cc",
    "Delivered-To",
    "X-Original-To",
    "Envelope-To",
    "X-Envelope-To",
)


@dataclass
class _Headers:
    message_id: str | None = None
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    subject: str | None = None
    from_address: str | None = None
    from_name: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)


def _read_headers(message: Message, defects: list[str]) -> _Headers:
    for name, value in message.raw_items():
        if len(value) > MAX_HEADER_CHARACTERS:
            defects.append(f"0:{name}:HeaderTruncated")
    from_addresses = _addresses(message, "From", defects)
    recipients: list[str] = []
    for name in _RECIPIENT_HEADERS:
        recipients.extend(address for address, _name in _addresses(message, name))
    raw_message_id = _header_text(message, "Message-ID", defects)
    return _Headers(
        message_id=_first_message_id(raw_message_id),
        in_reply_to=_message_ids(_header_text(message, "In-Reply-To", defects)),
        references=_message_ids(_header_text(message, "References", defects)),
        subject=_subject(message, defects),
        from_address=from_addresses[0][0] if from_addresses else None,
        from_name=from_addresses[0][1] if from_addresses else "",
        to=[address for address, _name in _addresses(message, "To", defects)],
        cc=[address for address, _name in _addresses(message, "Cc", defects)],
        recipients=_unique(recipients)[:MAX_RECIPIENTS],
    )


def _header_text(
    message: Message, name: str, defects: list[str] | None = None
) -> str | None:
    """Return a header's decoded text, or None when it is missing or unreadable."""
    try:
        value = message.get(name)
        if value is None:
            return None
        if defects is not None:
            for defect in getattr(value, "defects", ()):
                defects.append(f"0:{name}:{type(defect).__name__}")
        return str(value)
    except Exception:  # a broken header reads as missing
        return None


def _first_message_id(value: str | None) -> str | None:
    if value is None:
        return None
    match = _MESSAGE_ID.search(value)
    if match is not None:
        return match.group(0)
    stripped = _clean_line(value)
    return stripped or None


def _message_ids(value: str | None) -> list[str]:
    if not value:
        return []
    found = _unique(_MESSAGE_ID.findall(value))
    if len(found) > MAX_REFERENCES:
        # The first names the thread's root and the last the direct parent.
        found = found[:1] + found[-(MAX_REFERENCES - 1) :]
    return found


def _subject(message: Message, defects: list[str]) -> str | None:
    value = _header_text(message, "Subject", defects)
    if value is None:
        return None
    raw = _raw_header(message, "Subject") or ""
    if "\ufffd" in value and "=?" in raw:
        # The stdlib replaces what an unknown charset encodes; a guess reads better.
        value = raw
    subject = _clean_line(decode_encoded_words(value[: MAX_SUBJECT_CHARACTERS * 8]))
    return subject[:MAX_SUBJECT_CHARACTERS].rstrip() or None


def _clean_line(value: str) -> str:
    """Collapse a header value to one line: whitespace and controls become spaces."""
    characters = [
        " " if unicodedata.category(character) in ("Cc", "Zl", "Zp") else character
        for character in value
    ]
    return _WHITESPACE.sub(" ", "".join(characters)).strip()


def decode_encoded_words(value: str) -> str:
    """Decode RFC 2047 encoded-words in any charset, guessing unknown ones.

    Adjacent words in one charset are joined as bytes before decoding, because
    some clients split a multi-byte character across two words.
    """
    if "=?" not in value:
        return value
    value = _ENCODED_WORD_GAP.sub(r"\1\2", value)
    output: list[str] = []
    run = _EncodedRun()
    position = 0
    for match in _ENCODED_WORD.finditer(value):
        if match.start() != position:
            output.append(run.flush())
            output.append(value[position : match.start()])
        charset, data = _encoded_word_bytes(match)
        if data is None:
            output.append(run.flush())
            output.append(match.group(0))
        else:
            output.append(run.add(charset, data))
        position = match.end()
    output.append(run.flush())
    output.append(value[position:])
    return "".join(output)


@dataclass
class _EncodedRun:
    """Bytes of adjacent encoded-words in one charset, not yet decoded."""

    charset: str = ""
    data: bytes = b""

    def add(self, charset: str, data: bytes) -> str:
        """Add a word's bytes; return the text of the previous run if it ended."""
        finished = ""
        if charset != self.charset:
            finished = self.flush()
            self.charset = charset
        self.data += data
        return finished

    def flush(self) -> str:
        text = decode_bytes(self.data, self.charset or None) if self.data else ""
        self.charset, self.data = "", b""
        return text


def _encoded_word_bytes(match: re.Match[str]) -> tuple[str, bytes | None]:
    charset, encoding, encoded = match.groups()
    # RFC 2231 allows a language after the charset: "utf-8*id".
    charset = charset.split("*", 1)[0].lower()
    try:
        if encoding.lower() == "b":
            padded = encoded + "=" * (-len(encoded) % 4)
            return charset, binascii.a2b_base64(padded)
        return charset, binascii.a2b_qp(encoded.replace("_", " "), header=True)
    except (binascii.Error, ValueError):
        return charset, None


def _addresses(
    message: Message, name: str, defects: list[str] | None = None
) -> list[tuple[str, str]]:
    """Return (lower-case addr-spec, display name) pairs from every such header."""
    found: list[tuple[str, str]] = []
    for value in _header_values(message, name):
        if defects is not None:
            for defect in getattr(value, "defects", ()):
                defects.append(f"0:{name}:{type(defect).__name__}")
        found.extend(_addresses_in(value))
    unique: dict[str, str] = {}
    for address, display_name in found:
        unique.setdefault(address, display_name)
    return list(unique.items())


def _header_values(message: Message, name: str) -> list[Any]:
    """Return the first MAX_HEADER_INSTANCES parsed values of a repeated header."""
    values: list[Any] = []
    wanted = name.lower()
    for header_name, raw in message.raw_items():
        if header_name.lower() != wanted:
            continue
        # The stdlib records a defect on a broken header instead of raising.
        values.append(_POLICY.header_fetch_parse(header_name, raw))
        if len(values) >= MAX_HEADER_INSTANCES:
            break
    return values


def _addresses_in(value: Any) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    try:
        for address in getattr(value, "addresses", ()):
            spec = _clean_line(address.addr_spec).lower().strip("<>")
            if "@" in spec:
                pairs.append((spec, _clean_line(address.display_name or "")))
    except Exception:  # fall back to the address pattern below
        pairs = []
    if pairs:
        return pairs
    text = str(value)
    for display_name, spec in email.utils.getaddresses([text]):
        spec = _clean_line(spec).lower()
        if "@" in spec and _ADDRESS.fullmatch(spec):
            pairs.append((spec, _clean_line(display_name)))
    if not pairs:
        pairs = [(spec.lower(), "") for spec in _ADDRESS.findall(text)]
    return pairs


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


# --- walking the MIME tree ---------------------------------------------------------


@dataclass
class _Piece:
    """One stretch of body: its plain text, its HTML, or both (alternatives)."""

    plain: str | None = None
    html: str | None = None


@dataclass
class _Collected:
    pieces: list[_Piece] = field(default_factory=list)
    files: list[tuple[Message, bool]] = field(default_factory=list)

    def extend(self, other: "_Collected") -> None:
        self.pieces.extend(other.pieces)
        self.files.extend(other.files)


@dataclass
class _Walk:
    """State of one walk: the report parts found and the count of parts read."""

    defects: list[str]
    parts_seen: int = 0
    limit_noted: bool = False
    delivery_status: list[Message] = field(default_factory=list)
    returned_messages: list[Message] = field(default_factory=list)
    feedback_report: bool = False
    disposition_notification: bool = False
    report_type: str = ""

    def admit(self, part: Message, path: str, depth: int) -> bool:
        """Count a part and tell whether the walk may read it."""
        if self.parts_seen >= MAX_PARTS or depth > MAX_DEPTH:
            if not self.limit_noted:
                limit = "PartLimit" if self.parts_seen >= MAX_PARTS else "DepthLimit"
                self.defects.append(f"{path}:{limit}Reached")
                self.limit_noted = True
            return False
        self.parts_seen += 1
        for defect in part.defects:
            self.defects.append(f"{path}:{type(defect).__name__}")
        return True


_MESSAGE_FILE_SUBTYPES = frozenset({"rfc822", "global", "news", "partial"})
_SIGNATURE_TYPES = frozenset(
    {
        "application/pkcs7-signature",
        "application/x-pkcs7-signature",
        "application/pgp-signature",
    }
)
_DELIVERY_STATUS_TYPES = frozenset(
    {"message/delivery-status", "message/global-delivery-status"}
)
_RETURNED_TYPES = frozenset(
    {
        "message/rfc822",
        "message/global",
        "text/rfc822-headers",
        "message/rfc822-headers",
        "message/global-headers",
    }
)


def _children(part: Message) -> list[Message]:
    payload = part.get_payload()
    if not isinstance(payload, list):
        return []
    return [child for child in payload if isinstance(child, Message)]


def _content_type(part: Message) -> tuple[str, str]:
    maintype, _slash, subtype = part.get_content_type().partition("/")
    return maintype, subtype


def _walk_part(part: Message, path: str, depth: int, walk: _Walk) -> _Collected:
    collected = _Collected()
    if not walk.admit(part, path, depth):
        return collected
    maintype, subtype = _content_type(part)
    if maintype == "multipart" and part.is_multipart():
        return _walk_multipart(part, subtype, path, depth, walk)
    if maintype == "message":
        _take_message_part(part, walk, collected)
    else:
        _take_leaf(part, collected)
    return collected


def _walk_multipart(
    part: Message, subtype: str, path: str, depth: int, walk: _Walk
) -> _Collected:
    children = _children(part)
    if subtype == "alternative":
        return _walk_alternative(children, path, depth, walk)
    collected = _Collected()
    if subtype == "signed":
        # The other parts contain the signature, which is not shown as a file.
        children = children[:1]
    elif subtype == "related":
        children = _related_root_first(part, children)
    for index, child in enumerate(children):
        child_path = f"{path}.{index}"
        if subtype == "report" and index > 0:
            if walk.admit(child, child_path, depth + 1):
                _take_report_part(child, walk)
            continue
        child_collected = _walk_part(child, child_path, depth + 1, walk)
        if subtype == "related" and index > 0:
            # Resources of the root document show inside it, not as more body.
            child_collected.pieces = []
        collected.extend(child_collected)
    if subtype == "report" and depth == 0:
        walk.report_type = _parameter(part, "report-type").lower()
    return collected


def _parameter(part: Message, name: str) -> str:
    try:
        value = part.get_param(name)
    except Exception:  # a broken parameter reads as missing
        return ""
    if value is None:
        return ""
    return email.utils.collapse_rfc2231_value(value).strip()


def _walk_alternative(
    children: list[Message], path: str, depth: int, walk: _Walk
) -> _Collected:
    """Take the text of the first plain alternative and the HTML of the last."""
    options = [
        _walk_part(child, f"{path}.{index}", depth + 1, walk)
        for index, child in enumerate(children)
    ]
    with_plain = [option for option in options if _has_plain(option)]
    with_html = [option for option in options if _has_html(option)]
    collected = _Collected()
    if not with_plain and not with_html:
        return collected
    piece = _Piece()
    if with_plain:
        piece.plain = _plain_text_of(with_plain[0].pieces)
    if with_html:
        piece.html = _joined_html(with_html[-1].pieces)
    collected.pieces.append(piece)
    richest = with_html[-1] if with_html else with_plain[0]
    collected.files.extend(richest.files)
    return collected


def _has_plain(collected: _Collected) -> bool:
    return any(piece.plain is not None for piece in collected.pieces)


def _has_html(collected: _Collected) -> bool:
    return any(piece.html is not None for piece in collected.pieces)


def _related_root_first(part: Message, children: list[Message]) -> list[Message]:
    wanted = _parameter(part, "start").strip("<>")
    if not wanted or not children:
        return children
    for index, child in enumerate(children):
        if _content_id(child) == wanted:
            return [child, *children[:index], *children[index + 1 :]]
    return children


def _take_report_part(part: Message, walk: _Walk) -> None:
    content_type = part.get_content_type()
    if content_type in _DELIVERY_STATUS_TYPES:
        walk.delivery_status.append(part)
    elif content_type == "message/feedback-report":
        walk.feedback_report = True
    elif content_type == "message/disposition-notification":
        walk.disposition_notification = True
    elif content_type in _RETURNED_TYPES:
        walk.returned_messages.append(part)


def _take_message_part(part: Message, walk: _Walk, collected: _Collected) -> None:
    content_type = part.get_content_type()
    _maintype, subtype = _content_type(part)
    if content_type in _DELIVERY_STATUS_TYPES or subtype in (
        "feedback-report",
        "disposition-notification",
    ):
        _take_report_part(part, walk)
    elif subtype in _MESSAGE_FILE_SUBTYPES or _disposition(part) == "attachment":
        collected.files.append((part, True))
    # message/external-body only points at content elsewhere: nothing to keep.


def _take_leaf(part: Message, collected: _Collected) -> None:
    maintype, subtype = _content_type(part)
    if part.get_content_type() in _SIGNATURE_TYPES:
        return
    has_name = _declared_filename(part) is not None
    if _disposition(part) != "attachment" and not has_name:
        is_text = maintype == "text" or (subtype == "plain" and _has_charset(part))
        if is_text and subtype == "plain":
            collected.pieces.append(_Piece(plain=_text_of(part)))
            return
        if is_text and subtype == "html":
            collected.pieces.append(_Piece(html=_text_of(part)))
            return
        if maintype == "multipart":
            # A multipart with no parts: its body is all that can be shown.
            collected.pieces.append(_Piece(plain=_text_of(part)))
            return
    collected.files.append((part, False))


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:  # a broken header reads as missing
        return None


def _has_charset(part: Message) -> bool:
    try:
        return bool(part.get_param("charset"))
    except Exception:  # a broken header reads as missing
        return False


def _payload_bytes(part: Message) -> bytes:
    """Return a leaf part's decoded bytes; get_content() can raise, this does not."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # fall back to the undecoded text
        payload = None
    if isinstance(payload, bytes):
        return payload
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    return b""


def _text_of(part: Message) -> str:
    data = _payload_bytes(part)
    try:
        charset = part.get_content_charset()
    except Exception:  # a broken parameter reads as missing
        charset = None
    if charset is None and part.get_content_subtype() == "html":
        charset = _meta_charset(data)
    return decode_bytes(data, charset)


_META_CHARSET = re.compile(
    rb"<meta[^>]{0,200}charset[ \t]*=[ \t]*[\"']?([A-Za-z0-9_.:-]+)", re.I
)


def _meta_charset(data: bytes) -> str | None:
    match = _META_CHARSET.search(data[:2048])
    return match.group(1).decode("ascii") if match else None


# --- body text and HTML ------------------------------------------------------------

# Outlook's plain text marks an inline image with "[cid:…]", a link that is dead.
_CID_PLACEHOLDER = re.compile(
    r"^[ \t]*\[cid:[^\]\s]*\][ \t]*(?:\n|$)|\[cid:[^\]\s]*\]",
    re.IGNORECASE | re.MULTILINE,
)
_BLANK_LINES = re.compile(r"\n{3,}")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CID_REFERENCE = re.compile(r"""cid:([^"'\s<>)]+)""", re.IGNORECASE)


def _plain_text_of(pieces: list[_Piece]) -> str:
    texts = [
        piece.plain if piece.plain is not None else html_to_text(piece.html or "")
        for piece in pieces
    ]
    texts = [_tidy_text(text) for text in texts]
    if len(texts) == 1:
        return texts[0]
    return "\n\n".join(text.strip("\n") for text in texts if text.strip())


def _reply_source(pieces: list[_Piece]) -> str:
    texts = [
        piece.plain
        if piece.plain is not None
        else html_to_text(piece.html or "", drop_quotes=True)
        for piece in pieces
    ]
    return "\n\n".join(_tidy_text(text).strip("\n") for text in texts)


def _tidy_text(text: str) -> str:
    """Convert line ends to LF and drop control characters and "[cid:…]" marks.

    PostgreSQL cannot store NUL in a text column, so control characters go.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL_CHARACTERS.sub("", text)
    if "[cid:" not in text.lower():
        return text
    return _BLANK_LINES.sub("\n\n", _CID_PLACEHOLDER.sub("", text))


def _joined_html(pieces: list[_Piece]) -> str:
    parts: list[str] = []
    for piece in pieces:
        if piece.html is not None:
            parts.append(piece.html)
        elif piece.plain is not None:
            escaped = escape(piece.plain)
            parts.append(f'<div style="white-space:pre-wrap">{escaped}</div>')
    return "\n".join(parts)


def _html_of(pieces: list[_Piece]) -> str | None:
    if not any(piece.html is not None for piece in pieces):
        return None
    joined = _joined_html(pieces)
    if _nesting_depth(joined) > MAX_HTML_DEPTH:
        # The sanitiser's time grows with the square of the nesting depth.
        return _html_as_text(joined)
    try:
        return sanitize_html(joined).strip()
    except BaseException as error:
        # A Rust panic inside nh3 arrives as PanicException, a BaseException.
        if (
            not isinstance(error, Exception)
            and type(error).__name__ != "PanicException"
        ):
            raise
        logger.warning("HTML body could not be sanitised, so only its text is kept")
        return _html_as_text(joined)


def _html_as_text(html: str) -> str:
    return f"<pre>{escape(html_to_text(html))}</pre>"


_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]{0,20})")
_VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta"}
    | {"param", "source", "track", "wbr"}
)
# A second one of these closes the first, as in HTML ("<p>one<p>two").
_SIBLING_CLOSED_TAGS = frozenset({"p", "li", "td", "th", "tr", "option", "dt", "dd"})


def _nesting_depth(html: str) -> int:
    """Estimate the most elements open at once, as an HTML parser would have them.

    An end tag closes only an element of its name that is open, so stray end tags
    do not hide depth.
    """
    open_counts: Counter[str] = Counter()
    depth = deepest = 0
    for match in _TAG.finditer(html):
        closing, name = match.group(1), match.group(2).lower()
        if name in _VOID_TAGS:
            continue
        if not closing and name in _SIBLING_CLOSED_TAGS and open_counts[name]:
            continue
        if not closing:
            open_counts[name] += 1
            depth += 1
            deepest = max(deepest, depth)
        elif open_counts[name]:
            open_counts[name] -= 1
            depth -= 1
    return deepest


def _cid_references(pieces: list[_Piece]) -> set[str]:
    found: set[str] = set()
    for piece in pieces:
        for reference in _CID_REFERENCE.findall(piece.html or ""):
            found.add(urllib.parse.unquote(reference).strip("<>").lower())
    return found


_ALLOWED_TAGS = (set(nh3.ALLOWED_TAGS) - {"area", "map"}) | {"font"}
_ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "*": {"style", "dir", "lang", "title", "align"},
    "a": {"href", "hreflang"},
    "img": {"src", "alt", "width", "height"},
    "font": {"color", "face", "size"},
    "table": {"border", "cellpadding", "cellspacing", "width", "summary"},
    "td": {"colspan", "rowspan", "width", "valign"},
    "th": {"colspan", "rowspan", "width", "valign", "scope"},
    "col": {"span", "width"},
    "colgroup": {"span", "width"},
    "ol": {"start", "type"},
    "ul": {"type"},
    "hr": {"width", "size"},
}


def _words(text: str) -> set[str]:
    return set(text.split())


_ALLOWED_STYLE_PROPERTIES = _words(
    "color background-color font-weight font-style font-size font-family "
    "text-align text-decoration white-space"
)
# Quote containers keep their class, so the console can fold the quoted history.
# ("class" must then stay out of _ALLOWED_ATTRIBUTES, or ammonia panics.)
_ALLOWED_CLASSES = {
    "div": {"gmail_quote", "yahoo_quoted", "moz-cite-prefix"},
    "blockquote": {"gmail_quote"},
}


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    # Remote images would tell the sender when and where the mail was read.
    if tag == "img" and attribute == "src":
        return value if value.strip().lower().startswith("cid:") else None
    return value


def sanitize_html(html: str) -> str:
    """Return HTML safe to show in the agent console.

    Formatting stays. Scripts, styles, forms, frames, event handlers and
    ``javascript:`` or relative URLs are dropped. Only ``cid:`` image sources
    stay, so remote images do not load. Every link gets
    ``rel="noopener noreferrer"``.
    """
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        clean_content_tags={"script", "style", "title", "template", "textarea"},
        attributes=_ALLOWED_ATTRIBUTES,
        attribute_filter=_filter_attribute,
        url_schemes={"http", "https", "mailto", "tel", "cid"},
        url_relative="deny",
        filter_style_properties=_ALLOWED_STYLE_PROPERTIES,
        allowed_classes=_ALLOWED_CLASSES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


# --- attachments -------------------------------------------------------------------

_NAME_PARAMETER = re.compile(
    r"""(?:^|;)\s*(?:file)?name\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)""", re.IGNORECASE
)
_EXTENDED_NAME_PARAMETER = re.compile(
    r"""(?:^|;)\s*(?:file)?name\*\s*=\s*"?([^'";]*)'[^']*'([^";]*)""", re.IGNORECASE
)
_VALID_CONTENT_TYPE = re.compile(r"^\s*[\w.+-]+/[\w.+-]+", re.ASCII)
_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF8", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
)


def _attachments(
    files: list[tuple[Message, bool]], references: set[str], max_bytes: int
) -> tuple[list[ParsedAttachment], list[tuple[str, int]]]:
    attachments: list[ParsedAttachment] = []
    oversized: list[tuple[str, int]] = []
    for number, (part, is_message) in enumerate(files, start=1):
        payload = _message_bytes(part) if is_message else _payload_bytes(part)
        content_type = _declared_content_type(part, payload)
        filename = _attachment_name(part, content_type, number)
        if len(payload) > max_bytes:
            oversized.append((filename, len(payload)))
            continue
        content_id = _content_id(part)
        inline = bool(content_id) and (content_id or "").lower() in references
        attachments.append(
            ParsedAttachment(
                filename=filename,
                content_type=content_type,
                payload=payload,
                content_id=content_id,
                inline=inline and not is_message,
                is_message=is_message,
            )
        )
    return attachments, oversized


def _message_bytes(part: Message) -> bytes:
    """Return an attached message as bytes, close to how it arrived."""
    enclosed = _children(part)
    if not enclosed:
        return _payload_bytes(part)
    output = io.BytesIO()
    try:
        # compat32 writes the stored header text back unchanged (and fast).
        BytesGenerator(output, mangle_from_=False, policy=compat32).flatten(enclosed[0])
    except Exception:  # keep what could be written
        logger.info("An attached message could not be written back in full")
    return output.getvalue()


def _declared_content_type(part: Message, payload: bytes) -> str:
    raw = _raw_header(part, "Content-Type")
    if raw is None or _VALID_CONTENT_TYPE.match(raw):
        return part.get_content_type()
    for signature, sniffed in _SIGNATURES:
        if payload.startswith(signature):
            return sniffed
    return "application/octet-stream"


def _raw_header(part: Message, name: str) -> str | None:
    for header_name, value in part.raw_items():
        if header_name.lower() == name.lower():
            return _WHITESPACE.sub(" ", _readable_header_value(str(value)))
    return None


def _content_id(part: Message) -> str | None:
    value = _header_text(part, "Content-ID")
    if value is None:
        return None
    content_id = value.strip().strip("<>").strip()
    return content_id or None


def _declared_filename(part: Message) -> str | None:
    """Return the file name the part declares, decoded, or None."""
    try:
        name = part.get_filename()
    except Exception:  # fall back to reading the raw parameters
        name = None
    if name is None or "\ufffd" in name:
        name = _raw_filename(part) or name
    if name is None:
        return None
    return decode_encoded_words(name)


def _raw_filename(part: Message) -> str | None:
    """Read the name parameter from the raw headers, as a last resort."""
    for header in ("Content-Disposition", "Content-Type"):
        raw = _raw_header(part, header)
        if not raw:
            continue
        extended = _EXTENDED_NAME_PARAMETER.search(raw)
        if extended is not None:
            charset, encoded = extended.groups()
            data = urllib.parse.unquote_to_bytes(encoded)
            return decode_bytes(data, charset or None)
        plain = _NAME_PARAMETER.search(raw)
        if plain is not None:
            value = plain.group(1).strip()
            if value.startswith('"') and value.endswith('"') and len(value) > 1:
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            if value:
                return value
    return None


def _attachment_name(part: Message, content_type: str, number: int) -> str:
    """Return a safe display name: the declared one, else one made up from the part.

    As in mail clients, a part without a name is named after its
    Content-Description, and an attached message after its subject. Without
    either, the name is "attachment-N" with an extension for the content type.
    """
    declared = _declared_filename(part)
    if declared:
        name = _safe_name(declared)
        if name:
            return name
    is_message = content_type.startswith("message/")
    if is_message:
        extension = ".eml"
    else:
        extension = mimetypes.guess_extension(content_type, strict=False) or ".bin"
    description = _header_text(part, "Content-Description")
    enclosed = _children(part) if is_message else []
    if not description and enclosed:
        description = _header_text(enclosed[0], "Subject")
    if description:
        name = _safe_name(description[:MAX_DESCRIBED_NAME_CHARACTERS] + extension)
        if name and name != extension.lstrip("."):
            return name
    return f"attachment-{number}{extension}"


def _safe_name(name: str) -> str:
    try:
        return clean_filename(_clean_line(name))
    except UploadRejected:
        return ""


# --- classification ----------------------------------------------------------------

_BOUNCE_SUBJECT = re.compile(
    r"^\s*(undeliver(ed|able)|returned\s+mail|mail\s+delivery\s+(failed|failure|"
    r"system)|delivery\s+(status\s+notification|failure|failed|has\s+failed|"
    r"notification)|failure\s+notice|delayed\s+mail|warning:\s+could\s+not\s+send|"
    r"mail\s+system\s+error|non[- ]?delivery|nicht\s+zustellbar|unzustellbar|"
    r"non\s+remis|tidak\s+(dapat|bisa)\s+(di)?(kirim|antar)|tidak\s+terkirim|"
    r"gagal\s+(di|ter)kirim|pesan\s+(tidak|gagal)\s+terkirim|pengiriman\s+"
    r"(pesan\s+|surel\s+|email\s+)?gagal|pemberitahuan\s+status\s+pengiriman|"
    r"surat\s+dikembalikan)",
    re.IGNORECASE,
)
_OUT_OF_OFFICE_SUBJECT = re.compile(
    r"^\s*(out\s+of\s+(the\s+)?office|automatic\s+reply|auto(matic)?[- ]?repl(y|ied)|"
    r"auto[- ]?response|auto:|autoreply|away\s+from\s+(the\s+)?office|"
    r"on\s+vacation|vacation\s+(reply|notice)|abwesenheit|automatische\s+antwort|"
    r"réponse\s+automatique|respuesta\s+automática|balasan\s+otomatis|"
    r"balas(an)?\s+otomatis|jawaban\s+otomatis|respons\s+otomatis|"
    r"(sedang\s+)?di\s+luar\s+kantor|sedang\s+cuti|cuti\s*[:\-\u2013])",
    re.IGNORECASE,
)
_ABUSE_SUBJECT = re.compile(
    r"\b(abuse\s+report|spam\s+(report|complaint)|email\s+feedback\s+report|"
    r"laporan\s+(penyalahgunaan|spam))\b",
    re.IGNORECASE,
)
_DAEMON_LOCAL_PARTS = frozenset({"mailer-daemon", "mailer_daemon", "mail-daemon"})
_NO_REPLY_LOCAL_PART = re.compile(
    r"^(mailer[-_]?daemon|mail[-_]daemon|no[-_.]?reply|do[-_.]?not[-_.]?reply|"
    r"noreply[-_.].*|no[-_.]reply[-_.].*|bounces?)$",
    re.IGNORECASE,
)
_ABUSE_LOCAL_PART = re.compile(r"^(abuse|scomp|fbl|arf|feedback)$", re.IGNORECASE)
_BULK_PRECEDENCE = frozenset({"bulk", "junk", "list"})


_ReasonTest = Callable[[Message, "_Headers", "_Walk"], str]


def _classify(message: Message, headers: _Headers, walk: _Walk) -> tuple[str, str]:
    """Return (kind, reason), testing bounce, complaint, auto-reply, then bulk."""
    tests: tuple[tuple[str, _ReasonTest], ...] = (
        (KIND_BOUNCE, _bounce_reason),
        (KIND_COMPLAINT, _complaint_reason),
        (KIND_AUTO_REPLY, _auto_reply_reason),
        (KIND_BULK, _bulk_reason),
    )
    for kind, test in tests:
        reason = test(message, headers, walk)
        if reason:
            return kind, reason
    return KIND_HUMAN, "no automatic-mail markers found"


def _local_part(address: str | None) -> str:
    return (address or "").rpartition("@")[0] or (address or "")


def _null_sender(message: Message) -> bool:
    for name in ("Return-Path", "X-Envelope-From"):
        value = _header_text(message, name)
        if value is not None and value.strip() in ("<>", ""):
            return True
    return False


def _bounce_reason(message: Message, headers: _Headers, walk: _Walk) -> str:
    content_type = message.get_content_type()
    if content_type == "multipart/report" and walk.report_type == "delivery-status":
        return "multipart/report; report-type=delivery-status"
    if content_type in _DELIVERY_STATUS_TYPES:
        return f"Content-Type: {content_type}"
    if walk.delivery_status:
        return "a message/delivery-status part"
    if message.get("X-Failed-Recipients") is not None:
        return "X-Failed-Recipients header"
    if message.get("X-MS-Exchange-Message-Is-Ndr") is not None:
        return "X-MS-Exchange-Message-Is-Ndr header"
    if headers.subject and _BOUNCE_SUBJECT.match(headers.subject):
        local_part = _local_part(headers.from_address).lower()
        if local_part in _DAEMON_LOCAL_PARTS or local_part == "postmaster":
            return f"bounce subject from {local_part}"
        if _null_sender(message):
            return "bounce subject from the null sender"
        if _auto_submitted(message):
            return "bounce subject with Auto-Submitted"
    return ""


def _complaint_reason(message: Message, headers: _Headers, walk: _Walk) -> str:
    if walk.report_type == "feedback-report":
        return "multipart/report; report-type=feedback-report"
    if walk.feedback_report or message.get_content_type() == "message/feedback-report":
        return "a message/feedback-report part"
    if headers.subject and _ABUSE_SUBJECT.search(headers.subject):
        automatic = _auto_submitted(message) or _null_sender(message)
        if automatic or _ABUSE_LOCAL_PART.match(_local_part(headers.from_address)):
            return "abuse-report subject from an automatic sender"
    return ""


def _auto_submitted(message: Message) -> str:
    value = _clean_line(_header_text(message, "Auto-Submitted") or "").lower()
    if value and value.split(";", 1)[0].strip() != "no":
        return value
    return ""


def _auto_reply_reason(message: Message, headers: _Headers, walk: _Walk) -> str:
    auto_submitted = _auto_submitted(message)
    if auto_submitted:
        return f"Auto-Submitted: {auto_submitted[:MAX_REASON_VALUE_CHARACTERS]}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"):
        value = _clean_line(_header_text(message, name) or "")
        if message.get(name) is not None and value.lower() not in ("no", "false", "0"):
            return f"{name}: {value[:MAX_REASON_VALUE_CHARACTERS]}"
    precedence = _clean_line(_header_text(message, "Precedence") or "").lower()
    if precedence in ("auto_reply", "auto-reply"):
        return f"Precedence: {precedence}"
    if walk.report_type == "disposition-notification" or walk.disposition_notification:
        return "multipart/report; report-type=disposition-notification"
    if headers.subject and _OUT_OF_OFFICE_SUBJECT.match(headers.subject):
        return "out-of-office subject"
    # postmaster is left out: RFC 5321 requires a person to read that mailbox.
    if _NO_REPLY_LOCAL_PART.match(_local_part(headers.from_address)):
        return "automatic sender address"
    return ""


def _bulk_reason(message: Message, headers: _Headers, walk: _Walk) -> str:
    del headers, walk
    precedence = _clean_line(_header_text(message, "Precedence") or "").lower()
    if precedence in _BULK_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name in ("List-Id", "List-Unsubscribe"):
        if message.get(name) is not None:
            return f"{name} header"
    return ""


# --- bounces -----------------------------------------------------------------------

_STATUS_CODE = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_PERMANENT_WORDS = re.compile(r"permanent|fatal|gagal\s+permanen", re.IGNORECASE)
_BODY_MESSAGE_ID = re.compile(r"^[ \t]*Message-ID:[ \t]*(<[^<>\s]+>)", re.I | re.M)


def _bounce_info(
    message: Message, headers: _Headers, walk: _Walk, text: str
) -> BounceInfo:
    fields = _delivery_fields(walk)
    recipients = fields.recipients
    if not recipients:
        failed = _header_text(message, "X-Failed-Recipients") or ""
        recipients = [address for address, _name in _addresses_in(failed)]
    statuses = fields.statuses or [
        match.group(0) for match in _STATUS_CODE.finditer(text[:20000])
    ]
    # One failed recipient is enough to report the delivery as failed.
    status = next((code for code in statuses if code.startswith("5")), "")
    status = status or (statuses[0] if statuses else "")
    if status:
        permanent = status.startswith("5")
    else:
        permanent = bool(_PERMANENT_WORDS.search(text))
    diagnostic = fields.diagnostics[0] if fields.diagnostics else ""
    return BounceInfo(
        original_message_id=_original_message_id(walk, headers, text),
        recipients=_unique(address.lower() for address in recipients if address),
        status=status,
        diagnostic=_clean_line(diagnostic)[:MAX_DIAGNOSTIC_CHARACTERS],
        permanent=permanent,
    )


@dataclass
class _DeliveryFields:
    recipients: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    diagnostics: list[str] = field(default_factory=list)


def _delivery_fields(walk: _Walk) -> _DeliveryFields:
    """Collect the per-recipient fields of every delivery-status part."""
    fields = _DeliveryFields()
    for part in walk.delivery_status:
        for block in _children(part):
            recipient = _header_text(block, "Final-Recipient") or _header_text(
                block, "Original-Recipient"
            )
            if recipient:
                address_text = _strip_address_type(recipient)
                fields.recipients.extend(_ADDRESS.findall(address_text))
            status_match = _STATUS_CODE.search(_header_text(block, "Status") or "")
            if status_match:
                fields.statuses.append(status_match.group(0))
            diagnostic = _header_text(block, "Diagnostic-Code")
            if diagnostic:
                fields.diagnostics.append(_strip_address_type(diagnostic))
    return fields


def _strip_address_type(value: str) -> str:
    """Drop the "rfc822;" or "smtp;" type in front of a DSN field's value."""
    kind, separator, rest = value.partition(";")
    if separator and re.fullmatch(r"\s*[\w-]+\s*", kind):
        return rest.strip()
    return value.strip()


def _original_message_id(walk: _Walk, headers: _Headers, text: str) -> str | None:
    for part in walk.returned_messages:
        returned = _returned_headers(part)
        if returned is not None:
            message_id = _first_message_id(_header_text(returned, "Message-ID"))
            if message_id:
                return message_id
    if headers.in_reply_to:
        return headers.in_reply_to[0]
    if headers.references:
        return headers.references[-1]
    match = _BODY_MESSAGE_ID.search(text[:50000])
    return match.group(1) if match else None


def _returned_headers(part: Message) -> Message | None:
    enclosed = _children(part)
    if enclosed:
        return enclosed[0]
    text = decode_bytes(_payload_bytes(part), None)
    try:
        return email.parser.HeaderParser(policy=_POLICY).parsestr(text)
    except Exception:  # unreadable returned headers name nothing
        return None


# --- subjects ----------------------------------------------------------------------

_SUBJECT_PREFIX = re.compile(
    r"^\s*(re|aw|antw|sv|ynt|balas|bls|fwd?|fw|tr|trs|terusan|wg|rv|enc|doorst)"
    r"[ \t]*(?:(?:\[\d+\]|\(\d+\))[ \t]*)?[:\uff1a]\s*",
    re.IGNORECASE,
)
_FORWARD_PREFIX = re.compile(
    r"^\s*(fwd?|fw|tr|trs|terusan|wg|rv|enc|doorst)"
    r"[ \t]*(?:(?:\[\d+\]|\(\d+\))[ \t]*)?[:\uff1a]",
    re.IGNORECASE,
)


def strip_subject_prefixes(subject: str) -> str:
    """Remove reply and forward prefixes ("Re:", "BLS:", "Fwd[2]:", …), repeated."""
    previous = None
    while previous != subject:
        previous = subject
        subject = _SUBJECT_PREFIX.sub("", subject, count=1)
    return subject.strip()


def _is_forward(subject: str | None) -> bool:
    return bool(subject and _FORWARD_PREFIX.match(subject))


def ticket_numbers_in(subject: str, prefix: str) -> list[str]:
    """Return the ticket numbers "PREFIX-YYYY-NNNNNN" in a decoded subject, in order.

    Brackets are optional and case is ignored; each number is returned once, with
    the prefix as given. Another system's number ("VND-556120") is not taken.
    """
    pattern = re.compile(
        rf"(?<![A-Za-z0-9]){re.escape(prefix)}-([0-9]{{4}})-([0-9]{{6}})(?![0-9])",
        re.IGNORECASE,
    )
    numbers = (f"{prefix}-{year}-{serial}" for year, serial in pattern.findall(subject))
    return _unique(numbers)
