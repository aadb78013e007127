"""Training text for the PHI tagger: annotated notes with every PHI value replaced by a random surrogate,
plus short synthetic documents in styles the nursing notes lack.

Why: a tagger trained on the development notes as they are learns their surrogate names ("Healey",
"Calvert") and scores well only on them. With each gold value swapped for a random one, many times
over, the only thing that stays put is the context, so that is what the model learns.

- names: census first and last names (common and rare), plus invented ones that no list holds;
- places: GeoNames cities, surnames and invented words, acronyms for acronyms ("GH" -> "RMC");
- dates, years, ages, phone numbers and identifiers: random values in many written forms;
- each surrogate takes the case of the value it replaces ("CALVERT" -> "SPRINGFIELD").

The synthetic documents (`synthetic_documents`) add discharge-summary headers, signatures, "Dictated by",
user names, record numbers, hospitals, universities and companies named in full: the styles of other
hospitals' notes. They are generated here, from templates and the same word lists.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

import regex as re

from medmix.corpus.phi.gold import AnnotatedNote
from medmix.corpus.phi.lexicon import load_lexicon
from medmix.corpus.phi.spans import Span

# gold categories (PhysioNet, i2b2-like) -> the scrubber's labels
LABELS = {"HCPName": "NAME", "PTName": "NAME", "PTNameInitial": "NAME", "RelativeProxyName": "NAME",
          "Location": "LOCATION", "Date": "DATE", "DateYear": "DATE", "Phone": "PHONE", "Age": "AGE",
          "Other": "ID"}
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
SYLLABLES = ["ka", "lo", "ven", "dra", "mi", "ro", "tes", "bar", "qui", "nel", "zo", "hal", "fen", "ri", "so",
             "mar", "tu", "gel", "or", "wyn", "ad", "ish", "ko", "lu", "bre", "ny", "sta", "vik", "el", "pa"]


@dataclass(frozen=True)
class Pools:
    """The word lists surrogates are drawn from (sorted, so a seed gives the same draws everywhere)."""

    common_first: list[str]
    common_last: list[str]
    rare_first: list[str]
    rare_last: list[str]
    places: list[str]


@lru_cache(maxsize=1)
def pools() -> Pools:
    lexicon = load_lexicon()

    def by_share(names: dict[str, float]) -> list[str]:
        return sorted(names, key=lambda n: (-names[n], n))

    first, last = by_share(lexicon.first_names), by_share(lexicon.last_names)
    places = sorted(p for p in lexicon.places if len(p) > 3 and lexicon.zipf(p) < 4.0)
    return Pools(first[:1500], last[:3000], first[1500:], last[3000:], places)


def with_case_of(value: str, original: str) -> str:
    if original.isupper() and len(original) > 1:
        return value.upper()
    if original.islower():
        return value.lower()
    return " ".join(word[:1].upper() + word[1:] for word in value.split(" "))


class SurrogateMaker:
    """Random values of each gold category, shaped like the value they replace."""

    def __init__(self, rng: random.Random):
        self.pools, self.rng = pools(), rng

    def invented(self) -> str:
        return "".join(self.rng.choice(SYLLABLES) for _ in range(self.rng.randint(2, 3)))

    def first_name(self) -> str:
        roll = self.rng.random()
        if roll < 0.15:
            return self.invented()
        return self.rng.choice(self.pools.common_first if roll < 0.7 else self.pools.rare_first)

    def last_name(self) -> str:
        roll = self.rng.random()
        if roll < 0.15:
            return self.invented()
        return self.rng.choice(self.pools.common_last if roll < 0.6 else self.pools.rare_last)

    def name(self, original: str) -> str:
        words = original.split()
        out = []
        for index, word in enumerate(words):
            letters = word.strip(".,")
            if len(letters) <= 1:
                out.append(word.replace(letters, self.rng.choice("ABCDEFGHJKLMNPRSTW")) if letters else word)
                continue
            is_first = len(words) > 1 and index == 0 or len(words) == 1 and self.rng.random() < 0.4
            new = self.first_name() if is_first else self.last_name()
            if self.rng.random() < 0.05:
                new = f"{new}-{self.last_name()}"
            out.append(with_case_of(new, letters) + word[len(word.rstrip(".,")):])
        return " ".join(out)

    def place(self, original: str) -> str:
        words = original.split()
        if len(words) == 1 and len(original) <= 4 and original.isalpha():
            return with_case_of("".join(self.rng.choice("ABCDEFGHJKLMNPRSTVW") for _ in original), original)
        out = []
        for word in words:
            roll = self.rng.random()
            new = (self.rng.choice(self.pools.places) if roll < 0.5 else self.last_name() if roll < 0.85
                   else self.invented())
            out.append(with_case_of(new, word))
        return " ".join(out)

    def digits(self, count: int) -> str:
        return "".join(self.rng.choice("0123456789") for _ in range(count))

    def phone(self) -> str:
        area, exchange, line = str(self.rng.randint(201, 989)), str(self.rng.randint(200, 999)), self.digits(4)
        return self.rng.choice([
            f"{area}-{exchange}-{line}", f"({area}) {exchange}-{line}", f"({area}){exchange}-{line}",
            f"{area}/{exchange}-{line}", f"{area} {exchange} {line}", f"{area}.{exchange}.{line}",
            f"{area}{exchange}{line}", f"{exchange}-{line}", f"{exchange} {line}", f"{area}-{exchange}-{line[:2]} {line[2:]}",
            f"1-{area}-{exchange}-{line}", f"x{line}", f"{line}", f"{exchange}-{line} x{self.digits(3)}",
            f"{exchange[-1]}-{line}", f"{area} {exchange}-{line}"])

    def date(self, original: str) -> str:
        """Each digit run and month word of the original replaced in place, so the format survives;
        now and then a date in another common format instead."""
        if self.rng.random() < 0.25:
            return self.any_date()
        parts = re.split(r"(\d+|[A-Za-z]+)", original)
        out, numbers = [], 0
        for part in parts:
            if part.isdigit():
                numbers += 1
                out.append(self._number_like(part, numbers))
            elif part.isalpha() and part[:3].lower() in {m[:3].lower() for m in MONTHS}:
                month = self.rng.choice(MONTHS)
                out.append(with_case_of(month[:len(part)] if len(part) <= 4 else month, part))
            else:
                out.append(part)
        return "".join(out)

    def _number_like(self, digits: str, position: int) -> str:
        if len(digits) == 4:
            return str(self.rng.randint(1930, 2030))
        if len(digits) == 2 and int(digits) > 31:
            return f"{self.rng.randint(32, 99):02d}"
        value = self.rng.randint(1, 12) if position == 1 else self.rng.randint(1, 28)
        return f"{value:0{len(digits)}d}"

    def any_date(self) -> str:
        month, day, year = self.rng.randint(1, 12), self.rng.randint(1, 28), self.rng.randint(1950, 2030)
        name = MONTHS[month - 1]
        return self.rng.choice([
            f"{month}/{day}", f"{month}/{day}/{year}", f"{month:02d}/{day:02d}/{year % 100:02d}", f"{month}-{day}",
            f"{year}-{month:02d}-{day:02d}", f"{name} {day}", f"{name[:3]} {day}", f"{name} {day}, {year}",
            f"{day} {name[:3]} {year}", f"{name[:3]}. {day}", f"{day}{'th' if day > 3 else 'st'} of {name}",
            f"{month}.{day}.{year % 100:02d}", f"{year}", f"'{year % 100:02d}", f"{name} {year}"])

    def age(self) -> str:
        return str(self.rng.randint(90, 108))

    def identifier(self, original: str) -> str:
        return "".join(self.digits(1) if c.isdigit() else self.rng.choice("ABCDEFGHJKLMNPRSTVWXYZ") if c.isalpha()
                       else c for c in original) or self.digits(7)

    def for_label(self, label: str, original: str) -> str:
        if label == "NAME":
            return self.name(original)
        if label == "LOCATION":
            return self.place(original)
        if label == "DATE":
            return self.date(original)
        if label == "PHONE":
            return self.phone()
        if label == "AGE":
            return self.age()
        return self.identifier(original)


def augmented(note: AnnotatedNote, maker: SurrogateMaker, copy: int) -> AnnotatedNote:
    """The note with every gold value replaced by a surrogate (the same value, the same surrogate),
    and its spans moved to the new offsets, labelled with the scrubber's labels."""
    replaced: dict[tuple[str, str], str] = {}
    pieces, spans, position, shift = [], [], 0, 0
    for span in sorted(note.spans, key=lambda s: s.start):
        if span.start < position:
            continue  # overlapping gold spans: keep the first
        label = LABELS.get(span.label, span.label)
        original = note.text[span.start:span.end]
        key = (label, original.lower())
        if key not in replaced:
            replaced[key] = maker.for_label(label, original).replace("\n", " ")
        value = replaced[key]
        pieces += [note.text[position:span.start], value]
        start = span.start + shift
        spans.append(Span(start, start + len(value), label))
        shift += len(value) - len(original)
        position = span.end
    pieces.append(note.text[position:])
    return AnnotatedNote(f"{note.id}~{copy}", "".join(pieces), spans)


