"""The pre-chat and offline forms on the widget."""

from collections.abc import Iterable, Iterator
from typing import Any, cast

import pytest
from django import forms
from django.utils import translation

from layanan.catalog.models import Service, StudyProgramme
from layanan.chat.forms import OfflineRequestForm, PreChatForm, form_errors_json
from layanan.people.models import RequesterKind
from layanan.people.validation import Identifier

NPM = "2231010123"
NIP = "198503122010011003"


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """Validate in English, the msgid language, so messages read as written here."""
    with translation.override("en"):
        yield


@pytest.fixture
def accounting() -> StudyProgramme:
    return StudyProgramme.objects.create(name="D3 Akuntansi", order=1)


@pytest.fixture
def management() -> StudyProgramme:
    return StudyProgramme.objects.create(name="D4 Manajemen Pemasaran", order=2)


@pytest.fixture
def retired() -> StudyProgramme:
    return StudyProgramme.objects.create(name="D3 Lama", order=3, active=False)


@pytest.fixture
def service() -> Service:
    return Service.objects.get(code="surat-tugas")


@pytest.fixture
def data(accounting: StudyProgramme, service: Service) -> dict[str, Any]:
    """Return a valid submission from a student."""
    return {
        "identifier": NPM,
        "name": "Budi Santoso",
        "study_programme": str(accounting.pk),
        "email": "budi@mail.example",
        "service": str(service.pk),
        "topic": "Surat tugas seminar",
    }


def choices_of(form: PreChatForm, field: str) -> list[tuple[Any, Any]]:
    choices = cast(forms.ChoiceField, form.fields[field]).choices
    return list(cast(Iterable[tuple[Any, Any]], choices))


def english_errors(form: PreChatForm, field: str) -> list[str]:
    with translation.override("en"):
        return [str(message) for message in form.errors[field]]


def error_codes(form: PreChatForm, field: str) -> list[str | None]:
    return [error.code for error in form.errors.as_data()[field]]


# Fields and choices


def test_prechat_form_field_order() -> None:
    assert list(PreChatForm.base_fields) == [
        "identifier",
        "name",
        "study_programme",
        "email",
        "service",
        "topic",
    ]


@pytest.mark.django_db
def test_prechat_form_english_labels() -> None:
    form = PreChatForm()
    with translation.override("en"):
        labels = [str(field.label) for field in form.fields.values()]
    assert labels == [
        "Student/Staff ID",
        "Name",
        "Study programme",
        "Email",
        "Service",
        "Topic",
    ]


@pytest.mark.django_db
@pytest.mark.usefixtures("retired")
def test_prechat_form_programme_choices(
    accounting: StudyProgramme, management: StudyProgramme
) -> None:
    form = PreChatForm()
    with translation.override("en"):
        choices = [
            (value, str(label)) for value, label in choices_of(form, "study_programme")
        ]
    assert choices == [
        (str(accounting.pk), "D3 Akuntansi"),
        (str(management.pk), "D4 Manajemen Pemasaran"),
        ("none", "Not a student"),
    ]


@pytest.mark.django_db
def test_prechat_form_programme_choices_read_per_form(
    accounting: StudyProgramme,
) -> None:
    PreChatForm()
    added = StudyProgramme.objects.create(name="D4 Akuntansi Perpajakan", order=5)
    values = [value for value, _ in choices_of(PreChatForm(), "study_programme")]
    assert str(added.pk) in values


@pytest.mark.django_db
def test_prechat_form_service_choices_are_active_and_localised(
    service: Service,
) -> None:
    Service.objects.filter(code="lainnya").update(active=False)
    form = PreChatForm()
    with translation.override("en"):
        english = {str(label) for _, label in choices_of(form, "service")}
    with translation.override("id"):
        indonesian = {str(label) for _, label in choices_of(form, "service")}
    assert "Request for a letter of assignment" in english
    assert "Permohonan pembuatan surat tugas" in indonesian
    assert "Other" not in english
    assert len(english) == Service.objects.active().count()


# A valid submission


@pytest.mark.django_db
def test_prechat_form_valid_student(
    data: dict[str, Any], accounting: StudyProgramme, service: Service
) -> None:
    data["identifier"] = "2231 0101 23"
    data["topic"] = "  Surat tugas seminar  "
    form = PreChatForm(data)
    assert form.is_valid(), form.errors
    assert form.cleaned_data == {
        "identifier": Identifier(value=NPM, kind=RequesterKind.STUDENT),
        "name": "Budi Santoso",
        "study_programme": accounting,
        "email": "budi@mail.example",
        "service": service,
        "topic": "Surat tugas seminar",
    }


@pytest.mark.django_db
def test_prechat_form_nip_with_programme_passes(
    data: dict[str, Any], accounting: StudyProgramme
) -> None:
    data["identifier"] = NIP
    form = PreChatForm(data)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["identifier"].kind == RequesterKind.STAFF
    assert form.cleaned_data["study_programme"] == accounting


