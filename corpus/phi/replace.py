"""What found PHI becomes: a typed tag (`[NAME]`, `[DATE]`, ...) by default, or a consistent surrogate.

Surrogates keep text natural for training while keeping the patient hidden:
- a name maps to the same surrogate name everywhere in one document ("Healey" -> "Morrow" each time),
  drawn from the census lists by a keyed hash, so the mapping cannot be inverted without the secret;
- dates move by one offset per patient (1 to 364 days, derived from the secret and the patient id),
  so intervals between a patient's dates survive; a date we cannot parse becomes a tag.

The secret lives in an environment variable, never in a recipe, a step attribute or a file: datatrove
writes every step's attributes to the run directory (`executor.json`, and `executor.pik` on Slurm). A
run records only `secret_fingerprint`, which tells two secrets apart without revealing either.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
from functools import lru_cache

from medmix.corpus.phi.lexicon import load_lexicon
from medmix.corpus.phi.spans import Span


def tag(label: str) -> str:
    return f"[{label}]"


def apply(text: str, spans: list[Span], replacement) -> str:
    """`text` with each (non-overlapping, sorted) span replaced by `replacement(span, original)`."""
    pieces, position = [], 0
    for span in spans:
        pieces += [text[position:span.start], replacement(span, text[span.start:span.end])]
        position = span.end
    pieces.append(text[position:])
    return "".join(pieces)


def with_tags(text: str, spans: list[Span]) -> str:
    return apply(text, spans, lambda span, _: tag(span.label))


MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
NUMERIC_DATE = re.compile(r"^(\d{1,2})([/-])(\d{1,2})(?:\2(\d{2}|\d{4}))?$")
ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
WORD_DATE = re.compile(r"^([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(\d{4}))?$")
NO_YEAR = 2000  # a leap year, so that Feb 29 shifts like any other day


FINGERPRINT_LABEL = b"medmix surrogate secret fingerprint v1"


class SecretError(RuntimeError):
    """The surrogate secret is missing, or is not the one a run was started with; the message names the variable."""


def read_secret(env: str) -> str:
    """The surrogate secret, from the environment variable `env`."""
    secret = os.environ.get(env, "")
    if not secret:
        raise SecretError(f"surrogates need a secret: the environment variable {env} is not set or is empty")
    return secret


def secret_fingerprint(secret: str) -> str:
    """HMAC-SHA256 of a fixed label keyed by the secret, truncated to 64 bits: equal for equal secrets, so a
    resumed run can refuse a changed key, and neither the secret nor a plain hash of it (whose value would be
    the same in every tool that hashes it). Like any check value it cannot protect a guessable secret: use a
    long random one."""
    return hmac.new(secret.encode(), FINGERPRINT_LABEL, hashlib.sha256).hexdigest()[:16]


def _hash(secret: bytes, *parts: str) -> int:
    return int.from_bytes(hmac.new(secret, "\x1f".join(parts).encode(), hashlib.sha256).digest()[:8], "big")


@lru_cache(maxsize=1)
def _surrogate_names() -> tuple[list[str], list[str]]:
    """Common census names (1,000 of each kind), sorted so that the choice depends on the hash only."""
    lexicon = load_lexicon()
    top = lambda names: sorted(sorted(names, key=names.get, reverse=True)[:1000])  # noqa: E731
    return top(lexicon.first_names), top(lexicon.last_names)


class Surrogates:
    """Replaces NAME with consistent fake names and shifts DATE by a per-patient offset; other labels get tags."""

    def __init__(self, secret: str):
        if not secret:
            raise ValueError("surrogates need a non-empty secret")
        self.secret = secret.encode()

    @property
    def fingerprint(self) -> str:
        return secret_fingerprint(self.secret.decode())

    def day_offset(self, patient: str) -> int:
        return 1 + _hash(self.secret, "date-shift", patient) % 364

    def replace(self, text: str, spans: list[Span], document: str, patient: str | None) -> str:
        names: dict[str, str] = {}
        offset = dt.timedelta(days=self.day_offset(patient if patient is not None else document))

        def surrogate(span: Span, original: str) -> str:
            if span.label == "NAME":
                key = original.lower()
                if key not in names:
                    names[key] = self._name(document, key, original)
                return names[key]
            if span.label == "DATE":
                return shift_date(original, offset) or tag("DATE")
            return tag(span.label)

        return apply(text, spans, surrogate)

    def _name(self, document: str, key: str, original: str) -> str:
        first, last = _surrogate_names()
        pool = first if len(key.split()) == 1 and key in load_lexicon().first_names else last
        words = [pool[_hash(self.secret, "name", document, key, str(i)) % len(pool)] for i in range(len(key.split()))]
        name = " ".join(w.capitalize() for w in words)
        return name.upper() if original.isupper() else name.lower() if original.islower() else name


def shift_date(original: str, offset: dt.timedelta) -> str | None:
    """The date moved by `offset`, written the way it was written; None if it is not a date we can parse."""
    text = original.strip()
    try:
        if match := NUMERIC_DATE.match(text):
            month, sep, day, year = int(match[1]), match[2], int(match[3]), match[4]
            full_year = NO_YEAR if year is None else int(year) + (0 if len(year) == 4 else 1900 if int(year) > 30 else 2000)
            moved = dt.date(full_year, month, day) + offset
            written = f"{moved.month}{sep}{moved.day}"
            return written if year is None else f"{written}{sep}{moved.year if len(year) == 4 else f'{moved.year % 100:02d}'}"
        if match := ISO_DATE.match(text):
            return (dt.date(int(match[1]), int(match[2]), int(match[3])) + offset).isoformat()
        if (match := WORD_DATE.match(text)) and match[1][:3].lower() in MONTHS:
            moved = dt.date(int(match[3] or NO_YEAR), MONTHS.index(match[1][:3].lower()) + 1, int(match[2])) + offset
            written = f"{moved.strftime('%B')} {moved.day}"
            return f"{written}, {moved.year}" if match[3] else written
    except ValueError:  # 2/30 and the like: not a real date
        return None
    return None
