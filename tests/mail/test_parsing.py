"""parse_email at the parser level: cases 01, 06, 07 and 08, names, limits, kinds.

The cast: staff and students who write to the desk (Fajar, Putri, Ratna, Agus),
the partner workshop that answers a forward (Teknisi Servis Kilat), mail servers
that return mail, and the desk itself at bantuan@helpdesk.example.com.
"""

import json
from pathlib import Path
from typing import Any

import pytest

from layanan.mail.parsing import (
    MAX_PARTS,
    MAX_SUBJECT_CHARACTERS,
    ParsedAttachment,
    ParsedEmail,
    decode_bytes,
    parse_email,
    sanitize_html,
    strip_subject_prefixes,
    ticket_numbers_in,
)

CASES = Path(__file__).parent / "cases"
CORPUS = Path(__file__).parent / "corpus"
LIMIT = 1_000_000


def case_json(folder: str) -> dict[str, Any]:
    expected: dict[str, Any] = json.loads(
        (CASES / folder / "case.json").read_text("utf-8")
    )["expected"]
    return expected


def parse_case(folder: str, name: str) -> ParsedEmail:
    return parse_email((CASES / folder / name).read_bytes(), max_attachment_bytes=LIMIT)


def parse_text(raw: str, *, limit: int = LIMIT) -> ParsedEmail:
    """Parse a message written in the test as text (CRLF line ends)."""
    data = raw.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
    return parse_email(data, max_attachment_bytes=limit)


HEADERS = (
    "From: Agus Setiawan <agus.setiawan@example.org>\n"
    "To: Tim Bantuan <bantuan@helpdesk.example.com>\n"
    "Subject: Laptop\n"
    "Message-ID: <agus.1@mail.example.org>\n"
    "MIME-Version: 1.0\n"
)


def with_attachment(disposition: str, content_type: str = "text/plain") -> str:
    """Return a message whose second part has the given Content-Disposition."""
    return (
        f'{HEADERS}Content-Type: multipart/mixed; boundary="b"\n\n'
        "--b\nContent-Type: text/plain; charset=utf-8\n\nTerlampir.\n"
        f"--b\nContent-Type: {content_type}\nContent-Disposition: {disposition}\n"
        "Content-Transfer-Encoding: base64\n\naXNp\n--b--\n"
    )


def first_name(disposition: str, content_type: str = "text/plain") -> str:
    attachments = parse_text(with_attachment(disposition, content_type)).attachments
    assert len(attachments) == 1
    return attachments[0].filename


# --- case 01: encoded subject with our ticket tag ------------------------------

CASE_01 = "01-encoded-subject-ticket-tag"
CASE_01_FILES = ["01a-q-encoded-subject.eml", "01b-b-encoded-split-tag.eml"]
CASE_01_SUBJECT = "Re: [EKB-2026-001042] Fwd: Laptop mati \u2013 VND-556120 \U0001f64f"


@pytest.mark.parametrize("name", CASE_01_FILES)
def test_case_01_subject_decoded(name: str) -> None:
    assert parse_case(CASE_01, name).subject == CASE_01_SUBJECT


@pytest.mark.parametrize("name", CASE_01_FILES)
def test_case_01_subject_has_no_encoded_word(name: str) -> None:
    assert "=?" not in (parse_case(CASE_01, name).subject or "")


@pytest.mark.parametrize("name", CASE_01_FILES)
def test_case_01_ticket_number_found(name: str) -> None:
    subject = parse_case(CASE_01, name).subject or ""
    assert ticket_numbers_in(subject, "EKB") == ["EKB-2026-001042"]


@pytest.mark.parametrize("name", CASE_01_FILES)
def test_case_01_partner_number_not_taken(name: str) -> None:
    subject = parse_case(CASE_01, name).subject or ""
    assert "EKB-2026-556120" not in ticket_numbers_in(subject, "EKB")


@pytest.mark.parametrize("name", CASE_01_FILES)
def test_case_01_human_from_partner(name: str) -> None:
    email = parse_case(CASE_01, name)
    assert email.kind == "human"
    assert email.from_address == "teknisi@servis.example.net"


def test_case_01_reply_to_forward() -> None:
    # "Re: … Fwd:" is a reply: only a subject that starts with Fwd is a forward.
    email = parse_case(CASE_01, CASE_01_FILES[0])
    assert email.reply_text.startswith("Selamat pagi,")


# --- case 06: HTML-only single part in windows-1252 ----------------------------

CASE_06 = "06-html-only-singlepart"
CASE_06_FILE = "06-html-only-windows-1252.eml"


