"""Load the department's three teams and eleven services."""

from django.db import migrations

TEAMS = [
    ("Administrasi", "administrasi@jurusan.example", True),
    ("Sarana & Kebersihan", "sarana@jurusan.example", False),
    ("TI", "ti@jurusan.example", False),
]

SERVICES = [
    (
        "surat-tugas",
        "Administrasi",
        "Permohonan pembuatan surat tugas",
        "Request for a letter of assignment",
    ),
    (
        "skp",
        "Administrasi",
        "Pengiriman SKP Dosen/Staf/Teknisi/PLP",
        "Submission of performance targets (SKP) for lecturers, staff, technicians and laboratory staff",
    ),
    (
        "izin-sakit-dl",
        "Administrasi",
        "Permohonan izin/sakit/dinas luar (DL)",
        "Request for leave, sick leave or official travel (DL)",
    ),
    (
        "berita-acara-seminar",
        "Administrasi",
        "Permohonan pembuatan berita acara seminar proposal/laporan",
        "Request for minutes of a proposal or report seminar",
    ),
    (
        "informasi-akademik",
        "Administrasi",
        "Permintaan informasi kegiatan akademik/penelitian/pengabdian",
        "Information on teaching, research or community service activities",
    ),
    (
        "surat-pengambilan-data",
        "Administrasi",
        "Permohonan surat pengambilan data (mahasiswa)",
        "Request for a data-collection letter (students)",
    ),
    (
        "keluhan-fasilitas",
        "Sarana & Kebersihan",
        "Keluhan fasilitas PBM",
        "Complaint about teaching facilities",
    ),
    (
        "keluhan-kebersihan",
        "Sarana & Kebersihan",
        "Keluhan kebersihan",
        "Complaint about cleanliness",
    ),
    (
        "keluhan-pelayanan",
        "Administrasi",
        "Keluhan pelayanan",
        "Complaint about service",
    ),
    (
        "akses-aplikasi",
        "TI",
        "Kesulitan mengakses aplikasi jurusan (SIPUT, e-Surat, e-Aset, e-Pegawai, portal jurusan, e-Prints, web praktik pengganti, lainnya)",
        "Trouble accessing department applications (SIPUT, e-Surat, e-Aset, e-Pegawai, department portal, e-Prints, substitute practicum site, other)",
    ),
    ("lainnya", "Administrasi", "Lainnya", "Other"),
]


def load(apps, schema_editor):
    Team = apps.get_model("catalog", "Team")
    Service = apps.get_model("catalog", "Service")
    teams = {}
    for name, email, is_triage in TEAMS:
        teams[name], _ = Team.objects.get_or_create(
            name=name, defaults={"email": email, "is_triage": is_triage}
        )
    for order, (code, team, name_id, name_en) in enumerate(SERVICES, start=1):
        Service.objects.get_or_create(
            code=code,
            defaults={
                "team": teams[team],
                "name_id": name_id,
                "name_en": name_en,
                "order": order,
            },
        )


def unload(apps, schema_editor):
    apps.get_model("catalog", "Service").objects.filter(
        code__in=[code for code, *_ in SERVICES]
    ).delete()
    apps.get_model("catalog", "Team").objects.filter(
        name__in=[name for name, *_ in TEAMS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
