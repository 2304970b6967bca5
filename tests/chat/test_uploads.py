import hashlib
import io
import json
import logging
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from pytest_django.fixtures import Settings

from layanan.chat.uploads import (
    INLINE_TYPES,
    UploadRejected,
    clean_filename,
    delete_stored,
    open_stored,
    store_upload,
)

DATA = Path(__file__).parent / "data" / "uploads"
CASE = json.loads((DATA / "case.json").read_text())
UPLOADS = json.loads((DATA / "13-uploads.json").read_text())["uploads"]
CLAIMED_TYPES = {
    upload["file"]: upload["claimed_type"] for upload in UPLOADS if "file" in upload
}

PDF_BODY = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
OLE2_BODY = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
JPEG_BODY = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
INDONESIAN_TEXT = "Mohon bantuan, printer di ruang dosen tidak bisa mencetak 🙏\n"

WORD_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
EXCEL_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
POWERPOINT_TYPE = (
    "application/vnd.openxmlformats-officedocument.presentationml.presentation"
)


@pytest.fixture
def upload_root(settings: Settings, tmp_path: Path) -> Path:
    root = tmp_path / "uploads"
    settings.UPLOAD_ROOT = root
    return root


@pytest.fixture
def one_mib_limit(settings: Settings) -> int:
    settings.UPLOAD_MAX_MB = 1
    settings.UPLOAD_MAX_BYTES = 1024 * 1024
    return 1024 * 1024


def files_under(root: Path) -> list[Path]:
    if not root.exists():
        return []
    return sorted(path for path in root.rglob("*") if not path.is_dir())


def ooxml_package(folder: str, with_content_types: bool = True) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        if with_content_types:
            archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(f"{folder}/main.xml", "<root/>")
    return buffer.getvalue()


def fixture_upload(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (DATA / name).read_bytes(), CLAIMED_TYPES[name])


def reject(upload: SimpleUploadedFile | TemporaryUploadedFile) -> UploadRejected:
    with pytest.raises(UploadRejected) as caught:
        store_upload(upload)
    return caught.value


def temporary_pdf(name: str, size: int) -> TemporaryUploadedFile:
    upload = TemporaryUploadedFile(name, "application/pdf", size, None)
    header = b"%PDF-1.4\n"
    upload.write(header)
    remaining = size - len(header)
    while remaining > 0:
        block = min(remaining, 64 * 1024)
        upload.write(bytes(block))
        remaining -= block
    upload.seek(0)
    return upload


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("laporan.pdf", PDF_BODY, "application/pdf"),
        ("surat.doc", OLE2_BODY, "application/msword"),
        ("surat.docx", ooxml_package("word"), WORD_TYPE),
        ("nilai.xls", OLE2_BODY, "application/vnd.ms-excel"),
        ("nilai.xlsx", ooxml_package("xl"), EXCEL_TYPE),
        ("materi.ppt", OLE2_BODY, "application/vnd.ms-powerpoint"),
        ("materi.pptx", ooxml_package("ppt"), POWERPOINT_TYPE),
        ("foto.jpg", JPEG_BODY, "image/jpeg"),
        ("foto.JPEG", JPEG_BODY, "image/jpeg"),
        ("layar.png", PNG_SIGNATURE + bytes(16), "image/png"),
        (
            "catatan.txt",
            INDONESIAN_TEXT.encode(),
            "text/plain; charset=utf-8",
        ),
    ],
)
def test_store_upload_accepts_allowed_kind(
    upload_root: Path, name: str, content: bytes, content_type: str
) -> None:
    stored = store_upload(SimpleUploadedFile(name, content, "application/x-unknown"))

    assert stored.content_type == content_type
    assert stored.size == len(content)
    assert stored.original_name == name
    assert (upload_root / stored.storage_path).read_bytes() == content


