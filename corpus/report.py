"""The audit as a page a data engineer reads: `html_report` turns the dict of `medmix.corpus.audit.audit`
into one self-contained HTML file.

The page has to open on an air-gapped review machine, so it is one file with no script and no external
stylesheet, font or image. Its charts are matplotlib's SVG output, inlined; each bar carries its figures
and removal reasons in an SVG <title>, shown on hover. The same report gives the same bytes, because the
audit is compared byte for byte between runs: matplotlib's ids are salted with a fixed string, its SVG
carries no date, and the run's date comes from the run directory.

The page, top to bottom: a verdict banner and what the run was built from; the mix (target against
realized shares, repetition per source); where each source's documents went, stage by stage, down to
the tokens in the shards; PHI counts; the stage table.
"""

from __future__ import annotations

import html
import io
import re
from collections import defaultdict
from contextlib import contextmanager

import matplotlib
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from medmix.corpus.audit import failures

TARGET, KEPT, VALIDATION, SHARDS, EDITED = "#a9b4c2", "#2f6fde", "#a9c4f2", "#173c80", "#d0d4da"
# one colour per stage that removed something: matplotlib's tab10 without its blue, which means "kept"
STAGE_COLOURS = ("#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#7f7f7f")


class Num(str):
    """A table cell holding a formatted number: right-aligned, in tabular figures."""


def count(value: int) -> Num:
    return Num(f"{value:,}")


def compact(value: float) -> str:
    """A count for a chart label: 941, 52k, 1.2M."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            scaled = value / limit
            return f"{scaled:.1f}{suffix}" if scaled < 10 else f"{scaled:.0f}{suffix}"
    return f"{value:.0f}"


def stage_label(stage_dir: str) -> str:
    """`06_dedup` -> `6. dedup`: the stage's place in the pipeline and its kind, in words."""
    number, kind = stage_dir.split("_", 1)
    return f"{int(number)}. {kind.replace('_', ' ')}"


# --------------------------------------------------------------------------------------------- tables


def table(headers: list[str], rows: list[list], footer: list | None = None,
          groups: list[tuple[str, int]] | None = None) -> str:
    """An HTML table: numbers (`Num`) right-aligned, text left, and each header aligned as its column;
    `groups` (label, columns spanned) adds a header row above the column headers."""
    if not rows:
        return "<p class='none'>none</p>"
    numeric = [any(isinstance(row[i], Num) for row in rows) for i in range(len(headers))]

    def cells(row: list, tag: str) -> str:
        return "".join(f"<{tag} class='num'>{html.escape(str(v))}</{tag}>" if numeric[i]
                       else f"<{tag}>{html.escape(str(v))}</{tag}>" for i, v in enumerate(row))

    body = "".join(f"<tr>{cells(row, 'td')}</tr>" for row in rows)
    foot = f"<tfoot><tr>{cells(footer, 'th')}</tr></tfoot>" if footer else ""
    top = "<tr>" + "".join(f"<th colspan='{span}' class='group'>{html.escape(label)}</th>"
                           for label, span in groups) + "</tr>" if groups else ""
    return f"<table><thead>{top}<tr>{cells(headers, 'th')}</tr></thead><tbody>{body}</tbody>{foot}</table>"


# --------------------------------------------------------------------------------------------- charts


@contextmanager
def chart_style(name: str):
    """matplotlib settings for one chart. The hash salt makes the SVG's ids the same on every run (and
    different between the charts of one page); text stays text, in the page's own sans-serif font."""
    with matplotlib.rc_context({"svg.hashsalt": f"medmix-audit-{name}", "svg.fonttype": "none",
                                "font.family": "sans-serif", "font.size": 9, "axes.spines.top": False,
                                "axes.spines.right": False, "axes.titlesize": 10, "axes.titleweight": "bold",
                                "axes.titlelocation": "left"}):
        yield


