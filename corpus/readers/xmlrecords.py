"""Streaming split of a large XML file into its top-level records, each parsed on its own.

Parsing a 30 MB PubMed file as one tree costs memory, and one malformed article makes the whole file
unparseable. Splitting on record tags first keeps memory constant and confines a syntax error to the
record that has it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from lxml import etree

CHUNK_BYTES = 1 << 20

# No DTDs, no entities from outside, no network: records are parsed as self-contained XML.
SAFE_PARSER = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=True)


class TruncatedRecord(Exception):
    """The input ended inside a record."""


# Comments, CDATA sections and processing instructions may contain anything, record tags included.
SKIPPED = rb"(?P<skip><!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>)"
UNFINISHED = rb"(?P<more><!--|<!\[CDATA\[|<\?)"  # the start of one of those whose end is not read yet
TAIL_BYTES = 256  # a tag may straddle two chunks


def _find(pattern: re.Pattern, buffer: bytes, position: int) -> re.Match | None:
    """The next `tag` or `more` match at or after `position`, stepping over skipped regions."""
    while (match := pattern.search(buffer, position)) and match.lastgroup == "skip":
        position = match.end()
    return match


def iter_records(stream: BinaryIO, tags: tuple[str, ...], head: bytes = b"") -> Iterator[tuple[str, bytes]]:
    """Yield `(tag, raw bytes)` for each element named in `tags`, in file order.

    Elements must not nest inside another element of the same tag (true for PubMed's records).
    `head` is data already read from the stream. Raises `TruncatedRecord` when the stream ends
    inside a record.
    """
    names = b"|".join(re.escape(t.encode()) for t in tags)
    opening = re.compile(SKIPPED + rb"|<(?P<tag>" + names + rb")[\s/>]|" + UNFINISHED, re.S)
    closings: dict[bytes, re.Pattern] = {}
    buffer, position, start = head, 0, None  # start: offset of the record being read, if any
    while True:
        if start is None:
            match = _find(opening, buffer, position)
            if match and match.lastgroup == "tag":
                start, tag = match.start(), match.group("tag")
                position = match.end() - 1
            elif match:  # an unfinished comment: wait for its end
                position = match.start()
            else:
                position = max(position, len(buffer) - TAIL_BYTES)
        if start is not None:
            start_tag_end = buffer.find(b">", position)
            if start_tag_end != -1 and buffer[start_tag_end - 1:start_tag_end] == b"/":  # <Tag ... />
                end = start_tag_end + 1
            elif start_tag_end != -1:
                closing = closings.setdefault(tag, re.compile(SKIPPED + rb"|(?P<tag></" + re.escape(tag) + rb"\s*>)|"
                                                              + UNFINISHED, re.S))
                match = _find(closing, buffer, start_tag_end)
                end = match.end() if match and match.lastgroup == "tag" else -1
            else:
                end = -1
            if end != -1:
                yield tag.decode(), buffer[start:end]
                start, position = None, end
                continue
        # need more data: drop what is behind us, then read on
        keep = start if start is not None else position
        buffer, position = buffer[keep:], position - keep
        start = 0 if start is not None else None
        chunk = stream.read1(CHUNK_BYTES)  # read1: a truncated file still yields every byte before the break
        if not chunk:
            if start is not None:
                raise TruncatedRecord(f"input ended inside a <{tag.decode()}> record")
            return
        buffer += chunk


def parse_record(raw: bytes) -> etree._Element:
    return etree.fromstring(raw, SAFE_PARSER)


def text_of(element: etree._Element | None) -> str:
    """All text inside an element (inline markup such as <i> or <sup> flattened), whitespace-trimmed."""
    if element is None:
        return ""
    return "".join(element.itertext()).strip()


def syntax_error_summary(error: etree.XMLSyntaxError) -> str:
    """lxml's message names tags and positions, not content, so it is safe to record."""
    return str(error).splitlines()[0][:200]
