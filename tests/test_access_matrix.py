"""Who may read and change what, role by role, through the console's URLs.

Every object below belongs to the Administrasi team ("team A"), except the TI
ticket that the guessed-id checks probe with. The roles:

- ``agent_a``: member of Administrasi (``agent_admin`` from tests/conftest.py);
- ``agent_b``: member of TI only (``agent_ti``);
- ``lead_a``: lead of Administrasi and member of no team, so that every right
  it has comes from leading;
- ``head``: the head of department (``supervisor``), member of no team;
- ``admin``: a superuser, member of no team;
- ``outsider``: logged in, with no team and no role;
- ``anonymous``: not logged in.
"""

import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings

from layanan import access
from layanan.catalog.models import Service, Team
from layanan.chat.models import (
    Attachment,
    Conversation,
    ConversationStatus,
    SenderKind,
)
from layanan.chat.services import (
    NewChat,
    accept_conversation,
    start_conversation,
)
from layanan.mail.inbound import store_raw
from layanan.mail.models import InboundEmail, OutboundEmail
from layanan.people.models import AgentProfile, Requester, RequesterKind
from layanan.tickets.models import EntryKind, Ticket, TicketEntry
from layanan.tickets.services import create_ticket_from_conversation

pytestmark = pytest.mark.django_db

ROLES = ["agent_a", "agent_b", "lead_a", "head", "admin", "outsider", "anonymous"]
UPLOADS = Path(__file__).parent / "chat" / "data" / "uploads"
PNG_NAME = "bukti_transfer.png"
RAW_MAIL = (
    b"From: Budi <budi@mail.example>\r\n"
    b"To: layanan@jurusan.example\r\n"
    b"Subject: Surat tugas\r\n"
    b"Message-ID: <matrix-1@mail.example>\r\n"
    b"\r\n"
    b"Selamat pagi.\r\n"
)


