"""Every message of the real-world corpus through the whole ingestion path.

``test_corpus.py`` checks what the parser reads from each message; this module
checks what ingestion does with it: one stored raw message, the outcome its kind
demands, and no ticket or answer for bounces, auto-replies and complaints.
"""

import json
from pathlib import Path
from typing import Any

import pytest
from pytest_django.fixtures import Settings

from layanan.mail.inbound import ingest, raw_path
from layanan.mail.models import InboundEmail, InboundOutcome, OutboundEmail
from layanan.tickets.models import Ticket

CORPUS = Path(__file__).parent / "corpus"
EXPECTED: dict[str, dict[str, Any]] = json.loads((CORPUS / "expected.json").read_text())
OUTCOMES = {
    "new_request": {InboundOutcome.NEW_TICKET, InboundOutcome.REPLY},
    "bounce": {InboundOutcome.BOUNCE},
    "auto_reply": {InboundOutcome.AUTO_REPLY, InboundOutcome.BULK},
    "complaint": {InboundOutcome.COMPLAINT},
}


@pytest.fixture(autouse=True)
def storage(settings: Settings, tmp_path: Path, catalogue: Any) -> None:
    settings.VAR_DIR = tmp_path / "var"
    settings.UPLOAD_ROOT = tmp_path / "uploads"


@pytest.mark.django_db
@pytest.mark.timeout(20)
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_message_ingested(name: str) -> None:
    expected = EXPECTED[name]
    raw = (CORPUS / name).read_bytes()

    result = ingest(raw, via="pipe")

    row = InboundEmail.objects.get(pk=result.inbound_id)
    assert raw_path(row.sha256).read_bytes() == raw
    assert row.processed_at is not None
    kind = expected["kind"]
    if kind == "spam_or_broken":
        assert result.outcome in set(InboundOutcome)
        return
    assert result.outcome in OUTCOMES[kind], result.reason
    if kind != "new_request":
        assert Ticket.objects.count() == 0
        assert OutboundEmail.objects.count() == 0
    if expected["subject"]:
        assert expected["subject"].startswith(row.subject[:50].strip())


@pytest.mark.django_db
def test_corpus_each_file_listed() -> None:
    on_disk = {str(path.relative_to(CORPUS)) for path in CORPUS.rglob("*.eml")}
    assert on_disk == set(EXPECTED)
