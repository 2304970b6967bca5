"""Check uploaded files by name and content, and keep them under UPLOAD_ROOT.

Only document and photo kinds that a browser will not run as a page are accepted.
SVG and HTML are rejected because a browser renders them as documents in the
service desk's origin, so a script inside one would run with an agent's session.
Each file is checked by its extension and by its bytes, and the stored content
type comes from that checked kind, never from the client's claim.
"""

import codecs
import contextlib
import hashlib
import logging
import os
import re
import tempfile
import unicodedata
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_stubs_ext import StrPromise

logger = logging.getLogger(__name__)

StrOrPromise = str | StrPromise

INLINE_TYPES: frozenset[str] = frozenset({"image/png", "image/jpeg"})

MAX_NAME_LENGTH = 200
# An extension longer than this is treated as part of the name when shortening it.
MAX_EXTENSION_LENGTH = 20
FILE_MODE = 0o640
DIRECTORY_MODE = 0o750
# Bytes kept from the start of the upload for the signature and markup checks.
HEAD_SIZE = 1024
TEMPORARY_PREFIX = ".incoming-"

# Markup that a browser could render as a page if it ever sniffed a text file.
_MARKUP_MARKERS = ("<html", "<script", "<svg", "<!doctype", "<?xml", "<iframe")
_DRIVE_PREFIX = re.compile(r"^[A-Za-z]:")
# Bidirectional controls can make "gpj.exe" display as "exe.jpg", hiding the real
# extension from the agent who downloads the file.
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_REMOVED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
_STORAGE_PATH = re.compile(r"[0-9]{4}/[0-9]{2}/[0-9a-f]{32}", re.ASCII)

_PDF_SIGNATURE = b"%PDF-"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SIGNATURE = b"\xff\xd8\xff"
_OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_SIGNATURE = b"PK\x03\x04"


