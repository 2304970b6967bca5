"""Checks on the NPM/NIP, name, topic and message a requester types."""

import datetime
from collections.abc import Callable, Iterator

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from pytest_django.fixtures import Settings

from layanan.people.models import RequesterKind
from layanan.people.validation import (
    Identifier,
    clean_message,
    clean_name,
    clean_topic,
    parse_identifier,
)

# Born 12 March 1985, appointed January 2010, male, serial 003.
VALID_NIP = "198503122010011003"


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """Validate in English, the msgid language, so messages read as written here."""
    with translation.override("en"):
        yield


def rejection(check: Callable[[str], object], raw: str) -> ValidationError:
    """Run check on raw, expecting a ValidationError, and return it."""
    with pytest.raises(ValidationError) as caught:
        check(raw)
    return caught.value


def english_message(error: ValidationError) -> str:
    with translation.override("en"):
        return error.messages[0]


def next_month(today: datetime.date) -> str:
    if today.month == 12:
        return f"{today.year + 1}01"
    return f"{today.year}{today.month + 1:02d}"


# NIP


def test_parse_identifier_nip_is_staff() -> None:
    identifier = parse_identifier(VALID_NIP)
    assert identifier == Identifier(value=VALID_NIP, kind=RequesterKind.STAFF)


def test_parse_identifier_nip_with_spaces() -> None:
    identifier = parse_identifier(" 19850312 201001 1 003 ")
    assert identifier.value == VALID_NIP


def test_parse_identifier_nip_with_tab_and_nbsp() -> None:
    identifier = parse_identifier("19850312\t201001\u00a01\n003")
    assert identifier.value == VALID_NIP


def test_parse_identifier_nip_female_digit() -> None:
    identifier = parse_identifier("198503122010012003")
    assert identifier.kind == RequesterKind.STAFF


def test_parse_identifier_nip_leap_day_in_leap_year() -> None:
    identifier = parse_identifier("200002292020011001")
    assert identifier.value == "200002292020011001"


@pytest.mark.parametrize(
    "nip",
    [
        pytest.param("199502302020011001", id="february-30"),
        pytest.param("199902292020011001", id="february-29-common-year"),
        pytest.param("190002292020011001", id="february-29-century-not-leap"),
        pytest.param("198500122010011003", id="month-00"),
        pytest.param("198513122010011003", id="month-13"),
        pytest.param("198503002010011003", id="day-00"),
        pytest.param("198504312010011003", id="april-31"),
        pytest.param("189912312010011003", id="before-1900"),
    ],
)
def test_parse_identifier_nip_impossible_birth_date(nip: str) -> None:
    error = rejection(parse_identifier, nip)
    assert error.code == "nip_birth_date"


def test_parse_identifier_nip_birth_date_in_future() -> None:
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    error = rejection(parse_identifier, f"{tomorrow:%Y%m%d}" + "2010011003")
    assert error.code == "nip_birth_date"


def test_parse_identifier_nip_birth_in_1900_passes() -> None:
    identifier = parse_identifier("190001011920011001")
    assert identifier.kind == RequesterKind.STAFF


def test_parse_identifier_nip_birth_date_message() -> None:
    error = rejection(parse_identifier, "199502302020011001")
    assert english_message(error) == (
        "Student/Staff ID is not a valid NIP: its first 8 digits must be a real "
        "date of birth (YYYYMMDD). Check the number and enter it again."
    )


@pytest.mark.parametrize(
    "nip",
    [
        pytest.param("198503122010001003", id="month-00"),
        pytest.param("198503122010131003", id="month-13"),
        pytest.param("198503121984121003", id="year-before-birth-year"),
        pytest.param("198503121985021003", id="month-before-birth-month"),
    ],
)
def test_parse_identifier_nip_impossible_appointment(nip: str) -> None:
    error = rejection(parse_identifier, nip)
    assert error.code == "nip_appointment_date"


