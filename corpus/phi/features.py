"""Token features for the PHI tagger: what a word looks like, what the lexicons say of it, its neighbours,
and what the rule detectors found there.

The tagger learns from these, not from the words of the development notes: augmentation (`augment.py`)
replaces every gold value by a random surrogate, so a name's own spelling carries no signal and the
model has to read shape, lexicon and context.

Speed: every feature of a word, and the same features prefixed for each neighbour position, are built
once per distinct word and cached, so a token's feature list is a few list concatenations.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from functools import lru_cache

import regex as re

from medmix.corpus.phi.context import (
    CREDENTIALS,
    FACILITY_WORDS,
    MOVES,
    PLACE_PREPOSITIONS,
    RELATIONS,
    ROLES,
    STOP,
    TITLES,
    WEAK_CUES,
    Token,
)
from medmix.corpus.phi.lexicon import Lexicon

WINDOW = (-2, -1, 1, 2)  # neighbour positions whose words and shapes a token sees
CUES = [("title", TITLES), ("relation", RELATIONS), ("role", ROLES), ("credential", CREDENTIALS),
        ("facility", FACILITY_WORDS), ("move", MOVES), ("prep", PLACE_PREPOSITIONS), ("weak", WEAK_CUES)]
SHAPE_RUNS = re.compile(r"(.)\1+")
ID_CUES = {"mrn", "mr", "id", "acct", "account", "ssn", "#", "no", "number", "unit", "record", "pager", "pgr",
           "beeper", "tel", "phone", "ph", "fax", "cell", "ext", "x", "call", "username", "user", "login"}


def shape(text: str) -> str:
    """"McKay" -> "XxXx", "7/22" -> "d/d", "617-555-0143" -> "d-d-d": runs of one class collapsed."""
    classes = "".join("X" if c.isupper() else "x" if c.islower() else "d" if c.isdigit() else c for c in text[:12])
    return SHAPE_RUNS.sub(r"\1", classes)


class FeatureExtractor:
    """Turns a token list into crfsuite's input: one list of feature strings per token."""

    def __init__(self, lexicon: Lexicon, known: frozenset[str] | None = None):
        """`known`: the features a trained model has weights for. Tagging passes only those to crfsuite
        (its string lookups were most of the tagging time); training leaves it None and sees everything."""
        self.lex, self.known = lexicon, known
        self._words = lru_cache(maxsize=200_000)(self._word_features)

    def _own(self, text: str) -> list[str]:
        """Features of a word on its own: identity, shape, affixes, lexicon membership, cue classes."""
        low = text.lower()
        word = low[:-2] if low.endswith(("'s", "’s")) else low
        if text.isdigit():
            value = int(text[:6])
            feats = [f"digits={len(text)}", f"w={text}" if len(text) <= 2 else "w=<num>"]
            if len(text) == 4 and text[:2] in ("19", "20"):
                feats.append("yearlike")
            if len(text) <= 2 and 1 <= value <= 31:
                feats.append("daylike")
            if len(text) <= 3 and value >= 90:
                feats.append("ninety+")
            return feats
        feats = [f"w={word}", f"suf3={word[-3:]}", f"len={min(len(word), 9)}"]
        if not word.replace("'", "").isalpha():
            return feats
        lex = self.lex
        feats.append(f"zipf={int(lex.zipf(word))}")
        if word in lex.first_names:
            feats.append("first_name")
        if word.replace("'", "") in lex.last_names:
            feats.append("last_name")
        if lex.name_dominant(word):
            feats.append("mostly_name")
        if word in lex.places:
            feats.append("place")
        if word in lex.clinical:
            feats.append("clinical")
        if word in STOP:
            feats.append("stop")
        if word in ID_CUES:
            feats.append("id_cue")
        if len(word) > 4 and lex.zipf(word) < 3.0 and lex.misspelt_word(word):
            feats.append("typo")
        feats += [f"cue={name}" for name, words in CUES if word in words]
        return feats

    def _word_features(self, text: str) -> tuple[list[str], ...]:
        """The word's own features (twice: for texts where capitals carry meaning, and for flat ones),
        then what a neighbour sees of it at each position in `WINDOW`: next to it, its identity, shape,
        cue class and lexicon flags; two away, its identity and cue class only."""
        own = self._own(text) if text != "\n" else ["w=<newline>"]  # crfsuite's model dump is line-based
        word_shape = f"shape={shape(text)}" if text != "\n" else "shape=<newline>"
        near = [f for f in own if not f.startswith(("suf3=", "len=", "zipf=", "digits="))] + [word_shape]
        far = [f for f in own if f.startswith(("w=", "cue="))]
        lists = (["bias", f"cased:{word_shape}", *own], ["bias", f"flat:{word_shape}", *own],
                 *([f"{offset}:{f}" for f in (near if abs(offset) == 1 else far)] for offset in WINDOW))
        if self.known is None:
            return lists
        return tuple([f for f in features if f in self.known] for features in lists)

    def sequence(self, tokens: list[Token], cased: bool, rule_labels: list[str | None]) -> list[list[str]]:
        """Features for every token. `cased` says whether capitals carry meaning in this text;
        `rule_labels` holds, per token, the label a rule detector gave it (or None)."""
        words = [self._words(token.text) for token in tokens]
        padded = [EDGE, EDGE, *words, EDGE, EDGE]  # a neighbour past either end is an edge
        own_slot = 0 if cased else 1
        out = []
        for index, token in enumerate(tokens):
            feats = (words[index][own_slot] + padded[index][2] + padded[index + 1][3] + padded[index + 3][4]
                     + padded[index + 4][5])
            if index > 1:  # the two words before, together: "son is", "dr ."
                feats.append(f"-2-1={tokens[index - 2].low}|{tokens[index - 1].low}".replace("\n", "<newline>"))
            if index and tokens[index - 1].end == token.start:
                feats.append("glued_left")
            if index + 1 < len(tokens) and tokens[index + 1].start == token.end:
                feats.append("glued_right")
            for offset, label in ((0, rule_labels[index]), (-1, index and rule_labels[index - 1]),
                                  (1, index + 1 < len(tokens) and rule_labels[index + 1])):
                if label:
                    feats.append(f"{offset}:rule={label}")
            out.append(feats)
        return out


EDGE = ([], [], *([f"{offset}:edge"] for offset in WINDOW))


def token_labels(tokens: list[Token], spans: list[tuple[int, int, str]]) -> list[str | None]:
    """Per token, the label of the span that covers it (spans sorted or not; later spans win), else None."""
    labels: list[str | None] = [None] * len(tokens)
    if not spans:
        return labels
    starts = [token.start for token in tokens]
    for start, end, label in spans:
        first = bisect_right(starts, start) - 1
        if first < 0 or tokens[first].end <= start:
            first += 1
        for index in range(first, bisect_left(starts, end)):
            labels[index] = label
    return labels