def test_case_06_sender_and_subject() -> None:
    expected = case_json(CASE_06)
    email = parse_case(CASE_06, CASE_06_FILE)
    assert email.from_address == expected["requester"]
    assert email.subject == expected["subject"]


def test_case_06_body_contains_texts_in_order() -> None:
    text = parse_case(CASE_06, CASE_06_FILE).text.replace("\u00a0", " ")
    positions = [
        text.find(piece) for piece in case_json(CASE_06)["body_contains_in_order"]
    ]
    assert -1 not in positions, positions
    assert positions == sorted(positions)


@pytest.mark.parametrize("piece", case_json(CASE_06)["body_not_contains"])
def test_case_06_body_has_no_css_or_mojibake(piece: str) -> None:
    assert piece not in parse_case(CASE_06, CASE_06_FILE).text


def test_case_06_table_cells_read_as_text() -> None:
    text = parse_case(CASE_06, CASE_06_FILE).text
    assert "Nomor kartu KA-20931" in text


def test_case_06_has_no_attachments() -> None:
    email = parse_case(CASE_06, CASE_06_FILE)
    assert len(email.attachments) == case_json(CASE_06)["attachment_count"]


def test_case_06_html_kept_without_style() -> None:
    html = parse_case(CASE_06, CASE_06_FILE).html or ""
    assert "Kartu akses saya \u201chilang\u201d" in html
    assert "<style" not in html
    assert ".ttd" not in html


# --- case 07: inline image with a Content-ID and no disposition -----------------

CASE_07 = "07-inline-cid-no-disposition"
CASE_07_FILE = "07-outlook-inline-cid-no-disposition.eml"
CASE_07_CID = "image001.png@01DB4F2A.1C3E5B70"


def attachment_named(email: ParsedEmail, name: str) -> ParsedAttachment:
    matches = [item for item in email.attachments if item.filename == name]
    assert len(matches) == 1, [item.filename for item in email.attachments]
    return matches[0]


def test_case_07_inline_image_marked_inline() -> None:
    expected = case_json(CASE_07)["inline_images"][0]
    image = attachment_named(parse_case(CASE_07, CASE_07_FILE), expected["name"])
    assert image.inline is True
    assert image.content_id == CASE_07_CID


def test_case_07_inline_image_bytes_and_type() -> None:
    expected = case_json(CASE_07)["inline_images"][0]
    image = attachment_named(parse_case(CASE_07, CASE_07_FILE), expected["name"])
    assert len(image.payload) == expected["bytes"]
    assert image.content_type == expected["content_type"]
    assert image.payload.startswith(b"\x89PNG")


def test_case_07_unreferenced_cid_not_inline() -> None:
    expected = case_json(CASE_07)["attachments"][0]
    log = attachment_named(parse_case(CASE_07, CASE_07_FILE), expected["name"])
    assert log.inline == expected["inline"]
    assert len(log.payload) == expected["bytes"]


def test_case_07_inline_image_listed_once() -> None:
    names = [item.filename for item in parse_case(CASE_07, CASE_07_FILE).attachments]
    assert names.count("image001.png") == 1


def test_case_07_html_keeps_cid() -> None:
    # The store rewrites cid: to its own URL; the parser must keep the reference.
    html = parse_case(CASE_07, CASE_07_FILE).html or ""
    assert f'src="cid:{CASE_07_CID}"' in html


@pytest.mark.parametrize("field", ["text", "reply_text"])
def test_case_07_text_has_no_cid_placeholder(field: str) -> None:
    email = parse_case(CASE_07, CASE_07_FILE)
    for piece in case_json(CASE_07)["visible_text_not_contains"]:
        assert piece not in getattr(email, field)


# --- case 08: attachment names with paths ---------------------------------------

CASE_08 = "08-attachment-filename-paths"
CASE_08_FILE = "08-attachment-names-with-paths.eml"


def test_case_08_four_attachments() -> None:
    email = parse_case(CASE_08, CASE_08_FILE)
    assert len(email.attachments) == case_json(CASE_08)["attachment_count"]


@pytest.mark.parametrize("index", range(4))
def test_case_08_names_keep_their_last_part(index: int) -> None:
    expected = case_json(CASE_08)["attachments"][index]
    attachment = parse_case(CASE_08, CASE_08_FILE).attachments[index]
    if "display_name" in expected:
        assert attachment.filename == expected["display_name"]
    else:
        assert attachment.filename.endswith(expected["display_name_endswith"])