def test_store_upload_text_cp1252_charset(upload_root: Path) -> None:
    content = "Tagihan Rp 150.000 \u2013 lunas".encode("cp1252")

    stored = store_upload(SimpleUploadedFile("tagihan.txt", content))

    assert stored.content_type == "text/plain; charset=windows-1252"


@pytest.mark.parametrize(
    "content",
    [
        b"teks\x00biner",
        b"<!DOCTYPE html><p>hai</p>",
        b"  \n<HTML><body>hai</body></HTML>",
        b"<?xml version='1.0'?><catatan/>",
        b"Catatan rapat\n<script>alert(1)</script>",
        "\ufeff<svg onload='alert(1)'/>".encode(),
    ],
)
def test_store_upload_text_rejects_markup_and_binary(
    upload_root: Path, content: bytes
) -> None:
    rejection = reject(SimpleUploadedFile("catatan.txt", content))

    assert rejection.code == "type_mismatch"
    assert files_under(upload_root) == []


@pytest.mark.parametrize("name", CASE["expected"]["risky_files"])
def test_store_upload_risky_file_not_stored(upload_root: Path, name: str) -> None:
    rejection = reject(fixture_upload(name))

    assert rejection.code in {"type_not_allowed", "type_mismatch"}
    assert name in rejection.message
    assert files_under(upload_root) == []


def test_store_upload_svg_type_not_allowed(upload_root: Path) -> None:
    rejection = reject(fixture_upload("denah_kantor.svg"))

    assert rejection.code == "type_not_allowed"


def test_store_upload_html_type_not_allowed(upload_root: Path) -> None:
    rejection = reject(fixture_upload("panduan_instalasi.html"))

    assert rejection.code == "type_not_allowed"


def test_store_upload_jpg_with_html_mismatch(upload_root: Path) -> None:
    rejection = reject(fixture_upload("foto_ktp.jpg"))

    assert rejection.code == "type_mismatch"


def test_store_upload_control_png_accepted(upload_root: Path) -> None:
    expected = CASE["expected"]["control_png"]
    content = (DATA / "bukti_transfer.png").read_bytes()

    stored = store_upload(fixture_upload("bukti_transfer.png"))

    assert stored.content_type == expected["content_type"]
    assert stored.size == expected["bytes"]
    assert stored.content_type in INLINE_TYPES
    assert (upload_root / stored.storage_path).read_bytes() == content


def test_inline_types_only_png_and_jpeg() -> None:
    assert frozenset({"image/png", "image/jpeg"}) == INLINE_TYPES


def test_store_upload_ignores_claimed_type(upload_root: Path) -> None:
    content = (DATA / "bukti_transfer.png").read_bytes()

    stored = store_upload(SimpleUploadedFile("bukti.png", content, "text/html"))

    assert stored.content_type == "image/png"


def test_store_upload_at_limit_accepted(upload_root: Path, one_mib_limit: int) -> None:
    upload = temporary_pdf("dokumen_batas.pdf", one_mib_limit)
    try:
        stored = store_upload(upload)
    finally:
        upload.close()

    assert stored.size == one_mib_limit
    assert stored.content_type == "application/pdf"
    assert (upload_root / stored.storage_path).stat().st_size == one_mib_limit


def test_store_upload_over_limit_rejected(
    upload_root: Path, one_mib_limit: int
) -> None:
    upload = temporary_pdf("dokumen_lebih.pdf", one_mib_limit + 1)
    try:
        rejection = reject(upload)
    finally:
        upload.close()

    assert rejection.code == "too_large"
    assert files_under(upload_root) == []


def test_store_upload_over_limit_message(upload_root: Path, one_mib_limit: int) -> None:
    upload = SimpleUploadedFile("dokumen_lebih.pdf", PDF_BODY + bytes(one_mib_limit))

    rejection = reject(upload)

    assert "dokumen_lebih.pdf" in rejection.message
    assert "1 MiB" in rejection.message


