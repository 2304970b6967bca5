"""Quote stripping: the new text of replies from common clients, in both languages.

The cast: Agus, a member of staff who replies to the desk; Rina, the agent whose
earlier message he quotes; the desk writes from bantuan@helpdesk.example.com.
"""

import email
import email.policy
import json
from email.message import EmailMessage
from pathlib import Path

import pytest

from layanan.mail.parsing import parse_email
from layanan.mail.quotes import html_to_text, strip_quoted

CASE_10 = Path(__file__).parent / "cases" / "10-quoted-reply-indonesian"
CASE_10_JSON = CASE_10 / "case.json"
DESK = "bantuan@helpdesk.example.com"
NEW_TEXT = "Nomor serinya SN-7781-ABCD.\n\nTerima kasih,\nAgus"
QUOTED = "Mohon kirimkan nomor seri perangkat"


def case_10_expected() -> dict[str, object]:
    expected: dict[str, object] = json.loads(CASE_10_JSON.read_text("utf-8"))[
        "expected"
    ]
    return expected


def case_10_email(name: str) -> EmailMessage:
    raw = (CASE_10 / name).read_bytes()
    return email.message_from_bytes(raw, policy=email.policy.default)


def html_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    content: str = part.get_content()
    return content


def lines_of(text: str) -> list[str]:
    """Return the non-blank lines with trailing whitespace dropped."""
    return [line.rstrip() for line in text.splitlines() if line.strip()]


# --- case 10 -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["10a-gmail-style-quote.eml", "10b-outlook-style-quote.eml"]
)
def test_case_10_reply_text_is_the_new_text(name: str) -> None:
    expected = case_10_expected()["visible_body"]
    assert isinstance(expected, dict)
    raw = (CASE_10 / name).read_bytes()
    reply = parse_email(raw, max_attachment_bytes=10_000).reply_text
    assert lines_of(reply) == expected[name]


@pytest.mark.parametrize(
    "name", ["10a-gmail-style-quote.eml", "10b-outlook-style-quote.eml"]
)
def test_case_10_reply_text_without_markers(name: str) -> None:
    forbidden = case_10_expected()["visible_body_not_contains"]
    assert isinstance(forbidden, list)
    raw = (CASE_10 / name).read_bytes()
    reply = parse_email(raw, max_attachment_bytes=10_000).reply_text
    for marker in forbidden:
        assert marker not in reply, marker


@pytest.mark.parametrize(
    "name", ["10a-gmail-style-quote.eml", "10b-outlook-style-quote.eml"]
)
def test_case_10_full_text_keeps_the_quote(name: str) -> None:
    raw = (CASE_10 / name).read_bytes()
    assert QUOTED in parse_email(raw, max_attachment_bytes=10_000).text


@pytest.mark.parametrize(
    "name", ["10a-gmail-style-quote.eml", "10b-outlook-style-quote.eml"]
)
def test_case_10_html_part_reply_text(name: str) -> None:
    expected = case_10_expected()["visible_body"]
    assert isinstance(expected, dict)
    html = html_part(case_10_email(name))
    reply = strip_quoted(html_to_text(html, drop_quotes=True))
    assert lines_of(reply) == expected[name]


def test_case_10_html_only_reply_text() -> None:
    html = html_part(case_10_email("10b-outlook-style-quote.eml"))
    message = EmailMessage()
    message["From"] = "Agus Setiawan <agus.setiawan@example.org>"
    message["Subject"] = "BLS: [EKB-2026-001050] Laptop"
    message.set_content(html, subtype="html")
    reply = parse_email(message.as_bytes(), max_attachment_bytes=10_000).reply_text
    assert QUOTED not in reply
    assert "Staf Administrasi" in reply


# --- plain text: attribution lines -------------------------------------------


@pytest.mark.parametrize(
    "attribution",
    [
        "On Wed, Dec 2, 2026 at 10:15 AM Tim Bantuan <bantuan@helpdesk.example.com>"
        " wrote:",
        "Pada Rab, 2 Des 2026 pukul 10.15 Tim Bantuan <bantuan@helpdesk.example.com>"
        " menulis:",
        "Pada tanggal Rab, 2 Des 2026 10.15, Tim Bantuan menulis:",
        "On 02/12/2026 10:15, Tim Bantuan wrote:",
        "Pada 02/12/26 10.15, Tim Bantuan menulis:",
        "Tim Bantuan menulis:",
        "Rina wrote:",
        "Am 02.12.2026 um 10:15 schrieb Tim Bantuan <bantuan@helpdesk.example.com>:",
        "Le mer. 2 déc. 2026 à 10:15, Tim Bantuan a écrit :",
        "El mié, 2 dic 2026 a las 10:15, Tim Bantuan escribió:",
    ],
)
def test_strip_quoted_attribution_above_quote(attribution: str) -> None:
    text = f"{NEW_TEXT}\n\n{attribution}\n\n> Halo Pak Agus,\n> {QUOTED}.\n"
    assert strip_quoted(text) == NEW_TEXT


