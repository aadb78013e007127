"""The HTML audit report (medmix.corpus.report): a verdict, the run's facts, charts and readable tables, from
a small audit report built here (the demo's own report is rendered in Chromium in test_build.py)."""

import copy
import re

import pytest

from medmix.corpus.report import html_report


def stage(stage_dir, source, docs_in, docs_removed=0, chars_in=0, chars_removed=0, docs_edited=0, chars_edited=0):
    return {"stage_dir": stage_dir, "source": source, "docs_in": docs_in, "docs_kept": docs_in - docs_removed,
            "docs_removed": docs_removed, "docs_edited": docs_edited, "chars_in": chars_in,
            "chars_kept": chars_in - chars_removed - chars_edited, "chars_removed": chars_removed,
            "chars_edited": chars_edited}


@pytest.fixture
def report() -> dict:
    """An audit of two sources through read, dedup and phi: notes scrubbed by the phi stage, web text deduplicated."""
    return {
        "run_dir": "/runs/small/build", "tolerance_pp": 0.5,
        "run": {"recipe": "small", "seed": 7, "tokenizer_sha256": "ab" * 32, "built": "2026-01-02 03:04 UTC",
                "sequences": 2_000, "seq_len": 512, "medmix_version": "0.1.0"},
        "stages": [stage("00_read", "notes", 1_500, 0, 2_345_678, 0),
                   stage("00_read", "web", 4_000, 3, 9_876_543, 210),
                   stage("01_dedup", "notes", 1_500, 0, 2_345_678, 0),
                   stage("01_dedup", "web", 3_997, 1_200, 9_876_333, 1_000_000),
                   stage("02_phi", "notes", 1_500, 0, 2_345_678, 0, docs_edited=40, chars_edited=321),
                   stage("02_phi", "web", 2_797, 0, 8_876_333, 0)],
        "removals": [{"stage_dir": "00_read", "source": "web", "reason": "malformed_json", "docs": 3, "chars": 210},
                     {"stage_dir": "01_dedup", "source": "web", "reason": "near_duplicate", "docs": 1_000,
                      "chars": 900_000},
                     {"stage_dir": "01_dedup", "source": "web", "reason": "exact_duplicate", "docs": 200,
                      "chars": 100_000}],
        "accounting_problems": [],
        "phi": [{"source": "notes", "label": "NAME", "spans": 1_234}, {"source": "notes", "label": "DATE", "spans": 56}],
        "phi_stage": {"stage_dir": "02_phi", "ran": True, "domains": ["clinical"], "replacement": "tags",
                      "scrubbed_at_read": [], "checked_by_stage": ["notes"]},
        "shares": [{"key": "clinical", "target_pct": 10.0, "realized_pct": 10.2, "delta_pp": 0.2, "tokens": 104_448,
                    "within_tolerance": True},
                   {"key": "general", "target_pct": 90.0, "realized_pct": 89.8, "delta_pp": -0.2, "tokens": 919_552,
                    "within_tolerance": True}],
        "tokens": [{"source": "notes", "domain": "clinical", "docs_cleaned": 1_500, "tokens_cleaned": 600_000,
                    "tokens_validation": 1_024, "tokens_target": 102_400, "repetition_factor": 0.1709, "capped": False,
                    "tokens_in_shards": 104_448},
                   {"source": "web", "domain": "general", "docs_cleaned": 2_797, "tokens_cleaned": 400_000,
                    "tokens_validation": 2_048, "tokens_target": 921_600, "repetition_factor": 2.3157,
                    "capped": False, "tokens_in_shards": 919_552}],
        "mix_warnings": [], "validation": {"valid_clinical": 1_024, "valid_general": 2_048},
    }


