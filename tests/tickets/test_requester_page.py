"""The requester page under /t/<token>/: what it shows, replies, files, rating,
invalid links and new links.

Budi Santoso asked for the ticket and has its link. Sari (``agent_admin``)
serves the Administrasi team and writes public replies and internal notes; the
requester must see the replies and never the notes. Another ticket's files
stay out of reach with Budi's token.
"""

import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.fixtures import Settings

from conftest import RequesterChatFactory
from layanan.audit.models import Event
from layanan.catalog.models import Service
from layanan.chat.models import Attachment, SenderKind
from layanan.chat.services import NewMessage, accept_conversation, post_message
from layanan.chat.uploads import store_bytes
from layanan.mail.models import OutboundEmail
from layanan.people.models import Requester, RequesterKind
from layanan.tickets import links, workflow
from layanan.tickets.inbound import add_system_note
from layanan.tickets.models import (
    EntryKind,
    EntrySource,
    RequesterLink,
    Ticket,
    TicketEntry,
    TicketSource,
    TicketStatus,
)
from layanan.tickets.replies import add_internal_note, add_public_reply
from layanan.tickets.services import (
    NewTicket,
    create_ticket_from_conversation,
    open_ticket,
)

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

pytestmark = pytest.mark.django_db

REQUESTER_EMAIL = "budi.santoso@mahasiswa.example.test"
OFFLINE_TEXT = "Saya perlu surat tugas untuk seminar nasional."
AGENT_REPLY = "Suratnya sudah siap diambil di ruang TU."
NOTE = "Rahasia internal: tunggu tanda tangan kajur."
UPLOADS = Path(__file__).parent.parent / "chat" / "data" / "uploads"


@pytest.fixture(autouse=True)
def local_settings(settings: Settings, tmp_path: Path) -> None:
    settings.UPLOAD_ROOT = tmp_path / "uploads"
    settings.MAIL_ADDRESS = "layanan@helpdesk.example.com"


def offline_ticket(service: Service, subject: str = "Surat tugas seminar") -> Ticket:
    requester = Requester.objects.create(
        identifier=None,
        kind=RequesterKind.STUDENT,
        name="Budi Santoso",
        email=REQUESTER_EMAIL,
    )
    with transaction.atomic():
        opened = open_ticket(
            NewTicket(
                subject=subject,
                requester=requester,
                email=REQUESTER_EMAIL,
                service=service,
                source=TicketSource.OFFLINE,
                language="id",
            )
        )
        TicketEntry.objects.create(
            ticket=opened,
            kind=EntryKind.PUBLIC,
            author_name="Budi Santoso",
            body=OFFLINE_TEXT,
        )
    return opened


@pytest.fixture
def ticket(admin_service: Service) -> Ticket:
    return offline_ticket(admin_service)


@pytest.fixture
def token(ticket: Ticket) -> str:
    return links.create_link(ticket)[1]


def page_url(token: str, name: str = "requester_page") -> str:
    return reverse(f"tickets:{name}", args=[token])


def file_url(token: str, attachment: Attachment) -> str:
    return reverse("tickets:requester_file", args=[token, attachment.pk])


def stored_attachment(name: str = "bukti_transfer.png") -> Attachment:
    saved = store_bytes(name, (UPLOADS / name).read_bytes())
    return Attachment.objects.create(
        conversation=None,
        storage_path=saved.storage_path,
        original_name=saved.original_name,
        content_type=saved.content_type,
        size=saved.size,
        sha256=saved.sha256,
        uploaded_by=SenderKind.REQUESTER,
    )


def add_entry(ticket: Ticket, kind: EntryKind, body: str) -> TicketEntry:
    return TicketEntry.objects.create(
        ticket=ticket, kind=kind, author_name="Budi Santoso", body=body
    )


def set_status(ticket: Ticket, status: TicketStatus, **fields: object) -> None:
    Ticket.objects.filter(pk=ticket.pk).update(status=status, **fields)
    ticket.refresh_from_db()


def text_of(response: "TestResponse") -> str:
    return response.content.decode()


def post_reply(
    client: Client, token: str, body: str, files: list[SimpleUploadedFile] | None = None
) -> "TestResponse":
    data: dict[str, object] = {"body": body}
    if files:
        data["file"] = files
    return client.post(page_url(token, "requester_reply") + "?lang=en", data)