def test_strip_quoted_gmail_attribution_wrapped_inside_address() -> None:
    text = (
        f"{NEW_TEXT}\n\nPada Rab, 2 Des 2026 pukul 10.15 Tim Bantuan <\n"
        "bantuan@helpdesk.example.com> menulis:\n\n> Halo Pak Agus,\n"
    )
    assert strip_quoted(text) == NEW_TEXT


def test_strip_quoted_gmail_attribution_wrapped_before_menulis() -> None:
    text = (
        f"{NEW_TEXT}\n\nPada Rab, 2 Des 2026 pukul 10.15 Tim Bantuan\n"
        "<bantuan@helpdesk.example.com> menulis:\n\n> Halo Pak Agus,\n"
    )
    assert strip_quoted(text) == NEW_TEXT


def test_strip_quoted_wrapped_attribution_keeps_line_above() -> None:
    text = (
        "Sudah saya coba.\nPada Rab, 2 Des 2026 pukul 10.15 Tim Bantuan <\n"
        "bantuan@helpdesk.example.com> menulis:\n> Halo\n"
    )
    assert strip_quoted(text) == "Sudah saya coba."


def test_strip_quoted_attribution_with_date_and_unquoted_history() -> None:
    text = (
        f"{NEW_TEXT}\n\n--- On Wed, 2/12/26, Tim Bantuan <{DESK}> wrote:\n\n"
        f"From: Tim Bantuan <{DESK}>\nSubject: Laptop\n\n{QUOTED}.\n"
    )
    assert strip_quoted(text) == NEW_TEXT


def test_strip_quoted_sentence_ending_in_colon_stays() -> None:
    text = "Dosen saya menulis:\nTolong cek jaringan di ruang 301.\n\nAgus"
    assert strip_quoted(text) == text


# --- plain text: quoted lines -------------------------------------------------


def test_strip_quoted_drops_quoted_lines() -> None:
    text = f"{NEW_TEXT}\n\n> {QUOTED}.\n>\n> Salam,\n> Rina"
    assert strip_quoted(text) == NEW_TEXT


def test_strip_quoted_keeps_bottom_posted_reply() -> None:
    text = f"On 02/12/2026 10:15, Rina wrote:\n> {QUOTED}.\n{NEW_TEXT}"
    assert strip_quoted(text) == NEW_TEXT


def test_strip_quoted_keeps_interleaved_answers() -> None:
    text = "Rina menulis:\n> Nomor seri?\nSN-7781-ABCD.\n> Lokasi?\nRuang 301.\n\nAgus"
    assert strip_quoted(text) == "SN-7781-ABCD.\nRuang 301.\n\nAgus"


def test_strip_quoted_drops_quoted_header_block() -> None:
    text = f"\n{NEW_TEXT}\n\n> Subject: Laptop\n> From: {DESK}\n> \n> {QUOTED}\n"
    assert strip_quoted(text) == NEW_TEXT


def test_strip_quoted_keeps_attribution_quoted_itself() -> None:
    text = f"{NEW_TEXT}\n> On 2 Dec 2026, at 10:15, Rina <{DESK}> wrote:\n> Hi"
    assert strip_quoted(text) == NEW_TEXT


# --- plain text: separators and header blocks ---------------------------------


@pytest.mark.parametrize(
    "separator",
    [
        "-------- Pesan Asli --------",
        "-------- Original Message --------",
        "-----Original Message-----",
        "----- Original Message -----",
        "-----Pesan Asli-----",
        "-------- Ursprüngliche Nachricht --------",
    ],
)
def test_strip_quoted_original_message_separator(separator: str) -> None:
    text = f"{NEW_TEXT}\n\n{separator}\nSubjek: Laptop\n\n{QUOTED}.\n"
    assert strip_quoted(text) == NEW_TEXT


