"""Indonesian names, subjects and texts that generated histories draw from."""

FIRST_NAMES = (
    "Adi", "Agus", "Ahmad", "Aldi", "Andi", "Anisa", "Ayu", "Bagas", "Bambang",
    "Budi", "Cahya", "Citra", "Dani", "Dedi", "Dewi", "Dian", "Dimas", "Eka",
    "Endang", "Fajar", "Farhan", "Fitri", "Galih", "Gilang", "Hana", "Hendra",
    "Ika", "Indah", "Intan", "Joko", "Kartika", "Kurniawan", "Lestari", "Lina",
    "Made", "Maya", "Muhammad", "Nanda", "Nur", "Nurul", "Putri", "Putu",
    "Rahmat", "Rani", "Reza", "Rina", "Rizki", "Sari", "Siti", "Slamet", "Sri",
    "Taufik", "Tri", "Wahyu", "Wayan", "Windi", "Yoga", "Yudi", "Yuni", "Zahra",
)  # fmt: skip
LAST_NAMES = (
    "Anggraini", "Ardiansyah", "Firmansyah", "Gunawan", "Hakim", "Handayani",
    "Hidayat", "Irawan", "Kusuma", "Lestari", "Maharani", "Nugroho", "Pangestu",
    "Permana", "Pratama", "Purnomo", "Puspita", "Rahayu", "Ramadhan", "Saputra",
    "Saputri", "Setiawan", "Simanjuntak", "Siregar", "Susanti", "Syahputra",
    "Utami", "Wibowo", "Wijaya", "Wulandari", "Yulianti", "Zulkarnain",
)  # fmt: skip
PROGRAMMES = (
    "D3 Akuntansi",
    "D4 Akuntansi Bisnis Digital",
    "D3 Manajemen Pemasaran",
    "D4 Pengelolaan Agribisnis",
    "D3 Perjalanan Wisata",
)
MAIL_DOMAINS = ("student.polinela.example", "mail.example", "surel.example")
STAFF_DOMAIN = "polinela.example"
# Subjects by service code; other services use GENERIC_TOPICS.
TOPICS = {
    "surat-tugas": ("Surat tugas seminar nasional", "Surat tugas pendampingan lomba"),
    "skp": ("Pengiriman SKP semester ini", "Revisi SKP yang sudah dikirim"),
    "izin-sakit-dl": ("Izin sakit dua hari", "Izin dinas luar ke Jakarta"),
    "berita-acara-seminar": ("Berita acara seminar proposal", "Berita acara ujian"),
    "informasi-akademik": ("Jadwal KRS semester depan", "Info kegiatan pengabdian"),
    "surat-pengambilan-data": ("Surat pengambilan data TA", "Surat izin penelitian"),
    "keluhan-fasilitas": ("Proyektor kelas tidak menyala", "AC ruang kuliah rusak"),
    "keluhan-kebersihan": ("Toilet lantai dua kotor", "Sampah belum diangkut"),
    "keluhan-pelayanan": ("Antrean loket terlalu lama", "Berkas belum diproses"),
    "akses-aplikasi": ("Tidak bisa login SIPUT", "Lupa kata sandi e-Surat"),
}
GENERIC_TOPICS = ("Pertanyaan umum", "Mohon informasi", "Permintaan bantuan")
REQUEST_BODIES = (
    "Selamat pagi, mohon bantuannya untuk keperluan ini.",
    "Permisi, saya ingin menanyakan hal berikut.",
    "Mohon segera ditindaklanjuti, terima kasih.",
)
AGENT_REPLIES = (
    "Baik, permintaan Anda sedang kami proses.",
    "Terima kasih, mohon lengkapi berkas yang diperlukan.",
    "Sudah kami teruskan ke petugas terkait.",
)
FOLLOW_UPS = ("Berkasnya sudah saya kirim.", "Apakah sudah ada kabar?")
NOTES = ("Menunggu tanda tangan ketua jurusan.", "Perlu dicek ke bagian TI.")
RESOLUTION_BODY = "Status diubah menjadi selesai."
REOPEN_BODY = "Tiket dibuka kembali karena balasan pemohon."
COMMENTS_BY_RATING = {
    1: ("Lama sekali tidak dibalas.", "Masalah belum selesai."),
    2: ("Kurang jelas penjelasannya.",),
    3: ("Cukup membantu.",),
    4: ("Terima kasih, membantu.", "Pelayanan baik."),
    5: ("Cepat dan ramah, terima kasih!", "Sangat membantu."),
}
