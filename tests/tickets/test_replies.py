"""Agents' public replies and internal notes, through the console and the services.

The cast comes from tests/conftest.py: ``agent_admin`` serves Administrasi, whose
ticket this is, and may reply and add notes; ``agent_ti`` serves TI and gets "not found"
for all of it; ``supervisor`` reads it but may not post. Budi Santoso asked for
the ticket, and his supervisor Dewi Anggraini is in CC.
"""

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings

from layanan.audit.models import Event
from layanan.catalog.models import Service
from layanan.chat.models import Attachment, SenderKind
from layanan.mail.models import OutboundEmail
from layanan.mail.outbox import send_due
from layanan.people.models import Requester, RequesterKind
from layanan.tickets.models import (
    EntryKind,
    EntrySource,
    ParticipantRole,
    Ticket,
    TicketEntry,
    TicketParticipant,
    TicketSource,
)
from layanan.tickets.replies import (
    MAX_BODY_LENGTH,
    ReplyRejected,
    add_internal_note,
    add_public_reply,
)
from layanan.tickets.services import NewTicket, open_ticket
from smtp import SmtpSink, smtp_sink  # noqa: F401

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

pytestmark = pytest.mark.django_db

REQUESTER_EMAIL = "budi.santoso@mahasiswa.example.test"
CC_EMAIL = "dewi.anggraini@dosen.example.test"
REPLY = "Surat tugas Anda sudah siap diambil di ruang TU."
NOTE = "Sudah dicek ke bagian keuangan, tunggu tanda tangan kajur."
UPLOADS = Path(__file__).parent.parent / "chat" / "data" / "uploads"
PNG_NAME = "bukti_transfer.png"
SVG_NAME = "denah_kantor.svg"


@pytest.fixture(autouse=True)
def upload_root(settings: Settings, tmp_path: Path) -> Path:
    root = tmp_path / "uploads"
    settings.UPLOAD_ROOT = root
    settings.MAIL_ADDRESS = "layanan@helpdesk.example.com"
    return root


@pytest.fixture
def ticket(admin_service: Service) -> Ticket:
    """Return Budi's Administrasi ticket, with Dewi in CC."""
    requester = Requester.objects.create(
        identifier="2231000001",
        kind=RequesterKind.STUDENT,
        name="Budi Santoso",
        email=REQUESTER_EMAIL,
    )
    with transaction.atomic():
        opened = open_ticket(
            NewTicket(
                subject="Surat tugas seminar",
                requester=requester,
                email=REQUESTER_EMAIL,
                service=admin_service,
                source=TicketSource.EMAIL,
                language="id",
            )
        )
    TicketParticipant.objects.create(
        ticket=opened, email=CC_EMAIL, name="Dewi Anggraini", role=ParticipantRole.CC
    )
    return opened


def client_for(user: User) -> Client:
    """Log ``user`` in with the console in English, the language of these checks."""
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def flash_texts(response: "TestResponse") -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def post_reply(
    client: Client,
    ticket: Ticket,
    body: str = REPLY,
    files: list[str | SimpleUploadedFile] | None = None,
) -> "TestResponse":
    """Post a reply; a file named by a string comes from tests/chat/data/uploads."""
    data: dict[str, object] = {"body": body}
    if files:
        data["files"] = [
            SimpleUploadedFile(item, (UPLOADS / item).read_bytes())
            if isinstance(item, str)
            else item
            for item in files
        ]
    return client.post(reverse("console:ticket_reply", args=[ticket.number]), data)


def post_note(client: Client, ticket: Ticket, body: str = NOTE) -> "TestResponse":
    return client.post(
        reverse("console:ticket_note", args=[ticket.number]), {"body": body}
    )


def reply_mail() -> OutboundEmail:
    return OutboundEmail.objects.get(kind="ticket_reply")


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


# Public replies


def test_reply_redirects_to_ticket(agent_admin: User, ticket: Ticket) -> None:
    response = post_reply(client_for(agent_admin), ticket)
    assert response.status_code == 302
    assert response["Location"] == reverse("console:ticket", args=[ticket.number])


def test_reply_stores_public_console_entry(agent_admin: User, ticket: Ticket) -> None:
    post_reply(client_for(agent_admin), ticket)
    entry = ticket.entries.get()
    assert (entry.kind, entry.source, entry.body, entry.author_id) == (
        EntryKind.PUBLIC,
        EntrySource.CONSOLE,
        REPLY,
        agent_admin.pk,
    )


