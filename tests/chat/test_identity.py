"""Signed identities from a portal: verification, and their use by the chat API."""

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings

from layanan.catalog.models import Service, StudyProgramme
from layanan.chat.forms import NOT_A_STUDENT
from layanan.chat.identity import IdentityRejected, verify_identity
from layanan.chat.models import Conversation
from layanan.people.models import AgentConnection, Requester

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

SECRET = "portal-and-layanan-share-this-key-0123456789"
NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
STUDENT_NPM = "2231010123"
STAFF_NIP = "198503152010121002"


def encode(claims: object) -> str:
    """Return base64url of the JSON text without padding, as a portal may send it."""
    text = json.dumps(claims).encode("utf-8")
    return base64.urlsafe_b64encode(text).decode("ascii").rstrip("=")


def sign(encoded: str, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), encoded.encode(), hashlib.sha256).hexdigest()


def student_claims(**changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "id": STUDENT_NPM,
        "name": "Budi Santoso",
        "email": "budi@mail.example",
        "programme": "D3 Akuntansi",
        "exp": int((NOW + timedelta(hours=1)).timestamp()),
    }
    claims.update(changes)
    return claims


def rejection_code(encoded: str, signature: str, now: datetime = NOW) -> str:
    with pytest.raises(IdentityRejected) as raised:
        verify_identity(encoded, signature, now=now)
    return raised.value.code


@pytest.fixture
def identity_secret(settings: Settings) -> str:
    settings.IDENTITY_SECRET = SECRET
    return SECRET


@pytest.fixture
def programme(db: None) -> StudyProgramme:
    return StudyProgramme.objects.create(name="D3 Akuntansi", order=1)


@pytest.fixture
def signed_student(identity_secret: str, programme: StudyProgramme) -> dict[str, str]:
    """Return data-identity and data-signature for a student, valid for an hour."""
    claims = student_claims(exp=int((timezone.now() + timedelta(hours=1)).timestamp()))
    encoded = encode(claims)
    return {"identity": encoded, "signature": sign(encoded)}


@pytest.fixture
def admin_online(agent_admin: User) -> User:
    AgentConnection.objects.create(
        user=agent_admin, channel_name="test.console.1", last_seen=timezone.now()
    )
    return agent_admin


def post_json(client: Client, path: str, data: dict[str, Any]) -> "TestResponse":
    return client.post(path, data=json.dumps(data), content_type="application/json")


# ---- verify_identity ----


def test_verify_identity_good_signature_returns_fields(
    identity_secret: str, programme: StudyProgramme
) -> None:
    encoded = encode(student_claims())

    identity = verify_identity(encoded, sign(encoded), now=NOW)

    assert identity.identifier == STUDENT_NPM
    assert identity.name == "Budi Santoso"
    assert identity.email == "budi@mail.example"
    assert identity.study_programme == str(programme.pk)
    assert identity.programme_name == "D3 Akuntansi"
    assert identity.expires_at == NOW + timedelta(hours=1)


def test_verify_identity_accepts_uppercase_hex_and_padding(
    identity_secret: str, programme: StudyProgramme
) -> None:
    text = json.dumps(student_claims(name="Ani")).encode()
    encoded = base64.urlsafe_b64encode(text).decode()
    assert encoded.endswith("="), "the claims must need padding for this test"

    identity = verify_identity(encoded, sign(encoded).upper(), now=NOW)

    assert identity.name == "Ani"


def test_verify_identity_staff_without_programme(
    identity_secret: str, db: None
) -> None:
    claims = student_claims(id=STAFF_NIP, name="Rina Marlina")
    del claims["programme"]
    encoded = encode(claims)

    identity = verify_identity(encoded, sign(encoded), now=NOW)

    assert identity.identifier == STAFF_NIP
    assert identity.study_programme == NOT_A_STUDENT
    assert identity.programme_name == ""


def test_verify_identity_wrong_secret(
    identity_secret: str, programme: StudyProgramme
) -> None:
    encoded = encode(student_claims())
    signature = sign(encoded, "another-portal-key-that-nobody-shares-0000")

    assert rejection_code(encoded, signature) == "signature_invalid"