def svg(figure: Figure, name: str, titles: dict[str, str]) -> str:
    """The figure as SVG to inline into the page, with `titles` (artist gid -> text) as hover tooltips.

    matplotlib's `Figure` is used without pyplot, so no backend or display is touched: it draws with the
    SVG backend by itself, as under `matplotlib.use("Agg")`, without changing a caller's backend. The
    groups matplotlib numbers itself (`axes_1`, ...) get the chart's name, so ids stay unique on the page."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    drawn = buffer.getvalue()
    drawn = drawn[drawn.index("<svg"):]  # inline SVG in HTML takes no XML declaration or DOCTYPE
    drawn = re.sub(r'id="([A-Za-z][A-Za-z0-9.]*_\d+)"', rf'id="{name}-\1"', drawn)
    for gid, text in titles.items():
        opening = f'<g id="{gid}">'
        if drawn.count(opening) != 1:
            raise ValueError(f"chart element {gid} not drawn once")
        drawn = drawn.replace(opening, f"{opening}\n   <title>{html.escape(text)}</title>")
    return drawn


def figure_rows(rows: int, panels: int, width: float = 10.5, row_inches: float = 0.42) -> tuple[Figure, list]:
    """A figure of `panels` side by side that share their rows (one per source or domain), the first on top."""
    figure = Figure(figsize=(width, 0.9 + row_inches * rows), layout="constrained")
    axes = figure.subplots(1, panels, sharey=True, squeeze=False)[0]
    for ax in axes:
        ax.set_ylim(rows - 0.5, -0.5)
        ax.tick_params(axis="y", length=0)
        ax.grid(axis="x", color="#e5e7eb", linewidth=0.6)
        ax.set_axisbelow(True)
    return figure, list(axes)


def share_panel(ax, labels: list[str], targets: list[float], realized: list[float], tips: list[str],
                name: str, titles: dict[str, str]) -> None:
    """Target (grey) above realized (blue) share per row, each bar labelled with its percentage."""
    for row, (target, actual, tip) in enumerate(zip(targets, realized, tips)):
        for offset, value, colour, kind in ((-0.19, target, TARGET, "target"), (0.19, actual, KEPT, "realized")):
            bar = ax.barh(row + offset, value, height=0.36, color=colour)[0]
            bar.set_gid(f"{name}-{kind}-{row}")
            titles[bar.get_gid()] = tip
            ax.text(value, row + offset, f" {value:.2f}%", va="center", fontsize=8)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlim(0, max(targets + realized + [1]) * 1.18)
    ax.xaxis.set_major_formatter("{x:.0f}%")


def domain_rows(tokens: list[dict]) -> list[dict]:
    """Target and realized tokens per domain, summed over its sources, in the recipe's order."""
    rows: dict[str, dict] = {}
    for row in tokens:
        domain = rows.setdefault(row["domain"], {"target": 0, "realized": 0})
        domain["target"] += row["tokens_target"]
        domain["realized"] += row["tokens_in_shards"]
    return [{"key": key, **values} for key, values in rows.items()]


def mix_charts(report: dict) -> str:
    """Per domain, then per source: target against realized share of the training tokens; beside the
    sources, the repetition factor (passes over their cleaned tokens)."""
    tokens = report["tokens"]
    target_total = sum(r["tokens_target"] for r in tokens) or 1
    realized_total = sum(r["tokens_in_shards"] for r in tokens) or 1
    parts = []
    for name, rows in (("domains", domain_rows(tokens)),
                       ("sources", [{"key": r["source"], "target": r["tokens_target"],
                                     "realized": r["tokens_in_shards"]} for r in tokens])):
        targets = [100 * r["target"] / target_total for r in rows]
        realized = [100 * r["realized"] / realized_total for r in rows]
        tips = [f"{r['key']}: target {t:.2f}%, realized {a:.2f}% ({a - t:+.2f} pp); "
                f"{r['realized']:,} of {realized_total:,} training tokens" for r, t, a in zip(rows, targets, realized)]
        titles: dict[str, str] = {}
        with chart_style(f"mix-{name}"):
            figure, axes = figure_rows(len(rows), 2 if name == "sources" else 1, row_inches=0.55)
            share_panel(axes[0], [r["key"] for r in rows], targets, realized, tips, f"mix-{name}", titles)
            axes[0].set_title(f"Share of the training tokens per {name[:-1]}")
            if name == "sources":
                repetition_panel(axes[1], tokens, titles)
            figure.legend(handles=[Patch(color=TARGET, label="target share (recipe)"),
                                   Patch(color=KEPT, label="realized share (read from the training shards)")],
                          loc="outside lower center", ncols=2, frameon=False)
            parts.append(svg(figure, f"mix-{name}", titles))
    return "".join(f"<figure>{part}</figure>" for part in parts)


