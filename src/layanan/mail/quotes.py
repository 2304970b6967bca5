"""Find the new part of an email reply: leave out quoted history and attributions.

strip_quoted works on plain text from common clients in English and Indonesian,
and recognises the usual German, French, Spanish, Dutch and Russian wordings. It
drops lines quoted with ">" and the "On … wrote:" / "Pada … menulis:" attribution
above them. It cuts at the "Original Message" / "Pesan Asli" separators, at
Outlook's From/Sent/To/Subject and Dari/Dikirim/Kepada/Subjek header blocks,
after a mobile signature such as "Sent from my iPhone", and at a line that names
one of our own addresses. Signatures stay, mobile signatures included, because
they belong to the new text.

html_to_text turns HTML into readable plain text; with ``drop_quotes=True`` it also
leaves out the quote containers that clients put around the earlier message.
"""

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser

# A line of quoted history as clients prefix it, allowing a little indentation.
_QUOTED_LINE = re.compile(r"^[ \t]{0,2}>")

# The verb that ends an attribution line, in the languages our users' clients use.
# German and Dutch clients put the name after the verb: "… schrieb Rina <…>:".
_ATTRIBUTION_END = re.compile(
    r"\b(wrote|writes|menulis|schrieb|a\s+écrit|escribió|ha\s+escrito|scrisse|"
    r"ha\s+scritto|escreveu|skrev|schreef|kirjoitti|napisał\w*|написал\w*|пишет)"
    r"\b[^:]{0,200}:\s*$",
    re.IGNORECASE,
)
# Start of an attribution: a leading word ("On", "Pada", "Am", "Le", …) or a date.
_ATTRIBUTION_START = re.compile(
    r"^\s*(?:-{2,}\s*)?(?:on|pada|am|le|el|em|op|il|den|dne|w\s+dniu)\b|^\s*\d",
    re.IGNORECASE,
)
_MAX_ATTRIBUTION_LINES = 3
_MAX_ATTRIBUTION_CHARACTERS = 500

