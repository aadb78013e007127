"""Benchmark items read from small files in each format: question, ordered options, gold label, contexts, segments."""

import json

import pytest

from medmix.benchmarks import BenchmarkError, BenchmarkItem, BenchmarkSet, load_items


def write_lines(path, rows) -> str:
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return str(path)


def test_mcq_items_keep_the_option_order_and_the_gold_label(tmp_path):
    path = write_lines(tmp_path / "medqa.jsonl", [
        {"realidx": 7, "question": "Which nerve is injured?", "options": {"B": "Ulnar", "A": "Radial", "C": "Median"},
         "answer_idx": "C", "answer": "Median"},
        "",  # blank lines are skipped, not items
        {"question": "Most common cause of X?", "options": ["Virus", "Bacterium"], "answer": 1},
        {"realidx": "q3", "question": "Drug of choice?", "options": {"A": "Aspirin", "B": "Heparin"}, "answer": "Heparin"},
        {"realidx": "q4", "question": "Unanswered?", "options": {"A": "Yes", "B": "No"}},
    ])
    items = list(load_items(BenchmarkSet(name="medqa", format="mcq_jsonl", path=path)))
    first = items[0]
    assert first == BenchmarkItem("medqa", "7", "Which nerve is injured?", {"B": "Ulnar", "A": "Radial", "C": "Median"}, "C")
    assert list(first.options) == ["B", "A", "C"]
    assert first.segments == ["Which nerve is injured?", "Ulnar", "Radial", "Median"]
    # without an id field the item is named by its line; a list of options is labelled A, B, ...
    assert (items[1].item_id, items[1].options, items[1].answer) == ("3", {"A": "Virus", "B": "Bacterium"}, "B")
    assert items[2].answer == "B"  # an answer given as the option's text
    assert items[3].answer is None


def test_pubmedqa_items_have_contexts_yes_no_maybe_and_the_split(tmp_path):
    data = {
        "111": {"QUESTION": "Does X help?", "CONTEXTS": ["Background one.", "Results two."], "LONG_ANSWER": "It does.",
                "final_decision": "yes"},
        "222": {"QUESTION": "Is Y safe?", "CONTEXTS": "A single context.", "final_decision": "maybe"},
    }
    (tmp_path / "ori_pqal.json").write_text(json.dumps(data))
    (tmp_path / "test_ground_truth.json").write_text(json.dumps({"222": "maybe"}))
    spec = BenchmarkSet(name="pubmedqa", format="pubmedqa", path=str(tmp_path / "ori_pqal.json"))
    first, second = load_items(spec)
    assert (first.item_id, first.question, first.answer) == ("111", "Does X help?", "yes")
    assert first.options == {"yes": "yes", "no": "no", "maybe": "maybe"}
    assert first.contexts == ("Background one.", "Results two.") and first.long_answer == "It does."
    assert first.segments == ["Does X help?", "yes", "no", "maybe", "Background one.", "Results two.", "It does."]
    assert second.contexts == ("A single context.",)
    only_test = spec.model_copy(update={"split_ids": str(tmp_path / "test_ground_truth.json")})
    assert [item.item_id for item in load_items(only_test)] == ["222"]


def test_jsonl_fields_items_take_the_first_field_as_question(tmp_path):
    path = write_lines(tmp_path / "mednli.jsonl", [{"pairID": "p1", "sentence1": "Premise.", "sentence2": "Hypothesis."}])
    spec = BenchmarkSet(name="mednli", format="jsonl_fields", path=path, fields=["sentence1", "sentence2"], id_key="pairID")
    (item,) = load_items(spec)
    assert (item.item_id, item.question, item.contexts, item.options) == ("p1", "Premise.", ("Hypothesis.",), {})
    assert item.segments == ["Premise.", "Hypothesis."]


@pytest.mark.parametrize("line, problem", [
    ('{"question": "Q?", "options": {"A": "a"}', "not valid JSON"),
    ('["Q?"]', "expected a JSON object, got list"),
    ('{"options": {"A": "a"}}', "field 'question' is missing"),
    ('{"question": "Q?", "options": "a or b"}', "'options' must be"),
    ('{"question": "Q?", "options": {"A": "a"}, "answer_idx": "E"}', "the answer 'E' is neither"),
])
def test_a_bad_line_is_one_error_naming_the_file_and_line(tmp_path, line, problem):
    path = write_lines(tmp_path / "bad.jsonl", [{"question": "Fine?", "options": {"A": "a"}}, line])
    with pytest.raises(BenchmarkError) as error:
        list(load_items(BenchmarkSet(name="bad", format="mcq_jsonl", path=path)))
    message = str(error.value)
    assert message.startswith(f"{path}:2: ") and problem in message and "\n" not in message


def test_a_bad_pubmedqa_file_names_the_file_and_the_item(tmp_path):
    path = tmp_path / "ori_pqal.json"
    path.write_text('{\n"1": {"QUESTION": "Q?"},\n"2": {"QUESTION": "Q?"\n')
    spec = BenchmarkSet(name="pubmedqa", format="pubmedqa", path=str(path))
    with pytest.raises(BenchmarkError, match=rf"^{path}:4: not valid JSON"):
        list(load_items(spec))
    path.write_text(json.dumps({"1": {"QUESTION": "Q?", "final_decision": "perhaps"}}))
    with pytest.raises(BenchmarkError, match=rf"^{path}: PMID 1: final_decision 'perhaps' is not one of"):
        list(load_items(spec))
    with pytest.raises(BenchmarkError, match="cannot read the benchmark file"):
        list(load_items(spec.model_copy(update={"path": str(tmp_path / "missing.json")})))


def test_the_real_benchmark_files_read_whole_with_a_gold_answer_for_every_item(shared):
    for file, fmt, count in (("medqa_usmle_test.jsonl", "mcq_jsonl", 1273), ("medmcqa_dev.jsonl", "mcq_jsonl", 2816),
                             ("mmlu_medical_test.jsonl", "mcq_jsonl", 1089), ("ori_pqal.json", "pubmedqa", 1000)):
        items = list(load_items(BenchmarkSet(name="b", format=fmt, path=str(shared / "benchmarks" / file))))
        assert len(items) == count == len({item.item_id for item in items})
        assert all(item.answer in item.options and item.question for item in items)
