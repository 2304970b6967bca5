"""Reported faults of inbound mail, each replayed through the real ingestion path.

Each case folder under ``cases/`` holds the ``.eml`` inputs, ``case.json`` with the
preconditions and expected results, and ``source.md`` with the public report.
"""

import json
from pathlib import Path
from typing import Any

import pytest
from pytest_django.fixtures import Settings

from layanan.catalog.models import Service
from layanan.mail.inbound import ingest
from layanan.mail.models import InboundEmail, InboundOutcome, OutboundEmail
from layanan.people.models import Requester, RequesterKind
from layanan.tickets.models import (
    EntryKind,
    EntrySource,
    ParticipantRole,
    Ticket,
    TicketEntry,
    TicketParticipant,
    TicketSource,
    TicketStatus,
)

CASES = Path(__file__).parent / "cases"
STATUS_OF = {"open": TicketStatus.OPEN, "pending": TicketStatus.WAITING}
# Kinds of the fixtures' outbound mail that the system sends on its own.
AUTOMATIC_KINDS = {"notification", "auto_acknowledgement", None}


def case(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CASES / name / "case.json").read_text())
    return data


def read(name: str, file_name: str) -> bytes:
    return (CASES / name / file_name).read_bytes()


@pytest.fixture(autouse=True)
def mailbox(settings: Settings, tmp_path: Path, catalogue: Any) -> None:
    settings.MAIL_ADDRESS = "bantuan@helpdesk.example.com"
    settings.MAIL_FROM = "Tim Bantuan <bantuan@helpdesk.example.com>"
    settings.TICKET_PREFIX = "EKB"
    settings.VAR_DIR = tmp_path / "var"
    settings.UPLOAD_ROOT = tmp_path / "uploads"


def make_ticket(spec: dict[str, Any]) -> Ticket:
    """Create a precondition ticket with its fixed number and outbound mail."""
    address = spec["requester"]
    requester = Requester.objects.create(
        identifier=None,
        kind=RequesterKind.UNKNOWN,
        name=address.split("@")[0],
        email=address,
    )
    service = Service.objects.get(code="lainnya")
    ticket = Ticket.objects.create(
        number=spec["number"],
        subject=spec["subject"],
        requester=requester,
        requester_email=address,
        service=service,
        team=service.team,
        source=TicketSource.EMAIL,
        status=STATUS_OF[spec.get("status", "open")],
    )
    TicketParticipant.objects.create(
        ticket=ticket, email=address, role=ParticipantRole.REQUESTER
    )
    for cc in spec.get("cc", []):
        TicketParticipant.objects.create(
            ticket=ticket, email=cc, role=ParticipantRole.CC
        )
    for outbound in spec.get("outbound", []):
        make_outbound(ticket, outbound)
    return ticket


def make_outbound(ticket: Ticket, spec: dict[str, Any]) -> OutboundEmail:
    from django.utils import timezone

    return OutboundEmail.objects.create(
        kind=spec.get("kind") or "notification",
        reference=f"ticket:{ticket.number}",
        from_email="Tim Bantuan <bantuan@helpdesk.example.com>",
        to=[spec.get("to", ticket.requester_email)],
        subject=f"[{ticket.number}] {ticket.subject}",
        body_text="-",
        body_html="<p>-</p>",
        message_id=spec["message_id"],
        status="sent",
        next_attempt_at=timezone.now(),
        sent_at=timezone.now(),
        automatic=spec.get("kind") in AUTOMATIC_KINDS,
    )


def email_entries(ticket: Ticket) -> int:
    return TicketEntry.objects.filter(ticket=ticket, source=EntrySource.EMAIL).count()


def mail_to(address: str) -> int:
    """Count mail queued to ``address`` by the test (fixture rows were sent)."""
    return sum(
        1
        for row in OutboundEmail.objects.filter(sent_at__isnull=True)
        if address.lower() in [to.lower() for to in row.to]
    )


# Case 01: an encoded subject whose ticket tag is split across encoded-words.