def upload(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (UPLOADS / name).read_bytes())


# What the page shows


def test_page_shows_ticket_facts(ticket: Ticket, token: str) -> None:
    response = Client().get(page_url(token) + "?lang=en")
    text = text_of(response)
    assert response.status_code == 200
    assert ticket.number in text
    assert "Surat tugas seminar" in text
    assert ticket.service.name_en in text
    assert '<strong id="ticket-status">Open</strong>' in text


def test_page_indonesian_by_default(token: str) -> None:
    text = text_of(Client().get(page_url(token)))
    assert '<html lang="id">' in text
    assert ">Pesan</label>" in text
    assert ">Kirim</button>" in text


def test_page_english_on_request(token: str) -> None:
    text = text_of(Client().get(page_url(token) + "?lang=en"))
    assert '<html lang="en">' in text
    assert ">Message</label>" in text
    assert ">Send</button>" in text


def test_page_shows_public_thread(
    ticket: Ticket, token: str, agent_admin: User
) -> None:
    add_public_reply(ticket, agent_admin, AGENT_REPLY, [])
    text = text_of(Client().get(page_url(token)))
    assert OFFLINE_TEXT in text
    assert AGENT_REPLY in text


def test_page_hides_internal_entries(
    ticket: Ticket, token: str, agent_admin: User
) -> None:
    add_internal_note(ticket, agent_admin, NOTE)
    add_system_note(ticket, "Catatan sistem yang tersembunyi.")
    add_entry(ticket, EntryKind.AUTOMATIC, "Balasan otomatis: sedang cuti.")
    TicketEntry.objects.create(
        ticket=ticket,
        kind=EntryKind.SYSTEM,
        author_name="Layanan",
        body="Entri sistem tanpa penulis.",
    )
    text = text_of(Client().get(page_url(token)))
    assert NOTE not in text
    assert "Catatan sistem yang tersembunyi." not in text
    assert "Balasan otomatis" not in text
    assert "Entri sistem tanpa penulis." not in text


def test_page_hides_status_change_note(
    ticket: Ticket, token: str, agent_admin: User
) -> None:
    workflow.change_status(
        ticket, TicketStatus.IN_PROGRESS, actor=agent_admin, note=NOTE
    )
    assert NOTE not in text_of(Client().get(page_url(token)))


def test_page_escapes_subject_and_body(admin_service: Service) -> None:
    hostile = offline_ticket(admin_service, subject="<script>alert(1)</script>")
    add_entry(hostile, EntryKind.PUBLIC, "<img src=x onerror=alert(2)>")
    _link, token = links.create_link(hostile)
    text = text_of(Client().get(page_url(token)))
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<img src=x" not in text


def test_page_shows_sanitised_email_html(ticket: Ticket, token: str) -> None:
    TicketEntry.objects.create(
        ticket=ticket,
        kind=EntryKind.PUBLIC,
        source=EntrySource.EMAIL,
        author_name="Budi Santoso",
        body="Teks biasa",
        full_body="Teks biasa",
        body_html="<p><b>Tebal</b> sekali</p>",
    )
    text = text_of(Client().get(page_url(token)))
    assert "<p><b>Tebal</b> sekali</p>" in text


def test_page_shows_text_of_quoting_reply(ticket: Ticket, token: str) -> None:
    TicketEntry.objects.create(
        ticket=ticket,
        kind=EntryKind.PUBLIC,
        source=EntrySource.EMAIL,
        author_name="Budi Santoso",
        body="Jawaban baru",
        full_body="Jawaban baru\n\n> kutipan lama",
        body_html="<p>Jawaban baru</p><blockquote>kutipan lama</blockquote>",
    )
    text = text_of(Client().get(page_url(token)))
    assert "Jawaban baru" in text
    assert "kutipan lama" not in text


def test_page_points_inline_images_here(ticket: Ticket, token: str) -> None:
    image = stored_attachment()
    Attachment.objects.filter(pk=image.pk).update(content_id="gambar@example")
    console_url = reverse("console:ticket_attachment", args=[ticket.number, image.pk])
    entry = TicketEntry.objects.create(
        ticket=ticket,
        kind=EntryKind.PUBLIC,
        source=EntrySource.EMAIL,
        author_name="Budi Santoso",
        body="Lihat gambar",
        body_html=f'<p><img src="{console_url}?inline=1"></p>',
    )
    entry.attachments.set([image])
    text = text_of(Client().get(page_url(token)))
    assert f'src="{file_url(token, image)}?inline=1"' in text
    assert console_url not in text


