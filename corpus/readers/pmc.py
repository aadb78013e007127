"""PubMed Central Open Access full texts in JATS / NLM archiving XML (`.nxml`, `.xml`).

Files are read loose, or from inside the OA `.tar.gz` packages (one article per package, or the
bulk packages with thousands). The text is the title, the abstract and the body sections with their
headings. Reference lists, tables, figure captions and formulas are dropped unless the recipe keeps them.
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Iterator

from datatrove.data import Document
from lxml import etree

from medmix.corpus.readers.base import Rejected, SourceReader
from medmix.corpus.readers.xmlrecords import parse_record, syntax_error_summary, text_of

ARTICLE_SUFFIXES = (".nxml", ".xml")
YEAR = re.compile(r"(1[6-9]\d\d|20\d\d)")
WHITESPACE = re.compile(r"\s+")
# Blocks that never belong in the text, whatever the options.
ALWAYS_DROPPED = {"supplementary-material", "graphic", "media", "object-id"}
MINOR_ABSTRACTS = {"graphical", "teaser", "toc", "web-summary"}
# Elements rendered as one paragraph each; any other element is treated as a container of blocks.
PARAGRAPHS = {"title", "p", "label", "statement", "disp-formula", "speech", "verse-group", "term", "def",
              "attrib"}


def local_name(element: etree._Element) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


class JatsText:
    """Renders a JATS article as plain text, honouring which optional blocks to keep."""

    def __init__(self, keep_tables: bool, keep_figure_captions: bool, keep_formulas: bool, keep_references: bool):
        self.dropped = set(ALWAYS_DROPPED)
        if not keep_tables:
            self.dropped |= {"table-wrap", "table-wrap-group", "table"}
        if not keep_figure_captions:
            self.dropped |= {"fig", "fig-group"}
        if not keep_formulas:
            self.dropped |= {"disp-formula", "inline-formula", "disp-formula-group", "tex-math", "math"}
        self.keep_references = keep_references

    def inline(self, element: etree._Element) -> str:
        """Text of an element with dropped children removed but their tails kept."""
        parts = [element.text or ""]
        for child in element:
            if local_name(child) not in self.dropped:
                parts.append(self.inline(child))
            parts.append(child.tail or "")
        return WHITESPACE.sub(" ", "".join(parts)).strip()

    def blocks(self, element: etree._Element) -> Iterator[str]:
        """Headings and paragraphs of a section-like element, in document order."""
        for child in element:
            name = local_name(child)
            if name in self.dropped:
                continue
            if name in PARAGRAPHS:
                if text := self.inline(child):
                    yield text
            elif name == "list":
                yield from self.list_items(child)
            elif name == "table":
                yield "\n".join(" | ".join(self.inline(cell) for cell in row) for row in child.iter("{*}tr"))
            else:  # sections, boxes, figures, table wrappers, captions: containers of blocks
                yield from self.blocks(child)

    def list_items(self, element: etree._Element) -> Iterator[str]:
        for item in element.iterfind("{*}list-item"):
            if text := " ".join(self.blocks(item)):
                yield f"- {text}"

    def references(self, back: etree._Element | None) -> Iterator[str]:
        if back is None or not self.keep_references:
            return
        for ref in back.iterfind(".//{*}ref"):
            if text := self.inline(ref):
                yield text

    def render(self, article: etree._Element) -> str:
        meta = article.find("{*}front/{*}article-meta")
        title = self.inline(meta.find("{*}title-group/{*}article-title")) if meta is not None else ""
        blocks = [title] if title else []
        if (abstract := main_abstract(meta)) is not None:
            blocks += ["Abstract", *self.blocks(abstract)]
        body = article.find("{*}body")
        if body is not None:
            blocks += list(self.blocks(body))
        if refs := list(self.references(article.find("{*}back"))):
            blocks += ["References", *refs]
        return "\n\n".join(blocks)


def main_abstract(meta: etree._Element | None) -> etree._Element | None:
    """The untyped abstract, else the first typed one that is not a graphical or teaser blurb."""
    abstracts = [] if meta is None else meta.findall("{*}abstract")
    ranked = sorted(abstracts, key=lambda a: a.get("abstract-type") is not None)
    return next((a for a in ranked if a.get("abstract-type") not in MINOR_ABSTRACTS), None)


def article_ids(meta: etree._Element | None) -> dict[str, str]:
    if meta is None:
        return {}
    return {(aid.get("pub-id-type") or ""): text_of(aid) for aid in meta.iterfind("{*}article-id")}


def article_year(meta: etree._Element | None) -> int | None:
    if meta is None:
        return None
    dates = meta.findall("{*}pub-date")
    preferred = sorted(dates, key=lambda d: {"ppub": 0, "epub": 1, "collection": 2}.get(d.get("pub-type"), 3))
    for date in preferred:
        if match := YEAR.search(text_of(date.find("{*}year"))):
            return int(match.group(1))
    return None


class PmcReader(SourceReader):
    """One document per PMC article, from loose files or `.tar.gz` packages."""

    name = "📖 PMC JATS"

    def __init__(self, *args, keep_tables: bool = False, keep_figure_captions: bool = False,
                 keep_formulas: bool = False, keep_references: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.renderer = JatsText(keep_tables, keep_figure_captions, keep_formulas, keep_references)

    def records(self, path: str) -> Iterator[Document | Rejected]:
        if path.endswith((".tar.gz", ".tgz", ".tar")):
            with tarfile.open(path, "r:*") as archive:
                for member in archive:
                    if member.isfile() and member.name.endswith(ARTICLE_SUFFIXES):
                        yield from self.articles(archive.extractfile(member).read(), f"{path}!{member.name}")
        else:
            with open(path, "rb") as handle:
                yield from self.articles(handle.read(), path)

    def articles(self, raw: bytes, location: str) -> Iterator[Document | Rejected]:
        """Every <article> of one XML file: usually one, several in a <pmc-articleset>."""
        try:
            root = parse_record(raw)
        except etree.XMLSyntaxError as error:
            yield Rejected("malformed_xml", f"{location}: {syntax_error_summary(error)}",
                           raw=raw.decode("utf-8", "replace"), metadata={"file": location})
            return
        articles = [root] if local_name(root) == "article" else root.findall(".//{*}article")
        if not articles:
            yield Rejected("not_an_article", f"{location} holds no <article>", metadata={"file": location})
        for article in articles:
            yield self.article(article, location)

    def article(self, article: etree._Element, location: str) -> Document:
        meta = article.find("{*}front/{*}article-meta")
        ids = article_ids(meta)
        pmcid = ids.get("pmc") or ids.get("pmcid") or ""
        if pmcid and not pmcid.startswith("PMC"):
            pmcid = f"PMC{pmcid}"
        metadata = {
            "pmcid": pmcid or None,
            "pmid": ids.get("pmid") or None,
            "doi": ids.get("doi") or None,
            "year": article_year(meta),
            "article_type": article.get("article-type"),
            "text_type": "full_text",
        }
        return Document(text=self.renderer.render(article), id=pmcid or location, metadata=metadata)
