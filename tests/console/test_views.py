"""The agent console's pages and actions, through Django's test client.

The cast comes from tests/conftest.py: ``agent_admin`` serves Administrasi,
``agent_ti`` serves TI, ``supervisor`` reads every team, ``outsider`` is logged in
with no team, and an unauthenticated client is the anonymous visitor.
"""

import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.fixtures import Settings

from layanan.catalog.models import Service
from layanan.chat.models import (
    Attachment,
    Conversation,
    ConversationStatus,
    EndedBy,
    Message,
    SenderKind,
)
from layanan.chat.services import (
    NewChat,
    NewMessage,
    accept_conversation,
    post_message,
    start_conversation,
)
from layanan.mail.models import OutboundEmail
from layanan.people.models import RequesterKind
from layanan.people.services import upsert_requester
from layanan.people.validation import Identifier
from layanan.tickets.models import Ticket, TicketSource
from layanan.tickets.services import (
    NewTicket,
    create_ticket_from_conversation,
    open_ticket,
)

pytestmark = pytest.mark.django_db

UPLOADS = Path(__file__).parent.parent / "chat" / "data" / "uploads"
PNG_NAME = "bukti_transfer.png"
SVG_NAME = "denah_kantor.svg"
HOSTILE_NAME = "Budi <img src=x onerror=alert(1)>"

ChatFactory = Callable[..., Conversation]


@pytest.fixture(autouse=True)
def upload_root(settings: Settings, tmp_path: Path) -> Path:
    root = tmp_path / "uploads"
    settings.UPLOAD_ROOT = root
    return root


@pytest.fixture
def open_chat() -> ChatFactory:
    """Return a factory that starts a chat through the services.

    ``open_chat(service, name=..., topic=..., agent=None)`` saves the requester
    with ``upsert_requester``, starts the chat and, given ``agent``, accepts it.
    """
    numbers = iter(range(1, 1000))

    def create(
        service: Service,
        *,
        name: str = "Budi Santoso",
        topic: str = "Surat tugas seminar",
        agent: User | None = None,
    ) -> Conversation:
        number = next(numbers)
        requester = upsert_requester(
            identifier=Identifier(
                value=f"2231{number:06d}", kind=RequesterKind.STUDENT
            ),
            name=name,
            study_programme=None,
            email=f"mahasiswa{number}@mail.example",
        )
        conversation, _token = start_conversation(
            NewChat(
                requester=requester,
                email=requester.email,
                service=service,
                topic=topic,
                language="id",
            )
        )
        if agent is not None:
            accept_conversation(conversation, agent)
            conversation.refresh_from_db()
        return conversation

    return create


@pytest.fixture
def admin_chat(
    open_chat: ChatFactory, admin_service: Service, agent_admin: User
) -> Conversation:
    """Return an Administrasi chat that ``agent_admin`` has accepted."""
    conversation = open_chat(
        admin_service, topic="Surat tugas seminar", agent=agent_admin
    )
    post_message(
        conversation,
        NewMessage(
            sender_kind=SenderKind.REQUESTER,
            sender_name=conversation.requester.name,
            body="Selamat pagi, saya perlu surat tugas.",
            client_id="requester-1",
        ),
    )
    return conversation


@pytest.fixture
def ti_chat(
    open_chat: ChatFactory, ti_service: Service, agent_ti: User
) -> Conversation:
    """Return a TI chat that ``agent_ti`` has accepted."""
    return open_chat(ti_service, topic="Tidak bisa masuk SIPUT", agent=agent_ti)


def client_for(user: User) -> Client:
    """Log ``user`` in with the console in English, the language of these checks."""
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def upload(client: Client, conversation: Conversation, name: str) -> dict[str, object]:
    """Post a file from tests/chat/data/uploads to the console's upload view."""
    response = client.post(
        reverse("console:chat_upload", args=[conversation.public_id]),
        {"file": SimpleUploadedFile(name, (UPLOADS / name).read_bytes())},
    )
    answer: dict[str, object] = response.json()
    answer["status"] = response.status_code
    return answer


def stored_attachment(client: Client, conversation: Conversation) -> Attachment:
    answer = upload(client, conversation, PNG_NAME)
    assert answer["status"] == 201, answer
    return Attachment.objects.get(conversation=conversation)


def flash_texts(response: object) -> list[str]:
    from django.contrib.messages import get_messages

    return [str(message) for message in get_messages(response.wsgi_request)]  # type: ignore[attr-defined]


