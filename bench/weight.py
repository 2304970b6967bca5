"""Widget weight: bytes of the loader and of the panel as a browser loads it.

The panel's parts come from the rendered panel HTML (stylesheets, scripts,
images) and from the ``api("GET", ...)`` calls in its scripts. Nothing is listed
by hand, so a new file or request shows up in the figures.
"""

import gzip
import re
import zlib
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from urllib.request import ProxyHandler, Request, build_opener

GZIP_LEVEL = 9
FETCH_TIMEOUT_SECONDS = 10.0
LOADER_PATH = (
    Path(__file__).resolve().parent.parent / "src/layanan/static/layanan/widget.js"
)
# The panel's JSON helper: api("GET", "/api/chat/services/") and the like.
API_GET_CALL = re.compile(r"""\bapi\(\s*["']GET["']\s*,\s*["']([^"']+)["']""")
STYLESHEET_RELATIONS = {"stylesheet", "preload", "modulepreload", "icon"}

# Loopback only: no proxy from the environment may see these requests.
opener = build_opener(ProxyHandler({}))


@dataclass(frozen=True)
class Resource:
    """One file as the server sent it, and its size gzipped at level 9."""

    name: str
    url: str
    raw_bytes: int
    gzip_bytes: int
    # Bytes on the wire when the client accepts gzip, and the encoding used.
    wire_bytes: int
    content_encoding: str


@dataclass(frozen=True)
class WidgetWeight:
    loader: Resource
    # The same loader as the server sends it from /widget.js.
    loader_served: Resource
    panel: list[Resource]
    api_calls: list[Resource]

    @property
    def panel_raw_bytes(self) -> int:
        return sum(resource.raw_bytes for resource in self.panel)

    @property
    def panel_gzip_bytes(self) -> int:
        return sum(resource.gzip_bytes for resource in self.panel)

    @property
    def panel_wire_bytes(self) -> int:
        return sum(resource.wire_bytes for resource in self.panel)

    @property
    def request_count(self) -> int:
        return len(self.panel) + len(self.api_calls)


class SubresourceParser(HTMLParser):
    """Collect the URLs a page loads by itself: scripts, stylesheets, images."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag in {"script", "img", "iframe"} and values.get("src"):
            self.urls.append(values["src"])
        elif tag == "link" and values.get("href"):
            relations = set(values.get("rel", "").lower().split())
            if relations & STYLESHEET_RELATIONS:
                self.urls.append(values["href"])


def gzip_size(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0))


def fetch(name: str, url: str) -> tuple[Resource, bytes]:
    """Fetch ``url`` accepting gzip as a browser does, and return its sizes and body."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"Only the loopback server may be fetched, not {url!r}.")
    # The URL is checked above: plain HTTP to this machine's own server.
    request = Request(url, headers={"Accept-Encoding": "gzip", "Accept": "*/*"})  # noqa: S310
    with opener.open(request, timeout=FETCH_TIMEOUT_SECONDS) as response:
        wire = response.read()
        encoding = response.headers.get("Content-Encoding", "") or "identity"
    body = zlib.decompress(wire, 16 + zlib.MAX_WBITS) if encoding == "gzip" else wire
    resource = Resource(
        name=name,
        url=url,
        raw_bytes=len(body),
        gzip_bytes=gzip_size(body),
        wire_bytes=len(wire),
        content_encoding=encoding,
    )
    return resource, body


def file_resource(name: str, path: Path) -> Resource:
    data = path.read_bytes()
    return Resource(
        name=name,
        url=str(path),
        raw_bytes=len(data),
        gzip_bytes=gzip_size(data),
        wire_bytes=len(data),
        content_encoding="file",
    )


def measure_widget_weight(base_url: str) -> WidgetWeight:
    """Measure the loader file and the panel as served by the server at base_url."""
    loader = file_resource("widget.js", LOADER_PATH)
    loader_served, _body = fetch("/widget.js as served", f"{base_url}/widget.js")
    origin = f"{urlsplit(base_url).scheme}://{urlsplit(base_url).netloc}"
    panel_url = f"{base_url}/widget/panel/?lang=id&origin={origin}"
    html, html_body = fetch("panel HTML", panel_url)
    parser = SubresourceParser()
    parser.feed(html_body.decode("utf-8"))
    panel = [html]
    api_paths: list[str] = []
    for url in parser.urls:
        absolute = urljoin(panel_url, url)
        resource, body = fetch(Path(urlsplit(absolute).path).name, absolute)
        panel.append(resource)
        if absolute.endswith(".js"):
            api_paths += API_GET_CALL.findall(body.decode("utf-8"))
    api_calls = [
        fetch(f"GET {path}", urljoin(panel_url, f"{path}?lang=id"))[0]
        for path in dict.fromkeys(api_paths)
    ]
    return WidgetWeight(
        loader=loader, loader_served=loader_served, panel=panel, api_calls=api_calls
    )