def test_verify_identity_tampered_payload(
    identity_secret: str, programme: StudyProgramme
) -> None:
    encoded = encode(student_claims())
    signature = sign(encoded)
    tampered = encode(student_claims(id="2231019999"))

    assert rejection_code(tampered, signature) == "signature_invalid"


def test_verify_identity_expired(
    identity_secret: str, programme: StudyProgramme
) -> None:
    encoded = encode(student_claims(exp=int(NOW.timestamp())))

    assert rejection_code(encoded, sign(encoded)) == "identity_expired"


def test_verify_identity_expiry_over_24_hours(
    identity_secret: str, programme: StudyProgramme
) -> None:
    too_far = int((NOW + timedelta(hours=24, seconds=1)).timestamp())
    encoded = encode(student_claims(exp=too_far))

    assert rejection_code(encoded, sign(encoded)) == "expiry_too_far"


def test_verify_identity_expiry_exactly_24_hours(
    identity_secret: str, programme: StudyProgramme
) -> None:
    encoded = encode(student_claims(exp=int((NOW + timedelta(hours=24)).timestamp())))

    identity = verify_identity(encoded, sign(encoded), now=NOW)

    assert identity.expires_at == NOW + timedelta(hours=24)


@pytest.mark.parametrize("expiry", [None, "1796612400", True, 10**20])
def test_verify_identity_invalid_expiry(
    identity_secret: str, programme: StudyProgramme, expiry: object
) -> None:
    encoded = encode(student_claims(exp=expiry))

    assert rejection_code(encoded, sign(encoded)) == "expiry_invalid"


def test_verify_identity_malformed_base64(identity_secret: str, db: None) -> None:
    encoded = "eyJpZCI6!!"

    assert rejection_code(encoded, sign(encoded)) == "identity_malformed"


def test_verify_identity_base64_of_non_json(identity_secret: str, db: None) -> None:
    encoded = base64.urlsafe_b64encode(b"id=2231010123").decode().rstrip("=")

    assert rejection_code(encoded, sign(encoded)) == "identity_malformed"


def test_verify_identity_json_not_object(identity_secret: str, db: None) -> None:
    encoded = encode(["2231010123", "Budi Santoso"])

    assert rejection_code(encoded, sign(encoded)) == "identity_malformed"


def test_verify_identity_signature_not_hex(identity_secret: str, db: None) -> None:
    encoded = encode(student_claims())

    assert rejection_code(encoded, "not-a-signature") == "signature_malformed"


def test_verify_identity_missing_signature(identity_secret: str, db: None) -> None:
    assert rejection_code(encode(student_claims()), "") == "identity_missing"


def test_verify_identity_feature_off(settings: Settings, db: None) -> None:
    settings.IDENTITY_SECRET = ""
    encoded = encode(student_claims())

    assert rejection_code(encoded, sign(encoded, "")) == "identity_disabled"


@pytest.mark.parametrize(
    ("changes", "named_claim"),
    [
        ({"email": "budi-at-mail.example"}, "email"),
        ({"email": ""}, "email"),
        ({"id": "12ab"}, "id"),
        ({"name": ""}, "name"),
        ({"name": 42}, "name"),
        ({"programme": "S9 Astrologi"}, "programme"),
        # A student number with no programme fails as it does in the form.
        ({"programme": ""}, "programme"),
    ],
)
def test_verify_identity_field_validation(
    identity_secret: str,
    programme: StudyProgramme,
    changes: dict[str, Any],
    named_claim: str,
) -> None:
    encoded = encode(student_claims(**changes))

    with pytest.raises(IdentityRejected) as raised:
        verify_identity(encoded, sign(encoded), now=NOW)

    assert raised.value.code == "field_invalid"
    assert named_claim in raised.value.reason


# ---- the chat API ----


def test_services_reports_verified_identity(
    client: Client, signed_student: dict[str, str], admin_service: Service
) -> None:
    response = client.get(
        "/api/chat/services/",
        headers={
            "X-Layanan-Identity": signed_student["identity"],
            "X-Layanan-Signature": signed_student["signature"],
        },
    )

    assert response.status_code == 200
    assert response.json()["identity"] == {
        "verified": True,
        "identifier": STUDENT_NPM,
        "name": "Budi Santoso",
        "email": "budi@mail.example",
        "programme": "D3 Akuntansi",
    }


