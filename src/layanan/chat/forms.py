"""Forms a requester fills in on the widget: the pre-chat form and the offline form."""

from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from layanan.catalog.models import Service, StudyProgramme
from layanan.people import validation
from layanan.people.models import RequesterKind

NOT_A_STUDENT = "none"


class ServiceChoiceField(forms.ModelChoiceField[Service]):
    """A choice of active service, labelled in the active language."""

    def label_from_instance(self, obj: Service) -> str:
        return obj.localized_name()


class FirstErrorEmailField(forms.EmailField):
    """An email field that reports only its first failed check.

    Django runs every validator, so an address with a NUL byte would otherwise
    get the same "not valid" sentence twice.
    """

    def run_validators(self, value: Any) -> None:
        try:
            super().run_validators(value)
        except ValidationError as error:
            raise error.error_list[0] from None


class PreChatForm(forms.Form):
    """The requester's identity and request, asked for before a chat starts.

    Each field reports its own errors, so the widget can show every message next
    to its field. The text fields are not ``required`` for Django because the
    functions in ``layanan.people.validation`` report a missing value in their
    own words.
    """

    identifier = forms.Field(
        label=_("Student/Staff ID"),
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    name = forms.Field(
        label=_("Name"),
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    study_programme = forms.ChoiceField(
        label=_("Study programme"),
        error_messages={
            "required": _(
                'Study programme is required. Choose yours, or "Not a student" if '
                "you are a lecturer or staff member."
            ),
            "invalid_choice": _(
                "Study programme is not on the list. Choose one from the list."
            ),
        },
    )
    email = FirstErrorEmailField(
        label=_("Email"),
        max_length=254,
        error_messages={
            "required": _("Email is required. Enter an address where you read mail."),
            "invalid": _(
                "Email is not a valid address. Enter it like name@example.com."
            ),
            "max_length": _(
                "Email must have at most %(limit_value)d characters. "
                "Enter a shorter address."
            ),
            "null_characters_not_allowed": _(
                "Email is not a valid address. Enter it like name@example.com."
            ),
        },
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    service = ServiceChoiceField(
        queryset=Service.objects.active(),
        label=_("Service"),
        empty_label=None,
        error_messages={
            "required": _("Service is required. Choose the service you need."),
            "invalid_choice": _(
                "Service is not available. Choose another service from the list."
            ),
        },
    )
    topic = forms.Field(label=_("Topic"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Read per form so that a programme added or retired in the admin shows
        # up without a restart.
        self.programmes = {
            str(programme.pk): programme
            for programme in StudyProgramme.objects.filter(active=True)
        }
        choices: list[tuple[str, StrOrPromise]] = [
            (key, programme.name) for key, programme in self.programmes.items()
        ]
        choices.append((NOT_A_STUDENT, _("Not a student")))
        cast(forms.ChoiceField, self.fields["study_programme"]).choices = choices

    def clean_identifier(self) -> validation.Identifier:
        return validation.parse_identifier(_as_text(self.cleaned_data["identifier"]))

    def clean_name(self) -> str:
        return validation.clean_name(_as_text(self.cleaned_data["name"]))

    def clean_study_programme(self) -> StudyProgramme | None:
        value = self.cleaned_data["study_programme"]
        if value == NOT_A_STUDENT:
            return None
        return self.programmes[value]

    def clean_topic(self) -> str:
        return validation.clean_topic(_as_text(self.cleaned_data["topic"]))

    def clean(self) -> dict[str, Any]:
        cleaned_data = super().clean() or {}
        identifier = cleaned_data.get("identifier")
        is_student = (
            isinstance(identifier, validation.Identifier)
            and identifier.kind == RequesterKind.STUDENT
        )
        if (
            is_student
            and "study_programme" in cleaned_data
            and cleaned_data["study_programme"] is None
        ):
            self.add_error(
                "study_programme",
                ValidationError(
                    _(
                        'Choose your study programme; "Not a student" is for '
                        "lecturers and staff."
                    ),
                    code="student_without_programme",
                ),
            )
        return cleaned_data


class OfflineRequestForm(PreChatForm):
    """The pre-chat form plus a message, for when no agent is online."""

    message = forms.Field(label=_("Message"), required=False, widget=forms.Textarea)

    def clean_message(self) -> str:
        return validation.clean_message(_as_text(self.cleaned_data["message"]))


def form_errors_json(form: forms.BaseForm) -> dict[str, list[dict[str, str]]]:
    """Return the form's errors as ``{field: [{"code": ..., "message": ...}]}``.

    Errors that belong to no field are under ``"__all__"``. A code is ``""`` when
    the error has none.
    """
    return {
        field: [
            {"code": error["code"], "message": error["message"]} for error in errors
        ]
        for field, errors in form.errors.get_json_data().items()
    }


def _as_text(value: object) -> str:
    """Return a submitted value as text; a JSON body may send numbers or null."""
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)