def test_page_shows_chat_transcript(
    requester_chat: RequesterChatFactory, agent_admin: User
) -> None:
    conversation, _chat_token = requester_chat()
    accept_conversation(conversation, agent_admin)
    post_message(
        conversation,
        NewMessage(
            sender_kind=SenderKind.REQUESTER,
            sender_name="Budi Santoso",
            body="Halo, saya butuh surat tugas.",
            client_id="pesan-1",
        ),
    )
    ticket = create_ticket_from_conversation(conversation, agent_admin)
    _link, token = links.create_link(ticket)
    text = text_of(Client().get(page_url(token) + "?lang=en"))
    assert "Halo, saya butuh surat tugas." in text
    assert "Chat transcript" in text


def test_page_shows_transcript_of_missed_chat(
    requester_chat: RequesterChatFactory,
) -> None:
    # A chat that no agent accepted becomes a ticket made by the system.
    conversation, _chat_token = requester_chat()
    post_message(
        conversation,
        NewMessage(
            sender_kind=SenderKind.REQUESTER,
            sender_name="Budi Santoso",
            body="Apakah ada yang bisa membantu?",
            client_id="pesan-1",
        ),
    )
    ticket = create_ticket_from_conversation(conversation, None)
    _link, token = links.create_link(ticket)
    text = text_of(Client().get(page_url(token) + "?lang=en"))
    assert "Apakah ada yang bisa membantu?" in text


def test_page_hides_later_system_entry(
    requester_chat: RequesterChatFactory, agent_admin: User
) -> None:
    conversation, _chat_token = requester_chat()
    accept_conversation(conversation, agent_admin)
    ticket = create_ticket_from_conversation(conversation, agent_admin)
    TicketEntry.objects.create(
        ticket=ticket,
        kind=EntryKind.SYSTEM,
        author=agent_admin,
        author_name="Sari Wulandari",
        body="Entri sistem kemudian.",
    )
    _link, token = links.create_link(ticket)
    assert "Entri sistem kemudian." not in text_of(Client().get(page_url(token)))


def test_page_queries_do_not_grow(ticket: Ticket, token: str) -> None:
    client = Client()
    with CaptureQueriesContext(connection) as few:
        client.get(page_url(token))
    for index in range(5):
        entry = add_entry(ticket, EntryKind.PUBLIC, f"Pesan {index}")
        entry.attachments.set([stored_attachment()])
    with CaptureQueriesContext(connection) as many:
        client.get(page_url(token))
    assert len(many.captured_queries) == len(few.captured_queries)


def test_page_sends_private_headers(token: str) -> None:
    response = Client().get(page_url(token))
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response.headers["Cache-Control"]


def test_page_never_logs_token(
    ticket: Ticket, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = Client()
    client.get(page_url(token))
    post_reply(client, token, "Pesan tambahan.")
    post_reply(client, token, "")
    client.get(page_url(token[::-1]))
    assert caplog.records
    assert all(token not in record.getMessage() for record in caplog.records)
    assert all(token[::-1] not in record.getMessage() for record in caplog.records)


# Invalid links


def invalid_text(response: "TestResponse", token: str) -> str:
    """Return the page without its CSRF token, which differs per response, and
    without the token the request carried, which the language switch repeats."""
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text_of(response))
    return text.replace(token, "TOKEN")


@pytest.mark.parametrize("path", ["", "reply/", "rating/"])
def test_unknown_token_gets_invalid_page(ticket: Ticket, path: str) -> None:
    url = f"/t/{'x' * 43}/{path}?lang=en"
    client = Client()
    response = client.get(url) if not path else client.post(url, {"body": "Halo"})
    assert response.status_code == 404
    assert "This link to a ticket is invalid or has expired." in text_of(response)
    assert 'id="new-link-form"' in text_of(response)
    assert ticket.number not in text_of(response)