def test_store_upload_counts_bytes_not_declared_size(
    upload_root: Path, one_mib_limit: int
) -> None:
    upload = SimpleUploadedFile("dokumen_lebih.pdf", PDF_BODY + bytes(one_mib_limit))
    upload.size = 10

    rejection = reject(upload)

    assert rejection.code == "too_large"
    assert files_under(upload_root) == []


def test_store_upload_empty_rejected(upload_root: Path) -> None:
    rejection = reject(SimpleUploadedFile("kosong.pdf", b""))

    assert rejection.code == "empty"
    assert files_under(upload_root) == []


@pytest.mark.parametrize("name", ["program.exe", "README", "halaman.htm", "x.pdf.svg"])
def test_store_upload_extension_not_allowed(upload_root: Path, name: str) -> None:
    rejection = reject(SimpleUploadedFile(name, PDF_BODY))

    assert rejection.code == "type_not_allowed"


def test_store_upload_docx_name_pdf_body(upload_root: Path) -> None:
    rejection = reject(SimpleUploadedFile("surat.docx", PDF_BODY))

    assert rejection.code == "type_mismatch"
    assert files_under(upload_root) == []


def test_store_upload_zip_without_content_types(upload_root: Path) -> None:
    content = ooxml_package("word", with_content_types=False)

    rejection = reject(SimpleUploadedFile("surat.docx", content))

    assert rejection.code == "type_mismatch"
    assert files_under(upload_root) == []


def test_store_upload_docx_name_xlsx_package(upload_root: Path) -> None:
    rejection = reject(SimpleUploadedFile("surat.docx", ooxml_package("xl")))

    assert rejection.code == "type_mismatch"


def test_store_upload_truncated_zip_mismatch(upload_root: Path) -> None:
    content = ooxml_package("word")[:40]

    rejection = reject(SimpleUploadedFile("surat.docx", content))

    assert rejection.code == "type_mismatch"


@pytest.mark.parametrize(
    ("name", "cleaned"),
    [
        ("..\\..\\windows\\evil.pdf", "evil.pdf"),
        ("/etc/passwd.txt", "passwd.txt"),
        ("C:\\Users\\x\\surat.pdf", "surat.pdf"),
        ("C:surat.pdf", "surat.pdf"),
        ("Faktur_2026/11/0042.pdf", "0042.pdf"),
        ("../../../settings.py", "settings.py"),
        ("  .tersembunyi.txt  ", "tersembunyi.txt"),
        ("laporan.pdf. . ", "laporan.pdf"),
        ("lap\x00or\x1ban\n.pdf", "laporan.pdf"),
        ("foto\u202egpj.exe", "fotogpj.exe"),
        ("Surat Kuasa \u2013 Ibu Ratna.pdf", "Surat Kuasa \u2013 Ibu Ratna.pdf"),
    ],
)
def test_clean_filename_cases(name: str, cleaned: str) -> None:
    assert clean_filename(name) == cleaned


def test_clean_filename_long_keeps_extension() -> None:
    cleaned = clean_filename("a" * 300 + ".docx")

    assert len(cleaned) == 200
    assert cleaned.endswith("a.docx")


def test_clean_filename_long_without_extension() -> None:
    assert clean_filename("b" * 300) == "b" * 200


@pytest.mark.parametrize("name", ["", "   ", "..", "dir/", "C:\\", "\x00\x01"])
def test_clean_filename_empty_rejected(name: str) -> None:
    with pytest.raises(UploadRejected) as caught:
        clean_filename(name)

    assert caught.value.code == "bad_name"


def test_store_upload_cleans_path_in_name(upload_root: Path) -> None:
    stored = store_upload(SimpleUploadedFile("..\\..\\windows\\evil.pdf", PDF_BODY))

    assert stored.original_name == "evil.pdf"
    assert files_under(upload_root) == [upload_root / stored.storage_path]