@dataclass(frozen=True)
class World:
    """The users by role and the team A records that the checks reach for."""

    users: dict[str, User | None]
    chat: Conversation
    waiting_chat: Conversation
    chat_attachment: Attachment
    ticket: Ticket
    ticket_attachment: Attachment
    other_ticket: Ticket
    other_ticket_attachment: Attachment
    outbound_email: OutboundEmail
    inbound_email: InboundEmail
    team: Team


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Settings) -> None:
    """Hash the fixtures' passwords quickly: the default hasher takes about a
    second per user, and every test here creates seven users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def upload_root(settings: Settings, tmp_path: Path) -> Path:
    root = tmp_path / "uploads"
    settings.UPLOAD_ROOT = root
    return root


def open_chat(service: Service, number: int, agent: User | None) -> Conversation:
    requester = Requester.objects.create(
        identifier=f"22311{number:05d}",
        kind=RequesterKind.STUDENT,
        name="Budi Santoso",
        email=f"mahasiswa{number}@mail.example",
    )
    conversation, _token = start_conversation(
        NewChat(
            requester=requester,
            email=requester.email,
            service=service,
            topic="Surat tugas seminar",
            language="id",
        )
    )
    if agent is not None:
        accept_conversation(conversation, agent)
        conversation.refresh_from_db()
    return conversation


def upload_to_chat(agent: User, conversation: Conversation) -> Attachment:
    client = Client()
    client.force_login(agent)
    response = client.post(
        reverse("console:chat_upload", args=[conversation.public_id]),
        {"file": SimpleUploadedFile(PNG_NAME, (UPLOADS / PNG_NAME).read_bytes())},
    )
    assert response.status_code == 201, response.content
    return Attachment.objects.get(conversation=conversation)


def attach_to_ticket(ticket: Ticket, upload_root: Path, name: str) -> Attachment:
    """Store a file with a note of ``ticket``, as an emailed file is stored."""
    content = b"%PDF-1.4 matrix test\n"
    storage_path = f"2026/01/{uuid.uuid4().hex}"
    target = upload_root / storage_path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    attachment = Attachment.objects.create(
        storage_path=storage_path,
        original_name=name,
        content_type="application/pdf",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        uploaded_by=SenderKind.REQUESTER,
    )
    entry = TicketEntry.objects.create(
        ticket=ticket, kind=EntryKind.NOTE, author_name="Layanan", body="Lampiran"
    )
    entry.attachments.add(attachment)
    return attachment


def store_inbound() -> InboundEmail:
    digest = hashlib.sha256(RAW_MAIL).hexdigest()
    store_raw(RAW_MAIL, digest)
    return InboundEmail.objects.create(
        sha256=digest, size=len(RAW_MAIL), via="pipe", subject="Surat tugas"
    )


@pytest.fixture
def world(
    upload_root: Path,
    admin_team: Team,
    admin_service: Service,
    ti_service: Service,
    agent_admin: User,
    second_agent_admin: User,
    agent_ti: User,
    supervisor: User,
    outsider: User,
) -> World:
    lead = User.objects.create_user(
        username="rina", password="unused-password-0", first_name="Rina"
    )
    AgentProfile.objects.create(user=lead)
    admin_team.leads.add(lead)
    superuser = User.objects.create_superuser(
        username="root", password="unused-password-0", email="root@jurusan.example"
    )
    chat = open_chat(admin_service, 1, agent_admin)
    chat_attachment = upload_to_chat(agent_admin, chat)
    ticket = create_ticket_from_conversation(chat, agent_admin)
    other_chat = open_chat(ti_service, 2, agent_ti)
    other_ticket = create_ticket_from_conversation(other_chat, agent_ti)
    return World(
        users={
            "agent_a": agent_admin,
            "agent_b": agent_ti,
            "lead_a": lead,
            "head": supervisor,
            "admin": superuser,
            "outsider": outsider,
            "anonymous": None,
        },
        chat=chat,
        waiting_chat=open_chat(admin_service, 3, None),
        chat_attachment=chat_attachment,
        ticket=ticket,
        ticket_attachment=attach_to_ticket(ticket, upload_root, "surat.pdf"),
        other_ticket=other_ticket,
        other_ticket_attachment=attach_to_ticket(other_ticket, upload_root, "akun.pdf"),
        outbound_email=OutboundEmail.objects.get(
            reference=f"ticket:{ticket.number}", kind="ticket_created_requester"
        ),
        inbound_email=store_inbound(),
        team=admin_team,
    )


def client_as(world: World, role: str) -> Client:
    """Return a client logged in as ``role``, with the console in English."""
    client = Client()
    user = world.users[role]
    if user is not None:
        client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def is_login_redirect(status: int, location: str) -> bool:
    return status == 302 and "login" in location


# Reads

# The status each role gets for a team A record in the console. Readers get 200
# and an agent of another team gets 404, as for a missing record. A user with no
# team gets the explanation page (403), and anonymous visitors the login page.
RECORD_READ_STATUS = {
    "agent_a": 200,
    "agent_b": 404,
    "lead_a": 200,
    "head": 200,
    "admin": 200,
    "outsider": 403,
}


def read_url(world: World, kind: str) -> str:
    if kind == "chat":
        return reverse("console:chat", args=[world.chat.public_id])
    if kind == "chat_attachment":
        return reverse("console:attachment", args=[world.chat_attachment.pk])
    if kind == "ticket":
        return reverse("console:ticket", args=[world.ticket.number])
    if kind == "ticket_attachment":
        return reverse(
            "console:ticket_attachment",
            args=[world.ticket.number, world.ticket_attachment.pk],
        )
    if kind == "outbound_email":
        return reverse("console:outbox_message", args=[world.outbound_email.pk])
    if kind == "outbound_email_html":
        return reverse("console:outbox_html", args=[world.outbound_email.pk])
    raise AssertionError(kind)


RECORD_KINDS = [
    "chat",
    "chat_attachment",
    "ticket",
    "ticket_attachment",
    "outbound_email",
    "outbound_email_html",
]


@pytest.mark.parametrize("kind", RECORD_KINDS)
@pytest.mark.parametrize("role", ROLES)
def test_record_read_by_role(world: World, role: str, kind: str) -> None:
    response = client_as(world, role).get(read_url(world, kind))
    if role == "anonymous":
        assert is_login_redirect(response.status_code, response.get("Location", ""))
    else:
        assert response.status_code == RECORD_READ_STATUS[role]


@pytest.mark.parametrize("role", ROLES)
def test_ticket_list_by_role(world: World, role: str) -> None:
    response = client_as(world, role).get(reverse("console:tickets"))
    if role == "anonymous":
        assert is_login_redirect(response.status_code, response.get("Location", ""))
        return
    listed = world.ticket.number.encode() in response.content
    assert listed is (RECORD_READ_STATUS[role] == 200)


@pytest.mark.parametrize("role", ROLES)
def test_email_log_by_role(world: World, role: str) -> None:
    response = client_as(world, role).get(reverse("console:outbox"))
    if role == "anonymous":
        assert is_login_redirect(response.status_code, response.get("Location", ""))
        return
    listed = world.outbound_email.subject.encode() in response.content
    assert listed is (RECORD_READ_STATUS[role] == 200)


# Only the team's leads, heads of department and admins open the settings page.
TEAM_PAGE_STATUS = {
    "agent_a": 404,
    "agent_b": 404,
    "lead_a": 200,
    "head": 200,
    "admin": 200,
    "outsider": 403,
}


@pytest.mark.parametrize("role", ROLES)
def test_team_settings_read_by_role(world: World, role: str) -> None:
    response = client_as(world, role).get(reverse("console:team", args=[world.team.pk]))
    if role == "anonymous":
        assert is_login_redirect(response.status_code, response.get("Location", ""))
    else:
        assert response.status_code == TEAM_PAGE_STATUS[role]


@pytest.mark.parametrize("role", ROLES)
def test_inbound_raw_download_by_role(world: World, role: str) -> None:
    """Only admins reach the inbound log, which Django's admin serves whole."""
    url = reverse("admin:mail_inboundemail_raw", args=[world.inbound_email.pk])
    response = client_as(world, role).get(url)
    if role == "admin":
        assert response.status_code == 200
        assert response.content == RAW_MAIL
    else:
        assert is_login_redirect(response.status_code, response.get("Location", ""))