def test_reply_queues_one_email(agent_admin: User, ticket: Ticket) -> None:
    post_reply(client_for(agent_admin), ticket)
    assert OutboundEmail.objects.filter(kind="ticket_reply").count() == 1


def test_reply_entry_stores_message_id(agent_admin: User, ticket: Ticket) -> None:
    post_reply(client_for(agent_admin), ticket)
    assert ticket.entries.get().message_id == reply_mail().message_id


def test_reply_email_not_automatic(agent_admin: User, ticket: Ticket) -> None:
    post_reply(client_for(agent_admin), ticket)
    assert reply_mail().automatic is False


def test_reply_emails_requester_and_cc(
    smtp_sink: SmtpSink,  # noqa: F811
    agent_admin: User,
    ticket: Ticket,
) -> None:
    post_reply(client_for(agent_admin), ticket)
    OutboundEmail.objects.exclude(kind="ticket_reply").delete()
    send_due()
    smtp_sink.wait_for(1)
    (delivery,) = smtp_sink.deliveries
    assert sorted(delivery.rcpt_tos) == sorted([REQUESTER_EMAIL, CC_EMAIL])
    assert [address.addr_spec for address in delivery.message["To"].addresses] == [
        REQUESTER_EMAIL
    ]
    assert [address.addr_spec for address in delivery.message["Cc"].addresses] == [
        CC_EMAIL
    ]


def test_reply_without_cc_has_no_cc_header(
    smtp_sink: SmtpSink,  # noqa: F811
    agent_admin: User,
    ticket: Ticket,
) -> None:
    ticket.participants.filter(role=ParticipantRole.CC).delete()
    post_reply(client_for(agent_admin), ticket)
    OutboundEmail.objects.exclude(kind="ticket_reply").delete()
    send_due()
    (message,) = smtp_sink.wait_for(1)
    assert message["Cc"] is None


def test_reply_email_in_requester_language(agent_admin: User, ticket: Ticket) -> None:
    post_reply(client_for(agent_admin), ticket)
    assert reply_mail().subject == f"Re: [{ticket.number}] Surat tugas seminar"
    assert REPLY in reply_mail().body_text


def test_reply_sets_first_response(agent_admin: User, ticket: Ticket) -> None:
    post_reply(client_for(agent_admin), ticket)
    ticket.refresh_from_db()
    assert ticket.first_response_at is not None


def test_second_reply_keeps_first_response(agent_admin: User, ticket: Ticket) -> None:
    client = client_for(agent_admin)
    post_reply(client, ticket)
    ticket.refresh_from_db()
    first = ticket.first_response_at
    post_reply(client, ticket, body="Satu lagi.")
    ticket.refresh_from_db()
    assert ticket.first_response_at == first


def test_reply_records_audit_event(agent_admin: User, ticket: Ticket) -> None:
    post_reply(client_for(agent_admin), ticket)
    event = Event.objects.get(
        subject_type="ticket", subject_id=ticket.number, action="replied"
    )
    assert event.actor_id == agent_admin.pk
    assert REPLY not in str(event.data)


def test_reply_with_file_attaches_it(agent_admin: User, ticket: Ticket) -> None:
    post_reply(client_for(agent_admin), ticket, files=[PNG_NAME])
    (attachment,) = ticket.entries.get().attachments.all()
    assert (attachment.original_name, attachment.conversation_id) == (PNG_NAME, None)
    assert attachment.uploaded_by == SenderKind.AGENT


def test_reply_with_file_sends_it(
    smtp_sink: SmtpSink,  # noqa: F811
    agent_admin: User,
    ticket: Ticket,
) -> None:
    post_reply(client_for(agent_admin), ticket, files=[PNG_NAME])
    OutboundEmail.objects.exclude(kind="ticket_reply").delete()
    send_due()
    (message,) = smtp_sink.wait_for(1)
    (sent,) = message.iter_attachments()
    assert sent.get_filename() == PNG_NAME
    assert sent.get_payload(decode=True) == (UPLOADS / PNG_NAME).read_bytes()


def test_reply_with_two_files_attaches_both(agent_admin: User, ticket: Ticket) -> None:
    notes = SimpleUploadedFile("catatan rapat.txt", "Rapat jam 10.00 ✅".encode())
    post_reply(client_for(agent_admin), ticket, files=[PNG_NAME, notes])
    names = ticket.entries.get().attachments.values_list("original_name", flat=True)
    assert sorted(names) == ["bukti_transfer.png", "catatan rapat.txt"]


# Rejected replies


