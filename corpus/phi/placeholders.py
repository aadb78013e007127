"""The placeholders that de-identified MIMIC text carries where PHI was: `[**Last Name (NamePattern1) **]`.

The `normalize` stage turns them into uniform tags (`[NAME]`), and the PHI patterns recognise them, so the
residual check does not take a placeholder for PHI. A module of its own: both need it, and neither
should import the other.
"""

from __future__ import annotations

import re

# MIMIC-III placeholders: the label inside [** ... **] decides the tag; the first match wins.
MIMIC_PLACEHOLDER = re.compile(r"\[\*\*(.*?)\*\*\]", re.S)
PLACEHOLDER_TAGS: list[tuple[re.Pattern, str]] = [
    (re.compile(p, re.I), tag) for p, tag in [
        (r"^\s*\d[\d\s/-]*$", "[DATE]"),  # 2150-3-2, 3-2, 2150, 12/31
        (r"date|month|year|holiday|day", "[DATE]"),
        (r"telephone|fax|phone|pager", "[PHONE]"),
        (r"e-?mail", "[EMAIL]"),
        (r"url|web", "[URL]"),
        (r"social security|ssn", "[SSN]"),
        (r"medical record|mrn|md number|number|identifier|serial|clip|job|unit no|provider|account|license", "[ID]"),
        (r"age over 90", "[AGE]"),
        (r"street|address|apartment|po box", "[ADDRESS]"),
        (r"hospital|ward", "[HOSPITAL]"),
        (r"university|college|company", "[ORGANIZATION]"),
        (r"location|state|country|city|county", "[LOCATION]"),
        (r"name|initials", "[NAME]"),
    ]
]


def placeholder_tag(label: str) -> str:
    for pattern, tag in PLACEHOLDER_TAGS:
        if pattern.search(label):
            return tag
    return "[REDACTED]"