def test_revoked_and_expired_look_unknown(ticket: Ticket, token: str) -> None:
    client = Client()
    unknown_token = "y" * 43
    unknown = client.get(page_url(unknown_token))
    links.revoke_links(ticket)
    revoked = client.get(page_url(token))
    expired_ticket = offline_ticket(ticket.service, subject="Lama")
    _link, expired_token = links.create_link(expired_ticket)
    set_status(
        expired_ticket,
        TicketStatus.CLOSED,
        closed_at=timezone.now() - timedelta(days=links.LINK_DAYS_AFTER_CLOSE + 1),
    )
    expired = client.get(page_url(expired_token))
    assert unknown.status_code == revoked.status_code == expired.status_code == 404
    assert invalid_text(revoked, token) == invalid_text(unknown, unknown_token)
    assert invalid_text(expired, expired_token) == invalid_text(unknown, unknown_token)


def test_invalid_page_sends_private_headers(ticket: Ticket) -> None:
    response = Client().get(page_url("z" * 43))
    assert response.headers["Referrer-Policy"] == "no-referrer"


# Files


def test_file_of_public_entry_downloads(ticket: Ticket, token: str) -> None:
    image = stored_attachment()
    entry = add_entry(ticket, EntryKind.PUBLIC, "Bukti transfer terlampir.")
    entry.attachments.set([image])
    assert file_url(token, image) in text_of(Client().get(page_url(token)))
    response = Client().get(file_url(token, image))
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.getvalue() == (UPLOADS / "bukti_transfer.png").read_bytes()


def test_file_of_note_is_not_found(ticket: Ticket, token: str) -> None:
    image = stored_attachment()
    note = add_entry(ticket, EntryKind.NOTE, NOTE)
    note.attachments.set([image])
    assert image.original_name not in text_of(Client().get(page_url(token)))
    assert Client().get(file_url(token, image)).status_code == 404


def test_file_of_other_ticket_is_not_found(
    ticket: Ticket, token: str, admin_service: Service
) -> None:
    other = offline_ticket(admin_service, subject="Tiket orang lain")
    image = stored_attachment()
    add_entry(other, EntryKind.PUBLIC, "Lampiran lain").attachments.set([image])
    response = Client().get(file_url(token, image))
    assert response.status_code == 404
    assert "invalid or has expired" in text_of(
        Client().get(file_url(token, image) + "?lang=en")
    )


def test_file_with_unknown_token_is_not_found(ticket: Ticket) -> None:
    image = stored_attachment()
    add_entry(ticket, EntryKind.PUBLIC, "Lampiran").attachments.set([image])
    assert Client().get(file_url("q" * 43, image)).status_code == 404


# Replies


def test_reply_adds_public_entry(ticket: Ticket, token: str) -> None:
    response = post_reply(
        Client(), token, "  Saya tambahkan datanya.\r\nTerima kasih. "
    )
    assert response.status_code == 302
    assert response.headers["Location"] == page_url(token) + "?lang=en&done=reply"
    entry = ticket.entries.get(body="Saya tambahkan datanya.\nTerima kasih.")
    assert entry.kind == EntryKind.PUBLIC
    assert entry.source == EntrySource.CHAT
    assert entry.author_id is None
    assert entry.author_name == "Budi Santoso"
    assert entry.author_email == REQUESTER_EMAIL


def test_reply_records_event(ticket: Ticket, token: str) -> None:
    post_reply(Client(), token, "Data tambahan.")
    assert Event.objects.filter(
        subject_id=ticket.number, action="requester_page_reply"
    ).exists()


def test_reply_shows_notice_after_redirect(ticket: Ticket, token: str) -> None:
    response = post_reply(Client(), token, "Data tambahan.")
    text = text_of(Client().get(response.headers["Location"]))
    assert "Your message was added to the ticket." in text
    assert "Data tambahan." in text


def test_reply_with_file(ticket: Ticket, token: str) -> None:
    post_reply(Client(), token, "Bukti transfer.", [upload("bukti_transfer.png")])
    entry = ticket.entries.get(body="Bukti transfer.")
    [attachment] = entry.attachments.all()
    assert attachment.original_name == "bukti_transfer.png"
    assert attachment.uploaded_by == SenderKind.REQUESTER
    assert Client().get(file_url(token, attachment)).status_code == 200


