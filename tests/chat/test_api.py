"""The requester's HTTP API, through Django's test client."""

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings

from conftest import FRAME_TIMEOUT, RequesterChatFactory, Sockets
from layanan.catalog.models import Service, StudyProgramme
from layanan.chat.access import hash_token
from layanan.chat.models import (
    Attachment,
    Conversation,
    ConversationStatus,
    EndedBy,
    Message,
)
from layanan.chat.services import Ending, end_conversation
from layanan.mail.models import OutboundEmail
from layanan.people.models import AgentConnection, AgentProfile, AgentStatus, Requester
from layanan.tickets.models import Ticket, TicketStatus

UPLOADS = Path(__file__).parent / "data" / "uploads"
PNG_NAME = "bukti_transfer.png"
SVG_NAME = "denah_kantor.svg"
PDF_BODY = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
FOREIGN_ORIGIN = "https://evil.example"
if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

TICKET_NUMBER = re.compile(r"^EKB-\d{4}-\d{6}$")


@pytest.fixture
def programme(db: None) -> StudyProgramme:
    return StudyProgramme.objects.create(name="D3 Akuntansi", order=1)


@pytest.fixture
def prechat(programme: StudyProgramme, admin_service: Service) -> dict[str, str]:
    """Return a valid pre-chat submission from a student, as the panel sends it."""
    return {
        "identifier": "2231010123",
        "name": "Budi Santoso",
        "study_programme": str(programme.pk),
        "email": "budi@mail.example",
        "service": str(admin_service.pk),
        "topic": "Surat tugas seminar",
    }


@pytest.fixture
def admin_online(agent_admin: User) -> User:
    """Return agent_admin with an open console socket, so Administrasi is online."""
    AgentConnection.objects.create(
        user=agent_admin, channel_name="test.console.1", last_seen=timezone.now()
    )
    return agent_admin


@pytest.fixture
def upload_root(settings: Settings, tmp_path: Path) -> Path:
    root = tmp_path / "uploads"
    settings.UPLOAD_ROOT = root
    return root


def post_json(
    client: Client, path: str, data: dict[str, Any], **headers: str
) -> "TestResponse":
    response = client.post(
        path, data=json.dumps(data), content_type="application/json", headers=headers
    )
    return response


def token_header(token: str) -> dict[str, str]:
    return {"X-Layanan-Token": token}


def upload(
    client: Client, token: str, name: str, content: bytes, client_id: str = "u-1"
) -> "TestResponse":
    response = client.post(
        "/api/chat/upload/",
        {"file": SimpleUploadedFile(name, content), "client_id": client_id},
        headers=token_header(token),
    )
    return response


def upload_fixture(client: Client, token: str, name: str) -> "TestResponse":
    return upload(client, token, name, (UPLOADS / name).read_bytes())


def download(
    client: Client, token: str, attachment_id: int, query: str = ""
) -> tuple["TestResponse", bytes]:
    """Fetch an attachment with the token; return the response and its whole body."""
    response = client.get(
        f"/api/chat/attachments/{attachment_id}/{query}", headers=token_header(token)
    )
    content = response.getvalue()
    response.close()
    return response, content


def stored_files(root: Path) -> list[Path]:
    if not root.exists():
        return []
    return [path for path in root.rglob("*") if path.is_file()]


def field_codes(response: "TestResponse") -> dict[str, list[str]]:
    errors = response.json()["errors"]
    return {
        field: [error["code"] for error in entries] for field, entries in errors.items()
    }


# Access