def repetition_panel(ax, tokens: list[dict], titles: dict[str, str]) -> None:
    """Passes over each source's cleaned training tokens: above 1 repeats it, below 1 down-samples it."""
    for row, source in enumerate(tokens):
        factor = source["repetition_factor"]
        bar = ax.barh(row, factor, height=0.5, color=SHARDS if not source["capped"] else STAGE_COLOURS[2])[0]
        bar.set_gid(f"repetition-{row}")
        titles[bar.get_gid()] = (f"{source['source']}: {factor:.2f} passes over {source['tokens_cleaned']:,} cleaned "
                                 f"tokens → {source['tokens_in_shards']:,} in the training shards"
                                 + (" (capped at mix.max_repeats)" if source["capped"] else ""))
        ax.text(factor, row, f" ×{factor:.2f}" + (" capped" if source["capped"] else ""), va="center", fontsize=8)
    ax.axvline(1, color="#6b7280", linestyle="--", linewidth=0.8)
    ax.set_xlim(0, max([r["repetition_factor"] for r in tokens] + [1]) * 1.25)
    ax.set_title("Repetition (passes; dashed: one)")


def source_order(report: dict) -> list[str]:
    """Sources in the mix plan's order (the recipe's), then any others the ledgers name."""
    planned = [r["source"] for r in report.get("tokens", [])]
    return planned + sorted({r["source"] for r in report["stages"]} - set(planned))


def funnel(report: dict) -> dict:
    """Per source: what was read, what each stage removed (with reasons), what was edited away and what
    reached tokenization, in documents and characters, from the stage rows and removal reasons."""
    per_source: dict[str, dict] = defaultdict(lambda: {"read": None, "removed": {}, "edited": 0, "kept": None})
    for row in report["stages"]:  # sorted by stage: the first row of a source is its read
        flow = per_source[row["source"]]
        if flow["read"] is None:
            flow["read"] = {"docs": row["docs_in"], "chars": row["chars_in"]}
        if row["docs_removed"] or row["chars_removed"]:
            flow["removed"][row["stage_dir"]] = {"docs": row["docs_removed"], "chars": row["chars_removed"],
                                                 "reasons": []}
        flow["edited"] += row["chars_edited"]
        flow["kept"] = {"docs": row["docs_kept"], "chars": row["chars_kept"]}
    for removal in report["removals"]:
        per_source[removal["source"]]["removed"][removal["stage_dir"]]["reasons"].append(removal)
    for source in source_order(report):  # a planned source whose input held nothing has no ledger rows
        flow = per_source[source]
        flow["read"] = flow["read"] or {"docs": 0, "chars": 0}
        flow["kept"] = flow["kept"] or {"docs": 0, "chars": 0}
    return dict(per_source)