@pytest.mark.parametrize("index", range(4))
def test_case_08_bytes_match_the_parts(index: int) -> None:
    expected = case_json(CASE_08)["attachments"][index]
    attachment = parse_case(CASE_08, CASE_08_FILE).attachments[index]
    assert len(attachment.payload) == expected["bytes"]


@pytest.mark.parametrize("index", range(4))
def test_case_08_names_without_paths(index: int) -> None:
    name = parse_case(CASE_08, CASE_08_FILE).attachments[index].filename
    for forbidden in case_json(CASE_08)["display_name_forbidden"]:
        assert forbidden not in name
    assert not name.startswith(case_json(CASE_08)["display_name_must_not_start_with"])


# --- file names in odd charsets ------------------------------------------------


@pytest.mark.parametrize(
    ("disposition", "expected"),
    [
        ("attachment; filename*=windows-1251''%CA%E0%F0%F2%E0.txt", "Карта.txt"),
        ("attachment; filename*=koi8-r''%EB%C1%D2%D4%C1.txt", "Карта.txt"),
        ("attachment; filename*=gb2312''%D0%C2%BD%A8.txt", "新建.txt"),
        ("attachment; filename*=iso-8859-2''%B9kola.txt", "škola.txt"),
        (
            "attachment; filename*=utf-8'id'Laporan%20%E2%80%93%20Mei.pdf",
            "Laporan \u2013 Mei.pdf",
        ),
        ("attachment; filename*0*=utf-8''Lap%20; filename*1*=Mei.pdf", "Lap Mei.pdf"),
        # Declared UTF-8, written in Latin-1 by the sender's client.
        ("attachment; filename*=utf-8''caf%E9.txt", "café.txt"),
    ],
)
def test_filename_rfc2231(disposition: str, expected: str) -> None:
    assert first_name(disposition) == expected


@pytest.mark.parametrize(
    ("disposition", "expected"),
    [
        ('attachment; filename="=?koi8-r?B?68HS1MEudHh0?="', "Карта.txt"),
        ('attachment; filename="=?iso-2022-jp?B?GyRCJUYlOSVIGyhC?=.txt"', "テスト.txt"),
        ('attachment; filename="=?shift_jis?B?g2WDWINn?=.txt"', "テスト.txt"),
        ('attachment; filename="=?windows-1252?Q?caf=E9.txt?="', "café.txt"),
        ('attachment; filename="=?utf-8?B?w6l0?= =?utf-8?B?w6kudHh0?="', "été.txt"),
        # Unquoted, which RFC 2047 forbids; clients still send it.
        ("attachment; filename==?utf-8?B?w6l0w6kudHh0?=", "été.txt"),
        # An unknown charset: the bytes are guessed (UTF-8 here).
        ('attachment; filename="=?x-unknown?Q?=C3=A9t=C3=A9.txt?="', "été.txt"),
    ],
)
def test_filename_rfc2047(disposition: str, expected: str) -> None:
    assert first_name(disposition) == expected


def test_filename_from_content_type_name() -> None:
    name = first_name(
        "attachment", 'application/pdf; name="=?UTF-8?Q?Surat_=E2=80=93.pdf?="'
    )
    assert name == "Surat \u2013.pdf"


def test_filename_windows_path_reduced_to_basename() -> None:
    assert (
        first_name('attachment; filename="C:\\\\Users\\\\agus\\\\nilai.xlsx"')
        == "nilai.xlsx"
    )


def test_filename_hidden_dot_dropped() -> None:
    assert first_name('attachment; filename="../.bashrc"') == "bashrc"


def test_filename_fallback_when_none() -> None:
    assert first_name("attachment", "application/pdf") == "attachment-1.pdf"


def test_filename_fallback_when_only_dots() -> None:
    assert first_name('attachment; filename="../.."', "application/octet-stream") == (
        "attachment-1.bin"
    )


def test_filename_bidi_override_removed() -> None:
    name = first_name('attachment; filename="=?utf-8?Q?laporan=E2=80=AEfdp.exe?="')
    assert "\u202e" not in name


# --- headers --------------------------------------------------------------------


def test_subject_encoded_line_break_becomes_one_line() -> None:
    raw = HEADERS.replace(
        "Subject: Laptop", "Subject: =?utf-8?q?Halo=0D=0ABcc:_korban@example.net?="
    )
    assert parse_text(raw + "\nbody\n").subject == "Halo Bcc: korban@example.net"


def test_subject_folded_header_lookalike_stays_in_subject() -> None:
    raw = HEADERS.replace(
        "Subject: Laptop", "Subject: Laptop\n Bcc: korban@example.net"
    )
    email = parse_text(raw + "\nbody\n")
    assert email.subject == "Laptop Bcc: korban@example.net"
    assert "korban@example.net" not in email.recipients