def test_empty_reply_rejected_with_field_named(
    agent_admin: User, ticket: Ticket
) -> None:
    response = post_reply(client_for(agent_admin), ticket, body="   \n ")
    assert response.status_code == 400
    assert flash_texts(response) == [
        "The reply is empty. Type your answer in “Reply”, then send it."
    ]


def test_empty_reply_stores_and_sends_nothing(
    agent_admin: User, ticket: Ticket
) -> None:
    post_reply(client_for(agent_admin), ticket, body="")
    assert not ticket.entries.exists()
    assert not OutboundEmail.objects.filter(kind="ticket_reply").exists()


def test_overlong_reply_rejected(agent_admin: User, ticket: Ticket) -> None:
    response = post_reply(client_for(agent_admin), ticket, body="a" * 10_001)
    assert response.status_code == 400
    assert "10001 characters long" in flash_texts(response)[0]
    assert not ticket.entries.exists()


def test_reply_of_maximum_length_accepted(agent_admin: User, ticket: Ticket) -> None:
    post_reply(client_for(agent_admin), ticket, body="a" * MAX_BODY_LENGTH)
    assert ticket.entries.get().body == "a" * MAX_BODY_LENGTH


def test_rejected_file_shows_upload_error(agent_admin: User, ticket: Ticket) -> None:
    response = post_reply(client_for(agent_admin), ticket, files=[SVG_NAME])
    assert response.status_code == 400
    (text,) = flash_texts(response)
    assert text.startswith("“Attach file”: The file “denah_kantor.svg” is not")


def test_rejected_file_keeps_typed_reply(agent_admin: User, ticket: Ticket) -> None:
    response = post_reply(
        client_for(agent_admin), ticket, body="Balasan <b>penting</b>", files=[SVG_NAME]
    )
    assert ">Balasan &lt;b&gt;penting&lt;/b&gt;</textarea>" in response.content.decode()


def test_rejected_file_stores_nothing(
    agent_admin: User, ticket: Ticket, upload_root: Path
) -> None:
    post_reply(client_for(agent_admin), ticket, files=[PNG_NAME, SVG_NAME])
    assert not ticket.entries.exists()
    assert not Attachment.objects.exists()
    assert stored_files(upload_root) == []


def test_too_many_files_rejected(agent_admin: User, ticket: Ticket) -> None:
    with pytest.raises(ReplyRejected) as raised:
        add_public_reply(
            ticket,
            agent_admin,
            REPLY,
            [SimpleUploadedFile(f"{n}.txt", b"isi") for n in range(6)],
        )
    assert raised.value.field == "files"


def test_failed_queue_removes_stored_files(
    agent_admin: User, ticket: Ticket, upload_root: Path
) -> None:
    ticket.requester_email = "no-at-sign"
    with pytest.raises(ValueError):
        add_public_reply(
            ticket, agent_admin, REPLY, [SimpleUploadedFile("catatan.txt", b"isi")]
        )
    assert stored_files(upload_root) == []


# Internal notes


def test_note_stores_note_entry(agent_admin: User, ticket: Ticket) -> None:
    post_note(client_for(agent_admin), ticket)
    entry = ticket.entries.get()
    assert (entry.kind, entry.body, entry.author_id) == (
        EntryKind.NOTE,
        NOTE,
        agent_admin.pk,
    )


def test_note_emails_nobody(agent_admin: User, ticket: Ticket) -> None:
    before = OutboundEmail.objects.count()
    post_note(client_for(agent_admin), ticket)
    assert OutboundEmail.objects.count() == before


def test_note_records_audit_event(agent_admin: User, ticket: Ticket) -> None:
    post_note(client_for(agent_admin), ticket)
    assert Event.objects.filter(
        subject_type="ticket", subject_id=ticket.number, action="note_added"
    ).exists()


def test_note_leaves_first_response_unset(agent_admin: User, ticket: Ticket) -> None:
    post_note(client_for(agent_admin), ticket)
    ticket.refresh_from_db()
    assert ticket.first_response_at is None


def test_empty_note_rejected_with_field_named(
    agent_admin: User, ticket: Ticket
) -> None:
    response = post_note(client_for(agent_admin), ticket, body="")
    assert response.status_code == 400
    assert flash_texts(response) == [
        "The note is empty. Type it in “Internal note”, then save it."
    ]


def test_note_service_rejects_overlong_body(agent_admin: User, ticket: Ticket) -> None:
    with pytest.raises(ReplyRejected):
        add_internal_note(ticket, agent_admin, "a" * (MAX_BODY_LENGTH + 1))


# Who may post