def funnel_chart(report: dict) -> str:
    """Where each source's documents and characters went, as shares of what was read: kept (blue) or
    removed by a stage (its colour), then the tokens after cleaning against those in the training shards."""
    sources, flows = source_order(report), funnel(report)
    stages = sorted({stage for flow in flows.values() for stage in flow["removed"]})
    colours = {stage: STAGE_COLOURS[i % len(STAGE_COLOURS)] for i, stage in enumerate(stages)}
    tokens = {r["source"]: r for r in report.get("tokens", [])}
    titles: dict[str, str] = {}
    with chart_style("funnel"):
        figure, axes = figure_rows(len(sources), 3 if tokens else 2, width=11)
        for unit, ax in zip(("docs", "chars"), axes):
            noun = "documents" if unit == "docs" else "characters"
            for row, source in enumerate(sources):
                flow = flows[source]
                read = flow["read"][unit]
                if not read:
                    ax.text(0, row, " nothing read", va="center", fontsize=8)
                    continue
                left = segment(ax, row, 0, flow["kept"][unit], read, KEPT, f"funnel-{unit}-{row}-kept", titles,
                               f"{source}: {flow['kept'][unit]:,} of {read:,} {noun} read "
                               f"({100 * flow['kept'][unit] / read:.1f}%) reached tokenization")
                for stage, removed in flow["removed"].items():
                    reasons = "; ".join(f"{r['reason']} {r[unit]:,}" for r in removed["reasons"])
                    left = segment(ax, row, left, removed[unit], read, colours[stage],
                                   f"funnel-{unit}-{row}-{stage}", titles,
                                   f"{source}: {removed[unit]:,} {noun} removed by {stage_label(stage)} "
                                   f"({100 * removed[unit] / read:.1f}% of those read): {reasons}")
                if unit == "chars" and flow["edited"] > 0:
                    segment(ax, row, left, flow["edited"], read, EDITED, f"funnel-{unit}-{row}-edited", titles,
                            f"{source}: {flow['edited']:,} characters edited away (normalized, scrubbed)",
                            hatch="////")
                ax.text(101, row, compact(read), va="center", fontsize=8, clip_on=False)
            ax.set_xlim(0, 100)
            ax.xaxis.set_major_formatter("{x:.0f}%")
            ax.set_title(f"{noun.capitalize()}, share of those read")
        axes[0].set_yticks(range(len(sources)), sources)
        if tokens:
            token_panel(axes[2], sources, tokens, titles)
        handles = [Patch(color=KEPT, label="kept: reached tokenization, for training")]
        handles += [Patch(color=colours[stage], label=f"removed by {stage_label(stage)}") for stage in stages]
        handles.append(Patch(facecolor=EDITED, hatch="////", label="characters edited away"))
        if tokens:
            handles += [Patch(color=VALIDATION, label="tokens held out for validation"),
                        Patch(color=SHARDS, label="tokens in the training shards")]
        figure.legend(handles=handles, loc="outside lower center", ncols=4, frameon=False)
        return f"<figure>{svg(figure, 'funnel', titles)}</figure>"


def segment(ax, row: int, left: float, value: int, read: int, colour: str, gid: str, titles: dict[str, str],
            tip: str, hatch: str | None = None) -> float:
    """One piece of a funnel bar, `value` as a percentage of `read` from `left`; returns where it ends."""
    width = 100 * value / read
    bar = ax.barh(row, width, left=left, height=0.6, color=colour, hatch=hatch, edgecolor="white", linewidth=0.4)[0]
    bar.set_gid(gid)
    titles[gid] = tip
    return left + width


def token_panel(ax, sources: list[str], tokens: dict[str, dict], titles: dict[str, str]) -> None:
    """Per source: the tokens after cleaning (training and held-out parts) above those in the training shards."""
    for row, source in enumerate(sources):
        if source not in tokens:
            continue
        t = tokens[source]
        train = t["tokens_cleaned"] - t["tokens_validation"]
        pieces = ((row - 0.17, 0, train, KEPT, "train", f"{source}: {train:,} tokens after cleaning, for training"),
                  (row - 0.17, train, t["tokens_validation"], VALIDATION, "valid",
                   f"{source}: {t['tokens_validation']:,} tokens held out for the validation shards"),
                  (row + 0.17, 0, t["tokens_in_shards"], SHARDS, "shards",
                   f"{source}: {t['tokens_in_shards']:,} tokens in the training shards "
                   f"(×{t['repetition_factor']:.2f} of its cleaned training tokens)"))
        for y, left, value, colour, kind, tip in pieces:
            bar = ax.barh(y, value, left=left, height=0.32, color=colour)[0]
            bar.set_gid(f"funnel-tokens-{row}-{kind}")
            titles[bar.get_gid()] = tip
        ax.text(t["tokens_in_shards"], row + 0.17, f" {compact(t['tokens_in_shards'])}", va="center", fontsize=8)
    ax.xaxis.set_major_formatter(lambda x, _: compact(x))
    ax.margins(x=0.15)
    ax.set_title("Tokens, after cleaning and in the shards")


