"""Decontamination: which item a removal names, how containment is counted, and what is not contamination."""

import json
import random

from datatrove.data import Document

from medmix.benchmarks import BenchmarkItem, BenchmarkSet, load_items
from medmix.corpus.stages.decontaminate import BenchmarkIndex, Decontaminate

VITALS = ("Her temperature is 37°C (98.6°F), pulse is 82/min, respirations are 20/min, and blood pressure is "
          "130/80 mm Hg. Physical examination shows no abnormalities.")


def words_of(rng: random.Random, count: int) -> str:
    """Made-up words that no other text shares by chance."""
    return " ".join(f"w{rng.randrange(10**9)}" for _ in range(count))


def five_grams(text: str) -> set[tuple[str, ...]]:
    tokens = text.lower().split()
    return {tuple(tokens[i:i + 5]) for i in range(len(tokens) - 4)}


def item(number: int, question: str) -> BenchmarkItem:
    return BenchmarkItem("medqa", str(number), question, {"A": "Aspirin", "B": "Heparin"}, "A")


def test_the_removal_names_the_copied_item_and_its_score(tmp_path, run_step):
    rng = random.Random(0)
    shared = words_of(rng, 20)  # a phrase that the first item shares with the copied one
    questions = [f"{words_of(rng, 60)} {shared}", f"{shared} {words_of(rng, 40)}"]
    path = tmp_path / "medqa.jsonl"
    path.write_text("".join(json.dumps({"realidx": n, "question": q, "options": {"A": "yes", "B": "no"}}) + "\n"
                            for n, q in enumerate(questions)))
    step = Decontaminate(tmp_path / "decon", "decontaminate", [BenchmarkSet(name="medqa", format="mcq_jsonl", path=str(path))])
    copy = Document(text=f"Seen on a forum. {questions[1]} Which is it?", id="copy", metadata={"source": "web"})
    result = run_step(step, iter([copy]))
    (removed,) = result.removed
    size = len(five_grams(questions[1]))
    assert removed["reason"] == "benchmark:medqa"
    assert removed["detail"] == f"item 1: 100% of its question's 5-grams ({size} of {size})"


def test_containment_credits_every_item_that_shares_a_five_gram():
    rng = random.Random(1)
    middle = words_of(rng, 40)
    first, second = item(0, f"{middle} {words_of(rng, 80)}"), item(1, f"{words_of(rng, 40)} {middle}")
    index = BenchmarkIndex([first, second])
    copied = index.best(second.question)
    assert copied.item is second and copied.shared == copied.size == len(five_grams(second.question))
    # a text holding the shared stretch and a little of the second item: both shares are exact
    own = second.question.split()[30:40]
    text = " ".join([*own, middle])
    for candidate in (first, second):
        expected = len(five_grams(candidate.question) & five_grams(text)) / len(five_grams(candidate.question))
        assert abs(BenchmarkIndex([candidate]).best(text).score - expected) < 1e-9
    assert index.best(text).item is second and index.best(text).score > 0.5


def test_a_note_sharing_only_vignette_phrases_with_items_is_kept():
    rng = random.Random(2)
    items = [item(n, f"A {30 + n}-year-old woman comes to the physician. {words_of(rng, 80)} {VITALS} "
                     f"{words_of(rng, 80)} Which of the following is the most likely diagnosis?") for n in range(3)]
    index = BenchmarkIndex(items)
    note = (f"Progress note. {words_of(rng, 80)} {VITALS} {words_of(rng, 40)} A 61-year-old woman comes to the "
            f"physician. Which of the following is the most likely diagnosis? {words_of(rng, 40)}")
    best = index.best(note)
    assert best is not None and best.shared >= 10  # it does share a long stretch with every item...
    assert best.score < 0.25 and index.match(note) is None  # ...but a small part of any one of them