def test_subject_control_characters_removed() -> None:
    raw = HEADERS.replace("Subject: Laptop", "Subject: =?utf-8?q?La=00pt=1Bop?=")
    assert parse_text(raw + "\nbody\n").subject == "La pt op"


def test_subject_unknown_charset_guessed() -> None:
    raw = HEADERS.replace("Subject: Laptop", "Subject: =?x-bogus?q?caf=C3=A9?=")
    assert parse_text(raw + "\nbody\n").subject == "café"


def test_subject_long_header_truncated() -> None:
    words = " ".join(f"=?utf-8?q?kata=C3=A9{index}?=" for index in range(5000))
    raw = HEADERS.replace("Subject: Laptop", f"Subject: {words}")
    email = parse_text(raw + "\nbody\n")
    assert len(email.subject or "") == MAX_SUBJECT_CHARACTERS
    assert "0:Subject:HeaderTruncated" in email.defects


def test_subject_missing_is_none() -> None:
    raw = HEADERS.replace("Subject: Laptop\n", "")
    assert parse_text(raw + "\nbody\n").subject is None


def test_sender_lower_case_addr_spec() -> None:
    raw = HEADERS.replace(
        "From: Agus Setiawan <agus.setiawan@example.org>",
        "From: =?utf-8?q?Agus_Setiawan=2C_S=2EKom?= <Agus.Setiawan@Example.ORG>",
    )
    email = parse_text(raw + "\nbody\n")
    assert email.from_address == "agus.setiawan@example.org"
    assert email.from_name == "Agus Setiawan, S.Kom"


def test_sender_raw_8bit_name_read_as_utf8() -> None:
    raw = HEADERS.encode().replace(b"Agus Setiawan <", "Agus Sétiawan <".encode())
    email = parse_email(raw + b"\r\nbody\r\n", max_attachment_bytes=LIMIT)
    assert email.from_name == "Agus Sétiawan"


def test_recipients_include_delivery_headers() -> None:
    raw = (
        HEADERS.replace(
            "To: Tim Bantuan <bantuan@helpdesk.example.com>", "To: a@example.org"
        )
        + "Cc: B <b@example.org>, c@example.org\n"
        + "Delivered-To: bantuan+t1042@helpdesk.example.com\n"
        + "X-Original-To: Bantuan@helpdesk.example.com\n"
        + "Envelope-To: e@example.org\nX-Envelope-To: <f@example.org>\n"
    )
    email = parse_text(raw + "\nbody\n")
    assert email.recipients == [
        "a@example.org",
        "b@example.org",
        "c@example.org",
        "bantuan+t1042@helpdesk.example.com",
        "bantuan@helpdesk.example.com",
        "e@example.org",
        "f@example.org",
    ]


def test_to_and_cc_lists() -> None:
    raw = HEADERS + "Cc: B <B@example.org>, c@example.org\n"
    email = parse_text(raw + "\nbody\n")
    assert email.to == ["bantuan@helpdesk.example.com"]
    assert email.cc == ["b@example.org", "c@example.org"]


def test_thread_headers() -> None:
    raw = (
        HEADERS.replace("Message-ID: <agus.1@mail.example.org>", "Message-ID:  <x@y> ")
        + "In-Reply-To: <t1050.r1@helpdesk.example.com> (comment)\n"
        + "References: <t1050.n1@helpdesk.example.com>\n"
        + " <t1050.r1@helpdesk.example.com>\n"
    )
    email = parse_text(raw + "\nbody\n")
    assert email.message_id == "<x@y>"
    assert email.in_reply_to == ["<t1050.r1@helpdesk.example.com>"]
    assert email.references == [
        "<t1050.n1@helpdesk.example.com>",
        "<t1050.r1@helpdesk.example.com>",
    ]


def test_references_capped_keeping_root_and_parent() -> None:
    references = " ".join(f"<m{index}@example.org>" for index in range(300))
    email = parse_text(HEADERS + f"References: {references}\n\nbody\n")
    assert len(email.references) == 100
    assert email.references[0] == "<m0@example.org>"
    assert email.references[-1] == "<m299@example.org>"


