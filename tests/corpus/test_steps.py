"""Document steps: every document leaves kept or removed with a reason, and edits are accounted for."""

from datatrove.data import Document

from medmix.corpus.books import Removal
from medmix.corpus.stages.length_filter import LengthFilter
from medmix.corpus.steps import DocumentStep


def docs(*texts):
    return [Document(text=t, id=str(i), metadata={"source": "web" if i % 2 else "pmc"}) for i, t in enumerate(texts)]


class Shout(DocumentStep):
    """A toy editing step: strips and upper-cases, refuses documents that mention a banned word."""

    slug = "shout"

    def process(self, doc):
        if "banned" in doc.text:
            raise ValueError("cannot shout this")
        if "drop" in doc.text:
            return Removal("dropped", "asked to")
        doc.text = doc.text.strip().upper()
        return doc


def test_length_filter_removes_short_and_long_with_reasons(tmp_path, run_step):
    result = run_step(LengthFilter(tmp_path, "length_filter", min_chars=5, max_chars=20),
                      iter(docs("ok?", "just right", "x" * 21, "   four   ")))
    assert [d.id for d in result.docs] == ["1"]
    assert result.reasons() == {"too_short": 2, "too_long": 1}
    assert {r["id"]: r["detail"] for r in result.removed}["2"] == "21 > 20 characters"


def test_edits_errors_and_emptied_documents_are_all_in_the_books(tmp_path, run_step):
    result = run_step(Shout(tmp_path, "shout"), iter(docs("  hello  ", "banned words", "please drop", "    ", "fine")))
    assert [(d.id, d.text) for d in result.docs] == [("0", "HELLO"), ("4", "FINE")]
    assert result.reasons() == {"error:ValueError": 1, "dropped": 1, "empty_text": 1}
    # the exception's message never reaches the books; the document itself is quarantined whole
    assert all("cannot shout" not in r["detail"] for r in result.removed)
    assert {r["id"]: r["text"] for r in result.removed} == {"1": "banned words", "2": "please drop", "3": "    "}
    rows = {(r["source"], r["outcome"]): r for r in result.ledger if r["outcome"] != "removed"}
    assert rows[("pmc", "edited")]["docs"] == 1 and rows[("pmc", "edited")]["chars"] == 4  # "  hello  " -> "HELLO"
    for source in ("pmc", "web"):
        total = {o: sum(r["chars"] for r in result.ledger if r["source"] == source and r["outcome"] == o)
                 for o in ("in", "kept", "removed", "edited")}
        assert total["in"] == total["kept"] + total["removed"] + total["edited"]