@pytest.mark.django_db
def test_attachment_other_token_not_found(
    client: Client, requester_chat: RequesterChatFactory, upload_root: Path
) -> None:
    _owner_chat, owner_token = requester_chat()
    _other_chat, other_token = requester_chat()
    attachment_id = upload_fixture(client, owner_token, PNG_NAME).json()["message"][
        "attachment"
    ]["id"]
    response, _content = download(client, other_token, attachment_id)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_attachment_missing_token_not_found(
    client: Client, requester_chat: RequesterChatFactory, upload_root: Path
) -> None:
    _conversation, token = requester_chat()
    attachment_id = upload_fixture(client, token, PNG_NAME).json()["message"][
        "attachment"
    ]["id"]
    response = client.get(f"/api/chat/attachments/{attachment_id}/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_attachment_unknown_id_not_found(
    client: Client, requester_chat: RequesterChatFactory
) -> None:
    _conversation, token = requester_chat()
    response = client.get("/api/chat/attachments/999999/", headers=token_header(token))
    assert response.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/chat/upload/", "/api/chat/end/"])
def test_requester_endpoint_missing_token_not_found(client: Client, path: str) -> None:
    response = post_json(client, path, {})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_requester_endpoint_wrong_token_not_found(
    client: Client, requester_chat: RequesterChatFactory
) -> None:
    conversation, _token = requester_chat()
    response = post_json(client, "/api/chat/end/", {}, **token_header("wrong-token"))
    conversation.refresh_from_db()
    assert response.status_code == 404
    assert conversation.status == ConversationStatus.WAITING


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/api/chat/start/", "/api/chat/offline/", "/api/chat/end/"]
)
def test_requester_endpoint_foreign_origin_rejected(client: Client, path: str) -> None:
    response = post_json(client, path, {}, Origin=FOREIGN_ORIGIN)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_rejected"
    assert response.json()["error"]["message"]


