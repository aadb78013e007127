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


def iter_records(stream: BinaryIO, tags: tuple[str, ...], head: bytes = b"") -> Iterator[tuple[str, bytes]]:
    """Yield `(tag, raw bytes)` for each element named in `tags`, in file order.

    Elements must not nest inside another element of the same tag (true for PubMed's records).
    `head` is data already read from the stream. Raises `TruncatedRecord` when the stream ends
    inside a record.
    """
    opening = re.compile(rb"<(" + b"|".join(t.encode() for t in tags) + rb")[\s>/]")
    buffer, position = head, 0
    while True:
        match = opening.search(buffer, position)
        if match:
            tag = match.group(1)
            if buffer[match.start():].startswith(b"<" + tag + b"/>"):  # empty element
                end = match.start() + len(tag) + 3
            else:
                close = buffer.find(b"</" + tag + b">", match.end())
                end = close + len(tag) + 3 if close != -1 else -1
            if end != -1:
                yield tag.decode(), buffer[match.start():end]
                position = end
                continue
            buffer, position = buffer[match.start():], 0  # keep the open record, drop what came before
        else:
            keep = max(len(buffer) - 64, position)  # a tag may straddle the chunk boundary
            buffer, position = buffer[keep:], 0
        chunk = stream.read1(CHUNK_BYTES)  # read1: a truncated file still yields every byte before the break
        if not chunk:
            if match:
                raise TruncatedRecord(f"input ended inside a <{match.group(1).decode()}> record")
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