# Writes

# The roles that may change a team A chat or ticket: its members, its leads and
# admins. The head of department reads it and changes nothing.
ACTORS = {"agent_a", "lead_a", "admin"}


def write_status_matches(world: World, role: str, status: int, location: str) -> bool:
    """Return whether a rejected write answered as the role's reads answer."""
    if role == "anonymous":
        return is_login_redirect(status, location)
    if role in ("agent_b", "outsider"):
        return status == RECORD_READ_STATUS[role]
    # Readers who may not act are sent back to the page with an error message.
    return status == 302


@pytest.mark.parametrize("role", ROLES)
def test_ticket_note_by_role(world: World, role: str) -> None:
    url = reverse("console:ticket_note", args=[world.ticket.number])
    response = client_as(world, role).post(url, {"body": "Catatan matriks"})
    saved = world.ticket.entries.filter(body="Catatan matriks").exists()
    assert saved is (role in ACTORS)
    if role not in ACTORS:
        assert write_status_matches(
            world, role, response.status_code, response.get("Location", "")
        )


@pytest.mark.parametrize("role", ROLES)
def test_ticket_priority_by_role(world: World, role: str) -> None:
    url = reverse("console:ticket_priority", args=[world.ticket.number])
    old_priority = world.ticket.priority
    new_priority = "high" if old_priority != "high" else "low"
    client_as(world, role).post(url, {"priority": new_priority})
    world.ticket.refresh_from_db()
    assert (world.ticket.priority == new_priority) is (role in ACTORS)


@pytest.mark.parametrize("role", ROLES)
def test_waiting_chat_end_by_role(world: World, role: str) -> None:
    url = reverse("console:chat_end", args=[world.waiting_chat.public_id])
    response = client_as(world, role).post(url)
    world.waiting_chat.refresh_from_db()
    ended = world.waiting_chat.status == ConversationStatus.ENDED
    assert ended is (role in ACTORS)
    if role not in ACTORS:
        assert write_status_matches(
            world, role, response.status_code, response.get("Location", "")
        )


@pytest.mark.parametrize("role", ROLES)
def test_chat_upload_by_role(world: World, role: str) -> None:
    """Only the agent who accepted the chat uploads to it, not even a lead."""
    url = reverse("console:chat_upload", args=[world.chat.public_id])
    file = SimpleUploadedFile(PNG_NAME, (UPLOADS / PNG_NAME).read_bytes())
    client_as(world, role).post(url, {"file": file})
    count = Attachment.objects.filter(conversation=world.chat).count()
    assert count == (2 if role == "agent_a" else 1)