class UploadRejected(Exception):
    """Upload that failed a check, with a translated ``message`` for the user.

    ``code`` is one of "too_large", "empty", "type_not_allowed", "type_mismatch"
    or "bad_name", and does not change with the language.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class StoredFile:
    """File kept under UPLOAD_ROOT, with the facts an attachment record needs."""

    storage_path: str
    original_name: str
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True)
class _Kind:
    """Accepted file kind and the check its bytes must pass."""

    label: StrOrPromise
    content_type: str
    signature: bytes = b""
    # Top folder that an Office Open XML package of this kind contains.
    ooxml_folder: str = ""
    is_text: bool = False


_PDF = _Kind(gettext_lazy("PDF document"), "application/pdf", _PDF_SIGNATURE)
_WORD_LEGACY = _Kind(
    gettext_lazy("Word document"), "application/msword", _OLE2_SIGNATURE
)
_WORD = _Kind(
    gettext_lazy("Word document"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    _ZIP_SIGNATURE,
    ooxml_folder="word/",
)
_EXCEL_LEGACY = _Kind(
    gettext_lazy("Excel workbook"), "application/vnd.ms-excel", _OLE2_SIGNATURE
)
_EXCEL = _Kind(
    gettext_lazy("Excel workbook"),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    _ZIP_SIGNATURE,
    ooxml_folder="xl/",
)
_POWERPOINT_LEGACY = _Kind(
    gettext_lazy("PowerPoint presentation"),
    "application/vnd.ms-powerpoint",
    _OLE2_SIGNATURE,
)
_POWERPOINT = _Kind(
    gettext_lazy("PowerPoint presentation"),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    _ZIP_SIGNATURE,
    ooxml_folder="ppt/",
)
_JPEG = _Kind(gettext_lazy("JPEG image"), "image/jpeg", _JPEG_SIGNATURE)
_PNG = _Kind(gettext_lazy("PNG image"), "image/png", _PNG_SIGNATURE)
_TEXT = _Kind(gettext_lazy("plain text"), "text/plain", is_text=True)

# NOTE: the legacy .doc, .xls and .ppt kinds are distinguished only by extension,
# because all three share the OLE2 signature and the inner streams are not read.
_KINDS_BY_EXTENSION: dict[str, _Kind] = {
    "pdf": _PDF,
    "doc": _WORD_LEGACY,
    "docx": _WORD,
    "xls": _EXCEL_LEGACY,
    "xlsx": _EXCEL,
    "ppt": _POWERPOINT_LEGACY,
    "pptx": _POWERPOINT,
    "jpg": _JPEG,
    "jpeg": _JPEG,
    "png": _PNG,
    "txt": _TEXT,
}


def clean_filename(name: str) -> str:
    """Reduce an uploaded name to a safe display name, or raise UploadRejected.

    Keeps only the part after the last ``/`` or ``\\`` and drops a drive letter,
    control and bidirectional characters, surrounding spaces, leading dots and
    trailing dots. A name longer than 200 characters is shortened before its
    extension.
    """
    name = unicodedata.normalize("NFC", name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _DRIVE_PREFIX.sub("", name)
    name = "".join(character for character in name if _is_allowed_in_name(character))
    # A leading dot hides the file on Unix, and Windows drops trailing dots.
    trimmed = name.strip()
    name = trimmed.lstrip(".").strip().rstrip(". ")
    if trimmed.startswith(".") and _is_bare_extension(name):
        raise _no_name_before_extension(name)
    name = _shorten_name(name)
    if not name:
        raise UploadRejected(
            "bad_name",
            _(
                "The file name is empty or contains only characters that are not "
                "allowed. Rename the file and upload it again."
            ),
        )
    return name


def _is_bare_extension(name: str) -> bool:
    """Return whether name, its leading dot removed, is only an allowed extension.

    Such a file, named like ".png", would otherwise be rejected as the type
    "png", which reads as a contradiction next to the list of allowed types.
    """
    return "." not in name and name.lower() in _KINDS_BY_EXTENSION


def _is_allowed_in_name(character: str) -> bool:
    if character in _BIDI_CONTROLS:
        return False
    return unicodedata.category(character) not in _REMOVED_CATEGORIES


def _shorten_name(name: str) -> str:
    if len(name) <= MAX_NAME_LENGTH:
        return name
    stem, dot, extension = name.rpartition(".")
    if dot and stem and len(extension) <= MAX_EXTENSION_LENGTH:
        suffix = dot + extension
        return stem[: MAX_NAME_LENGTH - len(suffix)].rstrip() + suffix
    return name[:MAX_NAME_LENGTH].rstrip()


def store_upload(uploaded: UploadedFile) -> StoredFile:
    """Check an upload and store it under UPLOAD_ROOT, or raise UploadRejected.

    The bytes are streamed to a temporary file in UPLOAD_ROOT while being counted
    and hashed, then renamed to a random storage path. A rejected or failed upload
    leaves no file behind, except after a crash that kills the process, which can
    leave a temporary ``.incoming-*`` file in UPLOAD_ROOT.
    """
    try:
        stored = _check_and_store(uploaded)
    except UploadRejected as rejection:
        logger.warning(
            "Rejected upload: code=%s declared_size=%s", rejection.code, uploaded.size
        )
        raise
    logger.info(
        "Stored upload %s: %d bytes, %s",
        stored.storage_path,
        stored.size,
        stored.content_type,
    )
    return stored


def _check_and_store(uploaded: UploadedFile) -> StoredFile:
    name = clean_filename(uploaded.name or "")
    extension = _extension_of(name)
    kind = _KINDS_BY_EXTENSION.get(extension)
    if kind is None:
        raise _type_not_allowed(name)
    max_bytes: int = settings.UPLOAD_MAX_BYTES
    if uploaded.size is not None and uploaded.size > max_bytes:
        raise _too_large(name)

    root = Path(settings.UPLOAD_ROOT)
    _make_directories(root)
    descriptor, temporary_name = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, dir=root)
    temporary_path = Path(temporary_name)
    try:
        with os.fdopen(descriptor, "wb") as output:
            os.fchmod(output.fileno(), FILE_MODE)
            copy = _copy_upload(uploaded, output, max_bytes, name, kind)
            output.flush()
            os.fsync(output.fileno())
        if copy.size == 0:
            raise _empty(name)
        content_type = _verify_content(kind, copy, temporary_path, name, extension)
        storage_path = _new_storage_path()
        final_path = root / storage_path
        _make_directories(final_path.parent, stop_at=root)
        os.replace(temporary_path, final_path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary_path.unlink()
        raise
    return StoredFile(
        storage_path=storage_path,
        original_name=name,
        content_type=content_type,
        size=copy.size,
        sha256=copy.sha256,
    )


def _extension_of(name: str) -> str:
    _stem, dot, extension = name.rpartition(".")
    return extension.lower() if dot else ""


@dataclass(frozen=True)
class _Copy:
    """Facts gathered while streaming an upload to disk."""

    size: int
    sha256: str
    head: bytes
    # Charset that decodes the whole body, or None. Only the text kind sets it.
    text_charset: str | None


def _copy_upload(
    uploaded: UploadedFile,
    output: BinaryIO,
    max_bytes: int,
    name: str,
    kind: _Kind,
) -> _Copy:
    digest = hashlib.sha256()
    head = b""
    size = 0
    text_check = _TextCheck() if kind.is_text else None
    for chunk in uploaded.chunks():
        size += len(chunk)
        # The declared size can be wrong, so the bytes are counted as well.
        if size > max_bytes:
            raise _too_large(name)
        digest.update(chunk)
        if len(head) < HEAD_SIZE:
            head += chunk[: HEAD_SIZE - len(head)]
        if text_check is not None:
            text_check.feed(chunk)
        output.write(chunk)
    text_charset = text_check.finish() if text_check is not None else None
    return _Copy(size, digest.hexdigest(), head, text_charset)


class _TextCheck:
    """Incremental check that a body is text in UTF-8 or, failing that, cp1252."""

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._cp1252 = codecs.getincrementaldecoder("cp1252")()
        self._utf8_valid = True
        self._cp1252_valid = True
        self._has_nul = False

    def feed(self, chunk: bytes, final: bool = False) -> None:
        if b"\x00" in chunk:
            self._has_nul = True
        if self._utf8_valid:
            try:
                self._utf8.decode(chunk, final)
            except UnicodeDecodeError:
                self._utf8_valid = False
        if self._cp1252_valid:
            try:
                self._cp1252.decode(chunk, final)
            except UnicodeDecodeError:
                self._cp1252_valid = False

    def finish(self) -> str | None:
        """Return "utf-8" or "windows-1252" for a valid text body, else None."""
        self.feed(b"", final=True)
        # Plain text has no NUL bytes, so one marks a binary body in any encoding.
        if self._has_nul:
            return None
        if self._utf8_valid:
            return "utf-8"
        if self._cp1252_valid:
            return "windows-1252"
        return None


def _verify_content(
    kind: _Kind, copy: _Copy, path: Path, name: str, extension: str
) -> str:
    """Return the content type for the stored bytes, or raise "type_mismatch"."""
    if kind.is_text:
        if copy.text_charset is None or _looks_like_markup(copy.head):
            raise _type_mismatch(name, extension, kind)
        return f"{kind.content_type}; charset={copy.text_charset}"
    if not copy.head.startswith(kind.signature):
        raise _type_mismatch(name, extension, kind)
    if kind.ooxml_folder and not _is_ooxml_package(path, kind.ooxml_folder):
        raise _type_mismatch(name, extension, kind)
    return kind.content_type


def _looks_like_markup(head: bytes) -> bool:
    text = head.decode("utf-8", errors="ignore").lower()
    return any(marker in text for marker in _MARKUP_MARKERS)


def _is_ooxml_package(path: Path, folder: str) -> bool:
    # Only the central directory is read, so a compressed bomb is never expanded.
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False
    if "[Content_Types].xml" not in names:
        return False
    return any(entry.startswith(folder) for entry in names)


def store_bytes(name: str, payload: bytes) -> StoredFile:
    """Store a file that arrived by email, of any type, under a random name.

    Mail attachments are not held to the upload allow-list, so the declared type is
    never trusted: PNG and JPEG whose bytes carry the signature keep their type (and
    may be shown inline), everything else is stored as application/octet-stream.
    Call only after checking the size limit.
    """
    original_name = clean_filename(name)
    if payload.startswith(_PNG_SIGNATURE):
        content_type = "image/png"
    elif payload.startswith(_JPEG_SIGNATURE):
        content_type = "image/jpeg"
    elif payload.startswith(_PDF_SIGNATURE):
        content_type = "application/pdf"
    else:
        content_type = "application/octet-stream"
    storage_path = _new_storage_path()
    root = Path(settings.UPLOAD_ROOT)
    final = root / storage_path
    _make_directories(final.parent)
    temporary = final.parent / f"{TEMPORARY_PREFIX}{uuid.uuid4().hex}"
    try:
        with open(temporary, "xb") as target:
            target.write(payload)
        temporary.chmod(FILE_MODE)
        os.replace(temporary, final)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    logger.info(
        "email attachment stored path=%s size=%d type=%s",
        storage_path,
        len(payload),
        content_type,
    )
    return StoredFile(
        storage_path=storage_path,
        original_name=original_name,
        content_type=content_type,
        size=len(payload),
        sha256=hashlib.sha256(payload).hexdigest(),
    )


def _new_storage_path() -> str:
    now = timezone.now()
    return f"{now:%Y}/{now:%m}/{uuid.uuid4().hex}"


def _make_directories(path: Path, stop_at: Path | None = None) -> None:
    """Create ``path`` and its missing parents below ``stop_at`` with mode 0o750."""
    missing: list[Path] = []
    current = path
    while current != stop_at and not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir()
        except FileExistsError:
            # Another upload created it at the same moment, with the same mode.
            continue
        # chmod after mkdir because mkdir's mode is reduced by the umask.
        directory.chmod(DIRECTORY_MODE)


def _resolve_storage_path(storage_path: str) -> Path:
    """Return the absolute path of a stored file, or raise ValueError."""
    if not _STORAGE_PATH.fullmatch(storage_path):
        raise ValueError(
            f"Storage path {storage_path!r} is invalid: expected YYYY/MM/<32 hex "
            "digits> relative to UPLOAD_ROOT, as store_upload returns it."
        )
    root = Path(settings.UPLOAD_ROOT).resolve()
    path = (root / storage_path).resolve()
    # A symbolic link inside UPLOAD_ROOT could still point elsewhere.
    if not path.is_relative_to(root):
        raise ValueError(
            f"Storage path {storage_path!r} leads outside UPLOAD_ROOT: "
            "remove the symbolic link that points there."
        )
    return path


def open_stored(storage_path: str) -> BinaryIO:
    """Open a stored file for reading in binary mode.

    Raises ValueError for a path that is not one store_upload returns or that leads
    outside UPLOAD_ROOT, and FileNotFoundError for a file that no longer exists.
    """
    return _resolve_storage_path(storage_path).open("rb")


def delete_stored(storage_path: str) -> None:
    """Delete a stored file, treating a file that is already gone as deleted.

    Raises ValueError for a path that is not one store_upload returns.
    """
    path = _resolve_storage_path(storage_path)
    try:
        path.unlink()
    except FileNotFoundError:
        logger.info("Stored upload %s was already deleted", storage_path)
        return
    logger.info("Deleted stored upload %s", storage_path)


def _too_large(name: str) -> UploadRejected:
    return UploadRejected(
        "too_large",
        _(
            "The file “%(name)s” is larger than the %(limit)s MiB limit. Compress "
            "it or split it into smaller files, then upload it again."
        )
        % {"name": name, "limit": settings.UPLOAD_MAX_MB},
    )


def _empty(name: str) -> UploadRejected:
    return UploadRejected(
        "empty",
        _("The file “%(name)s” is empty. Choose a file with content and try again.")
        % {"name": name},
    )


def _type_not_allowed(name: str) -> UploadRejected:
    return UploadRejected(
        "type_not_allowed",
        _(
            "The file “%(name)s” is not an allowed type. Upload a PDF, Word, Excel, "
            "PowerPoint, JPEG, PNG or plain text (.txt) file instead."
        )
        % {"name": name},
    )


def _no_name_before_extension(extension: str) -> UploadRejected:
    return UploadRejected(
        "bad_name",
        _(
            "The file “.%(extension)s” has no name before its extension. Rename "
            "it, for example to “document.%(extension)s”, and upload it again."
        )
        % {"extension": extension},
    )


def _type_mismatch(name: str, extension: str, kind: _Kind) -> UploadRejected:
    return UploadRejected(
        "type_mismatch",
        _(
            "The file “%(name)s” ends in .%(extension)s, but its content does not "
            "match that type (%(kind)s). Save or export it again in that format, "
            "then upload it again."
        )
        % {"name": name, "extension": extension, "kind": kind.label},
    )
