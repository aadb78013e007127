"""Known identifiers: the names, record numbers, addresses and phone numbers a hospital already holds
for each patient, redacted wherever they appear in that patient's notes.

No detector finds everything; a list does not miss what is on it. deid.pl uses such lists too. The
file is a CSV or parquet table keyed by the recipe's `patient_key`; every other column holds one kind
of identifier, and the column's name says which label its finds get (`first_name` -> NAME,
`mrn` -> ID, `home_phone` -> PHONE, ...; anything else -> ID).

Matching is case-insensitive and at token boundaries. A name is also redacted word by word ("John"
alone, "Smith" alone). Numbers of five digits or more match whatever separators the note puts between
their digits ("617-555-0143" also finds "(617) 555 0143").
"""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from pathlib import Path

import regex as re

from medmix.corpus.phi.spans import Span

COLUMN_LABELS = [("ssn", "SSN"), ("social", "SSN"), ("mail", "EMAIL"), ("phone", "PHONE"), ("fax", "PHONE"),
                 ("pager", "PHONE"), ("name", "NAME"), ("address", "ADDRESS"), ("street", "ADDRESS"),
                 ("city", "LOCATION"), ("town", "LOCATION"), ("state", "LOCATION"), ("zip", "ADDRESS"),
                 ("birth", "DATE"), ("dob", "DATE"), ("date", "DATE")]
NAME_PART = re.compile(r"[^\W\d_][\w'’-]*[^\W\d_]")  # words of two letters or more


class KnownIdentifiersError(ValueError):
    """A known-identifiers file that cannot be used; the message names the file and the problem."""


def label_of(column: str) -> str:
    low = column.lower()
    return next((label for keyword, label in COLUMN_LABELS if keyword in low), "ID")


def _value_pattern(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    if len(digits) >= 5 and len(digits) >= len(value.replace(" ", "")) - 4:  # a number, maybe with separators
        return r"\(?" + r"[\s().-]{0,3}".join(digits)
    return r"\s+".join(re.escape(part) for part in value.split())


def read_table(path: Path) -> list[dict[str, str]]:
    import pyarrow.csv as csv
    import pyarrow.parquet as pq

    if path.suffix.lower() == ".parquet":
        table = pq.read_table(path)
    elif path.suffix.lower() in (".csv", ".tsv"):
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        table = csv.read_csv(path, parse_options=csv.ParseOptions(delimiter=delimiter),
                             convert_options=csv.ConvertOptions(strings_can_be_null=True,
                                                                column_types=None, auto_dict_encode=False))
    else:
        raise KnownIdentifiersError(f"{path}: known identifiers must be a .csv, .tsv or .parquet file")
    return [{key: None if value is None else str(value) for key, value in row.items()} for row in table.to_pylist()]


class KnownIdentifiers:
    """Per patient, one compiled pattern over every identifier listed for them."""

    def __init__(self, values: dict[str, list[tuple[str, str]]]):
        self.values = values
        self._patterns = lru_cache(maxsize=4096)(self._compile)

    @classmethod
    def load(cls, path: str | Path, patient_key: str) -> KnownIdentifiers:
        path = Path(path)
        if not path.is_file():
            raise KnownIdentifiersError(f"known identifiers file not found: {path}")
        try:
            rows = read_table(path)
        except KnownIdentifiersError:
            raise
        except Exception as error:  # pyarrow's parse errors name the line, never a value we must hide
            raise KnownIdentifiersError(f"{path}: cannot be read as a table ({type(error).__name__})") from None
        if rows and patient_key not in rows[0]:
            raise KnownIdentifiersError(f"{path}: no column '{patient_key}' (the recipe's patient_key); "
                                        f"columns are {sorted(rows[0])}")
        values: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for row in rows:
            patient = row.get(patient_key)
            if patient is None:
                continue
            for column, value in row.items():
                if column == patient_key or value is None or not value.strip():
                    continue
                label = label_of(column)
                values[str(patient)].append((value.strip(), label))
                if label == "NAME":
                    values[str(patient)] += [(part, label) for part in NAME_PART.findall(value)]
        return cls(dict(values))

    def _compile(self, patient: str) -> tuple[re.Pattern, list[str]] | None:
        listed = sorted(set(self.values.get(patient, ())), key=lambda item: -len(item[0]))
        if not listed:
            return None
        alternatives = "|".join(f"(?P<k{index}>{_value_pattern(value)})" for index, (value, _) in enumerate(listed))
        pattern = re.compile(rf"(?<![^\W_])(?:{alternatives})(?![^\W_])", re.I)
        return pattern, [label for _, label in listed]

    def spans(self, text: str, patient: str | None) -> list[Span]:
        """Every listed identifier of `patient` in `text`."""
        compiled = self._patterns(str(patient)) if patient is not None else None
        if compiled is None:
            return []
        pattern, labels = compiled
        return [Span(match.start(), match.end(), labels[int(match.lastgroup[1:])]) for match in pattern.finditer(text)]