@pytest.mark.django_db
def test_prechat_form_nip_not_a_student_passes(data: dict[str, Any]) -> None:
    data["identifier"] = NIP
    data["study_programme"] = "none"
    form = PreChatForm(data)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["study_programme"] is None


@pytest.mark.django_db
def test_prechat_form_json_numbers_pass(
    data: dict[str, Any], accounting: StudyProgramme, service: Service
) -> None:
    # A JSON body may send the NPM and the choices as numbers.
    data.update(identifier=int(NPM), study_programme=accounting.pk, service=service.pk)
    form = PreChatForm(data)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["identifier"].value == NPM


# Field errors


@pytest.mark.django_db
def test_prechat_form_student_not_a_student_rejected(data: dict[str, Any]) -> None:
    data["study_programme"] = "none"
    form = PreChatForm(data)
    assert not form.is_valid()
    assert english_errors(form, "study_programme") == [
        'Choose your study programme; "Not a student" is for lecturers and staff.'
    ]
    assert error_codes(form, "study_programme") == ["student_without_programme"]


@pytest.mark.django_db
def test_prechat_form_invalid_identifier_skips_programme_rule(
    data: dict[str, Any],
) -> None:
    data["identifier"] = "22A"
    data["study_programme"] = "none"
    form = PreChatForm(data)
    assert not form.is_valid()
    assert list(form.errors) == ["identifier"]


@pytest.mark.django_db
def test_prechat_form_retired_programme_rejected(
    data: dict[str, Any], retired: StudyProgramme
) -> None:
    data["study_programme"] = str(retired.pk)
    form = PreChatForm(data)
    assert not form.is_valid()
    assert english_errors(form, "study_programme") == [
        "Study programme is not on the list. Choose one from the list."
    ]


@pytest.mark.django_db
def test_prechat_form_inactive_service_rejected(
    data: dict[str, Any], service: Service
) -> None:
    Service.objects.filter(pk=service.pk).update(active=False)
    form = PreChatForm(data)
    assert not form.is_valid()
    assert english_errors(form, "service") == [
        "Service is not available. Choose another service from the list."
    ]


@pytest.mark.django_db
def test_prechat_form_unknown_service_rejected(data: dict[str, Any]) -> None:
    data["service"] = "999999"
    form = PreChatForm(data)
    assert not form.is_valid()
    assert error_codes(form, "service") == ["invalid_choice"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "message"),
    [
        (
            "identifier",
            "Enter your Student/Staff ID: your NPM if you are a student, or your "
            "NIP if you are a lecturer or staff member.",
        ),
        ("name", "Name is required. Enter your full name."),
        (
            "study_programme",
            'Study programme is required. Choose yours, or "Not a student" if you '
            "are a lecturer or staff member.",
        ),
        ("email", "Email is required. Enter an address where you read mail."),
        ("service", "Service is required. Choose the service you need."),
        ("topic", "Topic is required. Describe your question in a few words."),
    ],
)
def test_prechat_form_missing_field(
    data: dict[str, Any], field: str, message: str
) -> None:
    del data[field]
    form = PreChatForm(data)
    assert not form.is_valid()
    assert english_errors(form, field) == [message]
    assert error_codes(form, field) == ["required"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "email",
    ["budi", "budi@", "@mail.example", "budi@mail..example", "budi@mail.example\x00"],
)
def test_prechat_form_invalid_email(data: dict[str, Any], email: str) -> None:
    data["email"] = email
    form = PreChatForm(data)
    assert not form.is_valid()
    assert english_errors(form, "email") == [
        "Email is not a valid address. Enter it like name@example.com."
    ]


@pytest.mark.django_db
def test_prechat_form_email_too_long(data: dict[str, Any]) -> None:
    data["email"] = "b" * 64 + "@" + "m" * 63 + "." + "n" * 63 + "." + "o" * 62
    assert len(data["email"]) == 255
    form = PreChatForm(data)
    assert not form.is_valid()
    assert english_errors(form, "email") == [
        "Email must have at most 254 characters. Enter a shorter address."
    ]


@pytest.mark.django_db
def test_prechat_form_email_254_characters_passes(data: dict[str, Any]) -> None:
    data["email"] = "b" * 64 + "@" + "m" * 63 + "." + "n" * 63 + "." + "o" * 61
    form = PreChatForm(data)
    assert form.is_valid(), form.errors


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("identifier", "1995023020200110011", "wrong_length"),
        ("identifier", "199502302020011001", "nip_birth_date"),
        ("name", "Budi\nSantoso", "control_character"),
        ("name", "B", "too_short"),
        ("topic", "xx", "too_short"),
        ("topic", "x" * 201, "too_long"),
    ],
)
def test_prechat_form_field_rules(
    data: dict[str, Any], field: str, value: str, code: str
) -> None:
    data[field] = value
    form = PreChatForm(data)
    assert not form.is_valid()
    assert list(form.errors) == [field]
    assert error_codes(form, field) == [code]