def test_parse_identifier_nip_appointment_in_future() -> None:
    appointment = next_month(timezone.localdate())
    error = rejection(parse_identifier, f"19850312{appointment}1003")
    assert error.code == "nip_appointment_date"


def test_parse_identifier_nip_appointment_this_month_passes() -> None:
    identifier = parse_identifier(f"19850312{timezone.localdate():%Y%m}1003")
    assert identifier.kind == RequesterKind.STAFF


def test_parse_identifier_nip_appointment_in_birth_month_passes() -> None:
    identifier = parse_identifier("198503121985031003")
    assert identifier.kind == RequesterKind.STAFF


def test_parse_identifier_nip_appointment_message() -> None:
    error = rejection(parse_identifier, "198503122010131003")
    assert english_message(error) == (
        "Student/Staff ID is not a valid NIP: digits 9 to 14 must be the year and "
        "month of appointment (YYYYMM), not before the date of birth and not in "
        "the future. Check the number and enter it again."
    )


@pytest.mark.parametrize("digit", ["0", "3", "9"])
def test_parse_identifier_nip_wrong_sex_digit(digit: str) -> None:
    error = rejection(parse_identifier, f"19850312201001{digit}003")
    assert error.code == "nip_sex_digit"


def test_parse_identifier_nip_sex_digit_message() -> None:
    error = rejection(parse_identifier, "198503122010010003")
    assert english_message(error) == (
        "Student/Staff ID is not a valid NIP: digit 15 must be 1 or 2. "
        "Check the number and enter it again."
    )


def test_parse_identifier_nip_ignores_npm_pattern(settings: Settings) -> None:
    settings.NPM_PATTERN = r"\d{10}"
    identifier = parse_identifier(VALID_NIP)
    assert identifier.kind == RequesterKind.STAFF


# NPM


@pytest.mark.parametrize("npm", ["22310101", "223101012345"])
def test_parse_identifier_npm_length_bounds_pass(npm: str) -> None:
    identifier = parse_identifier(npm)
    assert identifier == Identifier(value=npm, kind=RequesterKind.STUDENT)


def test_parse_identifier_npm_with_spaces() -> None:
    identifier = parse_identifier("2231 0101 23")
    assert identifier.value == "2231010123"


@pytest.mark.parametrize(
    "npm", ["2231010", "2231010123456", "22310101234567890", "1985031220100110031"]
)
def test_parse_identifier_wrong_length(npm: str) -> None:
    error = rejection(parse_identifier, npm)
    assert error.code == "wrong_length"


def test_parse_identifier_wrong_length_message() -> None:
    error = rejection(parse_identifier, "2231010")
    assert english_message(error) == (
        "Student/Staff ID must have 8 to 12 digits for an NPM or 18 digits for "
        "a NIP. Check the number and enter it again."
    )


def test_parse_identifier_pattern_override_fixed_length(
    settings: Settings,
) -> None:
    settings.NPM_PATTERN = r"\d{10}"
    identifier = parse_identifier("2231010123")
    assert identifier.kind == RequesterKind.STUDENT


def test_parse_identifier_pattern_override_rejects_default_length(
    settings: Settings,
) -> None:
    settings.NPM_PATTERN = r"\d{10}"
    error = rejection(parse_identifier, "22310101")
    assert english_message(error) == (
        "Student/Staff ID must have 10 digits for an NPM or 18 digits for a NIP. "
        "Check the number and enter it again."
    )


def test_parse_identifier_pattern_override_longer_npm(
    settings: Settings,
) -> None:
    settings.NPM_PATTERN = r"\d{8,13}"
    identifier = parse_identifier("2231010123456")
    assert identifier.value == "2231010123456"


def test_parse_identifier_pattern_override_prefix(settings: Settings) -> None:
    settings.NPM_PATTERN = r"22\d{8}"
    error = rejection(parse_identifier, "1931010123")
    assert error.code == "invalid_npm"


