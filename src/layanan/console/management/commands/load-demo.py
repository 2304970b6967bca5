"""Load demo users, study programmes and sample chats into an empty database."""

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from layanan.catalog.models import Service, StudyProgramme, Team
from layanan.chat.models import SenderKind
from layanan.chat.services import (
    EndedBy,
    Ending,
    NewChat,
    NewMessage,
    accept_conversation,
    end_conversation,
    post_message,
    start_conversation,
)
from layanan.people.models import AgentProfile
from layanan.people.services import upsert_requester
from layanan.people.validation import parse_identifier
from layanan.tickets.services import create_ticket_from_conversation

PROGRAMMES = [
    "D3 Akuntansi",
    "D4 Akuntansi Bisnis Digital",
    "D3 Manajemen Pemasaran",
    "D4 Pengelolaan Agribisnis",
]

AGENTS = [
    ("agen1", "Rina", "Lestari", "Administrasi"),
    ("agen2", "Agus", "Saputra", "Sarana & Kebersihan"),
    ("agen3", "Dewi", "Anggraini", "TI"),
]
# Demo users who also lead their team: they assign its tickets and change its
# settings under /console/teams/.
TEAM_LEADS = {"agen1"}


def demo_password() -> str:
    """Return LAYANAN_DEMO_PASSWORD, or a password generated once under var/."""
    if settings.DEMO_PASSWORD:
        return settings.DEMO_PASSWORD
    path = settings.VAR_DIR / "demo-password"
    if path.exists():
        return path.read_text().strip()
    settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(9)
    path.write_text(password)
    path.chmod(0o600)
    return password


class Command(BaseCommand):
    help = "Load demo users and sample chats into a database that has no users yet."

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        if user_model.objects.exists():
            raise CommandError("The database already has users; demo data not loaded.")
        password = demo_password()
        with transaction.atomic():
            self.create_users(password)
            self.create_programmes()
            self.create_sample_chats()
        self.stdout.write(
            "Demo data loaded: agen1 (lead of Administrasi), agen2, agen3, kajur, "
            "admin."
        )

    def create_users(self, password: str) -> None:
        user_model = get_user_model()
        for username, first, last, team_name in AGENTS:
            user = user_model.objects.create_user(
                username=username,
                password=password,
                first_name=first,
                last_name=last,
                email=f"{username}@jurusan.example",
            )
            AgentProfile.objects.create(user=user)
            team = Team.objects.get(name=team_name)
            team.members.add(user)
            if username in TEAM_LEADS:
                team.leads.add(user)
        kajur = user_model.objects.create_user(
            username="kajur",
            password=password,
            first_name="Ketua",
            last_name="Jurusan",
            email="kajur@jurusan.example",
            # Staff only to read the inbound log in the admin; no other permission.
            is_staff=True,
        )
        AgentProfile.objects.create(user=kajur, is_supervisor=True)
        user_model.objects.create_superuser(
            username="admin", password=password, email="admin@jurusan.example"
        )

    def create_programmes(self) -> None:
        for order, name in enumerate(PROGRAMMES, start=1):
            StudyProgramme.objects.get_or_create(name=name, defaults={"order": order})

    def create_sample_chats(self) -> None:
        agent = get_user_model().objects.get(username="agen1")
        requester = upsert_requester(
            identifier=parse_identifier("21753001"),
            name="Siti Rahmawati",
            study_programme=StudyProgramme.objects.get(name="D3 Akuntansi"),
            email="siti.rahmawati@example.com",
        )
        service = Service.objects.get(code="surat-pengambilan-data")
        conversation, _token = start_conversation(
            NewChat(
                requester=requester,
                email=requester.email,
                service=service,
                topic="Surat pengambilan data untuk tugas akhir",
                language="id",
            )
        )
        accept_conversation(conversation, agent)
        lines = [
            (SenderKind.REQUESTER, "Selamat siang, saya butuh surat pengambilan data."),
            (SenderKind.AGENT, "Siang, Siti. Untuk perusahaan mana suratnya?"),
            (
                SenderKind.REQUESTER,
                "PT Contoh Sejahtera, Bandar Lampung. Terima kasih 🙏",
            ),
        ]
        for index, (kind, body) in enumerate(lines):
            post_message(
                conversation,
                NewMessage(
                    sender_kind=kind,
                    sender_name=requester.name
                    if kind == SenderKind.REQUESTER
                    else "Rina Lestari",
                    sender=agent if kind == SenderKind.AGENT else None,
                    body=body,
                    client_id=f"demo-{index}",
                ),
            )
        create_ticket_from_conversation(conversation, agent)
        end_conversation(conversation, Ending(ended_by=EndedBy.AGENT, actor=agent))