@pytest.mark.parametrize(
    "header_block",
    [
        f"From: Tim Bantuan <{DESK}>\nSent: Wednesday, December 2, 2026 10:15 AM\n"
        "To: Agus Setiawan\nSubject: Laptop",
        f"Dari: Tim Bantuan <{DESK}>\nDikirim: Rabu, 02 Desember 2026 10.15\n"
        "Kepada: Agus Setiawan\nSubjek: Laptop",
        f"Dari: Tim Bantuan <{DESK}>\nTanggal: Rabu, 02 Desember 2026 10.15\n"
        "Kepada: Agus Setiawan\nPerihal: Laptop",
        f"Von: Tim Bantuan <{DESK}>\nGesendet: Mittwoch, 2. Dezember 2026 10:15\n"
        "An: Agus Setiawan\nBetreff: Laptop",
        f"*From:* Tim Bantuan <{DESK}>\n*Sent:* Wednesday, December 2, 2026\n"
        "*To:* Agus Setiawan\n*Subject:* Laptop",
        f"From: {DESK} [mailto:{DESK}]\nSent: December-02-26 10:15 AM\n"
        "To: Agus Setiawan\nSubject: Laptop",
    ],
)
def test_strip_quoted_outlook_header_block(header_block: str) -> None:
    text = f"{NEW_TEXT}\n\n{header_block}\n\n{QUOTED}.\n"
    assert strip_quoted(text) == NEW_TEXT


def test_strip_quoted_outlook_rule_above_header_block() -> None:
    text = (
        f"{NEW_TEXT}\n\n________________________________\n"
        f"Dari: Tim Bantuan <{DESK}>\nDikirim: Rabu\nKepada: Agus\nSubjek: Laptop"
        f"\n\n{QUOTED}."
    )
    assert strip_quoted(text) == NEW_TEXT


def test_strip_quoted_single_from_line_stays() -> None:
    text = "From: lantai 3 sampai lantai 5 jaringan mati.\n\nAgus"
    assert strip_quoted(text) == text


def test_strip_quoted_forwarded_header_block_stays() -> None:
    text = (
        "Mohon dibantu, lihat di bawah.\n\n"
        "---------- Forwarded message ---------\n"
        "From: Dosen <dosen@example.org>\nDate: Rab, 2 Des 2026\n"
        "Subject: Jaringan\nTo: Agus <agus.setiawan@example.org>\n\n"
        "Jaringan di ruang 301 mati."
    )
    assert strip_quoted(text) == text


# --- plain text: signatures, mobile lines, own address ------------------------


def test_strip_quoted_signature_stays() -> None:
    text = f"{NEW_TEXT}\n-- \nAgus Setiawan\nStaf Administrasi\n\n> {QUOTED}"
    assert strip_quoted(text) == f"{NEW_TEXT}\n-- \nAgus Setiawan\nStaf Administrasi"


@pytest.mark.parametrize(
    "mobile_line",
    [
        "Dikirim dari iPhone saya",
        "Sent from my iPhone",
        "Sent from my Galaxy",
        "Dikirim dari Yahoo Mail di Android",
        "Get Outlook for Android",
    ],
)
def test_strip_quoted_mobile_signature(mobile_line: str) -> None:
    text = f"{NEW_TEXT}\n\n{mobile_line}\n\nTim Bantuan\n{QUOTED}.\n"
    assert strip_quoted(text) == f"{NEW_TEXT}\n\n{mobile_line}"


def test_strip_quoted_line_naming_own_address() -> None:
    text = f"{NEW_TEXT}\n\nTim Bantuan <{DESK}> 2 Des 2026\n{QUOTED}."
    assert strip_quoted(text, own_addresses=[DESK]) == NEW_TEXT


def test_strip_quoted_own_address_matches_any_case() -> None:
    text = f"{NEW_TEXT}\n\nTim Bantuan <BANTUAN@HelpDesk.example.com>\n{QUOTED}."
    assert strip_quoted(text, own_addresses=[DESK]) == NEW_TEXT


def test_strip_quoted_own_address_in_a_sentence_stays() -> None:
    text = f"Saya sudah mengirim ke {DESK} kemarin.\n\nAgus"
    assert strip_quoted(text, own_addresses=[DESK]) == text


def test_strip_quoted_own_address_needs_the_argument() -> None:
    text = f"{NEW_TEXT}\n\nTim Bantuan <{DESK}> 2 Des 2026\n{QUOTED}."
    assert strip_quoted(text) == text


def test_parse_email_passes_own_addresses() -> None:
    message = EmailMessage()
    message["From"] = "Agus Setiawan <agus.setiawan@example.org>"
    message["Subject"] = "Re: Laptop"
    message.set_content(f"{NEW_TEXT}\n\nTim Bantuan <{DESK}> 2 Des 2026\n{QUOTED}.\n")
    raw = message.as_bytes()
    email_with = parse_email(raw, max_attachment_bytes=10_000, own_addresses=[DESK])
    email_without = parse_email(raw, max_attachment_bytes=10_000)
    assert email_with.reply_text == NEW_TEXT
    assert QUOTED in email_without.reply_text