# ----------------------------------------------------------------------------- synthetic documents

FILLER = [
    "Pt alert and oriented x3, denies chest pain or shortness of breath.",
    "Foley catheter draining clear yellow urine, 40-60 cc/hr.",
    "Lungs clear bilaterally, diminished at bases. O2 sat 96% on 2L NC.",
    "Heparin gtt at 1200 units/hr, PTT pending. Lasix 40 mg IV given with good effect.",
    "Plan: continue current management, follow up labs in AM, wean vent as tolerated.",
    "Swan-Ganz catheter in place; CVP 12, PA pressures 40/18.",
    "History of Parkinson's disease, Crohn's disease and Bell's palsy.",
    "Blood cultures x2 sent. Vancomycin and Zosyn started per ID recommendations.",
    "Abdomen soft, non-tender, positive bowel sounds. Tolerating clear liquids.",
    "Patient is a pleasant gentleman in no acute distress.",
    "Echo showed EF 35% with moderate mitral regurgitation.",
    "Skin warm and dry, Braden score 14, turned q2h.",
    "Neuro: PERRL, moves all extremities, follows commands.",
    "CXR with small left pleural effusion, no pneumothorax.",
    "Social work consulted regarding discharge planning.",
    "Diet advanced to cardiac diet; glucose 142, covered with sliding scale insulin.",
    "Ativan 1 mg given for agitation with good effect, Haldol held.",
    "Temp max 101.2, HR 88-104 ST, BP 110-130/60s.",
    "Will continue to monitor closely and update team with any changes.",
    "Admitted to the MICU for management of sepsis; lactate 3.1.",
]