def test_store_upload_storage_path_random(upload_root: Path) -> None:
    stored = store_upload(SimpleUploadedFile("evil.pdf", PDF_BODY))
    year, month, file_id = stored.storage_path.split("/")

    assert len(year) == 4
    assert len(month) == 2
    assert len(file_id) == 32
    assert int(file_id, 16) >= 0
    assert "evil" not in stored.storage_path


def test_store_upload_sha256(upload_root: Path) -> None:
    content = INDONESIAN_TEXT.encode() * 5000

    stored = store_upload(SimpleUploadedFile("catatan.txt", content))

    assert stored.sha256 == hashlib.sha256(content).hexdigest()


def test_store_upload_modes(upload_root: Path) -> None:
    stored = store_upload(SimpleUploadedFile("laporan.pdf", PDF_BODY))
    path = upload_root / stored.storage_path

    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o750
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o750
    assert stat.S_IMODE(upload_root.stat().st_mode) == 0o750


class FailingUpload(SimpleUploadedFile):
    """Upload whose stream breaks after the first chunk, as a dropped client does."""

    def chunks(self, chunk_size: int | None = None) -> Iterator[bytes]:
        yield PDF_BODY
        raise OSError("connection reset")


def test_store_upload_read_error_leaves_nothing(upload_root: Path) -> None:
    with pytest.raises(OSError, match="connection reset"):
        store_upload(FailingUpload("laporan.pdf", PDF_BODY))

    assert files_under(upload_root) == []


def test_store_upload_logs_without_name(
    upload_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="layanan.chat.uploads")

    stored = store_upload(SimpleUploadedFile("rahasia_pribadi.pdf", PDF_BODY))

    assert len(caplog.records) == 1
    assert caplog.records[0].levelno == logging.INFO
    assert stored.storage_path in caplog.text
    assert "rahasia_pribadi" not in caplog.text


def test_store_upload_logs_rejection_code(
    upload_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="layanan.chat.uploads")

    reject(fixture_upload("foto_ktp.jpg"))

    assert len(caplog.records) == 1
    assert caplog.records[0].levelno == logging.WARNING
    assert "type_mismatch" in caplog.text
    assert "foto_ktp" not in caplog.text


def test_open_stored_reads_bytes(upload_root: Path) -> None:
    stored = store_upload(SimpleUploadedFile("laporan.pdf", PDF_BODY))

    with open_stored(stored.storage_path) as stored_file:
        assert stored_file.read() == PDF_BODY


@pytest.mark.parametrize(
    "storage_path",
    [
        "../x",
        "2026/12/../../../etc/passwd",
        "/etc/passwd",
        "/2026/12/" + "a" * 32,
        "2026\\12\\" + "a" * 32,
        "",
    ],
)
def test_open_stored_rejects_path(upload_root: Path, storage_path: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        open_stored(storage_path)


def test_open_stored_rejects_symlink_escape(upload_root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (upload_root / "2026").mkdir(parents=True)
    (upload_root / "2026" / "12").symlink_to(outside)
    storage_path = "2026/12/" + "a" * 32
    (outside / ("a" * 32)).write_bytes(b"secret")

    with pytest.raises(ValueError, match="outside UPLOAD_ROOT"):
        open_stored(storage_path)


def test_open_stored_missing_file(upload_root: Path) -> None:
    with pytest.raises(FileNotFoundError):
        open_stored("2026/12/" + "a" * 32)


def test_delete_stored_removes_file(upload_root: Path) -> None:
    stored = store_upload(SimpleUploadedFile("laporan.pdf", PDF_BODY))

    delete_stored(stored.storage_path)

    assert files_under(upload_root) == []


def test_delete_stored_missing_file(upload_root: Path) -> None:
    delete_stored("2026/12/" + "a" * 32)

    assert files_under(upload_root) == []


def test_delete_stored_rejects_path(upload_root: Path) -> None:
    with pytest.raises(ValueError, match="invalid"):
        delete_stored("../x")