def test_strip_quoted_nothing_but_quote_gives_whole_text() -> None:
    text = f"> {QUOTED}.\n> Salam,\n> Rina\n"
    assert strip_quoted(text) == text.strip()


def test_strip_quoted_accepts_crlf() -> None:
    text = f"{NEW_TEXT}\r\n\r\nRina wrote:\r\n> {QUOTED}\r\n"
    assert strip_quoted(text) == NEW_TEXT


# --- HTML ---------------------------------------------------------------------

NEW_HTML = "<div>Nomor serinya SN-7781-ABCD.</div><div><br></div><div>Agus</div>"
QUOTE_HTML = f"<p>{QUOTED}.</p>"


def html_reply(html: str) -> str:
    return strip_quoted(html_to_text(html, drop_quotes=True))


def test_html_gmail_quote_container_dropped() -> None:
    html = (
        f'{NEW_HTML}<div class="gmail_quote gmail_quote_container">'
        '<div class="gmail_attr">Pada Rab, 2 Des 2026 Rina menulis:</div>'
        f'<blockquote class="gmail_quote">{QUOTE_HTML}</blockquote></div>'
    )
    assert html_reply(html) == "Nomor serinya SN-7781-ABCD.\n\nAgus"


def test_html_blockquote_dropped() -> None:
    html = f'{NEW_HTML}<blockquote type="cite">{QUOTE_HTML}</blockquote>'
    assert QUOTED not in html_reply(html)


def test_html_apple_attribution_above_blockquote_dropped() -> None:
    html = (
        f"{NEW_HTML}<div>On 2 Dec 2026, at 10:15, Rina &lt;{DESK}&gt; wrote:</div>"
        f'<blockquote type="cite">{QUOTE_HTML}</blockquote>'
    )
    assert html_reply(html) == "Nomor serinya SN-7781-ABCD.\n\nAgus"


def test_html_outlook_reply_divider_ends_the_reply() -> None:
    html = (
        f'{NEW_HTML}<hr><div id="divRplyFwdMsg"><b>Dari:</b> Tim Bantuan</div>'
        f"<div>{QUOTE_HTML}</div>"
    )
    assert html_reply(html) == "Nomor serinya SN-7781-ABCD.\n\nAgus"


def test_html_outlook_border_top_divider_ends_the_reply() -> None:
    html = (
        f"<div class=WordSection1>{NEW_HTML}<div><div style='border:none;"
        "border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm'>"
        f"<p><b>From:</b> Tim Bantuan</p></div></div>{QUOTE_HTML}</div>"
    )
    assert html_reply(html) == "Nomor serinya SN-7781-ABCD.\n\nAgus"


def test_html_yahoo_quoted_dropped() -> None:
    html = f'{NEW_HTML}<div class="yahoo_quoted"><div>{QUOTE_HTML}</div></div>'
    assert html_reply(html) == "Nomor serinya SN-7781-ABCD.\n\nAgus"


def test_html_thunderbird_cite_prefix_dropped() -> None:
    html = (
        f'{NEW_HTML}<div class="moz-cite-prefix">Pada 02/12/26 10.15, Rina '
        f'menulis:<br></div><blockquote type="cite">{QUOTE_HTML}</blockquote>'
    )
    assert html_reply(html) == "Nomor serinya SN-7781-ABCD.\n\nAgus"


def test_html_quotes_kept_without_drop_quotes() -> None:
    html = f'{NEW_HTML}<blockquote type="cite">{QUOTE_HTML}</blockquote>'
    assert QUOTED in html_to_text(html)


def test_html_to_text_leaves_out_style_and_script() -> None:
    html = "<style>p{font-family:Arial}</style><script>x()</script><p>Halo</p>"
    assert html_to_text(html) == "Halo"


def test_html_to_text_separates_table_cells() -> None:
    html = "<table><tr><td>Nomor kartu</td><td>KA-20931</td></tr></table>"
    assert html_to_text(html) == "Nomor kartu KA-20931"


def test_html_to_text_reads_entities_and_breaks() -> None:
    html = "<p>Salam,<br>Rina &ndash; Tim&nbsp;Bantuan</p>"
    assert html_to_text(html) == "Salam,\nRina \u2013 Tim Bantuan"


def test_html_to_text_keeps_preformatted_spacing() -> None:
    assert html_to_text("<pre>a  b\n  c</pre>") == "a  b\n  c"


def test_html_to_text_survives_unclosed_tags() -> None:
    assert html_to_text("<div><p>Halo<blockquote>lama") == "Halo\n\nlama"
