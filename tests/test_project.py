"""Project-level pages, the catalogue migration and the demo loader."""

from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from pytest_django.fixtures import Settings

from layanan.catalog.models import Service, Team
from layanan.chat.models import Conversation
from layanan.people.models import AgentProfile
from layanan.tickets.models import Ticket

EXPECTED_SERVICES = [
    ("Permohonan pembuatan surat tugas", "Administrasi"),
    ("Pengiriman SKP Dosen/Staf/Teknisi/PLP", "Administrasi"),
    ("Permohonan izin/sakit/dinas luar (DL)", "Administrasi"),
    ("Permohonan pembuatan berita acara seminar proposal/laporan", "Administrasi"),
    ("Permintaan informasi kegiatan akademik/penelitian/pengabdian", "Administrasi"),
    ("Permohonan surat pengambilan data (mahasiswa)", "Administrasi"),
    ("Keluhan fasilitas PBM", "Sarana & Kebersihan"),
    ("Keluhan kebersihan", "Sarana & Kebersihan"),
    ("Keluhan pelayanan", "Administrasi"),
    (
        "Kesulitan mengakses aplikasi jurusan (SIPUT, e-Surat, e-Aset, e-Pegawai, "
        "portal jurusan, e-Prints, web praktik pengganti, lainnya)",
        "TI",
    ),
    ("Lainnya", "Administrasi"),
]


@pytest.mark.django_db
def test_catalogue_migration_loads_services_in_order() -> None:
    services = [
        (service.name_id, service.team.name)
        for service in Service.objects.active().select_related("team")
    ]
    assert services == EXPECTED_SERVICES


@pytest.mark.django_db
def test_catalogue_every_service_has_english_name() -> None:
    assert not Service.objects.filter(name_en="").exists()


@pytest.mark.django_db
def test_catalogue_administrasi_is_triage_team() -> None:
    assert list(Team.objects.filter(is_triage=True).values_list("name", flat=True)) == [
        "Administrasi"
    ]


@pytest.mark.django_db
def test_healthz_answers_json(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.django_db
def test_portal_embeds_widget_with_one_tag(client: Client, settings: Settings) -> None:
    response = client.get("/")
    assert response.status_code == 200
    tag = f'<script src="{settings.BASE_URL}/widget.js" async></script>'
    assert tag in response.content.decode()


@pytest.mark.django_db
def test_widget_loader_is_javascript(client: Client) -> None:
    response = client.get("/widget.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")


@pytest.mark.django_db
def test_panel_may_be_framed_only_by_widget_origins(
    client: Client, settings: Settings
) -> None:
    settings.WIDGET_ORIGINS = ["https://jeb.example.ac.id"]
    response = client.get("/widget/panel/?origin=https://jeb.example.ac.id")
    policy = response["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://jeb.example.ac.id" in policy
    assert "X-Frame-Options" not in response


@pytest.mark.django_db
def test_panel_ignores_unlisted_portal_origin(
    client: Client, settings: Settings
) -> None:
    settings.WIDGET_ORIGINS = ["https://jeb.example.ac.id"]
    response = client.get("/widget/panel/?origin=https://evil.example.net")
    assert "https://evil.example.net" not in response.content.decode()


@pytest.mark.django_db
def test_console_page_may_not_be_framed(client: Client) -> None:
    response = client.get("/console/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_load_demo_creates_cast_and_sample(settings: Settings) -> None:
    settings.DEMO_PASSWORD = "sandi-demo-uji"
    output = StringIO()
    call_command("load-demo", stdout=output)
    users = get_user_model().objects
    for username in ("agen1", "agen2", "agen3", "kajur", "admin"):
        assert users.get(username=username).check_password("sandi-demo-uji")
    assert users.get(username="agen2").teams.get().name == "Sarana & Kebersihan"
    assert AgentProfile.objects.get(user__username="kajur").is_supervisor
    assert users.get(username="admin").is_superuser
    assert Conversation.objects.count() == 1
    assert Ticket.objects.count() == 1


@pytest.mark.django_db
def test_load_demo_refuses_database_with_users(settings: Settings) -> None:
    settings.DEMO_PASSWORD = "sandi-demo-uji"
    get_user_model().objects.create_user(username="someone")
    with pytest.raises(CommandError, match="already has users"):
        call_command("load-demo", stdout=StringIO())


@pytest.mark.django_db
def test_load_demo_generates_password_once(settings: Settings, tmp_path: Path) -> None:
    settings.DEMO_PASSWORD = None
    settings.VAR_DIR = tmp_path
    call_command("load-demo", stdout=StringIO())
    password = (tmp_path / "demo-password").read_text()
    assert len(password) >= 12
    assert get_user_model().objects.get(username="agen1").check_password(password)