TEMPLATES = [
    "DISCHARGE SUMMARY\nPatient: {PTNAME}\nMRN: {ID}\nAdmission Date: {DATE}\nDischarge Date: {DATE}\n"
    "Attending: {HCPNAME}, M.D.\n{FILLER}\n{FILLER}",
    "{FILLER} Seen by Dr. {HCPLAST} on {DATE}. {FILLER}",
    "{FILLER}\nDictated by: {HCPNAME}, MD\nTranscribed by: {USERNAME}\nD: {DATE} T: {DATE}",
    "{FILLER}\n\n{HCPUPPER}, M.D.\n{HOSPITAL}\n{ADDRESS}\n{CITY}, {STATE} {ZIP}\nTel {PHONE} Fax {PHONE}",
    "{FILLER} Son {FIRST} at bedside, updated on plan. Wife {FIRST} will call at {PHONE}.",
    "{FILLER} Dtr {FIRST} called, phone # {PHONE}. {FILLER}",
    "{FILLER} Pt transferred from {HOSPITAL} for further management. {FILLER}",
    "{FILLER} Followed at {UNIVERSITY} by Dr. {HCPLAST}. {FILLER}",
    "{FILLER} Pt works as an engineer at {COMPANY}. {FILLER}",
    "{FILLER} {INITIAL}. {HCPLAST} paged re: {FILLER_LOWER}",
    "{FILLER} Case discussed with {HCPNAME} who agrees with plan.",
    "Electronically signed by {HCPNAME} on {DATE} at 14:32\n{FILLER}",
    "{FILLER} Lives with husband {FIRST} in {CITY}. PCP Dr. {HCPLAST}, {HOSPITAL}.",
    "{FILLER} Pt's sister {FIRST} {LAST} is HCP, cell {PHONE}. {FILLER}",
    "{FILLER}\nFollow-up: {HCPNAME} at {MEDCENTER} on {DATE}.\n{FILLER}",
    "{FILLER} Unit No: {ID}  Acct: {ID}  {FILLER}",
    "{FILLER} Last seen by oncology ({HCPNAME}) at {MEDCENTER} in {YEAR}. {FILLER}",
    "cc: {HCPNAME}, MD; {HCPNAME}, NP\n{FILLER}",
    "{FILLER} Records requested from {HOSPITAL}, {CITY}. {FILLER}",
    "{FILLER} {AGE} year old woman, resident of {CITY}, admitted {DATE}. {FILLER}",
    "{FILLER} Contact: {FIRST} ({RELATION}) {PHONE}; alt {PHONE}. {FILLER}",
    "Addendum {DATE} by {USERNAME}: {FILLER}",
    "{FILLER} Discussed with attending {HCPUPPER} who saw and examined the patient. {FILLER}",
]
STATES = ["MA", "MD", "NY", "CA", "TX", "OH", "PA", "IL", "WA", "GA", "Massachusetts", "Maryland", "Ohio"]
RELATIONS = ["son", "daughter", "wife", "husband", "sister", "brother", "niece", "dtr", "friend"]
SLOT = re.compile(r"\{([A-Z_]+)\}")
# Institutions are named by their distinctive part only, as the PhysioNet annotators did ("CALVERT"
# Hospital): "Hospital" identifies no one, and marking it would teach the tagger to over-redact.
INSTITUTIONS = {
    "HOSPITAL": ["{PLACENAME} Hospital", "{PLACENAME} Memorial Hospital", "{PLACENAME} General", "St. {PLACENAME}",
                 "{PLACENAME} Medical Center", "{PLACENAME} Regional Medical Center", "{PLACENAME} Community Hospital",
                 "{PLACENAME} Clinic", "Saint {PLACENAME} Hospital"],
    "MEDCENTER": ["{PLACENAME} Medical Center", "{PLACENAME} Cancer Center", "{PLACENAME} Health System",
                  "{PLACENAME} Heart Institute", "{PLACENAME} {PLACENAME} Medical Center"],
    "UNIVERSITY": ["University of {PLACENAME}", "{PLACENAME} University Hospital", "{PLACENAME} University",
                   "{PLACENAME} University Medical Center", "{PLACENAME} College"],
    "COMPANY": ["{PLACENAME} Inc", "{PLACENAME} Corp", "{PLACENAME} Industries", "{PLACENAME} Systems",
                "{PLACENAME} & {PLACENAME} LLC"],
}
INSTITUTION_SLOT = re.compile(r"\{(" + "|".join(INSTITUTIONS) + r")\}")