def test_reply_reopens_resolved_ticket(ticket: Ticket, token: str) -> None:
    set_status(ticket, TicketStatus.RESOLVED, resolved_at=timezone.now())
    post_reply(Client(), token, "Masih belum beres.")
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN


def test_reply_resumes_waiting_ticket(ticket: Ticket, token: str) -> None:
    set_status(ticket, TicketStatus.WAITING)
    post_reply(Client(), token, "Ini datanya.")
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.IN_PROGRESS


def test_reply_to_long_closed_opens_follow_up(
    ticket: Ticket, token: str, settings: Settings
) -> None:
    set_status(
        ticket,
        TicketStatus.CLOSED,
        closed_at=timezone.now() - timedelta(days=settings.REOPEN_DAYS + 1),
    )
    response = post_reply(Client(), token, "Ada masalah baru.")
    assert response.headers["Location"].endswith("done=follow_up")
    follow_up = Ticket.objects.exclude(pk=ticket.pk).get()
    assert follow_up.entries.filter(body="Ada masalah baru.").exists()
    assert not ticket.entries.filter(body="Ada masalah baru.").exists()
    assert RequesterLink.objects.filter(ticket=follow_up).exists()


def test_reply_empty_is_rejected(ticket: Ticket, token: str) -> None:
    count = ticket.entries.count()
    response = post_reply(Client(), token, "   \n ")
    assert response.status_code == 400
    assert "The message is empty. Type it in “Message”" in text_of(response)
    assert ticket.entries.count() == count


def test_reply_too_long_keeps_text(ticket: Ticket, token: str) -> None:
    body = "a" * (links.MAX_MESSAGE_LENGTH + 1)
    response = post_reply(Client(), token, body)
    assert response.status_code == 400
    assert "The text in “Message” is 10001 characters long" in text_of(response)
    assert f">{body}</textarea>" in text_of(response)


def test_reply_bad_file_keeps_text(ticket: Ticket, token: str) -> None:
    count = ticket.entries.count()
    response = post_reply(
        Client(), token, "Denah kantor.", [upload("denah_kantor.svg")]
    )
    assert response.status_code == 400
    assert "“Attach file”:" in text_of(response)
    assert ">Denah kantor.</textarea>" in text_of(response)
    assert ticket.entries.count() == count
    assert Attachment.objects.count() == 0


def test_reply_two_files_rejected(ticket: Ticket, token: str) -> None:
    response = post_reply(
        Client(),
        token,
        "Dua berkas.",
        [upload("bukti_transfer.png"), upload("bukti_transfer.png")],
    )
    assert response.status_code == 400
    assert "“Attach file” contains 2 files" in text_of(response)


def test_reply_requires_csrf_token(ticket: Ticket, token: str) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(page_url(token, "requester_reply"), {"body": "Halo"})
    assert response.status_code == 403
    assert not ticket.entries.filter(body="Halo").exists()


def test_reply_with_csrf_token_passes(ticket: Ticket, token: str) -> None:
    client, csrf_token = csrf_client_and_token(page_url(token))
    response = client.post(
        page_url(token, "requester_reply"),
        {"body": "Halo", "csrfmiddlewaretoken": csrf_token},
    )
    assert response.status_code == 302
    assert ticket.entries.filter(body="Halo").exists()


def csrf_client_and_token(url: str, *, secure: bool = False) -> tuple[Client, str]:
    """Return a CSRF-checking client that loaded ``url``, and the form's token."""
    client = Client(enforce_csrf_checks=True)
    page = text_of(client.get(url, secure=secure))
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert match is not None
    return client, match.group(1)


def test_reply_accepts_null_origin_over_https(
    ticket: Ticket, token: str, settings: Settings
) -> None:
    # What a browser sends from a page under "Referrer-Policy: no-referrer".
    settings.CSRF_COOKIE_SECURE = True
    client, csrf_token = csrf_client_and_token(page_url(token), secure=True)
    response = client.post(
        page_url(token, "requester_reply"),
        {"body": "Dari HTTPS", "csrfmiddlewaretoken": csrf_token},
        secure=True,
        headers={"Origin": "null"},
    )
    assert response.status_code == 302
    assert ticket.entries.filter(body="Dari HTTPS").exists()