# --- subjects and ticket numbers ------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: Laptop mati", "Laptop mati"),
        ("RE: RE: Laptop mati", "Laptop mati"),
        ("AW: Laptop mati", "Laptop mati"),
        ("Balas: Laptop mati", "Laptop mati"),
        ("BLS: [EKB-2026-001050] Laptop", "[EKB-2026-001050] Laptop"),
        ("Fwd: Laptop mati", "Laptop mati"),
        ("FW: Re: Laptop mati", "Laptop mati"),
        ("TR: Laptop mati", "Laptop mati"),
        ("TRS: Laptop mati", "Laptop mati"),
        ("Terusan: Laptop mati", "Laptop mati"),
        ("Fwd[2]: Laptop mati", "Laptop mati"),
        ("Re[3]: Laptop mati", "Laptop mati"),
        ("re :Laptop mati", "Laptop mati"),
        ("Laptop mati", "Laptop mati"),
        ("Rekap nilai", "Rekap nilai"),
        ("Trsn data", "Trsn data"),
    ],
)
def test_strip_subject_prefixes(subject: str, expected: str) -> None:
    assert strip_subject_prefixes(subject) == expected


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("[EKB-2026-001042] Laptop", ["EKB-2026-001042"]),
        ("Re: EKB-2026-001042 Laptop", ["EKB-2026-001042"]),
        ("re: [ekb-2026-001042]", ["EKB-2026-001042"]),
        (
            "[EKB-2026-001042] dan [EKB-2025-000007]",
            ["EKB-2026-001042", "EKB-2025-000007"],
        ),
        ("[EKB-2026-001042] Re: [EKB-2026-001042]", ["EKB-2026-001042"]),
        ("VND-556120 [XEKB-2026-001042]", []),
        ("EKB-2026-0010421", []),
        ("EKB-2026-01042", []),
        ("Laptop mati", []),
    ],
)
def test_ticket_numbers_in(subject: str, expected: list[str]) -> None:
    assert ticket_numbers_in(subject, "EKB") == expected


def test_ticket_numbers_in_other_prefix() -> None:
    assert ticket_numbers_in("[TI-2026-000001] [EKB-2026-000002]", "TI") == [
        "TI-2026-000001"
    ]


# --- sizes and limits -----------------------------------------------------------


def test_oversized_attachment_kept_out() -> None:
    raw = with_attachment('attachment; filename="besar.pdf"', "application/pdf")
    email = parse_text(raw, limit=2)
    assert email.attachments == []
    assert email.oversized == [("besar.pdf", 3)]


def test_attachment_at_the_limit_kept() -> None:
    raw = with_attachment('attachment; filename="pas.pdf"', "application/pdf")
    assert [item.filename for item in parse_text(raw, limit=3).attachments] == [
        "pas.pdf"
    ]


def test_part_limit_stops_the_walk() -> None:
    parts = "".join(
        f"--b\nContent-Type: application/octet-stream; name=f{index}.bin\n\nx\n"
        for index in range(MAX_PARTS + 50)
    )
    raw = f'{HEADERS}Content-Type: multipart/mixed; boundary="b"\n\n{parts}--b--\n'
    email = parse_text(raw)
    assert len(email.attachments) < MAX_PARTS
    assert any(defect.endswith("PartLimitReached") for defect in email.defects)


def test_deep_nesting_does_not_raise() -> None:
    depth = 3000
    opening = "".join(
        f'Content-Type: multipart/mixed; boundary="b{level}"\n\n--b{level}\n'
        for level in range(depth)
    )
    closing = "".join(f"--b{level}--\n" for level in reversed(range(depth)))
    email = parse_text(f"{HEADERS}{opening}Content-Type: text/plain\n\nhalo\n{closing}")
    assert email.subject == "Laptop"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff" * 300,
        b"Subject: hanya header",
        b"\r\n\r\n\r\n",
        b"From: \r\n\r\n",
    ],
)
def test_parse_never_raises(raw: bytes) -> None:
    assert isinstance(parse_email(raw, max_attachment_bytes=LIMIT), ParsedEmail)


def test_get_content_raising_falls_back() -> None:
    # stdlib's get_content() raises KeyError on this declared-but-empty multipart.
    raw = (CORPUS / "flanker" / "false-multipart.eml").read_bytes()
    assert parse_email(raw, max_attachment_bytes=LIMIT).subject == "Broken MIME"


def test_nul_removed_from_text() -> None:
    raw = HEADERS.encode() + b"Content-Type: text/plain\r\n\r\nha\x00lo\r\n"
    assert parse_email(raw, max_attachment_bytes=LIMIT).text == "halo\n"