# ------------------------------------------------------------------------------------------- sections


def verdict(report: dict) -> str:
    """The banner: passed or failed (`audit.failures`), then one line per question a reader asks first."""
    checks = []  # (state, question, answer): state is pass, fail or warn
    tolerance = report["tolerance_pp"]
    if "shares" not in report:
        checks.append(("fail", "Mix", "no training shards yet: the build has not finished"))
    else:
        off = [r for r in report["shares"] if not r["within_tolerance"]]
        worst = max(report["shares"], key=lambda r: abs(r["delta_pp"]))
        checks.append(("fail", "Mix", f"off target: {', '.join(r['key'] for r in off)} (more than ±{tolerance} pp)")
                      if off else ("pass", "Mix", f"every share within ±{tolerance} pp of its target (largest "
                                                  f"gap: {worst['key']} {worst['delta_pp']:+.2f} pp)"))
        checks += [("warn", "Mix warning", warning) for warning in report["mix_warnings"]]
    problems = report["accounting_problems"]
    stages = len({r["stage_dir"] for r in report["stages"]})
    counted = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
    checks.append(("fail", "Accounts", f"{counted}, listed at the end of this page") if problems
                  else ("pass", "Accounts", f"balanced: every document and character accounted for in each of "
                                            f"{stages} stages"))
    checks.append(phi_check(report))
    problems = failures(report)
    state = "fail" if problems else "warn" if any(c[0] == "warn" for c in checks) else "pass"
    heading = {"fail": "Audit failed", "warn": "Audit passed, with warnings", "pass": "Audit passed"}[state]
    marks = {"pass": "✓", "fail": "✗", "warn": "!"}
    items = "".join(f"<li class='{s}'><span class='mark'>{marks[s]}</span><b>{html.escape(q)}</b> "
                    f"{html.escape(a)}</li>" for s, q, a in checks)
    return (f"<section class='verdict {state}'><h1>{heading}</h1>"
            + (f"<p>{html.escape('; '.join(problems))}</p>" if problems else "") + f"<ul>{items}</ul></section>")


def phi_check(report: dict) -> tuple[str, str, str]:
    phi = report["phi_stage"]
    if phi is None:
        return "warn", "PHI", "the recipe has no phi stage: no source was scrubbed"
    if not phi["ran"]:
        return "warn", "PHI", "the phi stage has not run yet"
    spans = sum(r["spans"] for r in report["phi"])
    covered = [f"scrubbed as read: {', '.join(phi['scrubbed_at_read'])}" if phi["scrubbed_at_read"] else "",
               f"residual check by {stage_label(phi['stage_dir'])}: {', '.join(phi['checked_by_stage'])}"
               if phi["checked_by_stage"] else ""]
    return "pass", "PHI", (f"the phi stage ran ({phi['replacement']}), {spans:,} spans replaced; "
                           + "; ".join(c for c in covered if c))


def facts(report: dict) -> str:
    run = report["run"]
    training = (f"{sum(r['tokens'] for r in report['shares']):,} tokens in {run['sequences']:,} sequences of "
                f"{run['seq_len']:,}" if "shares" in report else "not built yet")
    items = [("Recipe", run["recipe"]), ("Built", run["built"] or "not finished"), ("Seed", run["seed"]),
             ("Training shards", training), ("Tokenizer sha256", run["tokenizer_sha256"]),
             ("Audited with", f"medmix {run['medmix_version']}"), ("Run directory", report["run_dir"])]
    return "<dl class='facts'>" + "".join(f"<div class='{'wide' if k == 'Tokenizer sha256' else ''}'><dt>{k}</dt>"
                                          f"<dd>{html.escape(str(v))}</dd></div>" for k, v in items) + "</dl>"