def test_reply_null_origin_needs_csrf_token(ticket: Ticket, token: str) -> None:
    client, _csrf_token = csrf_client_and_token(page_url(token))
    response = client.post(
        page_url(token, "requester_reply"),
        {"body": "Palsu"},
        headers={"Origin": "null"},
    )
    assert response.status_code == 403
    assert not ticket.entries.filter(body="Palsu").exists()


def test_reply_rejects_foreign_origin(ticket: Ticket, token: str) -> None:
    client, csrf_token = csrf_client_and_token(page_url(token))
    response = client.post(
        page_url(token, "requester_reply"),
        {"body": "Dari situs lain", "csrfmiddlewaretoken": csrf_token},
        headers={"Origin": "https://penyerang.example"},
    )
    assert response.status_code == 403
    assert not ticket.entries.filter(body="Dari situs lain").exists()


def test_reply_get_not_allowed(token: str) -> None:
    assert Client().get(page_url(token, "requester_reply")).status_code == 405


# Rating


def post_rating(token: str, rating: str, comment: str = "") -> "TestResponse":
    return Client().post(
        page_url(token, "requester_rating") + "?lang=en",
        {"rating": rating, "comment": comment},
    )


def test_rating_form_hidden_while_open(token: str) -> None:
    assert 'id="rating-form"' not in text_of(Client().get(page_url(token)))


def test_rating_rejected_while_open(ticket: Ticket, token: str) -> None:
    response = post_rating(token, "5")
    assert response.status_code == 400
    assert "is not resolved yet" in text_of(response)
    ticket.refresh_from_db()
    assert ticket.rating is None


def test_rating_stored_when_resolved(ticket: Ticket, token: str) -> None:
    set_status(ticket, TicketStatus.RESOLVED, resolved_at=timezone.now())
    assert 'id="rating-form"' in text_of(Client().get(page_url(token)))
    response = post_rating(token, "4", " Cepat dan jelas. ")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("done=rating")
    ticket.refresh_from_db()
    assert ticket.rating == 4
    assert ticket.rating_comment == "Cepat dan jelas."
    assert ticket.rated_at is not None


def test_rating_records_event(ticket: Ticket, token: str) -> None:
    set_status(ticket, TicketStatus.RESOLVED, resolved_at=timezone.now())
    post_rating(token, "4")
    post_rating(token, "2")
    events = Event.objects.filter(subject_id=ticket.number, action="rated")
    assert [(event.data["old"], event.data["new"]) for event in events] == [
        (None, 4),
        (4, 2),
    ]


def test_rating_changes_while_resolved(ticket: Ticket, token: str) -> None:
    set_status(ticket, TicketStatus.RESOLVED, resolved_at=timezone.now())
    post_rating(token, "5")
    post_rating(token, "3", "Ternyata agak lama.")
    ticket.refresh_from_db()
    assert ticket.rating == 3
    assert ticket.rating_comment == "Ternyata agak lama."


def test_rating_frozen_once_closed(ticket: Ticket, token: str) -> None:
    set_status(ticket, TicketStatus.RESOLVED, resolved_at=timezone.now())
    post_rating(token, "5")
    set_status(ticket, TicketStatus.CLOSED, closed_at=timezone.now())
    response = post_rating(token, "1")
    assert response.status_code == 400
    assert "already rated" in text_of(response)
    ticket.refresh_from_db()
    assert ticket.rating == 5


def test_rating_allowed_once_when_closed(ticket: Ticket, token: str) -> None:
    set_status(ticket, TicketStatus.CLOSED, closed_at=timezone.now())
    assert post_rating(token, "4").status_code == 302
    ticket.refresh_from_db()
    assert ticket.rating == 4
    assert 'id="rating-form"' not in text_of(Client().get(page_url(token)))


@pytest.mark.parametrize("value", ["", "0", "6", "lima", "4.5"])
def test_rating_value_out_of_range(ticket: Ticket, token: str, value: str) -> None:
    set_status(ticket, TicketStatus.RESOLVED, resolved_at=timezone.now())
    response = post_rating(token, value, "Komentar saya")
    assert response.status_code == 400
    assert "Choose a rating from 1 to 5 in “Rating”" in text_of(response)
    assert ">Komentar saya</textarea>" in text_of(response)


