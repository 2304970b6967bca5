"""Tags: normalised names, the checks on them, and the audit trail."""

import pytest
from django.contrib.auth.models import User
from django.utils import translation

from layanan.audit.services import history
from layanan.catalog.models import Service
from layanan.tickets import tags
from layanan.tickets.models import Tag
from layanan.tickets.workflow import WorkflowError
from ticket_factory import make_ticket

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Wisuda", "wisuda"),
        ("  Kartu   Mahasiswa ", "kartu mahasiswa"),
        ("ujian_akhir-2026", "ujian_akhir-2026"),
        ("Beasiswa KIP", "beasiswa kip"),
        ("ÉTUDE", "étude"),
        ("x" * tags.MAX_TAG_LENGTH, "x" * tags.MAX_TAG_LENGTH),
    ],
)
def test_clean_tag_name_normalises(typed: str, stored: str) -> None:
    assert tags.clean_tag_name(typed) == stored


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("", "tag_empty"),
        ("   ", "tag_empty"),
        ("x" * (tags.MAX_TAG_LENGTH + 1), "tag_too_long"),
        ("a/b", "tag_invalid"),
        ("<b>", "tag_invalid"),
        ("dua,tiga", "tag_invalid"),
    ],
)
def test_clean_tag_name_rejects(typed: str, code: str) -> None:
    with translation.override("en"), pytest.raises(WorkflowError) as raised:
        tags.clean_tag_name(typed)
    assert raised.value.code == code


def test_add_tag_reuses_existing_tag(admin_service: Service, agent_admin: User) -> None:
    first, second = make_ticket(admin_service), make_ticket(admin_service)
    tags.add_tag(first, "Wisuda", actor=agent_admin)
    tags.add_tag(second, "wisuda", actor=agent_admin)
    assert Tag.objects.filter(name="wisuda").count() == 1
    assert second.tags.get().name == "wisuda"


def test_add_tag_twice_rejected(admin_service: Service, agent_admin: User) -> None:
    ticket = make_ticket(admin_service)
    tags.add_tag(ticket, "wisuda", actor=agent_admin)
    with pytest.raises(WorkflowError) as raised:
        tags.add_tag(ticket, "WISUDA", actor=agent_admin)
    assert raised.value.code == "tag_present"


def test_remove_absent_tag_rejected(admin_service: Service, agent_admin: User) -> None:
    ticket = make_ticket(admin_service)
    with pytest.raises(WorkflowError) as raised:
        tags.remove_tag(ticket, "wisuda", actor=agent_admin)
    assert raised.value.code == "tag_absent"


def test_tag_changes_recorded(admin_service: Service, agent_admin: User) -> None:
    ticket = make_ticket(admin_service)
    tags.add_tag(ticket, "wisuda", actor=agent_admin)
    tags.remove_tag(ticket, "Wisuda", actor=agent_admin)
    events = [
        (event.action, event.data["tag"], event.actor)
        for event in history("ticket", ticket.number)
        if event.action.startswith("tag_")
    ]
    assert events == [
        ("tag_added", "wisuda", agent_admin),
        ("tag_removed", "wisuda", agent_admin),
    ]