def mix_section(report: dict) -> str:
    if "shares" not in report:
        return "<h2 id='mix'>Mix</h2><p>No training shards yet: the mix is audited once the build has finished.</p>"
    shares = table(["Share key", "Target", "Realized", "Gap", "Tokens", f"Within ±{report['tolerance_pp']} pp"],
                   [[r["key"], Num(f"{r['target_pct']:.2f}%"), Num(f"{r['realized_pct']:.2f}%"),
                     Num(f"{r['delta_pp']:+.2f} pp"), count(r["tokens"]), "yes" if r["within_tolerance"] else "NO"]
                    for r in report["shares"]])
    tokens = table(["Source", "Domain", "Documents after cleaning", "Tokens after cleaning", "Held out for validation",
                    "Target tokens", "Repetition", "Tokens in training shards"],
                   [[r["source"], r["domain"], count(r["docs_cleaned"]), count(r["tokens_cleaned"]),
                     count(r["tokens_validation"]), count(r["tokens_target"]),
                     Num(f"×{r['repetition_factor']:.2f}" + (" (capped)" if r["capped"] else "")),
                     count(r["tokens_in_shards"])] for r in report["tokens"]])
    validation = table(["Validation shard set", "Tokens"], [[k, count(v)] for k, v in report["validation"].items()])
    warnings = "".join(f"<p class='warning'>Mix warning: {html.escape(w)}</p>" for w in report["mix_warnings"])
    return (f"<h2 id='mix'>Mix: target against realized shares</h2><p>Realized shares are read from the training "
            f"shards' indexes, not from the plan.</p>{warnings}{mix_charts(report)}"
            f"<h3>Per key of <code>mix.shares</code> (what the audit checks)</h3>{shares}"
            f"<h3>Tokens and repetition per source</h3>{tokens}<h3>Validation</h3>{validation}")


def removal_details(report: dict) -> str:
    """Per source, a fold with its removals by stage and reason."""
    flows, parts = funnel(report), []
    for source in source_order(report):
        flow = flows[source]
        read, removed = flow["read"]["docs"], sum(r["docs"] for r in flow["removed"].values())
        share = f" ({100 * removed / read:.1f}%)" if read else ""
        summary = f"<b>{html.escape(source)}</b>: {removed:,} of {read:,} documents removed{share}"
        rows = [[stage_label(r["stage_dir"]), r["reason"], count(r["docs"]), count(r["chars"])]
                for stage in flow["removed"].values() for r in stage["reasons"]]
        parts.append(f"<details><summary>{summary}</summary>"
                     f"{table(['Stage', 'Reason', 'Documents', 'Characters'], rows)}</details>" if rows
                     else f"<p class='fold'>{summary}</p>")
    return "".join(parts)


def stage_table(report: dict) -> str:
    """Documents and characters per stage and source. Rows where a stage passed a source through
    untouched (nothing removed or edited) are folded away."""
    headers = ["Stage", "Source", "in", "kept", "removed", "edited", "in", "kept", "removed", "edited away"]
    groups = [("", 2), ("Documents", 4), ("Characters", 4)]
    changed, unchanged = [], []
    for r in report["stages"]:
        cells = [stage_label(r["stage_dir"]), r["source"]] + [count(r[f"{u}_{o}"]) for u in ("docs", "chars")
                                                               for o in ("in", "kept", "removed", "edited")]
        touched = any(r[f"{u}_{o}"] for u in ("docs", "chars") for o in ("removed", "edited"))
        (changed if touched else unchanged).append(cells)
    folded = (f"<details><summary>{len(unchanged)} rows where a stage passed a source through unchanged"
              f"</summary>{table(headers, unchanged, groups=groups)}</details>" if unchanged else "")
    return table(headers, changed, groups=groups) + folded