# Assigning someone else needs a lead of the team or an admin.
ASSIGNERS = {"lead_a", "admin"}


@pytest.mark.parametrize("role", ROLES)
def test_ticket_assign_other_by_role(
    world: World, role: str, second_agent_admin: User
) -> None:
    url = reverse("console:ticket_assign", args=[world.ticket.number])
    client_as(world, role).post(url, {"assignee": str(second_agent_admin.pk)})
    world.ticket.refresh_from_db()
    assigned = world.ticket.assignee_id == second_agent_admin.pk
    assert assigned is (role in ASSIGNERS)


def test_ticket_assign_other_agent_gets_reason(
    world: World, second_agent_admin: User
) -> None:
    url = reverse("console:ticket_assign", args=[world.ticket.number])
    response = client_as(world, "agent_a").post(
        url, {"assignee": str(second_agent_admin.pk)}
    )
    assert response.status_code == 400
    assert b"Only a lead of the Administrasi team" in response.content


def test_ticket_claim_agent_assigns_self(world: World) -> None:
    url = reverse("console:ticket_claim", args=[world.ticket.number])
    client_as(world, "agent_a").post(url)
    world.ticket.refresh_from_db()
    assert world.ticket.assignee_id == world.users["agent_a"].pk  # type: ignore[union-attr]


def test_ticket_unassign_by_agent_holding_it(world: World) -> None:
    client = client_as(world, "agent_a")
    client.post(reverse("console:ticket_claim", args=[world.ticket.number]))
    client.post(
        reverse("console:ticket_assign", args=[world.ticket.number]), {"assignee": ""}
    )
    world.ticket.refresh_from_db()
    assert world.ticket.assignee_id is None


def test_ticket_unassign_other_holder_rejected(
    world: World, second_agent_admin: User
) -> None:
    client_as(world, "lead_a").post(
        reverse("console:ticket_assign", args=[world.ticket.number]),
        {"assignee": str(second_agent_admin.pk)},
    )
    client_as(world, "agent_a").post(
        reverse("console:ticket_assign", args=[world.ticket.number]), {"assignee": ""}
    )
    world.ticket.refresh_from_db()
    assert world.ticket.assignee_id == second_agent_admin.pk


# Only the team's leads and admins change its settings.
SETTINGS_CHANGERS = {"lead_a", "admin"}
TEAM_WRITE_STATUS = {
    "agent_a": 404,
    "agent_b": 404,
    "head": 403,
    "outsider": 403,
}


@pytest.mark.parametrize("role", ROLES)
def test_team_settings_write_by_role(world: World, role: str) -> None:
    url = reverse("console:team", args=[world.team.pk])
    form = {
        "routing": "round_robin",
        "chat_wait_limit_minutes": "9",
        "calendar": "",
    }
    for member in world.team.members.all():
        form.setdefault(f"capacity_{member.pk}", "3")
    response = client_as(world, role).post(url, form)
    world.team.refresh_from_db()
    assert (world.team.chat_wait_limit_minutes == 9) is (role in SETTINGS_CHANGERS)
    if role == "anonymous":
        assert is_login_redirect(response.status_code, response.get("Location", ""))
    elif role not in SETTINGS_CHANGERS:
        assert response.status_code == TEAM_WRITE_STATUS[role]


# Read-only console for the head of department


@pytest.mark.parametrize("role", ["agent_a", "lead_a", "head", "admin"])
def test_ticket_page_forms_by_role(world: World, role: str) -> None:
    response = client_as(world, role).get(read_url(world, "ticket"))
    reply_url = reverse("console:ticket_reply", args=[world.ticket.number])
    has_form = f'action="{reply_url}"'.encode() in response.content
    assert has_form is (role in ACTORS)


@pytest.mark.parametrize("role", ["agent_a", "lead_a", "head", "admin"])
def test_waiting_chat_page_end_form_by_role(world: World, role: str) -> None:
    url = reverse("console:chat", args=[world.waiting_chat.public_id])
    response = client_as(world, role).get(url)
    has_form = b"data-end-form" in response.content
    assert has_form is (role in ACTORS)


def test_team_page_head_sees_no_form(world: World) -> None:
    response = client_as(world, "head").get(
        reverse("console:team", args=[world.team.pk])
    )
    assert b"data-team-settings-form" not in response.content