def test_reply_other_team_agent_gets_404(agent_ti: User, ticket: Ticket) -> None:
    response = post_reply(client_for(agent_ti), ticket)
    assert response.status_code == 404
    assert not ticket.entries.exists()


def test_note_other_team_agent_gets_404(agent_ti: User, ticket: Ticket) -> None:
    assert post_note(client_for(agent_ti), ticket).status_code == 404


def test_supervisor_cannot_reply(supervisor: User, ticket: Ticket) -> None:
    response = post_reply(client_for(supervisor), ticket)
    assert not ticket.entries.exists()
    assert not OutboundEmail.objects.filter(kind="ticket_reply").exists()
    assert "Only members of the Administrasi team" in flash_texts(response)[0]


def test_supervisor_cannot_add_note(supervisor: User, ticket: Ticket) -> None:
    post_note(client_for(supervisor), ticket)
    assert not ticket.entries.exists()


def test_reply_needs_post(agent_admin: User, ticket: Ticket) -> None:
    response = client_for(agent_admin).get(
        reverse("console:ticket_reply", args=[ticket.number])
    )
    assert response.status_code == 405


def test_reply_needs_csrf_token(agent_admin: User, ticket: Ticket) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent_admin)
    response = client.post(
        reverse("console:ticket_reply", args=[ticket.number]), {"body": REPLY}
    )
    assert response.status_code == 403
    assert not ticket.entries.exists()


def test_reply_anonymous_redirected_to_login(client: Client, ticket: Ticket) -> None:
    response = post_reply(client, ticket)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("console:login"))


# The ticket page


def ticket_page(user: User, ticket: Ticket) -> str:
    response = client_for(user).get(reverse("console:ticket", args=[ticket.number]))
    assert response.status_code == 200
    return str(response.content.decode())


def test_page_shows_reply_and_note(agent_admin: User, ticket: Ticket) -> None:
    client = client_for(agent_admin)
    post_reply(client, ticket)
    post_note(client, ticket)
    content = ticket_page(agent_admin, ticket)
    assert REPLY in content
    assert NOTE in content


def test_page_marks_entry_kinds(agent_admin: User, ticket: Ticket) -> None:
    client = client_for(agent_admin)
    post_reply(client, ticket)
    post_note(client, ticket)
    content = ticket_page(agent_admin, ticket)
    assert '<li class="entry entry-public">' in content
    assert '<li class="entry entry-note">' in content
    assert ">Internal note</span>" in content
    assert ">Public reply</span>" in content


def test_page_lists_participants(agent_admin: User, ticket: Ticket) -> None:
    content = ticket_page(agent_admin, ticket)
    assert REQUESTER_EMAIL in content
    assert CC_EMAIL in content
    assert "Dewi Anggraini" in content


def test_page_has_reply_and_note_forms(agent_admin: User, ticket: Ticket) -> None:
    content = ticket_page(agent_admin, ticket)
    assert reverse("console:ticket_reply", args=[ticket.number]) in content
    assert reverse("console:ticket_note", args=[ticket.number]) in content
    assert 'name="files" multiple' in content
    assert ">Send reply</button>" in content
    assert ">Save note</button>" in content


def test_page_supervisor_sees_no_forms(supervisor: User, ticket: Ticket) -> None:
    content = ticket_page(supervisor, ticket)
    assert reverse("console:ticket_reply", args=[ticket.number]) not in content
    assert "Only members of its team can reply" in content


def test_page_shows_author_email_and_jakarta_time(
    agent_admin: User, ticket: Ticket
) -> None:
    TicketEntry.objects.create(
        ticket=ticket,
        kind=EntryKind.PUBLIC,
        source=EntrySource.EMAIL,
        author_name="Budi Santoso",
        author_email=REQUESTER_EMAIL,
        body="Terima kasih.",
    )
    content = ticket_page(agent_admin, ticket)
    assert f"&lt;{REQUESTER_EMAIL}&gt;" in content
    assert "WIB" in content


def email_entry(ticket: Ticket, **fields: str) -> TicketEntry:
    values = {
        "author_name": "Budi <script>alert(1)</script>",
        "author_email": REQUESTER_EMAIL,
        "body": "Terima kasih <b>banyak</b>.",
        **fields,
    }
    return TicketEntry.objects.create(
        ticket=ticket, kind=EntryKind.PUBLIC, source=EntrySource.EMAIL, **values
    )