def chat_ticket(conversation: Conversation, agent: User) -> Ticket:
    return create_ticket_from_conversation(conversation, agent)


# Anonymous visitors


def console_urls(conversation: Conversation, attachment_id: int) -> list[str]:
    public_id = conversation.public_id
    return [
        reverse("console:home"),
        reverse("console:chat", args=[public_id]),
        reverse("console:chat_end", args=[public_id]),
        reverse("console:chat_ticket", args=[public_id]),
        reverse("console:chat_transcript", args=[public_id]),
        reverse("console:chat_upload", args=[public_id]),
        reverse("console:attachment", args=[attachment_id]),
        reverse("console:tickets"),
        reverse("console:ticket", args=["EKB-2026-000001"]),
        reverse("console:outbox"),
        reverse("console:outbox_message", args=[1]),
        reverse("console:outbox_html", args=[1]),
    ]


@pytest.mark.parametrize("method", ["get", "post"])
def test_console_anonymous_redirected_to_login(
    admin_chat: Conversation, agent_admin: User, method: str
) -> None:
    attachment = stored_attachment(client_for(agent_admin), admin_chat)
    anonymous = Client()
    login_url = reverse("console:login")
    for url in console_urls(admin_chat, attachment.pk):
        response = getattr(anonymous, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(f"{login_url}?next="), url


def test_login_page_has_standard_fields() -> None:
    response = Client().get(reverse("console:login"))
    content = response.content.decode()
    assert response.status_code == 200
    assert 'name="username"' in content
    assert 'name="password"' in content


def test_login_page_has_one_form_with_submit_button() -> None:
    # The language buttons sit outside their form, so "form [type=submit]" finds
    # the login button alone.
    content = Client().get(reverse("console:login")).content.decode()
    forms = re.findall(r"<form\b.*?</form>", content, flags=re.DOTALL)
    with_submit = [form for form in forms if 'type="submit"' in form]
    assert len(with_submit) == 1


def test_login_with_password_reaches_home(agent_admin: User) -> None:
    agent_admin.set_password("sandi-uji-panjang-7")
    agent_admin.save()
    client = Client()
    response = client.post(
        reverse("console:login"),
        {"username": "sari", "password": "sandi-uji-panjang-7"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("console:home")


def test_logout_requires_post(agent_admin: User) -> None:
    client = client_for(agent_admin)
    assert client.get(reverse("console:logout")).status_code == 405
    response = client.post(reverse("console:logout"))
    assert response.status_code == 302
    assert client.get(reverse("console:home")).status_code == 302


# Outsiders


def test_home_outsider_sees_explanation(outsider: User) -> None:
    response = client_for(outsider).get(reverse("console:home"))
    assert response.status_code == 403
    assert b"not a member of any team" in response.content


def test_chat_outsider_sees_no_data(outsider: User, admin_chat: Conversation) -> None:
    response = client_for(outsider).get(
        reverse("console:chat", args=[admin_chat.public_id])
    )
    assert response.status_code == 403
    assert admin_chat.topic.encode() not in response.content
    assert admin_chat.requester.name.encode() not in response.content


def test_tickets_outsider_sees_no_data(
    outsider: User, admin_chat: Conversation, agent_admin: User
) -> None:
    ticket = chat_ticket(admin_chat, agent_admin)
    client = client_for(outsider)
    listing = client.get(reverse("console:tickets"))
    detail = client.get(reverse("console:ticket", args=[ticket.number]))
    assert listing.status_code == 403
    assert ticket.number.encode() not in listing.content
    assert detail.status_code == 403
    assert ticket.subject.encode() not in detail.content
    assert ticket.requester.name.encode() not in detail.content


def test_outbox_outsider_sees_no_data(
    outsider: User, admin_chat: Conversation, agent_admin: User
) -> None:
    chat_ticket(admin_chat, agent_admin)
    email = OutboundEmail.objects.first()
    assert email is not None
    response = client_for(outsider).get(reverse("console:outbox"))
    assert response.status_code == 403
    assert email.subject.encode() not in response.content


# The other team's agent


def test_chat_other_team_agent_gets_404(
    agent_ti: User, admin_chat: Conversation
) -> None:
    response = client_for(agent_ti).get(
        reverse("console:chat", args=[admin_chat.public_id])
    )
    assert response.status_code == 404


def test_chat_unknown_id_gets_404(agent_admin: User) -> None:
    response = client_for(agent_admin).get(reverse("console:chat", args=[uuid.uuid4()]))
    assert response.status_code == 404


def test_attachment_other_team_agent_gets_404(
    agent_ti: User, agent_admin: User, admin_chat: Conversation
) -> None:
    attachment = stored_attachment(client_for(agent_admin), admin_chat)
    response = client_for(agent_ti).get(
        reverse("console:attachment", args=[attachment.pk])
    )
    assert response.status_code == 404


def test_ticket_other_team_agent_gets_404(
    agent_ti: User, agent_admin: User, admin_chat: Conversation
) -> None:
    ticket = chat_ticket(admin_chat, agent_admin)
    response = client_for(agent_ti).get(reverse("console:ticket", args=[ticket.number]))
    assert response.status_code == 404


def test_ticket_list_other_team_agent_sees_own_team_only(
    agent_ti: User, agent_admin: User, admin_chat: Conversation, ti_chat: Conversation
) -> None:
    admin_ticket = chat_ticket(admin_chat, agent_admin)
    ti_ticket = chat_ticket(ti_chat, agent_ti)
    response = client_for(agent_ti).get(reverse("console:tickets"))
    assert ti_ticket.number.encode() in response.content
    assert admin_ticket.number.encode() not in response.content


def test_actions_other_team_agent_get_404(
    agent_ti: User, admin_chat: Conversation
) -> None:
    client = client_for(agent_ti)
    for name in ("chat_end", "chat_ticket", "chat_transcript", "chat_upload"):
        response = client.post(reverse(f"console:{name}", args=[admin_chat.public_id]))
        assert response.status_code == 404, name
    admin_chat.refresh_from_db()
    assert admin_chat.status == ConversationStatus.ACTIVE


def test_home_other_team_agent_lists_no_foreign_chat(
    agent_ti: User, admin_chat: Conversation
) -> None:
    response = client_for(agent_ti).get(reverse("console:home"))
    assert response.status_code == 200
    assert admin_chat.topic.encode() not in response.content


# Supervisor


def test_supervisor_reads_every_chat(
    supervisor: User, admin_chat: Conversation, ti_chat: Conversation
) -> None:
    client = client_for(supervisor)
    for conversation in (admin_chat, ti_chat):
        response = client.get(reverse("console:chat", args=[conversation.public_id]))
        assert response.status_code == 200
        assert conversation.topic.encode() in response.content


def test_supervisor_reads_every_ticket(
    supervisor: User,
    agent_admin: User,
    agent_ti: User,
    admin_chat: Conversation,
    ti_chat: Conversation,
) -> None:
    tickets = [chat_ticket(admin_chat, agent_admin), chat_ticket(ti_chat, agent_ti)]
    client = client_for(supervisor)
    listing = client.get(reverse("console:tickets")).content
    for ticket in tickets:
        assert ticket.number.encode() in listing
        detail = client.get(reverse("console:ticket", args=[ticket.number]))
        assert detail.status_code == 200


def test_supervisor_downloads_attachment(
    supervisor: User, agent_admin: User, admin_chat: Conversation
) -> None:
    attachment = stored_attachment(client_for(agent_admin), admin_chat)
    response = client_for(supervisor).get(
        reverse("console:attachment", args=[attachment.pk])
    )
    assert response.status_code == 200


def test_supervisor_chat_page_has_no_reply_box(
    supervisor: User, admin_chat: Conversation
) -> None:
    response = client_for(supervisor).get(
        reverse("console:chat", args=[admin_chat.public_id])
    )
    assert b"data-composer" not in response.content
    assert b"data-end-form" not in response.content


def test_supervisor_cannot_upload(supervisor: User, admin_chat: Conversation) -> None:
    answer = upload(client_for(supervisor), admin_chat, PNG_NAME)
    assert answer["status"] == 403
    assert not Attachment.objects.exists()


def test_supervisor_cannot_end_chat(supervisor: User, admin_chat: Conversation) -> None:
    response = client_for(supervisor).post(
        reverse("console:chat_end", args=[admin_chat.public_id]), follow=True
    )
    admin_chat.refresh_from_db()
    assert admin_chat.status == ConversationStatus.ACTIVE
    assert any("accepted this chat" in text for text in flash_texts(response))


def test_supervisor_cannot_create_ticket(
    supervisor: User, admin_chat: Conversation
) -> None:
    client_for(supervisor).post(
        reverse("console:chat_ticket", args=[admin_chat.public_id])
    )
    assert not Ticket.objects.exists()


# Chat page


def test_chat_page_shows_messages_and_details(
    agent_admin: User, admin_chat: Conversation
) -> None:
    response = client_for(agent_admin).get(
        reverse("console:chat", args=[admin_chat.public_id])
    )
    content = response.content.decode()
    assert response.status_code == 200
    assert "Selamat pagi, saya perlu surat tugas." in content
    assert admin_chat.requester.identifier in content
    assert 'id="console-config"' in content


@pytest.mark.parametrize(
    ("verified", "badge"), [(True, "Verified by the portal"), (False, "Not verified")]
)
def test_chat_page_shows_identity_check(
    agent_admin: User, admin_chat: Conversation, verified: bool, badge: str
) -> None:
    Conversation.objects.filter(pk=admin_chat.pk).update(identity_verified=verified)
    response = client_for(agent_admin).get(
        reverse("console:chat", args=[admin_chat.public_id]), {"lang": "en"}
    )
    assert badge in response.content.decode()


def test_chat_page_config_has_last_seq(
    agent_admin: User, admin_chat: Conversation
) -> None:
    response = client_for(agent_admin).get(
        reverse("console:chat", args=[admin_chat.public_id])
    )
    match = re.search(
        r'<script id="console-config" type="application/json">(.*?)</script>',
        response.content.decode(),
        flags=re.DOTALL,
    )
    assert match is not None
    config = json.loads(match.group(1))
    admin_chat.refresh_from_db()
    assert config["chat"]["lastSeq"] == admin_chat.last_seq
    assert config["chat"]["canReply"] is True


def test_chat_page_escapes_requester_name(
    open_chat: ChatFactory, admin_service: Service, agent_admin: User
) -> None:
    conversation = open_chat(admin_service, name=HOSTILE_NAME, agent=agent_admin)
    response = client_for(agent_admin).get(
        reverse("console:chat", args=[conversation.public_id])
    )
    content = response.content.decode()
    assert "<img src=x onerror" not in content
    assert "Budi &lt;img src=x onerror=alert(1)&gt;" in content


def test_chat_page_sets_strict_csp(agent_admin: User, admin_chat: Conversation) -> None:
    response = client_for(agent_admin).get(
        reverse("console:chat", args=[admin_chat.public_id])
    )
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_home_lists_my_active_chats(
    agent_admin: User, admin_chat: Conversation
) -> None:
    response = client_for(agent_admin).get(reverse("console:home"))
    assert response.status_code == 200
    assert admin_chat.topic.encode() in response.content


# Upload and download


def test_upload_allowed_file_creates_message(
    agent_admin: User, admin_chat: Conversation
) -> None:
    answer = upload(client_for(agent_admin), admin_chat, PNG_NAME)
    assert answer["status"] == 201
    message = Message.objects.get(conversation=admin_chat, attachment__isnull=False)
    assert message.sender_kind == SenderKind.AGENT
    assert message.sender == agent_admin
    assert message.attachment is not None
    assert message.attachment.original_name == PNG_NAME


def test_upload_svg_is_refused_with_message(
    agent_admin: User, admin_chat: Conversation
) -> None:
    answer = upload(client_for(agent_admin), admin_chat, SVG_NAME)
    error = answer["error"]
    assert answer["status"] == 400
    assert isinstance(error, dict)
    assert error["code"] == "type_not_allowed"
    assert SVG_NAME in error["message"]
    assert not Attachment.objects.exists()


def test_upload_to_chat_held_by_another_agent_is_refused(
    second_agent_admin: User, admin_chat: Conversation
) -> None:
    answer = upload(client_for(second_agent_admin), admin_chat, PNG_NAME)
    assert answer["status"] == 403
    assert not Attachment.objects.exists()


def test_attachment_download_headers(
    agent_admin: User, admin_chat: Conversation
) -> None:
    client = client_for(agent_admin)
    attachment = stored_attachment(client, admin_chat)
    response = client.get(reverse("console:attachment", args=[attachment.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == (UPLOADS / PNG_NAME).read_bytes()  # type: ignore[attr-defined]


def test_attachment_inline_preview_for_png(
    agent_admin: User, admin_chat: Conversation
) -> None:
    client = client_for(agent_admin)
    attachment = stored_attachment(client, admin_chat)
    response = client.get(
        reverse("console:attachment", args=[attachment.pk]), {"inline": "1"}
    )
    assert response["Content-Disposition"].startswith("inline")
    assert response["Content-Type"] == "image/png"


# End, ticket, transcript


def test_chat_end_ends_chat(agent_admin: User, admin_chat: Conversation) -> None:
    response = client_for(agent_admin).post(
        reverse("console:chat_end", args=[admin_chat.public_id])
    )
    admin_chat.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == reverse("console:chat", args=[admin_chat.public_id])
    assert admin_chat.status == ConversationStatus.ENDED
    assert admin_chat.ended_by == EndedBy.AGENT


def test_chat_end_twice_says_already_ended(
    agent_admin: User, admin_chat: Conversation
) -> None:
    client = client_for(agent_admin)
    url = reverse("console:chat_end", args=[admin_chat.public_id])
    client.post(url)
    response = client.post(url, follow=True)
    assert "This chat had already ended." in flash_texts(response)


def test_chat_end_get_not_allowed(agent_admin: User, admin_chat: Conversation) -> None:
    response = client_for(agent_admin).get(
        reverse("console:chat_end", args=[admin_chat.public_id])
    )
    assert response.status_code == 405


def test_chat_end_requires_csrf_token(
    agent_admin: User, admin_chat: Conversation
) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent_admin)
    response = client.post(reverse("console:chat_end", args=[admin_chat.public_id]))
    admin_chat.refresh_from_db()
    assert response.status_code == 403
    assert admin_chat.status == ConversationStatus.ACTIVE


def test_ended_chat_page_shows_who_ended(
    agent_admin: User, admin_chat: Conversation
) -> None:
    client = client_for(agent_admin)
    client.post(reverse("console:chat_end", args=[admin_chat.public_id]))
    response = client.get(reverse("console:chat", args=[admin_chat.public_id]))
    content = response.content.decode()
    assert "Sari Wulandari" in content
    assert "The agent ended the chat." in content


def test_chat_ticket_created_once(agent_admin: User, admin_chat: Conversation) -> None:
    client = client_for(agent_admin)
    url = reverse("console:chat_ticket", args=[admin_chat.public_id])
    first = client.post(url, follow=True)
    ticket = Ticket.objects.get()
    second = client.post(url, follow=True)
    assert f"Ticket {ticket.number} was created." in flash_texts(first)
    assert f"This chat is already ticket {ticket.number}." in flash_texts(second)
    assert Ticket.objects.count() == 1


def test_chat_page_with_ticket_links_to_it(
    agent_admin: User, admin_chat: Conversation
) -> None:
    client = client_for(agent_admin)
    client.post(reverse("console:chat_ticket", args=[admin_chat.public_id]))
    ticket = Ticket.objects.get()
    response = client.get(reverse("console:chat", args=[admin_chat.public_id]))
    content = response.content.decode()
    assert reverse("console:ticket", args=[ticket.number]) in content
    assert "data-ticket-form" not in content


def test_chat_transcript_queues_outbox_row(
    agent_admin: User, admin_chat: Conversation
) -> None:
    client = client_for(agent_admin)
    client.post(reverse("console:chat_end", args=[admin_chat.public_id]))
    response = client.post(
        reverse("console:chat_transcript", args=[admin_chat.public_id]), follow=True
    )
    row = OutboundEmail.objects.get(kind="transcript")
    assert row.reference == f"conversation:{admin_chat.public_id}"
    assert row.to == [admin_chat.requester_email]
    assert any("transcript was queued" in text for text in flash_texts(response))


def test_chat_transcript_refused_while_active(
    agent_admin: User, admin_chat: Conversation
) -> None:
    response = client_for(agent_admin).post(
        reverse("console:chat_transcript", args=[admin_chat.public_id]), follow=True
    )
    assert not OutboundEmail.objects.filter(kind="transcript").exists()
    assert any("End the chat first" in text for text in flash_texts(response))


# Tickets


def make_tickets(count: int, service: Service, open_chat: ChatFactory) -> None:
    requester = open_chat(service).requester
    with transaction.atomic():
        for number in range(count):
            open_ticket(
                NewTicket(
                    subject=f"Permintaan {number}",
                    requester=requester,
                    email=requester.email,
                    service=service,
                    source=TicketSource.AGENT,
                    language="id",
                )
            )


def ticket_list_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("console:tickets"))
    assert response.status_code == 200
    return len(queries)


def test_ticket_list_query_count_constant(
    agent_admin: User, admin_service: Service, open_chat: ChatFactory
) -> None:
    client = client_for(agent_admin)
    make_tickets(3, admin_service, open_chat)
    with_three = ticket_list_queries(client)
    make_tickets(27, admin_service, open_chat)
    with_thirty = ticket_list_queries(client)
    assert with_thirty == with_three


def test_ticket_list_paginates_by_fifty(
    agent_admin: User, admin_service: Service, open_chat: ChatFactory
) -> None:
    make_tickets(51, admin_service, open_chat)
    client = client_for(agent_admin)
    first = client.get(reverse("console:tickets")).content.decode()
    second = client.get(reverse("console:tickets"), {"page": 2}).content.decode()
    assert first.count("<tr>") == 51
    assert second.count("<tr>") == 2


def test_ticket_list_shows_jakarta_time(
    agent_admin: User, admin_chat: Conversation
) -> None:
    ticket = chat_ticket(admin_chat, agent_admin)
    response = client_for(agent_admin).get(reverse("console:tickets"))
    assert "WIB" in response.content.decode()
    assert ticket.subject.encode() in response.content


def test_ticket_page_shows_entries_attachments_and_events(
    agent_admin: User, admin_chat: Conversation
) -> None:
    client = client_for(agent_admin)
    attachment = stored_attachment(client, admin_chat)
    ticket = chat_ticket(admin_chat, agent_admin)
    response = client.get(reverse("console:ticket", args=[ticket.number]))
    content = response.content.decode()
    assert "Selamat pagi, saya perlu surat tugas." in content
    assert reverse("console:attachment", args=[attachment.pk]) in content
    assert reverse("console:chat", args=[admin_chat.public_id]) in content
    assert "Ticket created" in content


# Email log


def test_outbox_agent_sees_own_team_mail_only(
    agent_admin: User, agent_ti: User, admin_chat: Conversation, ti_chat: Conversation
) -> None:
    admin_ticket = chat_ticket(admin_chat, agent_admin)
    ti_ticket = chat_ticket(ti_chat, agent_ti)
    content = client_for(agent_admin).get(reverse("console:outbox")).content.decode()
    assert admin_ticket.number in content
    assert ti_ticket.number not in content


def test_outbox_agent_sees_own_team_transcript(
    agent_admin: User, agent_ti: User, admin_chat: Conversation
) -> None:
    client = client_for(agent_admin)
    client.post(reverse("console:chat_end", args=[admin_chat.public_id]))
    client.post(reverse("console:chat_transcript", args=[admin_chat.public_id]))
    transcript = OutboundEmail.objects.get(kind="transcript")
    own = client.get(reverse("console:outbox_message", args=[transcript.pk]))
    foreign = client_for(agent_ti).get(
        reverse("console:outbox_message", args=[transcript.pk])
    )
    assert own.status_code == 200
    assert foreign.status_code == 404


def test_outbox_supervisor_sees_all_mail(
    supervisor: User,
    agent_admin: User,
    agent_ti: User,
    admin_chat: Conversation,
    ti_chat: Conversation,
) -> None:
    tickets = [chat_ticket(admin_chat, agent_admin), chat_ticket(ti_chat, agent_ti)]
    OutboundEmail.objects.filter(pk=OutboundEmail.objects.first().pk).update(  # type: ignore[union-attr]
        reference="system:test"
    )
    content = client_for(supervisor).get(reverse("console:outbox")).content.decode()
    for ticket in tickets:
        assert ticket.number in content
    assert "system:test" in content


def test_outbox_other_team_agent_gets_404_for_html(
    agent_ti: User, agent_admin: User, admin_chat: Conversation
) -> None:
    chat_ticket(admin_chat, agent_admin)
    email = OutboundEmail.objects.first()
    assert email is not None
    response = client_for(agent_ti).get(reverse("console:outbox_html", args=[email.pk]))
    assert response.status_code == 404


def test_outbox_message_shows_mail_as_sent(
    agent_admin: User, admin_chat: Conversation
) -> None:
    chat_ticket(admin_chat, agent_admin)
    email = OutboundEmail.objects.get(kind="ticket_created_requester")
    response = client_for(agent_admin).get(
        reverse("console:outbox_message", args=[email.pk])
    )
    content = response.content.decode()
    assert email.message_id.replace("<", "&lt;").replace(">", "&gt;") in content
    assert reverse("console:outbox_html", args=[email.pk]) in content
    assert 'sandbox=""' in content


def test_outbox_html_served_sandboxed(
    agent_admin: User, admin_chat: Conversation
) -> None:
    chat_ticket(admin_chat, agent_admin)
    email = OutboundEmail.objects.get(kind="ticket_created_requester")
    response = client_for(agent_admin).get(
        reverse("console:outbox_html", args=[email.pk])
    )
    assert response.status_code == 200
    assert response["Content-Security-Policy"].startswith("sandbox")
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert response.content.decode() == email.body_html
