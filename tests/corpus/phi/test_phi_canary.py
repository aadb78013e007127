"""PHI canary: plant many synthetic PHI values of every type into realistic notes and check none survives.

The issue: "A canary test plants many synthetic PHI values of every type into realistic notes,
mtsamples text included. It asserts that none of the high-risk types survives in the output: SSN,
phone, email, MRN, names after titles or relation words, street addresses."

Every value here is synthetic (seeded random draws from lists written below, or made-up syllable
surnames such as "Kovrenko"), so assertion messages may print them. A value "survives" when one of
its secrets (the parts that identify: the number, the surname, the house number with the street
name...) still appears verbatim, case-insensitively and as a whole word, in `with_tags(text, spans)`.
Before scrubbing, each note is checked to hold every secret exactly as many times as it was planted,
so a secret found after scrubbing is a planted one that the scrubber missed, never carrier text. A value
also survives when some letter or digit of one of its cores (the secrets, or for addresses and ages the
number and street name, the age) is covered by no span: "Kov[NAME]" leaks part of "Kovrenko".
"""

from __future__ import annotations

import csv
import random
import string
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cache

import pytest
import regex as re

from medmix.corpus.phi.replace import with_tags
from medmix.corpus.phi.scrubber import PhiScrubber, ScrubberSettings, chunk_bounds
from medmix.corpus.phi.spans import Span

SEED = 20240611
HIGH_RISK = ("SSN", "PHONE", "EMAIL", "MRN", "TITLE_NAME", "RELATION_NAME", "ADDRESS")
OTHER = ("DATE", "AGE")  # not in the issue's list, but Safe Harbor identifiers all the same
KINDS = HIGH_RISK + OTHER
MTSAMPLES = ("clinical", "mtsamples_first401_noheader.csv")
MAX_OVERREDACTION = 0.03


# --------------------------------------------------------------------------------------------- values

# A mix of common census surnames, rarer real ones, and punctuated ones; plus made-up syllable surnames.
COMMON_SURNAMES = ["Smith", "Johnson", "Garcia", "Nguyen", "Patel", "Kim", "Martinez", "Brown", "Lopez",
                   "Wilson", "Anderson", "Thompson", "Rodriguez", "Chen", "Murphy", "Rivera"]
RARE_SURNAMES = ["Okafor", "Lindqvist", "Halvorsen", "Wojcik", "Czyzewicz", "Oyelaran", "Szabo", "Takahashi",
                 "Abernathy", "Mbeki", "Vasquez-Ortiz", "Papadakis", "Nowakowski", "Adeyemi", "Fitzgerald",
                 "Bjornstad", "Kowalczyk", "Tanabe", "Ferreira", "Haddad"]
PUNCTUATED_SURNAMES = ["O'Brien", "O'Neill", "D'Angelo", "Nakamura-Reyes", "McAllister", "MacDonald"]
# Surnames that are also English words: only after a title, where "Dr. Brown" can only be a name.
WORDLIKE_SURNAMES = ["White", "Young", "Long", "Strong", "Black"]
FIRST_NAMES = ["Maria", "John", "Linda", "Michael", "Jennifer", "David", "Susan", "Robert", "Patricia", "Carlos",
               "Tomasz", "Ingrid", "Oluwaseun", "Siobhan", "Kwame", "Aiko", "Bogdan", "Thandiwe", "Priya",
               "Anneliese", "Dmitri", "Guadalupe", "Nkechi", "Svetlana", "Mateus", "Yusuf"]
ONSETS = ["Ko", "Vra", "Mel", "Dra", "Tis", "Bor", "Zan", "Kul", "Fen", "Ost", "Yar", "Gre", "Pav", "Sto", "Lum",
          "Tral", "Quen", "Hal", "Mor", "Bel"]
MIDDLES = ["v", "vr", "l", "nd", "st", "sk", "m", "rk", "zh", "tt"]
SUFFIXES = ["enko", "ovic", "essen", "ardi", "ewicz", "iadis", "orov", "quist", "ucci", "escu", "idze", "auer",
            "inski", "akis", "ouche"]
RELATIONS = ["daughter", "son", "wife", "husband", "sister", "brother", "niece", "nephew", "mother", "father",
             "granddaughter", "grandson", "partner", "friend", "HCP"]