@pytest.mark.django_db
def test_case01_encoded_replies_thread_to_ticket() -> None:
    data = case("01-encoded-subject-ticket-tag")
    ticket = make_ticket(data["preconditions"]["tickets"][0])
    tickets_before = Ticket.objects.count()
    outcomes = [
        ingest(read("01-encoded-subject-ticket-tag", step["ingest"]), via="pipe")
        for step in data["steps"]
    ]
    expected = data["expected"]
    assert [result.outcome for result in outcomes] == [InboundOutcome.REPLY] * 2
    assert [result.ticket for result in outcomes] == [expected["ticket"]] * 2
    assert Ticket.objects.count() == tickets_before
    assert email_entries(ticket) == expected["new_messages_on_ticket"]
    subjects = list(InboundEmail.objects.values_list("subject", flat=True))
    assert expected["message_subject"] in subjects
    assert all("=?UTF-8?" not in subject.upper() for subject in subjects)
    ticket.refresh_from_db()
    assert ticket.subject == expected["ticket_subject_unchanged"]
    assert mail_to("teknisi@servis.example.net") == 0
    assert not Ticket.objects.filter(number__endswith="556120").exists()


# Case 03: a stranger quotes another requester's ticket number.


@pytest.mark.django_db
def test_case03_stranger_with_ticket_number_opens_own_ticket() -> None:
    data = case("03-stranger-uses-ticket-number")
    ticket = make_ticket(data["preconditions"]["tickets"][0])
    participants_before = set(ticket.participants.values_list("email", flat=True))

    result = ingest(read(data["id"], "03a-stranger-with-tag.eml"), via="pipe")

    ticket.refresh_from_db()
    assert email_entries(ticket) == 0
    assert ticket.status == TicketStatus.WAITING
    assert set(ticket.participants.values_list("email", flat=True)) == (
        participants_before
    )
    assert mail_to("siti.rahmawati@example.org") == 0
    assert mail_to("rina.kusuma@example.org") == 0
    assert result.outcome == InboundOutcome.NEW_TICKET
    own = Ticket.objects.get(number=result.ticket)
    assert own.requester_email == "andi.wijaya@example.net"
    marker = TicketEntry.objects.get(ticket=own, kind=EntryKind.NOTE)
    assert "EKB-2026-001044" in marker.body
    to_andi = [
        row
        for row in OutboundEmail.objects.all()
        if "andi.wijaya@example.net" in row.to
    ]
    for row in to_andi:
        for forbidden in data["expected"]["after_03a"]["mail_to_andi_must_not_contain"]:
            assert forbidden not in row.body_text
            assert forbidden not in row.body_html


@pytest.mark.django_db
def test_case03_cc_participant_reply_lands() -> None:
    data = case("03-stranger-uses-ticket-number")
    ticket = make_ticket(data["preconditions"]["tickets"][0])
    tickets_before = Ticket.objects.count()
    result = ingest(read(data["id"], "03b-cc-participant-control.eml"), via="pipe")
    assert result.outcome == InboundOutcome.REPLY
    assert result.ticket == ticket.number
    assert email_entries(ticket) == 1
    assert Ticket.objects.count() == tickets_before


# Case 04: bounces, out-of-office replies and another helpdesk's acknowledgements.


def rewrite_message_id(raw: bytes, message_id: str) -> bytes:
    lines = raw.split(b"\n")
    for index, line in enumerate(lines):
        if line.lower().startswith(b"message-id:"):
            lines[index] = b"Message-ID: " + message_id.encode()
            break
    return b"\n".join(lines)