def test_an_edited_copy_is_removed_and_named_even_deep_in_a_long_document():
    rng = random.Random(3)
    items = [item(n, words_of(rng, 120)) for n in range(50)]
    index = BenchmarkIndex(items)
    tokens = items[17].question.split()
    for position in rng.sample(range(len(tokens)), len(tokens) // 10):  # one word in ten replaced
        tokens[position] = "changed"
    edited = " ".join(tokens)
    for text in (edited, f"{words_of(rng, 5000)} {edited} {words_of(rng, 100)}"):
        found = index.match(text)
        assert found is not None and found.item is items[17] and 0.4 < found.score < 1
    assert index.match(words_of(rng, 5000)) is None


def test_a_short_question_is_matched_by_all_its_words_in_a_row():
    """PubMedQA's questions are often article titles under 8 words, too short for 4 shared 5-grams."""
    rng = random.Random(5)
    short = BenchmarkItem("pubmedqa", "7", "Does quilting suture prevent seroma in abdominoplasty?", contexts=(words_of(rng, 80),))
    three = BenchmarkItem("pubmedqa", "8", "Is halofantrine ototoxic?", contexts=(words_of(rng, 80),))
    index = BenchmarkIndex([short, three, *(item(n, words_of(rng, 60)) for n in range(20))])
    host = words_of(rng, 300)
    found = index.match(f"{host[:2000]} DOES QUILTING SUTURE PREVENT SEROMA IN ABDOMINOPLASTY? {host[2000:]}")
    assert found is not None and found.item is short and found.describe() == "item 7: its whole question (7 of 7 words)"
    assert index.match(f"{host} does quilting suture prevent seroma after abdominoplasty") is None  # one word differs
    assert index.match(f"{host} in abdominoplasty does quilting suture prevent seroma") is None  # another order
    assert index.match(f"{host} Is halofantrine ototoxic?") is None  # 3 words say too little (see the stage's docstring)


def test_stems_common_questions_and_shared_questions_are_not_matched_whole():
    """Ordinary text completes a stem, a question of common words is on quiz pages everywhere, and a question that
    two items share names neither of them."""
    rng = random.Random(7)
    stems = ["Codons are composed of", "The pyruvate dehydrogenase complex", "Which of the following is true?",
             "Is it better to be big?", "Is amoxapine an atypical antipsychotic?", "Is amoxapine an atypical antipsychotic?"]
    index = BenchmarkIndex([BenchmarkItem("medmcqa", str(n), stem, {"A": "yes", "B": "no"}, "A")
                            for n, stem in enumerate(stems)])
    for text in ("Codons are composed of three nucleotides.", "Pyruvate is oxidized by the pyruvate dehydrogenase "
                 "complex to acetyl-CoA.", "Quiz. Which of the following is true? Is it better to be big?",
                 "Review: is amoxapine an atypical antipsychotic? We think so."):
        assert index.match(f"{words_of(rng, 100)} {text} {words_of(rng, 100)}") is None, text


def test_a_question_whose_five_grams_are_all_boilerplate_is_matched_whole():
    """8 words, but its first 5-gram is shared by more than three items: with 3 specific 5-grams left,
    containment (4 at least) can never see it."""
    rng = random.Random(6)
    opening = "is there a relationship between"
    items = [BenchmarkItem("pubmedqa", str(n), f"{opening} {words_of(rng, 1)} and {words_of(rng, 1)}?",
                           contexts=(words_of(rng, 80),)) for n in range(5)]
    index = BenchmarkIndex(items)
    assert index.match(f"{words_of(rng, 200)} {items[3].question} {words_of(rng, 200)}").item is items[3]
    assert index.match(f"{words_of(rng, 200)} {opening} diet and sleep? {words_of(rng, 200)}") is None


def test_flagging_records_the_item_segment_and_score(tmp_path, run_step):
    rng = random.Random(4)
    data = {"123": {"QUESTION": "Does this made-up treatment help?", "CONTEXTS": [words_of(rng, 80), words_of(rng, 60)],
                    "LONG_ANSWER": words_of(rng, 30), "final_decision": "yes"}}
    (tmp_path / "ori_pqal.json").write_text(json.dumps(data))
    spec = BenchmarkSet(name="pubmedqa", format="pubmedqa", path=str(tmp_path / "ori_pqal.json"))
    step = Decontaminate(tmp_path / "decon", "decontaminate", [spec], action="flag")
    abstract = Document(text=data["123"]["CONTEXTS"][1], id="pmid", metadata={"source": "pubmed"})
    (kept,) = run_step(step, iter([abstract])).docs
    assert kept.metadata["contamination"] == {"benchmark": "pubmedqa", "item": "123", "segment": "context 2", "score": 1.0}


def test_real_mmlu_professional_medicine_is_not_taken_for_medqa(shared):
    """Same exam style, same template phrases, different questions: at most 1% may be removed (issue 14)."""
    path = shared / "benchmarks" / "mmlu_medical_test.jsonl"
    professional = {str(row["realidx"]) for row in map(json.loads, open(path)) if row["subject"] == "professional_medicine"}
    mmlu = [i for i in load_items(BenchmarkSet(name="mmlu", format="mcq_jsonl", path=str(path))) if i.item_id in professional]
    medqa = BenchmarkIndex(list(load_items(BenchmarkSet(name="medqa", format="mcq_jsonl",
                                                        path=str(shared / "benchmarks" / "medqa_usmle_test.jsonl")))))
    texts = ["\n".join([i.question, *(f"{label}. {text}" for label, text in i.options.items())]) for i in mmlu]
    assert len(texts) == 272
    assert sum(medqa.match(text) is not None for text in texts) <= 2
    # while the same real MedQA questions, with one word in five replaced, are still found
    rng = random.Random(5)
    caught = 0
    for copied in medqa.items[:100]:
        tokens = copied.question.split()
        for position in rng.sample(range(len(tokens)), len(tokens) // 5):
            tokens[position] = rng.choice(["several", "perhaps", "notably", "currently"])
        caught += (found := medqa.match(" ".join(tokens))) is not None and found.item is copied
    assert caught >= 85
