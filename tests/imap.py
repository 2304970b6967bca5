"""A real IMAP server for tests: a throwaway Dovecot on 127.0.0.1.

``DovecotServer`` writes its own configuration, users file and mail directory
under a temporary directory, starts ``dovecot -F`` on a free port and is stopped
by the PID it started. Use the ``dovecot`` fixture (started, stopped at teardown
even when the test fails) with ``from imap import dovecot`` in a test module or
``pytest_plugins = ["imap"]`` in a conftest. It skips when Dovecot is missing.

Dovecot refuses to deliver mail as root, so the mail directory belongs to
``nobody:nogroup`` and the server must be started by root.
"""

import contextlib
import imaplib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from layanan.env import ImapConfig

HOST = "127.0.0.1"
DOVECOT = "/usr/sbin/dovecot"
USERNAME = "desk@example.test"
PASSWORD = "Rahasia@Desk/2026#ok"
START_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 10.0

CONFIG_TEMPLATE = """\
protocols = imap
listen = {host}
base_dir = {root}/run
state_dir = {root}/state
instance_name = layanan-test-{port}
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={root}/mail/%u
}}
mail_location = maildir:~/Maildir
{capability}
service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""

FLAGS_PATTERN = re.compile(rb"FLAGS \(([^)]*)\)")
# A LIST response line: (flags) "delimiter" name, the name quoted or not.
LIST_PATTERN = re.compile(rb'^\([^)]*\) (?:NIL|"(?:[^"\\]|\\.)*") (.+)$')


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


class DovecotServer:
    """A Dovecot IMAP server on 127.0.0.1 with one user, ``USERNAME``.

    ``capability`` replaces the capability list the server advertises after
    login, so a test can hide MOVE, for example, although the commands still work.
    """

    def __init__(self, root: Path, *, capability: str | None = None) -> None:
        self.root = root
        self.host = HOST
        self.port = free_port()
        self.username = USERNAME
        self.password = PASSWORD
        self.capability = capability
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def config_path(self) -> Path:
        return self.root / "dovecot.conf"

    @property
    def running(self) -> bool:
        return self.process is not None

    def config(
        self,
        folder: str = "INBOX",
        *,
        processed_folder: str | None = None,
        password: str | None = None,
        timeout: int = 5,
    ) -> ImapConfig:
        """Return the settings.IMAP value for this server (plain IMAP)."""
        return ImapConfig(
            host=self.host,
            port=self.port,
            username=self.username,
            password=self.password if password is None else password,
            folder=folder,
            processed_folder=processed_folder,
            use_ssl=False,
            use_starttls=False,
            timeout=timeout,
        )

    def url(self, query: str = "") -> str:
        """Return a ``LAYANAN_IMAP_URL`` value for this server."""
        credentials = f"{quote(self.username, safe='')}:{quote(self.password, safe='')}"
        url = f"imap://{credentials}@{self.host}:{self.port}/INBOX"
        return f"{url}?{query}" if query else url

    def _write_files(self) -> None:
        for name in ("run", "state", "mail"):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        capability = f"imap_capability = {self.capability}" if self.capability else ""
        self.config_path.write_text(
            CONFIG_TEMPLATE.format(
                host=self.host, port=self.port, root=self.root, capability=capability
            )
        )
        (self.root / "users").write_text(f"{self.username}:{{PLAIN}}{self.password}\n")
        shutil.chown(self.root / "mail", "nobody", "nogroup")

    def start(self) -> None:
        """Start Dovecot and wait for its ``* OK`` greeting."""
        if self.process is not None:
            raise RuntimeError("The Dovecot server is already running.")
        self._write_files()
        log = (self.root / "stderr.log").open("ab")
        try:
            self.process = subprocess.Popen(
                [DOVECOT, "-F", "-c", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        finally:
            log.close()
        try:
            self._wait_for_greeting()
        except BaseException:
            self.stop()
            raise

    def _wait_for_greeting(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Dovecot exited with status {self.process.returncode} at "
                    f"start: read {self.root}/stderr.log and {self.root}/dovecot.log."
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as s:
                    greeting = s.recv(200)
                    s.sendall(b"a LOGOUT\r\n")
                if greeting.startswith(b"* OK"):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(
            f"Dovecot sent no greeting on {self.host}:{self.port} within "
            f"{START_TIMEOUT_SECONDS} s: read {self.root}/dovecot.log."
        )

    def stop(self) -> None:
        """Stop the server by the PID this object started, then reap it."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(STOP_TIMEOUT_SECONDS)

    def restart(self) -> None:
        """Stop the server if it runs and start it again on the same port."""
        self.stop()
        self.start()

    def _client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.host, self.port, timeout=5)
        client.login(self.username, self.password)
        return client

    def create(self, folder: str) -> None:
        """Create ``folder`` (an ASCII name)."""
        client = self._client()
        try:
            status, data = client.create(_quoted(folder))
            assert status == "OK", data
        finally:
            client.logout()

    def append(self, folder: str, raw: bytes, flags: str = "") -> None:
        """Add the message ``raw`` to ``folder`` (an ASCII name), unseen by default."""
        client = self._client()
        try:
            status, data = client.append(
                _quoted(folder),
                f"({flags})" if flags else "",
                imaplib.Time2Internaldate(time.time()),
                raw,
            )
            assert status == "OK", data
        finally:
            client.logout()

    def _fetch(self, folder: str, item: str) -> list[tuple[bytes, bytes]]:
        """Return (response line, literal) per message of ``folder``, by UID."""
        client = self._client()
        try:
            status, data = client.select(_quoted(folder), readonly=True)
            if status != "OK":
                raise AssertionError(f"Folder {folder!r} cannot be selected: {data}")
            status, data = client.uid("FETCH", "1:*", f"(UID {item})")
            assert status == "OK", data
        finally:
            client.logout()
        rows: list[tuple[bytes, bytes]] = []
        for part in data:
            if isinstance(part, tuple):
                rows.append((part[0], part[1]))
            elif isinstance(part, bytes) and part.strip() and part.strip() != b")":
                rows.append((part, b""))
        return rows

    def messages(self, folder: str) -> list[bytes]:
        """Return the raw messages of ``folder``, oldest first, without marking them."""
        return [literal for _line, literal in self._fetch(folder, "BODY.PEEK[]")]

    def flags(self, folder: str) -> list[set[str]]:
        """Return each message's flags in ``folder``, oldest first."""
        flag_sets = []
        for line, _literal in self._fetch(folder, "FLAGS"):
            match = FLAGS_PATTERN.search(line)
            assert match is not None, line
            flag_sets.append(set(match.group(1).decode().split()))
        return flag_sets

    def folders(self) -> set[str]:
        """Return the names of the user's folders, as the server writes them."""
        client = self._client()
        try:
            status, data = client.list()
            assert status == "OK", data
        finally:
            client.logout()
        names = set()
        for line in data:
            assert isinstance(line, bytes)
            match = LIST_PATTERN.match(line)
            assert match is not None, line
            name = match.group(1).decode()
            if name.startswith('"'):
                name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            names.add(name)
        return names


def require_dovecot() -> None:
    """Skip the test, saying why, when Dovecot cannot run here."""
    if not Path(DOVECOT).exists():
        pytest.skip(
            f"{DOVECOT} is missing: install the dovecot-imapd package to run the "
            "IMAP tests."
        )
    if os.geteuid() != 0:
        pytest.skip("The Dovecot test server must be started by root.")


@contextlib.contextmanager
def running_dovecot(capability: str | None = None) -> Iterator[DovecotServer]:
    """Start a Dovecot in a new directory, then stop it and remove the directory."""
    require_dovecot()
    # pytest's tmp_path sits under a directory only root may enter, but Dovecot's
    # mail processes run as nobody and must reach the mail directory.
    root = Path(tempfile.mkdtemp(prefix="layanan-dovecot-"))
    root.chmod(0o755)
    server = DovecotServer(root, capability=capability)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def dovecot() -> Iterator[DovecotServer]:
    """Yield a started Dovecot with an empty INBOX; stop it at teardown."""
    with running_dovecot() as server:
        yield server