def phi_section(report: dict) -> str:
    """PHI spans found, by type and source: counts only, never any text."""
    labels = sorted({r["label"] for r in report["phi"]})
    by = {(r["source"], r["label"]): r["spans"] for r in report["phi"]}
    phi = report["phi_stage"] or {"scrubbed_at_read": [], "checked_by_stage": [], "stage_dir": None}
    where = {s: "as read" for s in phi["scrubbed_at_read"]}
    where.update({s: f"by {stage_label(phi['stage_dir'])}" for s in phi["checked_by_stage"] if phi["stage_dir"]})
    sources = [s for s in source_order(report) if s in where or any((s, label) in by for label in labels)]
    rows = [[s, where.get(s, ""), *(count(by.get((s, label), 0)) for label in labels),
             count(sum(by.get((s, label), 0) for label in labels))] for s in sources]
    footer = ["All sources", "", *(count(sum(by.get((s, label), 0) for s in sources)) for label in labels),
              count(sum(by.values()))]
    return ("<h2 id='phi'>PHI spans replaced, by type and source</h2><p>Counts only: the audit never reads the "
            "text. A scrubbed source with no spans had none found.</p>" + table(["Source", "Scrubbed", *labels, "Total"], rows, footer if rows else None))


STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1f2937;
 max-width:1180px;margin:1.5em auto;padding:0 1.5em}
h1{font-size:22px;margin:0 0 .3em}h2{font-size:18px;margin:1.8em 0 .4em;border-bottom:1px solid #e5e7eb}
h3{font-size:14px;margin:1.2em 0 .3em}
.verdict{border-radius:8px;padding:1em 1.3em;border:1px solid}
.verdict.pass{background:#ecfdf3;border-color:#86d7a5}.verdict.fail{background:#fdeeee;border-color:#f0a3a3}
.verdict.warn{background:#fff8e6;border-color:#f3cf76}
.verdict ul{list-style:none;padding:0;margin:.3em 0 0}.verdict li{margin:.15em 0}
.mark{display:inline-block;width:1.4em;font-weight:bold}.pass .mark{color:#15803d}.fail .mark{color:#b91c1c}
.warn .mark{color:#b45309}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:.2em 1.5em;margin:1em 0}
.facts div{min-width:0}.facts .wide{grid-column:span 2}.facts .wide dd{font-family:monospace;font-size:12px}
.facts dt{color:#6b7280;font-size:12px}.facts dd{margin:0;overflow-wrap:anywhere}
nav a{margin-right:1em}
figure{margin:.6em 0}figure svg{max-width:100%;height:auto}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:13px}
th,td{padding:3px 10px;border-bottom:1px solid #e5e7eb;text-align:left;white-space:nowrap}
th{background:#f3f4f6;font-weight:600}th.group{text-align:center;border-bottom:1px solid #d1d5db}tfoot th{background:#f9fafb}
.num{text-align:right;font-variant-numeric:tabular-nums}
details{margin:.3em 0}summary{cursor:pointer}.fold{margin:.3em 0 .3em 1.1em}
.warning{color:#92400e}.none{color:#6b7280}
"""


def html_report(report: dict) -> str:
    """The whole page, from an audit report; the same report always gives the same bytes."""
    title = f"medmix audit: {report['run']['recipe'] or report['run_dir']}"
    sections = [verdict(report), facts(report),
                "<nav><a href='#mix'>Mix</a><a href='#funnel'>Where the documents went</a><a href='#phi'>PHI</a>"
                "<a href='#stages'>Stage table</a></nav>",
                mix_section(report),
                "<h2 id='funnel'>Where each source's documents went</h2><p>From the read, through every stage, "
                "to the tokens in the shards; the figure right of a bar is how many were read. Hover over a bar for "
                "its figures and removal reasons, or open a source below.</p>", funnel_chart(report), removal_details(report),
                phi_section(report),
                "<h2 id='stages'>Documents and characters per stage and source</h2>", stage_table(report)]
    if report["accounting_problems"]:
        sections.append("<h2 id='accounts'>Accounting problems</h2><ul>" + "".join(
            f"<li>{html.escape(p)}</li>" for p in report["accounting_problems"]) + "</ul>")
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<meta name='viewport' content='width=device-width,initial-scale=1'><style>{STYLE}</style></head>"
            f"<body>{''.join(sections)}</body></html>\n")