STREET_NAMES = ["Maple", "Elm", "Oak", "Cedar", "Harbor", "Linden", "Chestnut", "Sycamore", "Old Mill", "Greenspring",
                "Dogwood", "Ridgeview", "Briarwood", "Hollins"]
STREET_TYPES = ["Street", "St.", "St", "Avenue", "Ave.", "Ave", "Road", "Rd.", "Boulevard", "Blvd", "Drive", "Lane",
                "Ln", "Court", "Way", "Terrace", "Place", "Circle", "Pike", "Parkway"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
EMAIL_DOMAINS = ["example.com", "mail.example.org", "example.net", "med.example.edu", "gmail.com", "yahoo.com",
                 "comcast.net"]


@dataclass(frozen=True)
class Plant:
    kind: str
    text: str  # what is written into the note
    secrets: tuple[str, ...]  # parts of `text` that must not be found anywhere in the output
    cores: tuple[str, ...] = ()  # parts of `text` whose letters and digits spans must cover (default: secrets)

    def __post_init__(self):
        if not self.cores:
            object.__setattr__(self, "cores", self.secrets)

    def cased(self, style: str) -> Plant:
        change = STYLES[style]
        return Plant(self.kind, change(self.text), tuple(map(change, self.secrets)), tuple(map(change, self.cores)))


STYLES = {"cased": lambda s: s, "upper": str.upper, "lower": str.lower}


class PhiFactory:
    """Synthetic PHI values of every kind, from one seeded random generator; each call draws a new value."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def pick(self, items):
        return self.rng.choice(items)

    def digits(self, count: int) -> str:
        return "".join(self.rng.choice(string.digits) for _ in range(count))

    def made_up_surname(self) -> str:
        return self.pick(ONSETS) + self.pick(MIDDLES) + self.pick(SUFFIXES)

    def surname(self, wordlike: bool = False) -> str:
        pools = [COMMON_SURNAMES, RARE_SURNAMES, PUNCTUATED_SURNAMES, None] + ([WORDLIKE_SURNAMES] if wordlike else [])
        pool = self.pick(pools)
        return self.made_up_surname() if pool is None else self.pick(pool)

    # ---------------------------------------------------------------------------------------- kinds

    def ssn(self) -> Plant:
        area = self.rng.choice([n for n in range(1, 900) if n != 666])
        number = f"{area:03d}", f"{self.rng.randint(1, 99):02d}", f"{self.rng.randint(1, 9999):04d}"
        text = self.pick(["-", " "]).join(number)
        return Plant("SSN", text, (text,))

    def phone(self) -> Plant:
        area = f"{self.rng.randint(2, 9)}{self.rng.randint(0, 8)}{self.rng.randint(0, 9)}"
        exchange, line = f"{self.rng.randint(2, 9)}{self.digits(2)}", self.digits(4)
        form = self.rng.randrange(8)
        sep = {0: "-", 1: "-", 2: ".", 3: " ", 4: "-", 5: "-", 6: " ", 7: "-"}[form]
        local = f"{exchange}{sep}{line}"
        number = {0: f"({area}) {local}", 1: f"{area}-{local}", 2: f"{area}.{local}", 3: f"{area} {local}",
                  4: f"{area}-{local}", 5: f"({area}) {local}", 6: f"+1 {area} {local}", 7: f"1-{area}-{local}"}[form]
        ext = {4: f" ext. {self.rng.randint(10, 9999)}", 5: f" x{self.rng.randint(10, 999)}"}.get(form, "")
        return Plant("PHONE", number + ext, (number, local), (number.removeprefix("+1 ").removeprefix("1-"),))

    def email(self) -> Plant:
        first, last = self.pick(FIRST_NAMES).lower(), self.made_up_surname().lower()
        local = self.pick([f"{first}.{last}", f"{first[0]}{last}{self.digits(2)}", f"{last}_{first}",
                           f"{first}{last[:3]}+clinic", f"{last}{self.digits(4)}"])
        domain = self.pick(EMAIL_DOMAINS + [f"{self.made_up_surname().lower()}-family.net"])
        text = f"{local}@{domain}"
        return Plant("EMAIL", text, (text, local), (text,))

    def mrn(self) -> Plant:
        number = self.digits(self.rng.choice([7, 8])) if self.rng.random() < 0.5 else "00" + self.digits(6)
        label = self.pick(["MRN: ", "MRN ", "MRN# ", "medical record # ", "Medical Record Number: ", "MR# "])
        return Plant("MRN", label + number, (number,))

    def title_name(self) -> Plant:
        title = self.pick(["Dr. ", "Dr ", "Mrs. ", "Mr. ", "Ms. ", "Dr. ", "Doctor "])
        names = [self.surname(wordlike=True)]
        if self.rng.random() < 0.25:
            names.insert(0, self.pick(FIRST_NAMES))
        return Plant("TITLE_NAME", title + " ".join(names), tuple(names))

    def relation_name(self) -> Plant:
        relation = self.pick(RELATIONS)
        lead = self.pick(["", "", "her ", "his ", "pt's "]) if relation != "HCP" else ""
        names = [self.pick(FIRST_NAMES)]
        if self.rng.random() < 0.4:
            names.append(self.surname())
        joint = self.pick([" ", " ", ", ", " (", " is "])
        text = f"{lead}{relation}{joint}{' '.join(names)}" + (")" if joint == " (" else "")
        return Plant("RELATION_NAME", text, tuple(names))

    def address(self) -> Plant:
        number = str(self.rng.choice([self.rng.randint(1, 99), self.rng.randint(100, 9999),
                                      self.rng.randint(10000, 99999)]))
        direction = self.pick(["", "", "", "W. ", "N ", "E. ", "S "])
        street = self.pick(STREET_NAMES + [self.made_up_surname()])
        kind = self.pick(STREET_TYPES)
        unit = self.pick(["", "", f", Apt {self.rng.randint(1, 40)}", f", Apt. {self.rng.randint(1, 20)}B",
                          f" Suite {self.rng.randint(100, 999)}", f" #{self.rng.randint(1, 9)}"])
        text = f"{number} {direction}{street} {kind}{unit}"
        secrets = (f"{number} {direction}{street}", f"{street} {kind.rstrip('.')}")
        return Plant("ADDRESS", text, secrets, (number, street))

    def date(self) -> Plant:
        year, month, day = self.rng.randint(1935, 2023), self.rng.randint(1, 12), self.rng.randint(1, 28)
        name = MONTHS[month - 1]
        form = self.rng.randrange(6)
        text, secret = {
            0: (f"{month:02d}/{day:02d}/{year}", f"{month:02d}/{day:02d}"),
            1: (f"{month}/{day}/{year % 100:02d}", f"{month}/{day}"),
            2: (f"{name} {day}, {year}", f"{name} {day}"),
            3: (f"{day} {name[:3]} {year}", f"{day} {name[:3]}"),
            4: (f"{year}-{month:02d}-{day:02d}", f"{year}-{month:02d}-{day:02d}"),
            5: (f"{month}-{day}-{year}", f"{month}-{day}-{year}"),
        }[form]
        return Plant("DATE", text, (secret,))

    def age(self) -> Plant:
        years = self.rng.randint(90, 104)
        text = self.pick([f"{years}-year-old", f"{years} yo", f"{years} y/o", f"age {years}", f"aged {years}",
                          f"{years} years old"])
        return Plant("AGE", text, (text,), (str(years),))


# ------------------------------------------------------------------------------------------ carriers

# Clinical note sentences with slots; the style says how the whole sentence (values included) is written.
TEMPLATES: list[tuple[str, str]] = [
    ("cased", ("Neuro: A&Ox3, MAE. Pt seen by {title_name} on rounds; family at bedside, {relation_name} updated and "
               "can be reached at {phone}. Registration verified SSN {ssn} and {mrn}.")),
    ("upper", ("RESP: LS CLEAR, ON 2L NC. {relation_name} CALLED FOR UPDATE, CALLBACK {phone}. {title_name} AWARE OF "
               "K 3.2, REPLETED. PT LIVES AT {address} WITH {relation_name}. SSN {ssn}. DOB {date}.")),
    ("lower", ("pt comfortable overnight, no c/o pain. {relation_name} visited this evening, cell {phone}. "
               "{title_name} paged re: low uop, ns bolus given. family email {email}. {mrn}.")),
    ("cased", ("SW note: pt, {age}, lives alone at {address}; {relation_name} is the health care proxy. Admitted "
               "{date}. Contact email {email}, home phone {phone}. Per {title_name}, d/c planning to start.")),
    ("cased", ("Patient registration reviewed. {mrn}. Social security no. {ssn}. DOB {date}. Address: {address}. "
               "PCP {title_name}. Emergency contact: {relation_name}, {phone}, {email}.")),
    ("cased", ("Discussed with {title_name} and {title_name}, who agree with plan; follow-up on {date}. "
               "Pt ({age}) is a widow. Spoke with {relation_name} by phone at {phone}; will drive pt home to "
               "{address}. ID on file: {ssn}.")),
]
FILLER = ["Afebrile overnight, VSS.", "Lungs clear bilaterally, on 2L NC with sats 96%.",
          "Tolerating clear liquids, abd soft, +BS x4.", "Foley draining clear yellow urine, 40-60 cc/hr.",
          "Pt turned q2h, skin intact, heels floated.", "Heparin gtt at 1000 units/hr, PTT pending.",
          "K 3.4 repleted with 40 mEq KCl PO.", "Ambulated in hall with PT, steady gait with walker.",
          "Pain 3/10 at incision, relieved with Tylenol 650 mg PO.", "Will continue to monitor.",
          "Sinus rhythm 70s-80s, no ectopy.", "Glucose 182, covered per sliding scale."]
CLINICAL = ("Foley catheter placed. History of Parkinson disease and Bell's palsy. CHF, SOB. PT/INR checked at 1400. "
            "BP 120/80, pain 5/10, given 5 mg morphine.")
CLINICAL_KEEP = ["Foley catheter", "Parkinson", "Bell's palsy", "CHF", "SOB", "PT/INR", "at 1400", "BP 120/80",
                 "pain 5/10", "5 mg", "morphine"]
SLOT = re.compile(r"\{(\w+)\}")


@dataclass
class Note:
    text: str
    plants: list[tuple[Plant, int, int]] = field(default_factory=list)  # (plant, start, end)
    inserted: list[tuple[int, int]] = field(default_factory=list)  # ranges that are not carrier text


def render(template: str, style: str, factory: PhiFactory) -> tuple[str, list[tuple[Plant, int, int]]]:
    """The template with every slot filled by a fresh value, and where each value sits in the result."""
    change, pieces, plants, position = STYLES[style], [], [], 0
    for number, piece in enumerate(SLOT.split(template)):
        if number % 2:
            plant = getattr(factory, piece)().cased(style)
            plants.append((plant, position, position + len(plant.text)))
            piece = plant.text
        else:
            piece = change(piece)
        pieces.append(piece)
        position += len(piece)
    return "".join(pieces), plants


def secret_pattern(secret: str) -> re.Pattern:
    return _secret_pattern(secret.lower())


@cache
def _secret_pattern(secret: str) -> re.Pattern:
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", re.I)


def secrets_unambiguous(text: str, plants: list[tuple[Plant, int, int]]) -> bool:
    """Whether each secret occurs in `text` exactly as often as it was planted (so it is not carrier text too)."""
    planted = Counter(s.lower() for plant, _, _ in plants for s in set(plant.secrets))
    return all(len(secret_pattern(s).findall(text)) == count for s, count in planted.items())


def shift(plants, offset: int) -> list[tuple[Plant, int, int]]:
    return [(plant, start + offset, end + offset) for plant, start, end in plants]


def synthetic_note(factory: PhiFactory, style: str) -> Note:
    """A nursing-style note in one style: filler sentences with two or three PHI-bearing sentences among them."""
    rng, change = factory.rng, STYLES[style]
    templates = [t for s, t in TEMPLATES if s == style] or [t for _, t in TEMPLATES]
    for _ in range(50):
        text, plants, inserted = "", [], []
        for _ in range(rng.randint(2, 3)):
            text += " ".join(change(s) for s in rng.sample(FILLER, 3)) + " "
            sentence, found = render(rng.choice(templates), style, factory)
            plants += shift(found, len(text))
            inserted.append((len(text), len(text) + len(sentence)))
            text += sentence + " "
        text += change(rng.choice(FILLER))
        if secrets_unambiguous(text, plants):
            return Note(text, plants, inserted)
    raise AssertionError("could not draw values that the note does not already hold")


SENTENCE_END = re.compile(r"\.\s+(?=[A-Z])")


def planted_mtsamples_note(carrier: str, template: tuple[str, str], factory: PhiFactory) -> Note | None:
    """`carrier` with a PHI-bearing sentence inserted at the sentence boundary nearest its middle."""
    boundaries = [m.end() for m in SENTENCE_END.finditer(carrier)]
    if not boundaries:
        return None
    cut = min(boundaries, key=lambda b: abs(b - len(carrier) // 2))
    style, sentence_template = template
    for _ in range(50):
        sentence, found = render(sentence_template, style, factory)
        text = carrier[:cut] + sentence + " " + carrier[cut:]
        plants = shift(found, cut)
        if secrets_unambiguous(text, plants):
            return Note(text, plants, [(cut, cut + len(sentence) + 1)])
    raise AssertionError("could not draw values that the note does not already hold")


# ------------------------------------------------------------------------------------------- checks

@dataclass
class Scrubbed:
    note: Note
    spans: list[Span]
    output: str

    def uncovered(self, start: int, end: int) -> str:
        """The letters and digits of `text[start:end]` that no span covers."""
        inside = [False] * (end - start)
        for span in self.spans:
            for i in range(max(span.start, start), min(span.end, end)):
                inside[i - start] = True
        return "".join(c for c, hidden in zip(self.note.text[start:end], inside) if c.isalnum() and not hidden)


def scrub(scrubber: PhiScrubber, notes: list[Note]) -> list[Scrubbed]:
    results = []
    for note in notes:
        spans = scrubber.find(note.text)
        results.append(Scrubbed(note, spans, with_tags(note.text, spans)))
    return results


def leaks(result: Scrubbed, plant: Plant, start: int) -> list[str]:
    """What is left of a planted value: a secret found whole in the output, or letters and digits of a core
    that no span covers (a secret cut in two by spans, "Kov[NAME]", is a leak that the first check misses)."""
    found = []
    for secret in plant.secrets:
        if secret_pattern(secret).search(result.output):
            found.append(repr(secret))
    for core in plant.cores:
        if any(core.lower() in leak.lower() for leak in found):
            continue  # already reported whole
        at = start + plant.text.index(core)
        if left := result.uncovered(at, at + len(core)):
            found.append(f"{core!r} not fully covered by spans: {left!r} left")
    return found


def survivors(results: list[Scrubbed], kind: str) -> tuple[int, list[str]]:
    """How many values of `kind` were planted, and a line for each one of them that survived."""
    planted, lines = 0, []
    for result in results:
        for plant, start, _ in result.note.plants:
            if plant.kind != kind:
                continue
            planted += 1
            if left := leaks(result, plant, start):
                lines.append(f"{plant.text!r} (survived: {', '.join(left)})")
    return planted, lines


def assert_none_survive(results: list[Scrubbed], kind: str, where: str) -> None:
    planted, lines = survivors(results, kind)
    assert planted >= 20, f"only {planted} {kind} values planted in {where}"
    shown = "\n  ".join(sorted(set(lines))[:80])
    assert not lines, (f"{len(lines)} of {planted} planted {kind} values survived scrubbing in {where} "
                       f"({len(set(lines))} distinct; first 80):\n  {shown}")


def assert_well_formed(text: str, spans: list[Span]) -> None:
    previous_end = 0
    for span in spans:
        assert isinstance(span.label, str) and span.label.strip(), span
        assert 0 <= span.start < span.end <= len(text), (span, len(text))
        assert span.start >= previous_end, f"span {span} overlaps or precedes the one ending at {previous_end}"
        previous_end = span.end


# ----------------------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def scrubber() -> PhiScrubber:
    return PhiScrubber(ScrubberSettings())


@pytest.fixture(scope="module")
def synthetic_results(scrubber) -> list[Scrubbed]:
    factory = PhiFactory(SEED)
    notes = [synthetic_note(factory, style) for _ in range(30) for style in STYLES]
    return scrub(scrubber, notes)


@pytest.fixture(scope="module")
def mtsamples_rows(shared) -> list[list[str]]:
    path = shared.joinpath(*MTSAMPLES)
    if not path.is_file():
        pytest.skip(f"mtsamples sample not found at {path}")
    with path.open(newline="", encoding="utf-8") as handle:
        return [row for row in csv.reader(handle)]


@pytest.fixture(scope="module")
def mtsamples_results(scrubber, mtsamples_rows) -> list[Scrubbed]:
    factory = PhiFactory(SEED + 1)
    carriers = [row[4] for row in mtsamples_rows if len(row) >= 5 and len(row[4]) >= 500]
    notes = []
    for number, carrier in enumerate(carriers):
        note = planted_mtsamples_note(carrier, TEMPLATES[number % len(TEMPLATES)], factory)
        if note is not None:
            notes.append(note)
    assert len(notes) >= 300, f"only {len(notes)} mtsamples notes could carry PHI"
    return scrub(scrubber, notes)


# ------------------------------------------------------------------------------------------- tests

def test_generator_is_seeded_and_makes_every_format():
    first, second = PhiFactory(SEED), PhiFactory(SEED)
    draws = [getattr(first, kind.lower())() for kind in KINDS for _ in range(1000)]
    assert draws == [getattr(second, kind.lower())() for kind in KINDS for _ in range(1000)]
    for plant in draws:
        assert plant.secrets and all(secret and secret in plant.text for secret in plant.secrets + plant.cores), plant
    texts = defaultdict(list)
    for plant in draws:
        texts[plant.kind].append(plant.text)
    shapes = {
        "SSN": [r"^\d{3}-\d{2}-\d{4}$", r"^\d{3} \d{2} \d{4}$"],
        "PHONE": [r"^\(\d{3}\) \d{3}-\d{4}$", r"^\d{3}-\d{3}-\d{4}$", r"^\d{3}\.\d{3}\.\d{4}$", r"^\d{3} \d{3} \d{4}$",
                  r" ext\. \d+$", r" x\d+$", r"^\+1 ", r"^1-"],
        "MRN": [r"^MRN: \d{7,8}$", r"^MRN \d{7,8}$", r"^medical record # \d{7,8}$"],
        "TITLE_NAME": [r"^Dr\. ", r"^Dr [A-Z]", r"^Mrs\. ", r"^Mr\. O'", r"^Ms\. "],
        "RELATION_NAME": [r"^daughter ", r"^her son, ", r"^wife [A-Z][a-z]+ [A-Z]"],
        "ADDRESS": [r"^\d+ [A-Z][a-z]+ Street$", r"^\d+ W\. ", r" Ave\.", r", Apt \d+$", r" Suite \d+$"],
        "DATE": [r"^\d\d/\d\d/\d{4}$", r"^[A-Z][a-z]+ \d+, \d{4}$", r"^\d{4}-\d\d-\d\d$"],
        "AGE": [r"^9\d-year-old$", r"^age (9\d|10\d)$"],
    }
    for kind, wanted in shapes.items():
        for shape in wanted:
            assert any(re.search(shape, text) for text in texts[kind]), f"no {kind} value like {shape}"
    surnames = {s for p in draws if p.kind == "TITLE_NAME" for s in p.secrets}
    assert surnames & set(COMMON_SURNAMES) and surnames & set(RARE_SURNAMES) and surnames & set(PUNCTUATED_SURNAMES)
    assert len(surnames - set(COMMON_SURNAMES + RARE_SURNAMES + PUNCTUATED_SURNAMES + WORDLIKE_SURNAMES
                              + FIRST_NAMES)) >= 20  # made-up syllable surnames


def test_enough_values_are_planted(synthetic_results):
    counts = Counter(plant.kind for result in synthetic_results for plant, _, _ in result.note.plants)
    assert sum(counts[kind] for kind in HIGH_RISK) >= 300, counts
    assert all(counts[kind] >= 20 for kind in KINDS), counts
    for result in synthetic_results:  # each value sits where the note says it does
        for plant, start, end in result.note.plants:
            assert result.note.text[start:end] == plant.text


# The examples the issue and its discussion name, each in a short note of its own.
ISSUE_EXAMPLES = [
    ("SSN 123-45-6789 verified with registration.", ["123-45-6789"]),
    ("SSN 123 45 6789 verified with registration.", ["123 45 6789"]),
    ("Call (410) 555-1234 with questions.", ["(410) 555-1234"]),
    ("Call 410-555-1234 with questions.", ["410-555-1234"]),
    ("Call 410.555.1234 with questions.", ["410.555.1234"]),
    ("Call 410 555 1234 with questions.", ["410 555 1234"]),
    ("Call 410-555-1234 ext. 221 with questions.", ["410-555-1234"]),
    ("Family email maria.okafor@example.com for updates.", ["maria.okafor@example.com"]),
    ("MRN: 12345678 on armband.", ["12345678"]),
    ("MRN 1234567 on armband.", ["1234567"]),
    ("Verified medical record # 00123456 on armband.", ["00123456"]),
    ("Seen by Dr. Okafor on rounds.", ["Okafor"]),
    ("Dr Lindqvist aware of labs.", ["Lindqvist"]),
    ("Mrs. Patel at bedside.", ["Patel"]),
    ("Mr. O'Brien called for update.", ["O'Brien"]),
    ("Dr. Kovrenko paged re: low UOP.", ["Kovrenko"]),
    ("Updated daughter Maria by phone.", ["Maria"]),
    ("Pt resting, her son, Tomasz, at bedside.", ["Tomasz"]),
    ("Spoke with wife Ingrid Halvorsen, who is HCP.", ["Ingrid", "Halvorsen"]),
    ("Pt lives at 1234 Maple Street with wife.", ["1234 Maple"]),
    ("Home address 56 W. Elm Ave., Apt 4.", ["56 W. Elm"]),
]


@pytest.mark.parametrize("sentence,secrets", ISSUE_EXAMPLES, ids=[sentence for sentence, _ in ISSUE_EXAMPLES])
def test_issue_examples_are_redacted(scrubber, sentence, secrets):
    text = " ".join(FILLER[:3]) + " " + sentence + " " + " ".join(FILLER[3:6])
    spans = scrubber.find(text)
    result = Scrubbed(Note(text), spans, with_tags(text, spans))
    for secret in secrets:
        at = text.index(secret)
        assert not secret_pattern(secret).search(result.output) and not result.uncovered(at, at + len(secret)), (
            f"{secret!r} survived: {with_tags(sentence, scrubber.find(sentence))!r}")


@pytest.mark.parametrize("kind", KINDS)
def test_no_planted_phi_survives_in_synthetic_notes(synthetic_results, kind):
    assert_none_survive(synthetic_results, kind, "synthetic nursing notes")


@pytest.mark.parametrize("kind", KINDS)
def test_no_planted_phi_survives_in_mtsamples(mtsamples_results, kind):
    assert_none_survive(mtsamples_results, kind, "mtsamples transcriptions")


def test_mtsamples_carrier_text_is_barely_redacted(mtsamples_results):
    """Outside the inserted PHI sentences, the transcriptions are clinical text: little of it may go."""
    carrier_chars = redacted = 0
    for result in mtsamples_results:
        carrier = [True] * len(result.note.text)
        for start, end in result.note.inserted:
            carrier[start:end] = [False] * (end - start)
        carrier_chars += sum(carrier)
        redacted += sum(sum(carrier[span.start:span.end]) for span in result.spans)
    assert carrier_chars > 500_000
    assert redacted / carrier_chars < MAX_OVERREDACTION, f"{redacted / carrier_chars:.2%} of mtsamples text redacted"


@pytest.mark.parametrize("style", list(STYLES))
def test_clinical_words_are_not_redacted(scrubber, style):
    sentence = STYLES[style](CLINICAL)
    spans = scrubber.find(sentence)
    output = with_tags(sentence, spans)
    lost = [word for word in CLINICAL_KEEP if STYLES[style](word) not in output]
    assert not lost, f"clinical text redacted: {lost} -> {output!r}"
    assert spans == [], f"nothing in {sentence!r} is PHI, yet: {[(sentence[s.start:s.end], s.label) for s in spans]}"


def test_clinical_words_survive_next_to_phi(scrubber):
    """With names found nearby (and propagated through the note), the clinical words still stay."""
    factory = PhiFactory(SEED + 2)
    for _ in range(20):
        note = synthetic_note(factory, "cased")
        text = note.text + " " + CLINICAL
        output = with_tags(text, scrubber.find(text))
        lost = [word for word in CLINICAL_KEEP if word not in output[-len(CLINICAL) - 40:]]
        assert not lost, f"clinical text redacted next to PHI: {lost} -> {output[-len(CLINICAL) - 40:]!r}"


def test_spans_are_well_formed_in_synthetic_notes(synthetic_results):
    for result in synthetic_results:
        assert_well_formed(result.note.text, result.spans)


def test_spans_are_well_formed_in_mtsamples(mtsamples_results):
    for result in mtsamples_results:
        assert_well_formed(result.note.text, result.spans)


# ------------------------------------------------------------------------------------------ long note

BOUNDARY_PLANTS = [  # (value, secret): distinct, so that no value is redacted by propagation from another
    ("Dr. Kovrenko", "Kovrenko"),
    ("(410) 555-0187", "(410) 555-0187"),
    ("123-45-6789", "123-45-6789"),
    ("daughter Thandiwe Ostrovic", "Ostrovic"),
    ("melkovic.family@example.org", "melkovic.family@example.org"),
    ("MRN: 40417733", "40417733"),
    ("443.555.0142 ext. 12", "443.555.0142"),
    ("Mrs. Zanskiewicz", "Zanskiewicz"),
    ("Dr Tralmescu", "Tralmescu"),
    ("301 555 0163", "301 555 0163"),
    ("219 44 8065", "219 44 8065"),
    ("husband, Bogdan Fenrkauer", "Fenrkauer"),
    ("kulstidze@example.com", "kulstidze@example.com"),
    ("medical record # 00913377", "00913377"),
]
LEAD = ". Seen today, "


def build_long_note(settings: ScrubberSettings) -> tuple[str, list[tuple[str, str, int, int]]]:
    """Over 1,000,000 characters of nursing text, a distinct PHI value straddling every chunk boundary."""
    paragraph = " ".join(FILLER + [CLINICAL]) + " "
    text = paragraph * (1_100_000 // len(paragraph) + 1)
    boundaries = [end for _, end in chunk_bounds(len(text), settings.chunk_chars, settings.overlap_chars)][:-1]
    assert len(boundaries) <= len(BOUNDARY_PLANTS)
    planted = []
    for (value, secret), boundary in zip(BOUNDARY_PLANTS, boundaries):
        start = boundary - len(value) // 2
        piece = f"{LEAD}{value} is aware. "
        at = start - len(LEAD)
        text = text[:at] + piece + text[at + len(piece):]
        assert text[start:start + len(value)] == value and start < boundary < start + len(value)
        planted.append((value, secret, start, start + len(value)))
    assert len(text) > 1_000_000
    return text, planted


def boundary_leaks(text: str, spans: list[Span], planted) -> list[str]:
    result = Scrubbed(Note(text), spans, with_tags(text, spans))
    found = []
    for value, secret, start, _ in planted:
        at = text.index(secret, start)
        if secret_pattern(secret).search(result.output):
            found.append(f"{value!r} at {start}: {secret!r} survived")
        elif left := result.uncovered(at, at + len(secret)):
            found.append(f"{value!r} at {start}: {left!r} of {secret!r} not redacted")
    return found


def test_boundary_values_are_found_away_from_boundaries(scrubber):
    """The control for the test below: each value, in the same sentence, is found in a short note."""
    for value, secret in BOUNDARY_PLANTS:
        text = " ".join(FILLER[:4]) + f"{LEAD}{value} is aware. " + " ".join(FILLER[4:])
        spans = scrubber.find(text)
        at = text.index(secret)
        assert Scrubbed(Note(text), spans, "").uncovered(at, at + len(secret)) == "", value


@pytest.mark.slow
def test_phi_straddling_chunk_boundaries_is_found(scrubber):
    settings = ScrubberSettings()
    assert (settings.chunk_chars, settings.overlap_chars) == (100_000, 2_000)
    text, planted = build_long_note(settings)
    (_, _, name_start, name_end), (_, _, phone_start, phone_end) = planted[:2]  # "Dr. Kovrenko", a phone number
    assert name_start < 100_000 < name_end and phone_start < 198_000 < phone_end
    assert len(planted) >= 10
    spans = scrubber.find(text)
    assert_well_formed(text, spans)
    found = boundary_leaks(text, spans, planted)
    assert not found, "PHI at chunk boundaries not redacted:\n  " + "\n  ".join(found)
    outside = [True] * len(text)
    for _, _, start, end in planted:
        outside[start:end] = [False] * (end - start)
    redacted = sum(sum(outside[span.start:span.end]) for span in spans)
    assert redacted / len(text) < MAX_OVERREDACTION, f"{redacted / len(text):.2%} of the long note redacted"