# --- body -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("charset", "body", "expected"),
    [
        ("windows-1252", b"\x93kutip\x94", "\u201ckutip\u201d"),
        ("iso-8859-1", b"\x93kutip\x94", "\u201ckutip\u201d"),
        ("x-unknown", "Превет".encode(), "Превет"),
        ("us-ascii", b"caf\xe9", "café"),
        ("utf-8", b"caf\xe9", "café"),
        ("shift_jis", "テスト".encode("shift_jis"), "テスト"),
    ],
)
def test_body_charsets(charset: str, body: bytes, expected: str) -> None:
    raw = (
        HEADERS.encode()
        + f"Content-Type: text/plain; charset={charset}\r\n\r\n".encode()
    )
    assert parse_email(raw + body, max_attachment_bytes=LIMIT).text == expected


def test_decode_bytes_guesses_without_charset() -> None:
    assert (
        decode_bytes("Selamat pagi \u2013 Budi".encode(), None)
        == "Selamat pagi \u2013 Budi"
    )


def test_attached_message_is_one_file_and_not_body() -> None:
    inner = "From: x@example.org\nSubject: Lama\n\nTeks lama di dalam lampiran.\n"
    raw = (
        f'{HEADERS}Content-Type: multipart/mixed; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nTeks baru.\n"
        f"--b\nContent-Type: message/rfc822\n\n{inner}--b--\n"
    )
    email = parse_text(raw)
    assert "Teks lama" not in email.text
    assert [(item.filename, item.is_message) for item in email.attachments] == [
        ("Lama.eml", True)
    ]
    assert b"Teks lama di dalam lampiran." in email.attachments[0].payload


def test_tnef_winmail_kept_as_a_file() -> None:
    raw = with_attachment('attachment; filename="winmail.dat"', "application/ms-tnef")
    attachments = parse_text(raw).attachments
    assert [(item.filename, item.content_type) for item in attachments] == [
        ("winmail.dat", "application/ms-tnef")
    ]


def test_signature_part_not_a_file() -> None:
    raw = (
        f'{HEADERS}Content-Type: multipart/signed; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nDitandatangani.\n"
        "--b\nContent-Type: application/pkcs7-signature; name=smime.p7s\n"
        "Content-Disposition: attachment; filename=smime.p7s\n\nMIIB\n--b--\n"
    )
    email = parse_text(raw)
    assert email.text.strip() == "Ditandatangani."
    assert email.attachments == []


def test_inline_text_after_photo_continues_the_body() -> None:
    raw = (
        f'{HEADERS}Content-Type: multipart/mixed; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nHalo\n"
        "--b\nContent-Type: image/jpeg\nContent-Disposition: inline; filename=a.jpg\n"
        "Content-Transfer-Encoding: base64\n\n/9j/4AAQ\n"
        "--b\nContent-Type: text/plain\n\n~Agus\n--b--\n"
    )
    email = parse_text(raw)
    assert email.text == "Halo\n\n~Agus"
    assert [item.filename for item in email.attachments] == ["a.jpg"]


# --- HTML sanitising ------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "forbidden"),
    [
        ("<script>alert(1)</script><p>x</p>", "alert"),
        ("<style>body{display:none}</style><p>x</p>", "display"),
        ('<img src="cid:a" onerror="alert(1)">', "onerror"),
        ('<a href="javascript:alert(1)">x</a>', "javascript"),
        ('<form action="https://example.net"><input name="p"></form>', "<form"),
        ('<iframe src="https://example.net"></iframe>', "iframe"),
        ('<img src="https://tracker.example.net/p.gif">', "tracker"),
        ('<a href="/admin/">x</a>', "/admin/"),
        (
            '<p style="background-image:url(https://t.example.net)">x</p>',
            "t.example.net",
        ),
    ],
)
def test_sanitize_html_drops(html: str, forbidden: str) -> None:
    assert forbidden not in sanitize_html(html)


def test_sanitizer_panic_falls_back_to_text(monkeypatch: pytest.MonkeyPatch) -> None:
    # nh3 reports a Rust panic as PanicException, which is not an Exception.
    panic = type("PanicException", (BaseException,), {})

    def panicking(html: str) -> str:
        raise panic("assertion failed")

    monkeypatch.setattr("layanan.mail.parsing.sanitize_html", panicking)
    raw = HEADERS + "Content-Type: text/html\n\n<p>Halo <b>Rina</b></p>\n"
    assert parse_text(raw).html == "<pre>Halo Rina</pre>"


def test_deep_html_shown_as_text() -> None:
    html = "<div>" * 1500 + "Halo" + "</div>" * 1500
    raw = HEADERS + f"Content-Type: text/html\n\n{html}\n"
    assert parse_text(raw).html == "<pre>Halo</pre>"