@pytest.mark.django_db
def test_case04_automated_mail_never_loops() -> None:
    data = case("04-automated-mail-loops")
    tickets = {
        spec["number"]: make_ticket(spec) for spec in data["preconditions"]["tickets"]
    }
    tickets_before = Ticket.objects.count()
    outcomes = {}
    for step in data["steps"]:
        raw = read(data["id"], step["ingest"])
        if "repeat" not in step:
            outcomes[step["ingest"]] = ingest(raw, via="pipe")
            continue
        template = step["rewrite_header"]["Message-ID"]
        first = step["rewrite_header"]["n_from"]
        for n in range(first, first + step["repeat"]):
            rewritten = rewrite_message_id(raw, template.replace("{n}", str(n)))
            assert ingest(rewritten, via="pipe").outcome != InboundOutcome.NEW_TICKET

    expected = data["expected"]
    assert Ticket.objects.count() - tickets_before == expected["tickets_created"]
    new_ticket = Ticket.objects.exclude(number__in=tickets).get()
    assert new_ticket.requester_email == expected["new_ticket_requester"]

    bounced = tickets["EKB-2026-001045"]
    bounced.refresh_from_db()
    assert bounced.status == TicketStatus.OPEN
    note = TicketEntry.objects.get(ticket=bounced, kind=EntryKind.NOTE)
    for piece in expected["EKB-2026-001045"]["agent_only_note_contains"]:
        assert piece in note.body
    failed = OutboundEmail.objects.get(message_id="<t1045.n2@helpdesk.example.com>")
    assert failed.bounced_at
    assert failed.status == "failed"
    assert "5.1.1" in failed.last_error

    for number in ("EKB-2026-001046", "EKB-2026-001048"):
        tickets[number].refresh_from_db()
        assert tickets[number].status == TicketStatus.WAITING
    assert not TicketEntry.objects.filter(
        ticket=tickets["EKB-2026-001046"], kind=EntryKind.NOTE
    ).exists()
    tickets["EKB-2026-001047"].refresh_from_db()
    assert tickets["EKB-2026-001047"].status == TicketStatus.OPEN

    for address, count in expected["mail_sent_to"].items():
        assert mail_to(address) == count, address
    hendra = Requester.objects.get(email="hendra.gunawan@example.org")
    assert not hendra.email_bouncing
    assert outcomes["04a-bounce-dsn.eml"].outcome == InboundOutcome.BOUNCE
    assert outcomes["04b-out-of-office-gmail-style.eml"].outcome == (
        InboundOutcome.AUTO_REPLY
    )
    assert outcomes["04c-out-of-office-exchange-style.eml"].outcome == (
        InboundOutcome.AUTO_REPLY
    )
    assert outcomes["04f-spoofed-bounce-unknown-message-id.eml"].ticket is None
    # Policy: X-Auto-Response-Suppress holds back the acknowledgement of 04e.
    assert mail_to("wahyu.nugroho@example.org") == 0
    assert "no automatic replies" in (
        outcomes["04e-human-mail-with-suppress-header.eml"].reason
    )


@pytest.mark.django_db
def test_case04_out_of_office_recorded_as_automatic() -> None:
    data = case("04-automated-mail-loops")
    tickets = {
        spec["number"]: make_ticket(spec) for spec in data["preconditions"]["tickets"]
    }
    ingest(read(data["id"], "04b-out-of-office-gmail-style.eml"), via="pipe")
    entry = TicketEntry.objects.get(ticket=tickets["EKB-2026-001046"])
    assert entry.kind == EntryKind.AUTOMATIC


# Case 05: the same mail fetched twice, a mail without Message-ID, same subject.


@pytest.mark.django_db
def test_case05_duplicates_stored_once() -> None:
    data = case("05-duplicate-fetch")
    first = read(data["id"], "05a-new-request.eml")
    results = [ingest(first, via="imap"), ingest(first, via="imap")]
    results.append(ingest(first, via="pipe"))
    assert results[0].outcome == InboundOutcome.NEW_TICKET
    assert [result.outcome for result in results[1:]] == [InboundOutcome.DUPLICATE] * 2
    assert {result.ticket for result in results} == {results[0].ticket}
    assert mail_to("yusuf.hidayat@example.org") == 1

    no_id = read(data["id"], "05b-no-message-id.eml")
    again = [ingest(no_id, via="pipe"), ingest(no_id, via="pipe")]
    assert [result.outcome for result in again] == [
        InboundOutcome.NEW_TICKET,
        InboundOutcome.DUPLICATE,
    ]
    assert mail_to("nur.aini@example.org") == 1

    later = ingest(read(data["id"], "05c-same-subject-new-mail.eml"), via="pipe")
    assert later.outcome == InboundOutcome.NEW_TICKET
    assert (
        Ticket.objects.count() == data["expected"]["total_tickets"]["if_05c_new_ticket"]
    )
    assert InboundEmail.objects.count() == data["expected"]["total_messages_stored"]


@pytest.mark.django_db
def test_case05_same_message_id_other_bytes_is_duplicate() -> None:
    raw = read("05-duplicate-fetch", "05a-new-request.eml")
    ingest(raw, via="imap")
    relayed = b"Received: from relay.example.org by mx; Thu, 3 Dec 2026\r\n" + raw
    result = ingest(relayed, via="pipe")
    assert result.outcome == InboundOutcome.DUPLICATE
    assert Ticket.objects.count() == 1


# Cases 06, 07 and 08 through the whole path: what agents see on the ticket.


def console_client(team_name: str = "Lainnya") -> Any:
    from django.contrib.auth.models import User
    from django.test import Client

    from layanan.catalog.models import Service
    from layanan.people.models import AgentProfile

    team = Service.objects.get(code="lainnya").team
    agent = User.objects.create_user(username="agen-surat", password="x" * 20)
    AgentProfile.objects.create(user=agent)
    team.members.add(agent)
    client = Client()
    client.force_login(agent)
    return client


