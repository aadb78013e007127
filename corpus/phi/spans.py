"""A PHI span: where in a text, and of which kind. Every PHI module speaks in these."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    label: str