@pytest.mark.django_db
def test_prechat_form_errors_per_field(
    data: dict[str, Any],
) -> None:
    data.update(identifier="abc", name="\x00", email="budi", topic="")
    form = PreChatForm(data)
    assert not form.is_valid()
    assert sorted(form.errors) == ["email", "identifier", "name", "topic"]


@pytest.mark.django_db
def test_prechat_form_bad_field_keeps_other_values(data: dict[str, Any]) -> None:
    data["identifier"] = "2231010"
    form = PreChatForm(data)
    assert not form.is_valid()
    for field in ["name", "study_programme", "email", "service", "topic"]:
        assert form[field].value() == data[field], field


@pytest.mark.django_db
def test_prechat_form_bad_field_renders_other_values(data: dict[str, Any]) -> None:
    data["topic"] = "x"
    form = PreChatForm(data)
    assert not form.is_valid()
    assert 'value="Budi Santoso"' in str(form["name"])
    assert 'value="budi@mail.example"' in str(form["email"])
    assert f'value="{data["study_programme"]}" selected' in str(form["study_programme"])
    assert 'value="2231010123"' in str(form["identifier"])


@pytest.mark.django_db
def test_prechat_form_bad_field_keeps_other_cleaned_values(
    data: dict[str, Any],
) -> None:
    data["email"] = "budi"
    form = PreChatForm(data)
    assert not form.is_valid()
    assert form.cleaned_data["name"] == "Budi Santoso"
    assert form.cleaned_data["topic"] == "Surat tugas seminar"


# JSON errors


@pytest.mark.django_db
def test_form_errors_json_lists_code_and_message(data: dict[str, Any]) -> None:
    data.update(identifier="22A", topic="xx")
    form = PreChatForm(data)
    form.is_valid()
    with translation.override("en"):
        errors = form_errors_json(form)
    assert errors == {
        "identifier": [
            {
                "code": "not_digits",
                "message": "Student/Staff ID may contain only digits. "
                "Remove any letters, dots or dashes.",
            }
        ],
        "topic": [
            {
                "code": "too_short",
                "message": "Topic must have at least 3 characters. "
                "Describe your question in a few words.",
            }
        ],
    }


@pytest.mark.django_db
def test_form_errors_json_valid_form_is_empty(data: dict[str, Any]) -> None:
    form = PreChatForm(data)
    form.is_valid()
    assert form_errors_json(form) == {}


# Offline form


@pytest.mark.django_db
def test_offline_form_adds_message_last() -> None:
    form = OfflineRequestForm()
    assert list(form.fields)[-1] == "message"
    with translation.override("en"):
        assert str(form.fields["message"].label) == "Message"


@pytest.mark.django_db
def test_offline_form_valid(data: dict[str, Any]) -> None:
    data["message"] = "  Mohon dibuatkan surat tugas.\r\nTerima kasih.  "
    form = OfflineRequestForm(data)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["message"] == (
        "Mohon dibuatkan surat tugas.\nTerima kasih."
    )


@pytest.mark.django_db
@pytest.mark.parametrize("length", [1, 4000])
def test_offline_form_message_length_bounds_pass(
    data: dict[str, Any], length: int
) -> None:
    data["message"] = "x" * length
    form = OfflineRequestForm(data)
    assert form.is_valid(), form.errors


@pytest.mark.django_db
def test_offline_form_message_too_long(data: dict[str, Any]) -> None:
    data["message"] = "x" * 4001
    form = OfflineRequestForm(data)
    assert not form.is_valid()
    assert english_errors(form, "message") == [
        "Message must have at most 4000 characters. Shorten it to the essentials."
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("message", [None, "", "   ", "\r\n\t"])
def test_offline_form_message_blank_rejected(
    data: dict[str, Any], message: str | None
) -> None:
    if message is None:
        data.pop("message", None)
    else:
        data["message"] = message
    form = OfflineRequestForm(data)
    assert not form.is_valid()
    assert english_errors(form, "message") == [
        "Message is required. Describe your request."
    ]


@pytest.mark.django_db
def test_offline_form_keeps_prechat_rules(data: dict[str, Any]) -> None:
    data.update(study_programme="none", message="Halo")
    form = OfflineRequestForm(data)
    assert not form.is_valid()
    assert error_codes(form, "study_programme") == ["student_without_programme"]


@pytest.mark.django_db
def test_prechat_form_errors_in_indonesian(data: dict[str, Any]) -> None:
    del data["name"]
    with translation.override("id"):
        form = PreChatForm(data)
        assert not form.is_valid()
        assert form.errors["name"] == ["Nama wajib diisi. Masukkan nama lengkap Anda."]