_SEPARATOR = re.compile(
    r"^\s*-{2,}\s*(original\s+message|pesan\s+asli|pesan\s+awal|"
    r"ursprüngliche\s+nachricht|message\s+d'origine|mensaje\s+original|"
    r"oorspronkelijk\s+bericht)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_RULE = re.compile(r"^\s*(_{10,}|-{10,})\s*$")
_FORWARD_MARKER = re.compile(
    r"^\s*(-{2,}\s*(forwarded\s+message|pesan\s+(yang\s+)?(di)?teruskan|"
    r"pesan\s+terusan)\s*-{2,}|begin\s+forwarded\s+message\s*:)\s*$",
    re.IGNORECASE,
)
# Labels of a quoted header block, optionally in bold markers ("*From:*").
_HEADER_LABEL = re.compile(
    r"^[ \t]*(?:\*[ \t]*)?(from|sent|date|to|cc|bcc|subject|reply-to|dari|dikirim|"
    r"tanggal|kepada|tembusan|subjek|perihal|judul|von|gesendet|an|betreff|datum|"
    r"de|envoyé|à|objet|enviado|para|asunto|fecha|van|verzonden|aan|onderwerp|"
    r"от|отправлено|кому|тема|дата)[ \t]*(?:\*[ \t]*)?:",
    re.IGNORECASE,
)
_SENDER_LABELS = frozenset({"from", "dari", "von", "de", "van", "от"})
_HEADER_BLOCK_LINES = 8
_MIN_HEADER_LABELS = 3

_MOBILE_SIGNATURE = re.compile(
    r"^\s*(sent\s+from\s+my\s+\S.*|sent\s+from\s+(yahoo\s+mail|outlook|mail)\s+"
    r"(for|on)\s+\S.*|dikirim\s+dari\s+(iphone|ipad|android|ponsel|perangkat|"
    r"yahoo\s+mail|samsung|smartphone|telepon|outlook)\b.*|get\s+outlook\s+for\s+"
    r"(ios|android)|dapatkan\s+outlook\s+untuk\s+(ios|android))\s*$",
    re.IGNORECASE,
)
_BLANK_RUN = re.compile(r"\n{3,}")


def strip_quoted(text: str, own_addresses: Iterable[str] = ()) -> str:
    """Return the new text of a reply, without the quoted earlier messages.

    ``own_addresses`` are the service desk's own addresses: a line that names one
    of them the way an attribution or header block does starts the history.
    Returns the whole text, stripped, when nothing but quotes would remain, so a
    reply is never shown as empty.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    addresses = tuple(address.lower() for address in own_addresses if address)
    attributions = _find_attributions(lines)
    end = _history_start(lines, attributions, addresses)
    kept = _drop_quote_blocks(lines[:end], attributions)
    reply = _BLANK_RUN.sub("\n\n", "\n".join(kept)).strip()
    return reply if reply else text.strip()


@dataclass(frozen=True)
class _Attribution:
    """Lines ``start`` to ``end`` (inclusive) naming the writer of the quote below."""

    start: int
    end: int
    # True when ">"-quoted lines follow; otherwise unquoted history follows.
    before_quote: bool
    # A date or an address makes an attribution safe to cut the rest at.
    specific: bool


def _find_attributions(lines: list[str]) -> dict[int, _Attribution]:
    """Map every line that belongs to an attribution to that attribution."""
    found: dict[int, _Attribution] = {}
    for index, line in enumerate(lines):
        if _QUOTED_LINE.match(line) or not _ATTRIBUTION_END.search(line):
            continue
        start = _attribution_start(lines, index)
        joined = " ".join(lines[start : index + 1])
        if len(joined) > _MAX_ATTRIBUTION_CHARACTERS:
            continue
        attribution = _Attribution(
            start=start,
            end=index,
            before_quote=_next_content_is_quoted(lines, index + 1),
            specific=bool(re.search(r"\d|@", joined)),
        )
        for covered in range(start, index + 1):
            found.setdefault(covered, attribution)
    return found


def _attribution_start(lines: list[str], end: int) -> int:
    """Return the first line of the attribution that ends on line ``end``.

    Clients wrap long attributions, sometimes inside the address, so up to two
    lines above may belong to it: the earliest that starts like an attribution,
    or the one that opens an address the last line closes.
    """
    earliest = max(0, end - _MAX_ATTRIBUTION_LINES + 1)
    candidates = range(earliest, end + 1)
    usable = [
        start
        for start in candidates
        if all(
            lines[row].strip() and not _QUOTED_LINE.match(lines[row])
            for row in range(start, end)
        )
    ]
    for start in usable:
        if _ATTRIBUTION_START.match(lines[start]):
            return start
    if end - 1 in usable and lines[end].count(">") > lines[end].count("<"):
        return end - 1
    return end


def _next_content_is_quoted(lines: list[str], start: int) -> bool:
    for index in range(start, len(lines)):
        if lines[index].strip():
            return bool(_QUOTED_LINE.match(lines[index]))
    return False


def _history_start(
    lines: list[str], attributions: dict[int, _Attribution], addresses: tuple[str, ...]
) -> int:
    """Return the index of the first line of unquoted history, or len(lines)."""
    for index, line in enumerate(lines):
        if _QUOTED_LINE.match(line) or not line.strip():
            continue
        attribution = attributions.get(index)
        if attribution is not None:
            if attribution.before_quote:
                continue
            if attribution.specific:
                return attribution.start
        if _SEPARATOR.match(line):
            return index
        if _starts_header_block(lines, index):
            return _include_rule_above(lines, index)
        if _RULE.match(line) and _starts_header_block(
            lines, _next_content(lines, index)
        ):
            return index
        if addresses and _names_own_address(line, addresses):
            return index
        if _MOBILE_SIGNATURE.match(line):
            return index + 1
    return len(lines)


def _next_content(lines: list[str], start: int) -> int:
    for index in range(start + 1, len(lines)):
        if lines[index].strip():
            return index
    return len(lines)


def _starts_header_block(lines: list[str], index: int) -> bool:
    """Tell whether a quoted message's header block (From:, Sent:, …) starts here."""
    if index >= len(lines) or not _HEADER_LABEL.match(lines[index]):
        return False
    labels: set[str] = set()
    for line in lines[index : index + _HEADER_BLOCK_LINES]:
        match = _HEADER_LABEL.match(line)
        if match is None:
            if not line.strip():
                break
            continue
        labels.add(match.group(1).lower())
    if len(labels) < _MIN_HEADER_LABELS or not labels & _SENDER_LABELS:
        return False
    # A forwarded message's header block is content the sender means to share.
    above = _previous_content(lines, index)
    return above is None or not _FORWARD_MARKER.match(lines[above])


def _previous_content(lines: list[str], index: int) -> int | None:
    for row in range(index - 1, -1, -1):
        if lines[row].strip():
            return row
    return None


def _include_rule_above(lines: list[str], index: int) -> int:
    above = _previous_content(lines, index)
    if above is not None and _RULE.match(lines[above]):
        return above
    return index


def _names_own_address(line: str, addresses: tuple[str, ...]) -> bool:
    lowered = line.lower()
    for address in addresses:
        if address not in lowered:
            continue
        quoted_forms = (f"<{address}>", f"mailto:{address}", f"[{address}]")
        if any(form in lowered for form in quoted_forms):
            return True
        if lowered.rstrip().endswith(":"):
            return True
    return False


def _drop_quote_blocks(
    lines: list[str], attributions: dict[int, _Attribution]
) -> list[str]:
    """Leave out ">"-quoted lines and the attributions written above them."""
    kept: list[str] = []
    for index, line in enumerate(lines):
        if _QUOTED_LINE.match(line):
            continue
        attribution = attributions.get(index)
        if attribution is not None and attribution.before_quote:
            continue
        kept.append(line)
    return kept


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Elements whose content is never shown as text.
_HIDDEN_ELEMENTS = _words(
    "head title script style template noscript xml svg object iframe select textarea"
)
_PARAGRAPH_ELEMENTS = _words("p h1 h2 h3 h4 h5 h6 blockquote pre table ul ol dl figure")
_LINE_ELEMENTS = _words(
    "div tr li hr section article header footer address dd dt center form "
    "fieldset figcaption caption nav aside main details summary tbody thead "
    "tfoot"
)
_VOID_ELEMENTS = _words(
    "area base br col embed hr img input link meta param source track wbr"
)
# Containers that hold the quoted earlier message in common clients' HTML.
_QUOTE_CLASSES = ("gmail_quote", "yahoo_quoted", "moz-cite-prefix", "protonmail_quote")
# Markers after which everything in the document is the earlier message.
_HISTORY_IDS = ("divrplyfwdmsg", "appendonsend", "olk_src_body_section", "stopspelling")
_HISTORY_ID_PREFIXES = ("mail-editor-reference-message-container", "zwchr")
_OUTLOOK_DIVIDER = re.compile(r"border-top\s*:\s*solid", re.IGNORECASE)
_OUTLOOK_DIVIDER_NONE = re.compile(r"border\s*:\s*none", re.IGNORECASE)
_HTML_SPACE = re.compile(r"[ \t\r\n\f]+")
_LINE_SPACE = re.compile(r"[ \t\u00a0]+")
# Placeholder for a space inside <pre>, kept while the other spaces are tidied.
_KEPT_SPACE = "\ue000"


def html_to_text(html: str, *, drop_quotes: bool = False) -> str:
    """Return the readable text of an HTML body, one paragraph per block.

    Scripts, styles and the head are left out; table cells are separated by
    spaces and rows by lines. With ``drop_quotes`` the quote containers of Gmail,
    Yahoo, Thunderbird and Outlook are left out as well.
    """
    extractor = _TextExtractor(drop_quotes=drop_quotes)
    extractor.feed(html)
    extractor.close()
    return extractor.text()


@dataclass
class _OpenElement:
    tag: str
    hidden: bool


@dataclass
class _Output:
    chunks: list[str] = field(default_factory=list)
    # Line breaks requested since the last text. The largest request wins.
    pending_breaks: int = 0


class _TextExtractor(HTMLParser):
    """Collect text from HTML, tracking which open elements hide their content."""

    def __init__(self, *, drop_quotes: bool) -> None:
        super().__init__(convert_charrefs=True)
        self._drop_quotes = drop_quotes
        self._open: list[_OpenElement] = []
        # Counts by tag name, so a stray end tag costs no scan of the open list.
        self._open_counts: Counter[str] = Counter()
        self._hidden_depth = 0
        self._preformatted_depth = 0
        self._finished = False
        self._output = _Output()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._finished:
            return
        attributes = {name: value or "" for name, value in attrs}
        if self._drop_quotes and self._starts_history(tag, attributes):
            self._finished = True
            return
        hidden = tag in _HIDDEN_ELEMENTS or (
            self._drop_quotes and self._is_quote(tag, attributes)
        )
        if not self._hidden_depth:
            self._break_for(tag)
        if tag in _VOID_ELEMENTS:
            return
        self._open.append(_OpenElement(tag, hidden))
        self._open_counts[tag] += 1
        self._hidden_depth += hidden
        self._preformatted_depth += tag == "pre"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID_ELEMENTS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._finished:
            return
        if not self._open_counts[tag]:
            return
        # Closing an element also closes the ones left open inside it.
        while self._open:
            element = self._open.pop()
            self._open_counts[element.tag] -= 1
            self._hidden_depth -= element.hidden
            self._preformatted_depth -= element.tag == "pre"
            if element.tag == tag:
                break
        if not self._hidden_depth:
            self._break_for(tag)

    def handle_data(self, data: str) -> None:
        if self._finished or self._hidden_depth:
            return
        if self._preformatted_depth:
            data = data.replace(" ", _KEPT_SPACE).replace("\t", _KEPT_SPACE * 4)
        else:
            data = _HTML_SPACE.sub(" ", data)
            if not data.strip():
                if self._output.chunks and not self._output.pending_breaks:
                    self._output.chunks.append(" ")
                return
        output = self._output
        if output.pending_breaks and output.chunks:
            output.chunks.append("\n" * output.pending_breaks)
        output.pending_breaks = 0
        output.chunks.append(data)

    def text(self) -> str:
        """Return the collected text with tidy spaces and at most one blank line."""
        joined = "".join(self._output.chunks)
        lines = [
            _LINE_SPACE.sub(" ", line).strip(" ").replace(_KEPT_SPACE, " ")
            for line in joined.split("\n")
        ]
        return _BLANK_RUN.sub("\n\n", "\n".join(lines)).strip()

    def _break_for(self, tag: str) -> None:
        output = self._output
        if tag == "br":
            output.pending_breaks += 1
        elif tag in _PARAGRAPH_ELEMENTS:
            output.pending_breaks = max(output.pending_breaks, 2)
        elif tag in _LINE_ELEMENTS:
            output.pending_breaks = max(output.pending_breaks, 1)
        elif tag in ("td", "th") and output.chunks and not output.pending_breaks:
            output.chunks.append(" ")

    def _is_quote(self, tag: str, attributes: dict[str, str]) -> bool:
        if tag == "blockquote":
            return True
        classes = attributes.get("class", "").lower().split()
        return any(name in classes for name in _QUOTE_CLASSES)

    def _starts_history(self, tag: str, attributes: dict[str, str]) -> bool:
        identifier = attributes.get("id", "").lower()
        if identifier.endswith(_HISTORY_IDS):
            return True
        if identifier.startswith(_HISTORY_ID_PREFIXES):
            return True
        if tag == "div":
            style = attributes.get("style", "")
            if _OUTLOOK_DIVIDER.search(style) and _OUTLOOK_DIVIDER_NONE.search(style):
                return True
        return False