def test_unclosed_paragraphs_stay_html() -> None:
    html = "<p>baris" * 1500
    raw = HEADERS + f"Content-Type: text/html\n\n{html}\n"
    assert (parse_text(raw).html or "").startswith("<p>baris</p>")


def test_sanitize_html_keeps_cid_image() -> None:
    assert 'src="cid:image001.png@x"' in sanitize_html('<img src="cid:image001.png@x">')


def test_sanitize_html_links_get_rel() -> None:
    html = sanitize_html('<a href="https://example.org">x</a>')
    assert 'rel="noopener noreferrer"' in html


def test_sanitize_html_keeps_formatting() -> None:
    html = "<p><b>Tebal</b> <i>miring</i></p><ul><li>satu</li></ul>"
    assert sanitize_html(html) == html


# --- classification -------------------------------------------------------------


def kind_of(extra_headers: str, subject: str = "Laptop", body: str = "Halo") -> str:
    raw = HEADERS.replace("Subject: Laptop", f"Subject: {subject}")
    return parse_text(f"{raw}{extra_headers}\n{body}\n").kind


@pytest.mark.parametrize(
    ("extra_headers", "subject", "expected"),
    [
        ("", "Laptop", "human"),
        ("Auto-Submitted: no\n", "Laptop", "human"),
        ("X-Auto-Response-Suppress: DR, RN, NRN, OOF, AutoReply\n", "Laptop", "human"),
        ("Auto-Submitted: auto-replied\n", "Laptop", "auto_reply"),
        ("Auto-Submitted: auto-generated\n", "Laptop", "auto_reply"),
        ("X-Autoreply: yes\n", "Laptop", "auto_reply"),
        ("X-Autorespond: Saya cuti\n", "Laptop", "auto_reply"),
        ("", "Out of Office: Laptop", "auto_reply"),
        ("", "Automatic reply: Laptop", "auto_reply"),
        ("", "Auto: Laptop", "auto_reply"),
        ("", "Autoreply: Laptop", "auto_reply"),
        ("", "Balasan Otomatis: Laptop", "auto_reply"),
        ("", "Sedang di luar kantor", "auto_reply"),
        ("", "Cuti: kembali 14 Desember", "auto_reply"),
        ("", "Cuti bersama, apakah layanan buka?", "human"),
        ("Precedence: bulk\n", "Laptop", "bulk"),
        ("Precedence: junk\n", "Laptop", "bulk"),
        ("Precedence: list\n", "Laptop", "bulk"),
        ("List-Id: <staf.example.org>\n", "Laptop", "bulk"),
        ("List-Unsubscribe: <mailto:keluar@example.org>\n", "Laptop", "bulk"),
        ("Auto-Submitted: auto-replied\nPrecedence: bulk\n", "Laptop", "auto_reply"),
    ],
)
def test_kind_from_headers_and_subject(
    extra_headers: str, subject: str, expected: str
) -> None:
    assert kind_of(extra_headers, subject) == expected


@pytest.mark.parametrize(
    ("sender", "subject", "expected"),
    [
        (
            "MAILER-DAEMON@mx.example.net",
            "Undelivered Mail Returned to Sender",
            "bounce",
        ),
        ("postmaster@example.net", "Undeliverable: Laptop", "bounce"),
        (
            "mailer-daemon@example.net",
            "Delivery Status Notification (Failure)",
            "bounce",
        ),
        (
            "mailer-daemon@example.net",
            "Mail delivery failed: returning message",
            "bounce",
        ),
        ("postmaster@example.net", "Tidak terkirim: Laptop", "bounce"),
        ("postmaster@example.net", "Pesan tidak terkirim", "bounce"),
        ("mailer-daemon@example.net", "Pesan harian", "auto_reply"),
        ("noreply@example.net", "Pengumuman", "auto_reply"),
        ("no-reply@example.net", "Pengumuman", "auto_reply"),
        ("do-not-reply@example.net", "Pengumuman", "auto_reply"),
        # RFC 5321 makes a person read postmaster, so it alone is not automatic.
        ("postmaster@example.net", "Tolong cek server", "human"),
        ("agus.setiawan@example.org", "Undeliverable: Laptop", "human"),
    ],
)
def test_kind_from_sender(sender: str, subject: str, expected: str) -> None:
    raw = HEADERS.replace("agus.setiawan@example.org", sender)
    raw = raw.replace("Subject: Laptop", f"Subject: {subject}")
    assert parse_text(f"{raw}\nHalo\n").kind == expected


