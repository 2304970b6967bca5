"""Upload names that are only an extension, such as ".png"."""

from collections.abc import Iterator

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from layanan.chat.uploads import UploadRejected, clean_filename, store_upload


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with translation.override("en"):
        yield


def rejection_of(name: str) -> UploadRejected:
    with pytest.raises(UploadRejected) as caught:
        clean_filename(name)
    return caught.value


@pytest.mark.parametrize("name", [".png", ".PDF", "  .txt ", "..docx"])
def test_bare_extension_rejected_as_bad_name(name: str) -> None:
    assert rejection_of(name).code == "bad_name"


def test_bare_extension_message_says_name_missing() -> None:
    message = rejection_of(".png").message
    assert "has no name before its extension" in message


def test_bare_extension_message_suggests_rename() -> None:
    message = rejection_of(".png").message
    assert "Rename it, for example to “document.png”" in message


def test_bare_extension_message_not_about_type() -> None:
    assert "not an allowed type" not in rejection_of(".png").message


def test_hidden_file_with_name_kept() -> None:
    assert clean_filename(".surat.png") == "surat.png"


def test_hidden_unknown_name_still_type_rejected() -> None:
    with pytest.raises(UploadRejected) as caught:
        store_upload(SimpleUploadedFile(".bashrc", b"alias ll='ls -l'\n"))
    assert caught.value.code == "type_not_allowed"