def test_page_renders_sanitised_body_html(agent_admin: User, ticket: Ticket) -> None:
    email_entry(ticket, body_html="<p>Terima kasih <strong>banyak</strong>.</p>")
    content = ticket_page(agent_admin, ticket)
    assert "<p>Terima kasih <strong>banyak</strong>.</p>" in content


def test_page_escapes_plain_body(agent_admin: User, ticket: Ticket) -> None:
    email_entry(ticket)
    content = ticket_page(agent_admin, ticket)
    assert "Terima kasih &lt;b&gt;banyak&lt;/b&gt;." in content


def test_page_escapes_author_name(agent_admin: User, ticket: Ticket) -> None:
    email_entry(ticket)
    content = ticket_page(agent_admin, ticket)
    assert "<script>alert(1)</script>" not in content


def test_page_shows_full_message_when_different(
    agent_admin: User, ticket: Ticket
) -> None:
    email_entry(ticket, full_body="Terima kasih.\n\n> Pesan <i>sebelumnya</i>")
    content = ticket_page(agent_admin, ticket)
    assert "<summary>Show full message</summary>" in content
    assert "&gt; Pesan &lt;i&gt;sebelumnya&lt;/i&gt;" in content


def test_page_hides_full_message_when_same(agent_admin: User, ticket: Ticket) -> None:
    email_entry(ticket, body="Sama.", full_body="Sama.")
    assert "Show full message" not in ticket_page(agent_admin, ticket)


# Ticket attachments


@pytest.fixture
def reply_attachment(agent_admin: User, ticket: Ticket) -> Attachment:
    post_reply(client_for(agent_admin), ticket, files=[PNG_NAME])
    attachment: Attachment = ticket.entries.get().attachments.get()
    return attachment


def attachment_url(ticket: Ticket, attachment: Attachment) -> str:
    return reverse("console:ticket_attachment", args=[ticket.number, attachment.pk])


def test_page_links_reply_attachment(
    agent_admin: User, ticket: Ticket, reply_attachment: Attachment
) -> None:
    assert attachment_url(ticket, reply_attachment) in ticket_page(agent_admin, ticket)


def test_attachment_team_agent_downloads(
    agent_admin: User, ticket: Ticket, reply_attachment: Attachment
) -> None:
    response = client_for(agent_admin).get(attachment_url(ticket, reply_attachment))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == (UPLOADS / PNG_NAME).read_bytes()  # type: ignore[attr-defined]
    assert response["Content-Disposition"].startswith("attachment")


def test_attachment_supervisor_downloads(
    supervisor: User, ticket: Ticket, reply_attachment: Attachment
) -> None:
    response = client_for(supervisor).get(attachment_url(ticket, reply_attachment))
    assert response.status_code == 200


def test_attachment_other_team_agent_gets_404(
    agent_ti: User, ticket: Ticket, reply_attachment: Attachment
) -> None:
    response = client_for(agent_ti).get(attachment_url(ticket, reply_attachment))
    assert response.status_code == 404


def test_attachment_outsider_sees_no_file(
    outsider: User, ticket: Ticket, reply_attachment: Attachment
) -> None:
    response = client_for(outsider).get(attachment_url(ticket, reply_attachment))
    assert response.status_code == 403
    assert b"PNG" not in response.content


def test_attachment_under_other_ticket_gets_404(
    agent_admin: User,
    ticket: Ticket,
    reply_attachment: Attachment,
    admin_service: Service,
) -> None:
    with transaction.atomic():
        other = open_ticket(
            NewTicket(
                subject="Lain",
                requester=ticket.requester,
                email=REQUESTER_EMAIL,
                service=admin_service,
                source=TicketSource.AGENT,
                language="id",
            )
        )
    response = client_for(agent_admin).get(attachment_url(other, reply_attachment))
    assert response.status_code == 404


def test_chat_attachment_view_refuses_ticket_file(
    agent_admin: User, reply_attachment: Attachment
) -> None:
    response = client_for(agent_admin).get(
        reverse("console:attachment", args=[reply_attachment.pk])
    )
    assert response.status_code == 404


# The email log


def test_email_log_shows_cc_and_attachment_names(
    agent_admin: User, ticket: Ticket, reply_attachment: Attachment
) -> None:
    response = client_for(agent_admin).get(
        reverse("console:outbox_message", args=[reply_mail().pk])
    )
    content = response.content.decode()
    assert (
        "<dt>Cc</dt><dd>Dewi Anggraini &lt;dewi.anggraini@dosen.example.test&gt;"
        in (content)
    )
    assert "<dt>Attachments</dt><dd>bukti_transfer.png</dd>" in content