def test_kind_bounce_subject_from_null_sender() -> None:
    assert kind_of("Return-Path: <>\n", "Returned mail: see transcript") == "bounce"


def test_suppress_header_recorded_without_making_mail_automatic() -> None:
    email = parse_text(f"{HEADERS}X-Auto-Response-Suppress: All\n\nHalo\n")
    assert email.kind == "human"
    assert email.suppress_auto_response is True


def test_suppress_header_absent() -> None:
    assert parse_text(f"{HEADERS}\nHalo\n").suppress_auto_response is False


def test_kind_reason_names_the_header() -> None:
    email = parse_text(f"{HEADERS}Auto-Submitted: auto-replied\n\nHalo\n")
    assert email.kind_reason == "Auto-Submitted: auto-replied"


DSN = (
    "From: MAILER-DAEMON@mx.example.net\nTo: bantuan@helpdesk.example.com\n"
    "Subject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n"
    'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\n\n'
    "--r\nContent-Type: text/plain\n\nYour message could not be delivered.\n"
    "--r\nContent-Type: message/delivery-status\n\n"
    "Reporting-MTA: dns; mx.example.net\n\n"
    "Final-Recipient: rfc822; Budi.Santos0@example.net\nAction: failed\n"
    "Status: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\n\n"
    "--r\nContent-Type: text/rfc822-headers\n\n"
    "From: Tim Bantuan <bantuan@helpdesk.example.com>\n"
    "Message-ID: <t1045.n2@helpdesk.example.com>\nSubject: Pesanan\n\n--r--\n"
)


def test_dsn_bounce_info() -> None:
    email = parse_text(DSN)
    assert email.kind == "bounce"
    assert email.bounce is not None
    assert email.bounce.recipients == ["budi.santos0@example.net"]
    assert email.bounce.status == "5.1.1"
    assert email.bounce.permanent is True
    assert email.bounce.diagnostic == "550 5.1.1 User unknown"
    assert email.bounce.original_message_id == "<t1045.n2@helpdesk.example.com>"


def test_dsn_delay_is_not_permanent() -> None:
    email = parse_text(DSN.replace("Status: 5.1.1", "Status: 4.4.7"))
    assert email.bounce is not None
    assert email.bounce.status == "4.4.7"
    assert email.bounce.permanent is False


def test_dsn_report_parts_not_files() -> None:
    assert parse_text(DSN).attachments == []


def test_bounce_without_dsn_reads_failed_recipients_and_body() -> None:
    raw = (
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n"
        "To: bantuan@helpdesk.example.com\nX-Failed-Recipients: budi@example.net\n"
        "Subject: Delivery Status Notification (Failure)\n"
        "In-Reply-To: <t1045.n2@helpdesk.example.com>\n\n"
        "Delivery failed permanently: 550 5.1.1 The account does not exist.\n"
    )
    bounce = parse_text(raw).bounce
    assert bounce is not None
    assert bounce.recipients == ["budi@example.net"]
    assert bounce.status == "5.1.1"
    assert bounce.original_message_id == "<t1045.n2@helpdesk.example.com>"


def test_feedback_report_is_a_complaint() -> None:
    raw = DSN.replace("report-type=delivery-status", "report-type=feedback-report")
    raw = raw.replace("message/delivery-status", "message/feedback-report")
    raw = raw.replace("Undelivered Mail Returned to Sender", "Email Feedback Report")
    raw = raw.replace("MAILER-DAEMON@mx.example.net", "fbl@isp.example.net")
    email = parse_text(raw)
    assert email.kind == "complaint"
    assert email.bounce is None


def test_read_receipt_is_an_auto_reply() -> None:
    raw = DSN.replace(
        "report-type=delivery-status", "report-type=disposition-notification"
    )
    raw = raw.replace("message/delivery-status", "message/disposition-notification")
    raw = raw.replace("Undelivered Mail Returned to Sender", "Dibaca: Pesanan")
    raw = raw.replace("MAILER-DAEMON@mx.example.net", "agus.setiawan@example.org")
    assert parse_text(raw).kind == "auto_reply"


def test_forward_keeps_the_forwarded_message_in_reply_text() -> None:
    raw = HEADERS.replace("Subject: Laptop", "Subject: Fwd: Laptop")
    body = (
        "Mohon dibantu.\n\n-----Original Message-----\nFrom: Dosen <d@example.org>\n"
        "Sent: Rabu\nTo: Agus\nSubject: Laptop\n\nLaptop lab mati.\n"
    )
    assert "Laptop lab mati." in parse_text(f"{raw}\n{body}").reply_text
