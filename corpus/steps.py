"""Pipeline blocks in datatrove's style: small classes, one concern each, composed in a list.

Every medmix block keeps books (see `medmix.corpus.books`): a document that enters leaves kept or removed with a
reason, and removed documents are quarantined, not dropped.
"""

from __future__ import annotations

from pathlib import Path

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from medmix.corpus.books import Books, Removal, StageError


def document_record(doc: Document) -> dict:
    """The JSON form of a document, as written to quarantine files."""
    return {"id": doc.id, "text": doc.text, "metadata": doc.metadata}


class AccountedStep(PipelineStep):
    """A block that knows its stage folder and keeps one `Books` per task."""

    slug: str = "step"  # stable short name, used in ledgers and quarantine paths

    def __init__(self, stage_dir: str | Path, stage: str):
        super().__init__()
        self.stage_dir = Path(stage_dir)
        self.stage = stage

    def open_books(self, rank: int) -> Books:
        return Books(self.stage_dir, self.stage, self.slug, rank)

    def settle(self, books: Books, source: str, chars_in: int, result: Document | Removal,
               quarantined: dict | None) -> Document | None:
        """Book one document that entered this step `chars_in` long: kept (returned, to pass on) or removed
        with its reason, its `quarantined` record going to the quarantine file."""
        books.incoming(source, chars_in)
        if isinstance(result, Removal):
            books.removed(source, result, quarantined, chars_in)
            return None
        books.kept(source, len(result.text), chars_in)
        self.update_doc_stats(result)
        return result


class DocumentStep(AccountedStep):
    """A block that maps each document to itself (possibly edited) or to a `Removal`.

    Subclasses implement `process`, and `prepare` for what they load once per task (models, indexes).
    An exception on one document quarantines that document with reason `error:<ExceptionType>` instead
    of taking down the task; an exception in `prepare` fails the task, since it would fail every document.
    """

    type = "🔧 - MEDMIX"

    def prepare(self) -> None:
        """Load what `process` needs; runs in the worker process, before the first document."""

    def process(self, doc: Document) -> Document | Removal:
        raise NotImplementedError

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self.prepare()
        books = self.open_books(rank)
        for doc in data or ():
            source = doc.metadata.get("source", "")
            original = doc.text  # steps may edit in place; the quarantine keeps what came in
            try:
                with self.track_time():
                    result = self.process(doc)
            except StageError:
                raise
            except Exception as error:  # noqa: BLE001 - one bad document must not stop the task
                result = Removal(f"error:{type(error).__name__}", f"{self.slug} failed on this document")
            if isinstance(result, Document) and not result.text.strip():
                result = Removal("empty_text", f"nothing left after {self.slug}")
            quarantined = document_record(doc) | {"text": original} if isinstance(result, Removal) else None
            if (kept := self.settle(books, source, len(original), result, quarantined)) is not None:
                yield kept
        books.close()