def visible_text(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_the_banner_gives_the_verdict_first_then_what_the_run_was_built_from(report):
    page = html_report(report)
    banner = page[page.index("<section class='verdict pass'>"):page.index("</section>")]
    assert "Audit passed" in banner
    text = visible_text(banner)
    assert "every share within ±0.5 pp of its target (largest gap: clinical +0.20 pp)" in text
    assert "balanced" in text and "3 stages" in text
    assert "the phi stage ran (tags), 1,290 spans replaced; residual check by 2. phi: notes" in text
    facts = visible_text(page[page.index("<dl class='facts'>"):page.index("</dl>")])
    for fact in ("Recipe small", "Built 2026-01-02 03:04 UTC", "Seed 7", "Tokenizer sha256 " + "ab" * 32,
                 "medmix 0.1.0", "1,024,000 tokens in 2,000 sequences of 512"):
        assert fact in facts


def test_the_banner_says_what_failed_and_warns_of_a_run_without_phi_scrubbing(report):
    failing = copy.deepcopy(report)
    failing["shares"][0].update(realized_pct=4.0, delta_pp=-6.0, within_tolerance=False)
    failing["accounting_problems"] = ["01_dedup / web: 3997 docs in != 2797 kept + 1100 removed"]
    failing["phi_stage"] = None
    page = html_report(failing)
    banner = visible_text(page[page.index("<section class='verdict fail'>"):page.index("</section>")])
    assert "Audit failed" in banner and "clinical 4.00% against 10.00%" in banner
    assert "Accounts 1 problem, listed at the end of this page" in banner
    assert "the recipe has no phi stage: no source was scrubbed" in banner
    assert "01_dedup / web: 3997 docs in != 2797 kept + 1100 removed" in page[page.index("id='accounts'"):]
    warned = copy.deepcopy(report)
    warned["phi_stage"] = None
    assert "<section class='verdict warn'><h1>Audit passed, with warnings</h1>" in html_report(warned)


def test_an_unfinished_build_fails_and_still_shows_where_its_documents_went(report):
    for key in ("shares", "tokens", "mix_warnings", "validation"):
        del report[key]
    report["run"].update(built=None, sequences=None, seq_len=None)
    page = html_report(report)
    assert "Audit failed" in page and "no training shards yet" in page
    assert "Built not finished" in visible_text(page)
    assert page.count("<svg") == 1  # the funnel, without its tokens panel
    assert "Tokens, after cleaning" not in page


def test_tables_have_human_headers_thousands_separators_and_numbers_on_the_right(report):
    page = html_report(report)
    assert "docs_in" not in page and "tokens_in_shards" not in page and "realized_pct" not in page
    assert "<td class='num'>2,345,678</td>" in page and "<td class='num'>919,552</td>" in page
    assert "<th class='num'>Tokens in training shards</th>" in page  # a number column's header on the right too
    assert "<td>notes</td>" in page  # text on the left
    assert "<td class='num'>×2.32</td>" in page and "<td class='num'>+0.20 pp</td>" in page


def test_stage_rows_where_nothing_happened_are_folded_away(report):
    page = html_report(report)
    main, folded = page[page.index("id='stages'"):].split("<details>", 1)
    assert "<td>0. read</td><td>web</td>" in main and "<td>1. dedup</td><td>web</td>" in main
    assert "<td>2. phi</td><td>notes</td>" in main  # edited: scrubbed
    assert "<td>0. read</td><td>notes</td>" not in main and "<td>2. phi</td><td>web</td>" not in main
    assert "3 rows where a stage passed a source through unchanged" in folded
    assert "<td>0. read</td><td>notes</td>" in folded and "<td>2. phi</td><td>web</td>" in folded


def test_phi_counts_by_type_and_source_and_a_checked_source_without_findings(report):
    report["phi_stage"]["checked_by_stage"].append("web")
    phi = html_report(report).split("id='phi'")[1].split("<h2")[0]
    assert "<th>Source</th><th>Scrubbed</th><th class='num'>DATE</th><th class='num'>NAME</th>" in phi
    assert "<td>notes</td><td>by 2. phi</td><td class='num'>56</td><td class='num'>1,234</td>" in phi
    assert "<td>web</td><td>by 2. phi</td><td class='num'>0</td><td class='num'>0</td>" in phi
    assert "<th>All sources</th><th></th><th class='num'>56</th><th class='num'>1,234</th><th class='num'>1,290</th>" in phi


def test_the_charts_are_inline_svg_with_removal_reasons_on_hover(report):
    page = html_report(report)
    assert page.count("<svg") == 3  # shares per domain; shares and repetition per source; the funnel
    titles = re.findall(r"<title>([^<]*)</title>", page)
    assert ("web: 1,200 documents removed by 1. dedup (30.0% of those read): near_duplicate 1,000; "
            "exact_duplicate 200") in titles
    assert "web: 2.32 passes over 400,000 cleaned tokens → 919,552 in the training shards" in titles
    assert any(t.startswith("clinical: target 10.00%, realized 10.20%") for t in titles)
    ids = re.findall(r' id="([^"]+)"', page)
    assert len(ids) == len(set(ids))  # three charts on one page, no id twice
    assert "web</b>: 1,203 of 4,000 documents removed (30.1%)</summary>" in page  # the reasons, one click away


def test_the_page_is_self_contained_and_the_same_bytes_every_time(report):
    page = html_report(report)
    assert page == html_report(copy.deepcopy(report))
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)  # nothing fetched: opens air-gapped
    assert not re.search(r"url\((?!#)", page)  # no stylesheet or SVG fill fetches anything either
    assert "<dc:date>" not in page  # matplotlib's SVG would carry the time of drawing


def test_a_planned_source_that_read_nothing_is_shown_as_such(report):
    report["tokens"].append({"source": "empty", "domain": "general", "docs_cleaned": 0, "tokens_cleaned": 0,
                             "tokens_validation": 0, "tokens_target": 0, "repetition_factor": 0.0, "capped": False,
                             "tokens_in_shards": 0})
    page = html_report(report)
    assert "<b>empty</b>: 0 of 0 documents removed</p>" in page
    assert page.count(" nothing read</text>") == 2  # documents and characters