# Guessed ids and numbers


def test_ticket_attachment_of_other_ticket_not_found(world: World) -> None:
    """A readable ticket's URL does not serve a file of another team's ticket."""
    url = reverse(
        "console:ticket_attachment",
        args=[world.ticket.number, world.other_ticket_attachment.pk],
    )
    assert client_as(world, "agent_a").get(url).status_code == 404


def test_ticket_attachment_of_readable_ticket_elsewhere_not_found(
    world: World,
) -> None:
    """A head reads both tickets, yet each file only comes through its own ticket."""
    url = reverse(
        "console:ticket_attachment",
        args=[world.other_ticket.number, world.ticket_attachment.pk],
    )
    assert client_as(world, "head").get(url).status_code == 404


def test_chat_attachment_through_other_ticket_not_found(world: World) -> None:
    """The chat's file reaches its own ticket's entries, and no other ticket's."""
    url = reverse(
        "console:ticket_attachment",
        args=[world.other_ticket.number, world.chat_attachment.pk],
    )
    assert client_as(world, "head").get(url).status_code == 404


def test_other_team_ticket_number_not_found(world: World) -> None:
    url = reverse("console:ticket", args=[world.other_ticket.number])
    assert client_as(world, "agent_a").get(url).status_code == 404


def test_other_team_ticket_note_not_found(world: World) -> None:
    url = reverse("console:ticket_note", args=[world.other_ticket.number])
    response = client_as(world, "agent_a").post(url, {"body": "Tebakan"})
    assert response.status_code == 404
    assert not world.other_ticket.entries.filter(body="Tebakan").exists()


@pytest.mark.parametrize(
    "url_name, args",
    [
        ("console:ticket", ["EKB-2026-999999"]),
        ("console:ticket", ["EKB-" + "9" * 40]),
        ("console:attachment", [999999]),
        ("console:outbox_message", [999999]),
        ("console:team", [999999]),
    ],
)
def test_missing_record_not_found_even_for_admin(
    world: World, url_name: str, args: list[object]
) -> None:
    url = reverse(url_name, args=args)
    assert client_as(world, "admin").get(url).status_code == 404


def test_team_page_other_team_lead_not_found(world: World, ti_team: Team) -> None:
    url = reverse("console:team", args=[ti_team.pk])
    assert client_as(world, "lead_a").get(url).status_code == 404


# Dashboard and the access functions behind it


@pytest.mark.parametrize(
    "role, expected",
    [
        ("agent_a", False),
        ("agent_b", False),
        ("lead_a", True),
        ("head", True),
        ("admin", True),
        ("outsider", False),
        ("anonymous", False),
    ],
)
def test_may_view_dashboard_by_role(world: World, role: str, expected: bool) -> None:
    user = world.users[role]
    assert access.may_view_dashboard(user or AnonymousUser()) is expected


@pytest.mark.parametrize("role", ROLES)
def test_dashboard_team_ids_by_role(world: World, role: str) -> None:
    user = world.users[role] or AnonymousUser()
    every_team = frozenset(Team.objects.values_list("pk", flat=True))
    expected = {
        "lead_a": frozenset({world.team.pk}),
        "head": every_team,
        "admin": every_team,
    }.get(role, frozenset())
    assert access.dashboard_team_ids(user) == expected


def test_inactive_admin_reads_nothing(world: World) -> None:
    superuser = world.users["admin"]
    assert superuser is not None
    superuser.is_active = False
    superuser.save(update_fields=["is_active"])
    assert not access.tickets_for_agent(superuser).exists()


def test_lead_of_team_a_reads_no_team_b_ticket(world: World) -> None:
    readable = access.tickets_for_agent(world.users["lead_a"])  # type: ignore[arg-type]
    assert not readable.filter(pk=world.other_ticket.pk).exists()


def test_member_and_lead_ticket_listed_once(world: World) -> None:
    """A user both member and lead of a team must not see its tickets twice."""
    agent = world.users["agent_a"]
    world.team.leads.add(agent)  # type: ignore[arg-type]
    readable = access.tickets_for_agent(agent)  # type: ignore[arg-type]
    assert readable.filter(pk=world.ticket.pk).count() == 1