@pytest.mark.django_db
def test_case06_html_only_mail_reads_as_text() -> None:
    data = case("06-html-only-singlepart")
    result = ingest(read(data["id"], "06-html-only-windows-1252.eml"), via="pipe")
    ticket = Ticket.objects.get(number=result.ticket)
    expected = data["expected"]
    assert ticket.requester_email == expected["requester"]
    assert ticket.subject == expected["subject"]
    entry = TicketEntry.objects.get(ticket=ticket, source=EntrySource.EMAIL)
    position = 0
    for piece in expected["body_contains_in_order"]:
        found = entry.body.find(piece, position)
        assert found >= 0, piece
        position = found + len(piece)
    for piece in expected["body_not_contains"]:
        assert piece not in entry.body
    assert entry.attachments.count() == expected["attachment_count"]


@pytest.mark.django_db
def test_case07_inline_image_served_through_console() -> None:
    data = case("07-inline-cid-no-disposition")
    result = ingest(
        read(data["id"], "07-outlook-inline-cid-no-disposition.eml"), via="pipe"
    )
    ticket = Ticket.objects.get(number=result.ticket)
    expected = data["expected"]
    assert ticket.requester_email == expected["requester"]
    entry = TicketEntry.objects.get(ticket=ticket, source=EntrySource.EMAIL)
    for forbidden in expected["stored_html_not_contains"]:
        assert forbidden not in entry.body_html
    assert "[cid:" not in entry.body
    inline = entry.attachments.get(original_name="image001.png")
    assert inline.content_id
    regular = entry.attachments.get(original_name="log_galat.png")
    assert not regular.content_id
    assert regular.size == 74

    client = console_client()
    page = client.get(f"/console/tickets/{ticket.number}/").content.decode()
    image_url = f"/console/tickets/{ticket.number}/attachments/{inline.pk}/?inline=1"
    assert image_url in page
    assert ">image001.png<" not in page
    assert ">log_galat.png<" in page
    response = client.get(image_url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert len(b"".join(response.streaming_content)) == 76

    from django.test import Client

    assert Client().get(image_url).status_code in (302, 404)


@pytest.mark.django_db
def test_case08_attachment_names_stay_in_storage(settings: Settings) -> None:
    data = case("08-attachment-filename-paths")
    root = Path(settings.UPLOAD_ROOT)
    result = ingest(read(data["id"], "08-attachment-names-with-paths.eml"), via="pipe")
    ticket = Ticket.objects.get(number=result.ticket)
    expected = data["expected"]
    entry = TicketEntry.objects.get(ticket=ticket, source=EntrySource.EMAIL)
    attachments = list(entry.attachments.order_by("pk"))
    assert len(attachments) == expected["attachment_count"]
    names = [attachment.original_name for attachment in attachments]
    for name in names:
        for forbidden in expected["display_name_forbidden"]:
            assert forbidden not in name
        assert not name.startswith(".")
    for spec, attachment in zip(expected["attachments"], attachments, strict=True):
        if "display_name" in spec:
            assert attachment.original_name == spec["display_name"]
        else:
            assert attachment.original_name.endswith(spec["display_name_endswith"])
        assert attachment.size == spec["bytes"]
    stored = [path for path in root.rglob("*") if path.is_file()]
    assert len(stored) == expected["filesystem"]["new_files_only_inside_storage_root"]
    for directory in expected["filesystem"]["new_directories_named"]:
        assert not any(path.name == directory for path in root.parent.rglob("*"))
    client = console_client()
    response = client.get(
        f"/console/tickets/{ticket.number}/attachments/{attachments[0].pk}/"
    )
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_inbound_log_shows_quarantine_to_admins() -> None:
    from django.contrib.auth.models import User
    from django.test import Client

    result = ingest(b"\xff\xfe not a message at all", via="pipe")
    admin_user = User.objects.create_superuser("root", password="x" * 20)
    client = Client()
    client.force_login(admin_user)
    listing = client.get("/admin/mail/inboundemail/")
    assert listing.status_code == 200
    raw = client.get(f"/admin/mail/inboundemail/{result.inbound_id}/raw/")
    assert raw.status_code == 200
    assert b"".join([raw.content]) == b"\xff\xfe not a message at all"
    assert (
        Client().get(f"/admin/mail/inboundemail/{result.inbound_id}/raw/").status_code
        == 302
    )