def test_rating_comment_too_long(ticket: Ticket, token: str) -> None:
    set_status(ticket, TicketStatus.RESOLVED, resolved_at=timezone.now())
    response = post_rating(token, "4", "k" * (links.MAX_COMMENT_LENGTH + 1))
    assert response.status_code == 400
    assert "The text in “Comment” is 2001 characters long" in text_of(response)


def test_rating_requires_csrf_token(ticket: Ticket, token: str) -> None:
    set_status(ticket, TicketStatus.RESOLVED, resolved_at=timezone.now())
    client = Client(enforce_csrf_checks=True)
    response = client.post(page_url(token, "requester_rating"), {"rating": "5"})
    assert response.status_code == 403


# New links


def post_new_link(number: str, email: str) -> "TestResponse":
    return Client().post(
        reverse("tickets:requester_new_link") + "?lang=en",
        {"number": number, "email": email},
    )


def new_link_mails() -> list[OutboundEmail]:
    return list(OutboundEmail.objects.filter(kind=links.NEW_LINK_MAIL_KIND))


def test_new_link_form_shown(ticket: Ticket) -> None:
    response = Client().get(reverse("tickets:requester_new_link"))
    assert response.status_code == 200
    assert 'id="new-link-form"' in text_of(response)


def test_new_link_matching_sends_mail(ticket: Ticket) -> None:
    response = post_new_link(ticket.number, REQUESTER_EMAIL)
    assert response.status_code == 302
    assert response.headers["Location"] == (
        reverse("tickets:requester_new_link_sent") + "?lang=en"
    )
    [mail] = new_link_mails()
    assert mail.to == [REQUESTER_EMAIL]


def test_new_link_answer_is_the_same(ticket: Ticket) -> None:
    matched = post_new_link(ticket.number, REQUESTER_EMAIL)
    stranger = post_new_link(ticket.number, "orang.lain@example.test")
    missing = post_new_link("EKB-1999-000001", REQUESTER_EMAIL)
    assert matched.headers["Location"] == stranger.headers["Location"]
    assert matched.headers["Location"] == missing.headers["Location"]
    assert len(new_link_mails()) == 1


def test_new_link_sent_page_text(ticket: Ticket) -> None:
    response = Client().get(reverse("tickets:requester_new_link_sent") + "?lang=en")
    assert "If the details match a ticket, a link is on its way" in text_of(response)


def test_new_link_rate_limited(ticket: Ticket) -> None:
    for _attempt in range(links.NEW_LINKS_PER_HOUR + 2):
        response = post_new_link(ticket.number, REQUESTER_EMAIL)
        assert response.status_code == 302
    assert len(new_link_mails()) == links.NEW_LINKS_PER_HOUR


def test_new_link_mail_is_automatic(ticket: Ticket) -> None:
    post_new_link(ticket.number, REQUESTER_EMAIL)
    [mail] = new_link_mails()
    assert mail.automatic
    assert ticket.number in mail.subject


def test_new_link_empty_number(ticket: Ticket) -> None:
    response = post_new_link("", REQUESTER_EMAIL)
    assert response.status_code == 400
    assert "“Ticket number” is empty." in text_of(response)
    assert f'value="{REQUESTER_EMAIL}"' in text_of(response)


def test_new_link_invalid_email(ticket: Ticket) -> None:
    response = post_new_link(ticket.number, "bukan-alamat")
    assert response.status_code == 400
    assert "“Email” does not contain a valid email address." in text_of(response)
    assert new_link_mails() == []


def test_new_link_requires_csrf_token(ticket: Ticket) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        reverse("tickets:requester_new_link"),
        {"number": ticket.number, "email": REQUESTER_EMAIL},
    )
    assert response.status_code == 403
    assert new_link_mails() == []


# Mail to the requester


def test_agent_reply_mail_carries_link(ticket: Ticket, agent_admin: User) -> None:
    add_public_reply(ticket, agent_admin, AGENT_REPLY, [])
    mail = OutboundEmail.objects.get(kind="ticket_reply")
    match = re.search(r"/t/([A-Za-z0-9_-]{43})/", mail.body_text)
    assert match is not None
    assert match.group(0) in mail.body_html
    assert links.get_link_for_token(match.group(1)).ticket_id == ticket.pk
