"""Creating and updating requesters from the pre-chat form."""

import datetime
import logging
from typing import Any
from unittest import mock

import pytest
from django.db.models.query import QuerySet
from django.utils import timezone

from layanan.catalog.models import StudyProgramme
from layanan.people.models import Requester, RequesterEmail, RequesterKind
from layanan.people.services import upsert_requester
from layanan.people.validation import Identifier

NPM = Identifier(value="2231010123", kind=RequesterKind.STUDENT)
NIP = Identifier(value="198503122010011003", kind=RequesterKind.STAFF)


@pytest.fixture
def accounting() -> StudyProgramme:
    return StudyProgramme.objects.create(name="D3 Akuntansi", order=1)


@pytest.fixture
def management() -> StudyProgramme:
    return StudyProgramme.objects.create(name="D4 Manajemen Pemasaran", order=2)


def history(requester: Requester) -> list[str]:
    return list(requester.emails.values_list("email", flat=True))


@pytest.mark.django_db
def test_upsert_requester_creates_student(accounting: StudyProgramme) -> None:
    requester = upsert_requester(
        identifier=NPM,
        name="Budi Santoso",
        study_programme=accounting,
        email="budi@mail.example",
    )
    requester.refresh_from_db()
    assert requester.identifier == "2231010123"
    assert requester.kind == RequesterKind.STUDENT
    assert requester.name == "Budi Santoso"
    assert requester.study_programme == accounting
    assert requester.email == "budi@mail.example"
    assert history(requester) == ["budi@mail.example"]


@pytest.mark.django_db
def test_upsert_requester_creates_staff_without_programme() -> None:
    requester = upsert_requester(
        identifier=NIP,
        name="Dr. Sri Wahyuni, S.E., M.Si.",
        study_programme=None,
        email="sri@polinela.example",
    )
    requester.refresh_from_db()
    assert requester.kind == RequesterKind.STAFF
    assert requester.study_programme is None


@pytest.mark.django_db
def test_upsert_requester_returning_is_same_row(
    accounting: StudyProgramme, management: StudyProgramme
) -> None:
    first = upsert_requester(
        identifier=NPM,
        name="Budi",
        study_programme=accounting,
        email="budi@mail.example",
    )
    second = upsert_requester(
        identifier=NPM,
        name="Budi Santoso",
        study_programme=management,
        email="budi@mail.example",
    )
    assert second.pk == first.pk
    assert Requester.objects.count() == 1


@pytest.mark.django_db
def test_upsert_requester_returning_gets_latest_details(
    accounting: StudyProgramme, management: StudyProgramme
) -> None:
    upsert_requester(
        identifier=NPM,
        name="Budi",
        study_programme=accounting,
        email="budi@mail.example",
    )
    upsert_requester(
        identifier=NPM,
        name="Budi Santoso",
        study_programme=management,
        email="budi.santoso@kampus.example",
    )
    requester = Requester.objects.get(identifier=NPM.value)
    assert requester.name == "Budi Santoso"
    assert requester.study_programme == management
    assert requester.email == "budi.santoso@kampus.example"


@pytest.mark.django_db
def test_upsert_requester_new_email_keeps_history(accounting: StudyProgramme) -> None:
    for email in ["budi@mail.example", "budi.santoso@kampus.example"]:
        requester = upsert_requester(
            identifier=NPM, name="Budi", study_programme=accounting, email=email
        )
    assert history(requester) == [
        "budi@mail.example",
        "budi.santoso@kampus.example",
    ]


@pytest.mark.django_db
def test_upsert_requester_old_email_again_is_one_row(
    accounting: StudyProgramme,
) -> None:
    for email in ["budi@mail.example", "budi@kampus.example", "budi@mail.example"]:
        requester = upsert_requester(
            identifier=NPM, name="Budi", study_programme=accounting, email=email
        )
    assert history(requester) == ["budi@mail.example", "budi@kampus.example"]
    assert requester.email == "budi@mail.example"


@pytest.mark.django_db
def test_upsert_requester_seen_email_updates_last_seen(
    accounting: StudyProgramme,
) -> None:
    requester = upsert_requester(
        identifier=NPM,
        name="Budi",
        study_programme=accounting,
        email="budi@mail.example",
    )
    long_ago = timezone.now() - datetime.timedelta(days=30)
    RequesterEmail.objects.filter(requester=requester).update(
        first_seen=long_ago, last_seen=long_ago
    )
    upsert_requester(
        identifier=NPM,
        name="Budi",
        study_programme=accounting,
        email="budi@mail.example",
    )
    record = RequesterEmail.objects.get(requester=requester)
    assert record.last_seen > long_ago
    assert record.first_seen == long_ago


@pytest.mark.django_db
def test_upsert_requester_email_domain_case_is_one_row(
    accounting: StudyProgramme,
) -> None:
    for email in ["Budi@Mail.Example", "budi@mail.example"]:
        requester = upsert_requester(
            identifier=NPM, name="Budi", study_programme=accounting, email=email
        )
    assert history(requester) == ["Budi@mail.example"]


@pytest.mark.django_db
def test_upsert_requester_email_history_is_per_requester(
    accounting: StudyProgramme,
) -> None:
    # Two people may share a family address, and each keeps their own history row.
    student = upsert_requester(
        identifier=NPM,
        name="Budi",
        study_programme=accounting,
        email="keluarga@mail.example",
    )
    lecturer = upsert_requester(
        identifier=NIP,
        name="Sri",
        study_programme=None,
        email="keluarga@mail.example",
    )
    assert history(student) == ["keluarga@mail.example"]
    assert history(lecturer) == ["keluarga@mail.example"]


@pytest.mark.django_db
def test_upsert_requester_lost_insert_race_updates_winner(
    accounting: StudyProgramme, management: StudyProgramme
) -> None:
    winner = Requester.objects.create(
        identifier=NPM.value,
        kind=NPM.kind,
        name="Budi",
        study_programme=accounting,
        email="budi@mail.example",
    )
    real_get = QuerySet.get
    calls = {"count": 0}

    def get_missing_first(queryset: QuerySet[Any], *args: Any, **kwargs: Any) -> Any:
        # The first read misses the row, as it does when a concurrent request
        # inserts it between this request's read and its insert.
        calls["count"] += 1
        if calls["count"] == 1:
            raise queryset.model.DoesNotExist
        return real_get(queryset, *args, **kwargs)

    with mock.patch.object(QuerySet, "get", get_missing_first):
        requester = upsert_requester(
            identifier=NPM,
            name="Budi Santoso",
            study_programme=management,
            email="budi@kampus.example",
        )
    assert requester.pk == winner.pk
    assert Requester.objects.get().name == "Budi Santoso"
    assert history(requester) == ["budi@kampus.example"]


@pytest.mark.django_db
def test_upsert_requester_logs_id_only(
    accounting: StudyProgramme, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="layanan.people.services"):
        requester = upsert_requester(
            identifier=NPM,
            name="Budi Santoso",
            study_programme=accounting,
            email="budi@mail.example",
        )
    [record] = caplog.records
    assert record.levelno == logging.INFO
    assert f"requester={requester.pk}" in record.getMessage()
    assert NPM.value not in record.getMessage()
    assert "Budi" not in record.getMessage()
    assert "budi@mail.example" not in record.getMessage()
