"""Token-budgeted mixing: how many tokens each source contributes, and which documents carry them.

Each source's target is its share of `total_tokens`. A share given per domain is split among that
domain's sources in proportion to their tokens (so within a domain the natural mix is kept). A source
with factor f = target / available goes in floor(f) whole times, plus a deterministic fraction: its
documents in the order of a seeded hash of their ids, each taken while it still fits the fraction's tokens. A factor
above `max_repeats` cannot be met: the build fails, or (with `on_shortfall: warn`) caps it and says so.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # imported where it is used: the tasks that import this module only for its errors start faster
    import polars as pl

TOLERANCE_PP = 0.5  # a realized share must be within this many percentage points of its target


class MixError(ValueError):
    """A target that the cleaned sources cannot meet within the recipe's repetition cap."""


@dataclass
class SourcePlan:
    source: str
    domain: str
    available_tokens: int
    target_tokens: float
    factor: float  # passes over the source's tokens: 0.25 down-samples, 2.5 repeats
    capped: bool = False

    def as_row(self) -> dict:
        return asdict(self)


def share_targets(domains: dict[str, str], shares: dict[str, float]) -> list[dict]:
    """Each key of `mix.shares` (a source or a domain, shares on any positive scale): its share of the
    training tokens as a fraction, and the sources it stands for (a domain's sources without a share of
    their own). Written to the mix plan, where the audit reads its targets."""
    scale = sum(shares.values())
    targets = []
    for key, share in shares.items():
        members = [key] if key in domains else [s for s in domains if domains[s] == key and s not in shares]
        if not members:
            raise MixError(f"mix.shares: '{key}' names no source of its own (each of its sources has its own share)")
        targets.append({"key": key, "share": share / scale, "sources": members})
    return targets


def share_rows(targets: list[dict], realized: dict[str, int]) -> list[dict]:
    """Target against realized share for each key of `mix.shares`, from `share_targets` and the tokens per
    source that the training shards hold. The build checks these after packing, the audit reports them."""
    total = sum(realized.values())
    rows = []
    for target in targets:
        tokens = sum(realized.get(s, 0) for s in target["sources"])
        wanted, actual = 100 * target["share"], 100 * tokens / total if total else 0.0
        rows.append({"key": target["key"], "target_pct": round(wanted, 3), "realized_pct": round(actual, 3),
                     "delta_pp": round(actual - wanted, 3), "tokens": tokens,
                     "within_tolerance": abs(actual - wanted) <= TOLERANCE_PP})
    return rows


def off_target(rows: list[dict]) -> str | None:
    """The shares outside tolerance, in words; None when every share is within it."""
    off = [f"{row['key']} {row['realized_pct']:.2f}% against {row['target_pct']:.2f}%"
           for row in rows if not row["within_tolerance"]]
    return f"realized shares off target by more than {TOLERANCE_PP} pp: {', '.join(off)}" if off else None


def source_targets(available: dict[str, int], domains: dict[str, str], shares: dict[str, float],
                   total_tokens: int) -> dict[str, float]:
    """Target tokens per source: each share's tokens split among its sources in proportion to their tokens."""
    scale = sum(shares.values())
    targets = {source: 0.0 for source in available}
    for target in share_targets(domains, shares):
        share, members = shares[target["key"]], target["sources"]
        pool = sum(available[s] for s in members)
        for source in members:
            weight = available[source] / pool if pool else 1 / len(members)
            targets[source] += total_tokens * share / scale * weight
    return targets


def plan_sources(available: dict[str, int], domains: dict[str, str], shares: dict[str, float], total_tokens: int,
                 max_repeats: float, on_shortfall: str) -> tuple[list[SourcePlan], list[str]]:
    plans, warnings = [], []
    for source, target in source_targets(available, domains, shares, total_tokens).items():
        have = available[source]
        factor = target / have if have else (math.inf if target else 0.0)
        plan = SourcePlan(source, domains[source], have, target, factor)
        if not have and target:
            raise MixError(f"source '{source}' has no tokens left after cleaning, so its target of {target:,.0f} "
                           "tokens cannot be met by any number of passes; see `medmix status` for where its "
                           "documents went, or give it no share in mix.shares")
        if factor > max_repeats:
            message = (f"source '{source}' has {have:,} tokens after cleaning; its target of {target:,.0f} tokens "
                       f"needs {factor:.2f} passes, more than mix.max_repeats = {max_repeats}. Lower "
                       "mix.total_tokens, raise mix.max_repeats, or set mix.on_shortfall: warn")
            if on_shortfall == "error":
                raise MixError(message)
            warnings.append(message + f"; capped at {max_repeats} passes")
            plan.factor, plan.capped = max_repeats, True
        plans.append(plan)
    return plans, warnings


def first_fit(lengths: np.ndarray, budget: float) -> np.ndarray:
    """Which documents, taken in order, fill `budget` tokens: each one that still fits. The realized count
    ends within one short document of the budget, where a plain prefix could miss by a whole long one."""
    take = np.zeros(len(lengths), dtype=bool)
    remaining, smallest = budget, int(lengths.min())
    for position, length in enumerate(lengths.tolist()):
        if length <= remaining:
            take[position] = True
            remaining -= length
            if remaining < smallest:
                break
    return take


def select_documents(docs: pl.DataFrame, plans: list[SourcePlan], seed: int) -> pl.DataFrame:
    """The training stream before packing: each chosen document once per pass, globally shuffled.

    `docs` has one row per training document: rank, offset, length, source, key (a seeded hash of its id).
    """
    import polars as pl

    chosen = []
    for plan in plans:
        rows = docs.filter(pl.col("source") == plan.source).sort("key", "rank", "offset")  # ties: stable
        whole = int(plan.factor)
        chosen += [rows] * whole
        remainder = (plan.factor - whole) * plan.available_tokens
        if remainder > 0 and rows.height:
            chosen.append(rows.filter(pl.Series(first_fit(rows["length"].to_numpy(), remainder))))
    if not chosen:
        return docs.clear()
    stream = pl.concat(chosen)
    order = np.random.default_rng(seed).permutation(stream.height)
    return stream[order]