@pytest.mark.django_db
def test_attachment_foreign_origin_rejected(
    client: Client, requester_chat: RequesterChatFactory, upload_root: Path
) -> None:
    _conversation, token = requester_chat()
    attachment_id = upload_fixture(client, token, PNG_NAME).json()["message"][
        "attachment"
    ]["id"]
    response = client.get(
        f"/api/chat/attachments/{attachment_id}/",
        headers={**token_header(token), "Origin": FOREIGN_ORIGIN},
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_rejected"


@pytest.mark.django_db
def test_requester_endpoint_own_origin_allowed(
    client: Client, settings: Settings, prechat: dict[str, str], admin_online: User
) -> None:
    response = post_json(
        client, "/api/chat/start/", prechat, Origin=settings.BASE_ORIGIN
    )
    assert response.status_code == 201


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_socket_other_token_cannot_read_chat(
    sockets: Sockets, requester_chat: RequesterChatFactory
) -> None:
    owner_chat, owner_token = await sync_to_async(requester_chat)()
    other_chat, other_token = await sync_to_async(requester_chat)()
    owner, _ready = await sockets.requester(owner_token)
    await owner.send_json_to({"type": "message", "client_id": "a-1", "body": "Rahasia"})
    await sockets.receive_until(owner, "ack")
    other, ready = await sockets.requester(other_token, last_seq=0)
    await owner.send_json_to({"type": "message", "client_id": "a-2", "body": "Rahasia"})
    await sockets.receive_until(owner, "ack")
    assert ready["conversation"]["id"] == str(other_chat.public_id)
    assert ready["conversation"]["id"] != str(owner_chat.public_id)
    assert ready["last_seq"] == 0
    assert await other.receive_nothing(timeout=0.3)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_socket_token_of_hash_rejected(
    sockets: Sockets, requester_chat: RequesterChatFactory
) -> None:
    # Whoever reads the database sees only hashes, and a hash is not a token.
    _conversation, token = await sync_to_async(requester_chat)()
    communicator = sockets.communicator("/ws/chat/")
    await communicator.connect(timeout=FRAME_TIMEOUT)
    await communicator.send_json_to({"type": "auth", "token": hash_token(token)})
    error = await communicator.receive_json_from(timeout=FRAME_TIMEOUT)
    assert error["code"] == "auth_required"


# Services list


@pytest.mark.django_db
def test_services_lists_team_online(
    client: Client, admin_online: User, admin_service: Service, ti_service: Service
) -> None:
    response = client.get("/api/chat/services/")
    online = {item["id"]: item["team_online"] for item in response.json()["services"]}
    assert response.status_code == 200
    assert online[admin_service.pk] is True
    assert online[ti_service.pk] is False


# Starting


@pytest.mark.django_db
def test_start_with_online_agent_created(
    client: Client, prechat: dict[str, str], admin_online: User
) -> None:
    response = post_json(client, "/api/chat/start/", prechat)
    body = response.json()
    conversation = Conversation.objects.get()
    assert response.status_code == 201
    assert set(body) == {"token", "conversation"}
    assert conversation.token_hash == hash_token(body["token"])
    assert body["conversation"]["id"] == str(conversation.public_id)
    assert body["conversation"]["status"] == "waiting"
    assert body["conversation"]["queue_position"] == 1
    assert conversation.requester.identifier == "2231010123"
    assert conversation.requester_email == "budi@mail.example"
    assert conversation.topic == "Surat tugas seminar"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_start_language_from_request(
    client: Client, prechat: dict[str, str], admin_online: User
) -> None:
    response = post_json(client, "/api/chat/start/?lang=en", prechat)
    assert response.json()["conversation"]["language"] == "en"
    assert Conversation.objects.get().language == "en"


@pytest.mark.django_db
def test_start_team_offline_conflict(client: Client, prechat: dict[str, str]) -> None:
    response = post_json(client, "/api/chat/start/", prechat)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "team_offline"
    assert response.json()["error"]["message"]
    assert not Conversation.objects.exists()


@pytest.mark.django_db
def test_start_other_team_online_conflict(
    client: Client, prechat: dict[str, str], agent_ti: User
) -> None:
    AgentConnection.objects.create(
        user=agent_ti, channel_name="test.console.ti", last_seen=timezone.now()
    )
    response = post_json(client, "/api/chat/start/", prechat)
    assert response.status_code == 409


@pytest.mark.django_db
def test_start_stale_connection_conflict(
    client: Client, prechat: dict[str, str], admin_online: User
) -> None:
    # A console that stopped pinging died without closing its socket.
    AgentConnection.objects.update(last_seen=timezone.now() - timedelta(minutes=5))
    response = post_json(client, "/api/chat/start/", prechat)
    assert response.status_code == 409


@pytest.mark.django_db
def test_start_agent_away_conflict(
    client: Client, prechat: dict[str, str], admin_online: User
) -> None:
    AgentProfile.objects.filter(user=admin_online).update(status=AgentStatus.AWAY)
    response = post_json(client, "/api/chat/start/", prechat)
    assert response.status_code == 409


@pytest.mark.django_db
def test_start_invalid_data_reports_each_field(
    client: Client, prechat: dict[str, str], admin_online: User
) -> None:
    data = {
        **prechat,
        "identifier": "22-31-ab",
        "email": "bukan-email",
        "service": "999999",
        "topic": "",
    }
    response = post_json(client, "/api/chat/start/", data)
    errors = response.json()["errors"]
    assert response.status_code == 400
    assert set(errors) == {"identifier", "email", "service", "topic"}
    assert field_codes(response)["identifier"] == ["not_digits"]
    assert field_codes(response)["email"] == ["invalid"]
    assert field_codes(response)["service"] == ["invalid_choice"]
    for entries in errors.values():
        assert all(entry["message"] for entry in entries)
    assert not Conversation.objects.exists()
    assert not Requester.objects.exists()


@pytest.mark.django_db
def test_start_non_json_body_reports_fields(client: Client, admin_online: User) -> None:
    response = client.post(
        "/api/chat/start/", data=b"\xff{", content_type="application/json"
    )
    assert response.status_code == 400
    assert "identifier" in response.json()["errors"]


# Offline requests


@pytest.mark.django_db
def test_offline_request_opens_ticket(client: Client, prechat: dict[str, str]) -> None:
    data = {**prechat, "message": "Mohon dibuatkan surat tugas untuk seminar."}
    response = post_json(client, "/api/chat/offline/", data)
    number = response.json()["ticket_number"]
    ticket = Ticket.objects.get(number=number)
    mails = OutboundEmail.objects.filter(reference=f"ticket:{number}")
    recipients = {mail.kind: mail.to for mail in mails}
    assert response.status_code == 201
    assert TICKET_NUMBER.match(number)
    assert ticket.status == TicketStatus.OPEN
    assert ticket.team.name == "Administrasi"
    assert ticket.entries.get().body == "Mohon dibuatkan surat tugas untuk seminar."
    assert recipients == {
        "ticket_created_requester": ["budi@mail.example"],
        "ticket_created_team": ["administrasi@jurusan.example"],
    }


@pytest.mark.django_db
def test_offline_request_without_message_rejected(
    client: Client, prechat: dict[str, str]
) -> None:
    response = post_json(client, "/api/chat/offline/", {**prechat, "message": "  "})
    assert response.status_code == 400
    assert field_codes(response) == {"message": ["required"]}
    assert not Ticket.objects.exists()
    assert not OutboundEmail.objects.exists()


# Ending


@pytest.mark.django_db
def test_end_with_transcript_and_rating(
    client: Client, requester_chat: RequesterChatFactory
) -> None:
    conversation, token = requester_chat()
    response = post_json(
        client,
        "/api/chat/end/",
        {
            "send_transcript": True,
            "email": "budi.lain@mail.example",
            "rating": 4,
            "comment": "Terima kasih",
        },
        **token_header(token),
    )
    conversation.refresh_from_db()
    transcript = OutboundEmail.objects.get(kind="transcript")
    assert response.status_code == 200
    assert response.json()["conversation"]["status"] == "ended"
    assert response.json()["conversation"]["ended_by"] == "requester"
    assert conversation.ended_by == EndedBy.REQUESTER
    assert conversation.rating == 4
    assert conversation.rating_comment == "Terima kasih"
    assert conversation.transcript_sent_at is not None
    assert transcript.to == ["budi.lain@mail.example"]
    assert transcript.reference == f"conversation:{conversation.public_id}"


@pytest.mark.django_db
def test_end_without_transcript_sends_no_mail(
    client: Client, requester_chat: RequesterChatFactory
) -> None:
    conversation, token = requester_chat()
    response = post_json(client, "/api/chat/end/", {}, **token_header(token))
    conversation.refresh_from_db()
    assert response.status_code == 200
    assert conversation.status == ConversationStatus.ENDED
    assert conversation.rating is None
    assert not OutboundEmail.objects.exists()


@pytest.mark.django_db
def test_end_bad_email_rejected(
    client: Client, requester_chat: RequesterChatFactory
) -> None:
    conversation, token = requester_chat()
    response = post_json(
        client,
        "/api/chat/end/",
        {"send_transcript": True, "email": "bukan-email"},
        **token_header(token),
    )
    conversation.refresh_from_db()
    assert response.status_code == 400
    assert field_codes(response) == {"email": ["invalid"]}
    assert response.json()["errors"]["email"][0]["message"]
    assert conversation.status == ConversationStatus.WAITING
    assert not OutboundEmail.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("rating", [7, 0, "lima", 2.5])
def test_end_bad_rating_rejected(
    client: Client, requester_chat: RequesterChatFactory, rating: object
) -> None:
    conversation, token = requester_chat()
    response = post_json(
        client, "/api/chat/end/", {"rating": rating}, **token_header(token)
    )
    conversation.refresh_from_db()
    assert response.status_code == 400
    assert field_codes(response) == {"rating": ["invalid"]}
    assert conversation.status == ConversationStatus.WAITING
    assert conversation.rating is None


@pytest.mark.django_db
def test_end_already_ended_keeps_first_end(
    client: Client, requester_chat: RequesterChatFactory
) -> None:
    conversation, token = requester_chat()
    end_conversation(conversation, Ending(ended_by=EndedBy.IDLE))
    response = post_json(client, "/api/chat/end/", {"rating": 5}, **token_header(token))
    conversation.refresh_from_db()
    assert response.status_code == 200
    assert conversation.ended_by == EndedBy.IDLE
    assert conversation.rating == 5


# Uploads and downloads


@pytest.mark.django_db
def test_upload_png_posts_message(
    client: Client, requester_chat: RequesterChatFactory, upload_root: Path
) -> None:
    conversation, token = requester_chat()
    content = (UPLOADS / PNG_NAME).read_bytes()
    response = upload(client, token, PNG_NAME, content)
    message = response.json()["message"]
    attachment = Attachment.objects.get()
    assert response.status_code == 201
    assert message["seq"] == 1
    assert message["client_id"] == "u-1"
    assert message["sender_kind"] == "requester"
    assert message["attachment"] == {
        "id": attachment.pk,
        "name": PNG_NAME,
        "size": len(content),
        "content_type": "image/png",
        "inline": True,
    }
    assert attachment.conversation_id == conversation.pk
    assert [path.read_bytes() for path in stored_files(upload_root)] == [content]


@pytest.mark.django_db
def test_upload_svg_rejected_and_not_stored(
    client: Client, requester_chat: RequesterChatFactory, upload_root: Path
) -> None:
    _conversation, token = requester_chat()
    response = upload_fixture(client, token, SVG_NAME)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "type_not_allowed"
    assert response.json()["error"]["message"]
    assert not Attachment.objects.exists()
    assert not Message.objects.exists()
    assert stored_files(upload_root) == []


@pytest.mark.django_db
def test_upload_without_file_rejected(
    client: Client, requester_chat: RequesterChatFactory, upload_root: Path
) -> None:
    _conversation, token = requester_chat()
    response = client.post(
        "/api/chat/upload/", {"client_id": "u-1"}, headers=token_header(token)
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "no_file"


@pytest.mark.django_db
def test_upload_to_ended_chat_rejected_and_not_stored(
    client: Client, requester_chat: RequesterChatFactory, upload_root: Path
) -> None:
    conversation, token = requester_chat()
    end_conversation(conversation, Ending(ended_by=EndedBy.REQUESTER))
    response = upload_fixture(client, token, PNG_NAME)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "chat_ended"
    assert not Attachment.objects.exists()
    assert stored_files(upload_root) == []


@pytest.mark.django_db
def test_upload_resend_stores_one_file(
    client: Client, requester_chat: RequesterChatFactory, upload_root: Path
) -> None:
    _conversation, token = requester_chat()
    first = upload_fixture(client, token, PNG_NAME)
    again = upload_fixture(client, token, PNG_NAME)
    assert first.status_code == 201
    assert again.status_code == 201
    assert again.json()["message"] == first.json()["message"]
    assert Attachment.objects.count() == 1
    assert len(stored_files(upload_root)) == 1


@pytest.mark.django_db
def test_download_png_as_attachment(
    client: Client, requester_chat: RequesterChatFactory, upload_root: Path
) -> None:
    _conversation, token = requester_chat()
    attachment_id = upload_fixture(client, token, PNG_NAME).json()["message"][
        "attachment"
    ]["id"]
    response, content = download(client, token, attachment_id)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert PNG_NAME in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Type"] == "image/png"
    assert content == (UPLOADS / PNG_NAME).read_bytes()


@pytest.mark.django_db
def test_download_png_inline_on_request(
    client: Client, requester_chat: RequesterChatFactory, upload_root: Path
) -> None:
    _conversation, token = requester_chat()
    attachment_id = upload_fixture(client, token, PNG_NAME).json()["message"][
        "attachment"
    ]["id"]
    response, _content = download(client, token, attachment_id, "?inline=1")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("inline")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_download_pdf_never_inline(
    client: Client, requester_chat: RequesterChatFactory, upload_root: Path
) -> None:
    _conversation, token = requester_chat()
    uploaded = upload(client, token, "surat.pdf", PDF_BODY)
    attachment_id = uploaded.json()["message"]["attachment"]["id"]
    response, _content = download(client, token, attachment_id, "?inline=1")
    assert uploaded.json()["message"]["attachment"]["inline"] is False
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