def test_parse_identifier_invalid_npm_message(settings: Settings) -> None:
    settings.NPM_PATTERN = r"22\d{8}"
    error = rejection(parse_identifier, "1931010123")
    assert english_message(error) == (
        "Student/Staff ID is not a valid NPM. "
        "Enter the number exactly as it appears on your student card."
    )


# Identifier input in general


@pytest.mark.parametrize("raw", ["", "   ", "\t\n"])
def test_parse_identifier_missing(raw: str) -> None:
    error = rejection(parse_identifier, raw)
    assert error.code == "required"


def test_parse_identifier_missing_message() -> None:
    error = rejection(parse_identifier, "")
    assert english_message(error) == (
        "Enter your Student/Staff ID: your NPM if you are a student, or your NIP "
        "if you are a lecturer or staff member."
    )


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("2231010A23", id="letter"),
        pytest.param("22.3101.0123", id="dots"),
        pytest.param("1985-03-12", id="dashes"),
        pytest.param("+6222310101", id="plus"),
        pytest.param("\u0662\u0662\u0663\u0661\u0660\u0661\u0660\u0661", id="arabic"),
        pytest.param(
            "\uff12\uff12\uff13\uff11\uff10\uff11\uff10\uff11", id="fullwidth"
        ),
    ],
)
def test_parse_identifier_not_digits(raw: str) -> None:
    error = rejection(parse_identifier, raw)
    assert error.code == "not_digits"


def test_parse_identifier_not_digits_message() -> None:
    error = rejection(parse_identifier, "2231010A23")
    assert english_message(error) == (
        "Student/Staff ID may contain only digits. Remove any letters, dots or dashes."
    )


# Name


@pytest.mark.parametrize(
    "name",
    [
        "Budi Santoso",
        "Dr. Sri Wahyuni, S.E., M.Si.",
        "Ir. H. Ahmad Fauzi, M.T.",
        "I Gusti Ngurah Rai",
        "José Müller-Lüdenscheidt",
        "O'Brien",
        "محمد عبد الله",
        "王小明",
        "Nguyễn Thị Minh Khai",
        "Li",
    ],
)
def test_clean_name_valid(name: str) -> None:
    assert clean_name(name) == name


def test_clean_name_strips() -> None:
    assert clean_name("  Budi Santoso \t") == "Budi Santoso"


def test_clean_name_keeps_zero_width_joiners() -> None:
    name = "\u0915\u094d\u200d\u0937 Sharma \u200cRao"
    assert clean_name(name) == name


def test_clean_name_normalises_to_nfc() -> None:
    assert clean_name("Jose\u0301") == "Jos\u00e9"


def test_clean_name_maximum_length_passes() -> None:
    assert clean_name("a" * 100) == "a" * 100


def test_clean_name_too_long() -> None:
    error = rejection(clean_name, "a" * 101)
    assert error.code == "too_long"


def test_clean_name_too_long_message() -> None:
    error = rejection(clean_name, "a" * 101)
    assert english_message(error) == (
        "Name must have at most 100 characters. "
        "Shorten it, for example by leaving out some titles."
    )


@pytest.mark.parametrize("name", ["A", "  A  "])
def test_clean_name_too_short(name: str) -> None:
    error = rejection(clean_name, name)
    assert error.code == "too_short"


def test_clean_name_too_short_message() -> None:
    error = rejection(clean_name, "A")
    assert english_message(error) == (
        "Name must have at least 2 characters. Enter your full name."
    )


@pytest.mark.parametrize("name", ["", "   "])
def test_clean_name_missing(name: str) -> None:
    error = rejection(clean_name, name)
    assert error.code == "required"


def test_clean_name_missing_message() -> None:
    error = rejection(clean_name, "")
    assert english_message(error) == "Name is required. Enter your full name."


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("Budi\nSantoso", id="newline"),
        pytest.param("Budi\r\nSantoso", id="crlf"),
        pytest.param("Budi\tSantoso", id="tab"),
        pytest.param("Budi\x00Santoso", id="nul"),
        pytest.param("Budi Santoso\x00", id="trailing-nul"),
        pytest.param("Budi\x1bSantoso", id="escape"),
        pytest.param("Budi\u2028Santoso", id="line-separator"),
        pytest.param("Budi\u202eosotnaS", id="right-to-left-override"),
        pytest.param("Budi\u200bSantoso", id="zero-width-space"),
    ],
)
def test_clean_name_control_character(name: str) -> None:
    error = rejection(clean_name, name)
    assert error.code == "control_character"