def test_services_reports_rejected_identity_reason(
    client: Client, signed_student: dict[str, str], admin_service: Service
) -> None:
    response = client.get(
        "/api/chat/services/?lang=en",
        headers={
            "X-Layanan-Identity": signed_student["identity"],
            "X-Layanan-Signature": sign(signed_student["identity"], "wrong-key"),
        },
    )

    identity = response.json()["identity"]
    assert identity["verified"] is False
    assert identity["code"] == "signature_invalid"
    assert "data-signature does not match data-identity" in identity["reason"]


def test_services_without_identity_has_no_identity_key(
    client: Client, admin_service: Service
) -> None:
    response = client.get("/api/chat/services/")

    assert "identity" not in response.json()


def test_start_signed_identity_marks_chat_verified(
    client: Client,
    signed_student: dict[str, str],
    admin_service: Service,
    admin_online: User,
) -> None:
    before = timezone.now()

    response = post_json(
        client,
        "/api/chat/start/",
        {
            **signed_student,
            "service": str(admin_service.pk),
            "topic": "Surat tugas seminar",
        },
    )

    assert response.status_code == 201, response.content
    assert response.json()["identity_verified"] is True
    conversation = Conversation.objects.get()
    assert conversation.identity_verified is True
    requester = Requester.objects.get()
    assert requester.identifier == STUDENT_NPM
    assert requester.verified_at is not None
    assert requester.verified_at >= before


def test_start_signed_identity_overrides_typed_fields(
    client: Client,
    signed_student: dict[str, str],
    admin_service: Service,
    admin_online: User,
) -> None:
    response = post_json(
        client,
        "/api/chat/start/",
        {
            **signed_student,
            "identifier": "2231019999",
            "name": "Orang Lain",
            "email": "lain@mail.example",
            "study_programme": NOT_A_STUDENT,
            "service": str(admin_service.pk),
            "topic": "Surat tugas seminar",
        },
    )

    assert response.status_code == 201, response.content
    requester = Requester.objects.get()
    assert requester.identifier == STUDENT_NPM
    assert requester.name == "Budi Santoso"
    assert requester.email == "budi@mail.example"
    assert requester.study_programme is not None
    assert requester.study_programme.name == "D3 Akuntansi"
    assert Conversation.objects.get().requester_email == "budi@mail.example"


def test_start_bad_signature_falls_back_to_form(
    client: Client,
    signed_student: dict[str, str],
    programme: StudyProgramme,
    admin_service: Service,
    admin_online: User,
) -> None:
    response = post_json(
        client,
        "/api/chat/start/",
        {
            "identity": signed_student["identity"],
            "signature": sign(signed_student["identity"], "wrong-key"),
            "identifier": "2231019999",
            "name": "Citra Dewi",
            "email": "citra@mail.example",
            "study_programme": str(programme.pk),
            "service": str(admin_service.pk),
            "topic": "Surat tugas seminar",
        },
    )

    assert response.status_code == 201, response.content
    assert response.json()["identity_verified"] is False
    assert Conversation.objects.get().identity_verified is False
    requester = Requester.objects.get()
    assert requester.identifier == "2231019999"
    assert requester.verified_at is None


def test_start_bad_signature_without_typed_fields_reports_them(
    client: Client,
    signed_student: dict[str, str],
    admin_service: Service,
    admin_online: User,
) -> None:
    response = post_json(
        client,
        "/api/chat/start/",
        {
            "identity": signed_student["identity"],
            "signature": "0" * 64,
            "service": str(admin_service.pk),
            "topic": "Surat tugas seminar",
        },
    )

    assert response.status_code == 400
    assert "identifier" in response.json()["errors"]
    assert not Conversation.objects.exists()


def test_start_without_identity_has_no_identity_key(
    client: Client,
    programme: StudyProgramme,
    admin_service: Service,
    admin_online: User,
) -> None:
    response = post_json(
        client,
        "/api/chat/start/",
        {
            "identifier": STUDENT_NPM,
            "name": "Budi Santoso",
            "email": "budi@mail.example",
            "study_programme": str(programme.pk),
            "service": str(admin_service.pk),
            "topic": "Surat tugas seminar",
        },
    )

    assert response.status_code == 201, response.content
    assert "identity_verified" not in response.json()
    assert Conversation.objects.get().identity_verified is False