class SyntheticNotes:
    """Short documents from `TEMPLATES`, each slot filled with a surrogate and annotated."""

    def __init__(self, rng: random.Random):
        self.maker, self.rng = SurrogateMaker(rng), rng

    def _slot(self, slot: str) -> tuple[str, str | None]:
        """The value for one slot and its label (None for text that is not PHI)."""
        maker, rng = self.maker, self.rng
        if slot == "FILLER":
            return rng.choice(FILLER), None
        if slot == "FILLER_LOWER":
            return rng.choice(FILLER).lower(), None
        if slot == "RELATION":
            return rng.choice(RELATIONS), None
        if slot == "STATE":
            return rng.choice(STATES), "LOCATION"
        full = f"{maker.first_name()} {rng.choice(['', rng.choice('ABCDEFGHJKLMNPRSTW') + '. '])}{maker.last_name()}"
        values = {
            "PTNAME": (with_case_of(full, "X"), "NAME"), "HCPNAME": (with_case_of(full, "X"), "NAME"),
            "HCPUPPER": (full.upper(), "NAME"), "HCPLAST": (with_case_of(maker.last_name(), "X"), "NAME"),
            "FIRST": (with_case_of(maker.first_name(), "X"), "NAME"), "LAST": (with_case_of(maker.last_name(), "X"), "NAME"),
            "INITIAL": (rng.choice("ABCDEFGHJKLMNPRSTW"), "NAME"),
            "USERNAME": (f"{maker.first_name()[:1]}{maker.last_name()}{rng.choice(['', str(rng.randint(1, 99))])}".lower(),
                         "NAME"),
            "ID": (rng.choice([maker.digits(rng.randint(6, 10)), f"{maker.digits(3)}-{maker.digits(2)}-{maker.digits(4)}",
                               f"{rng.choice('ABCDEFGH')}{maker.digits(7)}"]), "ID"),
            "DATE": (maker.any_date(), "DATE"), "YEAR": (str(rng.randint(1960, 2030)), "DATE"),
            "PHONE": (maker.phone(), "PHONE"), "AGE": (maker.age(), "AGE"), "ZIP": (maker.digits(5), "LOCATION"),
            "CITY": (with_case_of(rng.choice(maker.pools.places), "X"), "LOCATION"),
            "ADDRESS": (f"{rng.randint(1, 9999)} {with_case_of(maker.last_name(), 'X')} "
                        f"{rng.choice(['Street', 'St', 'Ave', 'Road', 'Drive', 'Lane', 'Blvd'])}", "LOCATION"),
            "PLACENAME": (self._place_word(), "LOCATION"),
        }
        return values[slot]

    def _place_word(self) -> str:
        return with_case_of(self.rng.choice([self.rng.choice(self.maker.pools.places), self.maker.last_name()]), "X")

    def document(self, number: int) -> AnnotatedNote:
        template = INSTITUTION_SLOT.sub(lambda m: self.rng.choice(INSTITUTIONS[m.group(1)]), self.rng.choice(TEMPLATES))
        text, spans, position = [], [], 0
        length = 0
        for match in SLOT.finditer(template):
            literal = template[position:match.start()]
            text.append(literal)
            length += len(literal)
            value, label = self._slot(match.group(1))
            if label:
                spans.append(Span(length, length + len(value), label))
            text.append(value)
            length += len(value)
            position = match.end()
        text.append(template[position:])
        joined = "".join(text)
        case = self.rng.random()
        if case < 0.25:  # all-caps and all-lowercase notes exist too
            joined = joined.upper()
        elif case < 0.35:
            joined = joined.lower()
        return AnnotatedNote(f"synthetic-{number}", joined, spans)


def training_notes(notes: list[AnnotatedNote], copies: int, synthetic: int, seed: int = 0) -> list[AnnotatedNote]:
    """`copies` surrogate versions of every note, plus `synthetic` generated documents."""
    rng = random.Random(seed)
    maker = SurrogateMaker(rng)
    out = [augmented(note, maker, copy) for copy in range(copies) for note in notes]
    generator = SyntheticNotes(rng)
    return out + [generator.document(number) for number in range(synthetic)]