def test_clean_name_control_character_message() -> None:
    error = rejection(clean_name, "Budi\nSantoso")
    assert english_message(error) == (
        "Name must be a single line without tabs or hidden characters. "
        "Type it again without them."
    )


# Topic


@pytest.mark.parametrize("length", [3, 200])
def test_clean_topic_length_bounds_pass(length: int) -> None:
    assert clean_topic("x" * length) == "x" * length


def test_clean_topic_strips() -> None:
    assert clean_topic("  Surat tugas seminar  ") == "Surat tugas seminar"


def test_clean_topic_too_short() -> None:
    error = rejection(clean_topic, "xx")
    assert error.code == "too_short"


def test_clean_topic_too_short_after_strip() -> None:
    error = rejection(clean_topic, "  xx  ")
    assert error.code == "too_short"


def test_clean_topic_too_short_message() -> None:
    error = rejection(clean_topic, "xx")
    assert english_message(error) == (
        "Topic must have at least 3 characters. Describe your question in a few words."
    )


def test_clean_topic_too_long() -> None:
    error = rejection(clean_topic, "x" * 201)
    assert error.code == "too_long"


def test_clean_topic_too_long_message() -> None:
    error = rejection(clean_topic, "x" * 201)
    assert english_message(error) == (
        "Topic must have at most 200 characters. "
        "Shorten it and give the details in the chat."
    )


@pytest.mark.parametrize("topic", ["", "  \t "])
def test_clean_topic_missing(topic: str) -> None:
    error = rejection(clean_topic, topic)
    assert error.code == "required"


def test_clean_topic_missing_message() -> None:
    error = rejection(clean_topic, "")
    assert english_message(error) == (
        "Topic is required. Describe your question in a few words."
    )


@pytest.mark.parametrize("topic", ["Surat\ntugas", "Surat\ttugas", "Surat\x00tugas"])
def test_clean_topic_control_character(topic: str) -> None:
    error = rejection(clean_topic, topic)
    assert error.code == "control_character"


# Offline message


def test_clean_message_keeps_line_breaks_and_tabs() -> None:
    assert clean_message("Halo,\n\tmohon bantuan.") == "Halo,\n\tmohon bantuan."


def test_clean_message_turns_crlf_into_lf() -> None:
    assert clean_message("Halo,\r\nterima kasih.\rSalam") == (
        "Halo,\nterima kasih.\nSalam"
    )


def test_clean_message_one_character_passes() -> None:
    assert clean_message(" ? ") == "?"


def test_clean_message_maximum_length_passes() -> None:
    assert clean_message("x" * 4000) == "x" * 4000


def test_clean_message_crlf_counts_as_one_character() -> None:
    message = ("x" * 99 + "\r\n") * 39 + "x" * 100
    assert len(clean_message(message)) == 4000


def test_clean_message_too_long() -> None:
    error = rejection(clean_message, "x" * 4001)
    assert error.code == "too_long"


def test_clean_message_too_long_message() -> None:
    error = rejection(clean_message, "x" * 4001)
    assert english_message(error) == (
        "Message must have at most 4000 characters. Shorten it to the essentials."
    )


@pytest.mark.parametrize("message", ["", " \n\t\r\n "])
def test_clean_message_blank(message: str) -> None:
    error = rejection(clean_message, message)
    assert error.code == "required"


@pytest.mark.parametrize("message", ["Halo\x00", "Halo\x07", "Halo\u202e"])
def test_clean_message_control_character(message: str) -> None:
    error = rejection(clean_message, message)
    assert error.code == "control_character"
