"""PHI with a shape: dates, numbers, addresses, e-mail, URLs, MIMIC placeholders; one regex per kind.

Each `Pattern` finds candidates with one compiled regex (the C engine does the scanning, which is
what makes this fast) and may reject a candidate with a Python check that looks at its context:
"5/10" after "pain" is a score, "1900" after "@" is a time, "92" after "MI" is a year.
Offsets of the PHI part are the regex's group `phi` when it has one, else the whole match.
Each regex is compiled with whichever engine scans the 1.2 MB PhysioNet notes faster (`stdlib=True`
marks the standard library's); `benchmarks/phi_speed.py` measures the whole.
"""

from __future__ import annotations

import ipaddress
import re as stdlib_re  # the standard library's engine: faster for a bare candidate scan without look-behind
from dataclasses import dataclass
from typing import Callable

import regex as re  # faster everywhere else here (look-behinds, word alternations)

from medmix.corpus.phi.placeholders import MIMIC_PLACEHOLDER, placeholder_tag

MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
         r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
FULL_MONTH = r"(?:january|february|march|april|june|july|august|september|october|november|december)"
DAY = r"(?:0?[1-9]|[12]\d|3[01])"
MONTH_NUMBER = r"(?:0?[1-9]|1[0-2])"
YEAR = r"(?:19\d\d|20\d\d|\d\d)"

# Words after which a bare number is a year: "MI '92", "CABG 84", "lumpectomy in 1983".
EVENT_WORDS = (r"mi|nstemi|stemi|nqwmi|imi|ami|cabg|cabgx\d|redo|cva|tia|ptca|pci|stent|stents|avr|mvr|tvr|"
               r"ablation|pacer|pacemaker|aicd|icd|surgery|lumpectomy|mastectomy|resection|cholecystectomy|"
               r"appendectomy|hysterectomy|tah|bso|turp|colectomy|repair|replacement|ca|cancer|dx|diagnosed|"
               r"smoking|quit|stopped|x\d")
YEAR_WORDS = EVENT_WORDS + r"|since|in|of|year|born|circa|until"
YEAR_BEFORE = re.compile(rf"\b(?:{YEAR_WORDS})\W*$", re.I)
EVENT_BEFORE = re.compile(rf"\b(?:{EVENT_WORDS})\s*(?:x\s?\d\s+)?$", re.I)
PHONE_WORDS = r"pager|beeper|pg|page|cell|cellular|mobile|home|work|office|tel|telephone|phone|ph|fax|ext|extension|contact|call"
ID_WORDS = (r"mrn|mr#|medical record|record|chart|acct|account|policy|member|subscriber|insurance|health plan|plan|"
            r"group|license|licence|lic|dea|npi|serial|device|lot|ref|reference|case|accession|specimen|unit no|id|"
            r"identifier|ssn|#")
DATE_WORDS = r"on|from|since|until|dated|of|date|dos|doa|dod|admitted|born"
UNIT_AFTER = re.compile(r"\s*(?:%|mg|mcg|g\b|kg|lb|ml|cc|l\b|units?|u\b|meq|mmol|mm|cm|hr|hrs|h\b|min|mins|"
                        r"breaths|bpm|beats|/|x\b|o'?clock|degrees?|peep|ps\b|cpap)", re.I)
PAIN_OR_SCORE_BEFORE = re.compile(r"\b(?:pain|score|scale|rated|rates|gcs|apgar|strength|power|murmur|grade|"
                                  r"sats?|spo2|ratio|i:e|ps|psv|peep|cpap|bipap|settings?|support|vent|ventilator|ac|simv|imv)\b\W*(?:\w+\W+){0,2}$", re.I)
TIME_BEFORE = re.compile(r"(?:@|\bat|\bby|\buntil|\btill|\bfrom|\bto|\bapprox\.?|\baround|\babout|-|\d)\s*$", re.I)


@dataclass(frozen=True)
class Pattern:
    label: str
    regex: re.Pattern
    accept: Callable[[str, re.Match], bool] | None = None
    label_of: Callable[[re.Match], str] | None = None  # when the label depends on the match
    needles: tuple[str, ...] = ()  # the regex runs only if the lowercased text holds one of these


def preceded_by(words: str, then: Callable[[str, re.Match], bool] | None = None) -> Callable[[str, re.Match], bool]:
    """Accept a match only if the text just before it ends with one of `words` (a regex alternation).
    Matching the digits first and looking back is far faster than a regex that starts with the words."""
    before = re.compile(rf"\b(?:{words})\W{{0,4}}(?:(?:number|no\.?|num|#|id)\W{{0,3}})?$", re.I)

    def accept(text: str, match: re.Match) -> bool:
        return before.search(text, max(0, match.start() - 40), match.start()) is not None and (
            then is None or then(text, match))
    return accept


def _not_a_range(text: str, match: re.Match) -> bool:
    """555-1212 is a phone number; 500-1000 (cc, or any pair of round numbers) is a range."""
    low, high = re.split(r"[ .-]", match.group())
    return not (int(low) % 5 == 0 and int(high) % 5 == 0) and not UNIT_AFTER.match(text, match.end())


def _not_score_or_fraction(text: str, match: re.Match) -> bool:
    month, day = match.group("m"), match.group("d")
    if text.startswith("%", match.end()):
        return False  # 12/10/40%: ventilator settings
    if not match.group("y"):
        if PAIN_OR_SCORE_BEFORE.search(text, max(0, match.start() - 40), match.start()):
            return False
        if (month, day) in (("5", "5"), ("10", "10")) or day == "10" and re.match(r"\d-", text[max(0, match.start() - 2):match.start()]):
            return False  # 5/5 and 10/10 are vent settings and strengths; 3-4/10 is a pain score
        if day in ("10", "5") and "pain" in text[max(0, match.start() - 60):match.end() + 30].lower():
            return False
        if int(day) <= 4 and int(month) < int(day):  # 1/2, 1/3, 2/3, 3/4: fractions
            return False
        if UNIT_AFTER.match(text, match.end()):
            return False
    return True


def _four_digit_year(text: str, match: re.Match) -> bool:
    """1992 is a year; 1930 may be a time (19:30), so it needs a year-like word before it."""
    value = match.group("phi")
    if UNIT_AFTER.match(text, match.end()):
        return False
    if int(value[2:]) >= 60:
        return True
    before = text[max(0, match.start() - 30):match.start()]
    return YEAR_BEFORE.search(before) is not None and not TIME_BEFORE.search(before)


def _event_year(text: str, match: re.Match) -> bool:
    return not UNIT_AFTER.match(text, match.end()) and EVENT_BEFORE.search(
        text, max(0, match.start() - 30), match.start()) is not None


def _valid_ip(text: str, match: re.Match) -> bool:
    try:
        ipaddress.ip_address(match.group(0))
    except ValueError:
        return False
    return True


def _age_over_89(text: str, match: re.Match) -> bool:
    return int(match.group("phi")) >= 90


def _placeholder_label(match: re.Match) -> str:
    return placeholder_tag(match.group(1)).strip("[]")


def _compile(pattern: str, flags: int = re.I, stdlib: bool = False) -> re.Pattern:
    return stdlib_re.compile(pattern, flags) if stdlib else re.compile(pattern, flags | re.V0)


PATTERNS: list[Pattern] = [
    Pattern("PLACEHOLDER", MIMIC_PLACEHOLDER, label_of=_placeholder_label),
    Pattern("EMAIL", _compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), needles=("@",)),
    Pattern("URL", _compile(r"\b(?:https?://|www\.)[^\s<>\"')\]]*[^\s<>\"')\].,;:!?]|\b[\w-]+(?:\.[\w-]+)*\.(?:com|org|net|edu|gov|io)"
                            r"(?:/[^\s<>\"')\]]*)?\b"),
            needles=("http", "www.", ".com", ".org", ".net", ".edu", ".gov", ".io")),
    Pattern("IP", _compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b|\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b"), _valid_ip),
    Pattern("SSN", _compile(r"\b(?:ssn|social security(?: number| no\.?| #)?)\W{0,3}(?P<phi>\d{9})\b"
                            r"|\b\d{3}-\d{2}-\d{4}\b|\b\d{3} \d{2} \d{4}\b")),
    # phone and fax: (410) 555-1212, 410-555-1212 x45, 410 555 1212, 410/555-1212, 555-1212, 2025551212
    Pattern("PHONE", _compile(r"(?<![\d/.])(?:\+?1[\s.-]{0,2})?(?:\(\s?\d{3}\s?\)|\d{3})[\s./-]{0,2}\d{3}[\s./-]{0,2}\d{4}"
                              r"(?:\s*(?:x|ext\.?|extension)\s*\d{1,5}\.?)?(?![\d/])")),
    Pattern("PHONE", _compile(r"(?<![\d/.-])\d{3}-\d{4}(?![\d/.-])"), _not_a_range),
    # seven digits grouped by a space or a dot, or with a broken group: 555 1212, 555.1212, 55-51212
    Pattern("PHONE", _compile(r"(?<![\d/.,-])(?:\d{3}[ .]\d{4}|\d{2}-\d{5}|\d{4}-\d{3})(?![\d/]|[.,-]\d)"),
            _not_a_range),
    # pager, beeper, extension numbers: only with their word before them
    Pattern("PHONE", _compile(r"(?<![\w.])\+?\(?\d[\d \t().-]{3,}\d\b"), preceded_by(PHONE_WORDS)),
    Pattern("PHONE", _compile(r"(?<![\w+])\+\d{1,3}[ .-]?(?:\(0\)\s?)?\d[\d .-]{5,}\d\b")),  # international: +44 20 7946 0958
    # record, account, plan, licence, device and serial numbers: the word before them says what they are
    Pattern("ID", _compile(r"(?<![\w.-])(?:[a-z]{0,4}\d[\da-z-]{2,}\d|\d{4,})\b", stdlib=True),
            preceded_by(ID_WORDS)),
    Pattern("ID", _compile(r"(?<![\d.,/-])\d{6,}(?![\d.,/])")),  # long bare numbers are identifiers, not values
    # ages over 89: "92 yo", "age 95", "101-year-old"
    Pattern("AGE", _compile(r"\b(?P<phi>\d{2,3})\s*-?\s*(?:yo|y/o|y\.o\.?|yr|yrs|year|years)\b(?:\s*-?\s*old)?"),
            _age_over_89),
    Pattern("AGE", _compile(r"\b(?:age|aged)\s*:?\s*(?P<phi>\d{2,3})\b"), _age_over_89),
    # street addresses: "1200 Harbor Blvd", "45 W. Elm St., Apt 4"
    Pattern("ADDRESS", _compile(
        r"\b\d{1,6}\s+(?:[NSEW]\.?\s+)?(?:[A-Z][a-z][A-Za-z'.-]*\s+){1,3}"
        r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Drive|Dr|Lane|Ln|Way|Court|Place|Pl|Terrace|Parkway|Pkwy|Highway|Hwy|"
        r"Circle|Cir|Square|Sq|Trail|Pike|Turnpike)\b\.?"
        r"(?:,?\s*(?i:apt|apartment|suite|ste|unit|#)\.?\s*#?\w+)?"
        r"(?:,\s*(?:[A-Z][a-z][A-Za-z'.-]*)(?:\s[A-Z][a-z][A-Za-z'.-]*){0,2})?"  # the town after it: ", Springfield"
        r"(?:,?\s*[A-Z]{2}\b)?(?:\s*\d{5}(?:-\d{4})?\b)?", 0)),  # capitalized, as addresses are written
    Pattern("ADDRESS", _compile(  # any case: a street word spelled out, or abbreviated where the address goes on
        r"\b\d{1,6}\s+(?:[nsew]\.?\s+)?(?:(?!(?:mg|mcg|units?|cc|ml|hrs?|times|per|of|x|to|in)\b)[a-z][a-z'-]*\s+){1,3}"
        r"(?:(?:street|avenue|road|boulevard|drive|lane|court|place|terrace|parkway|highway|circle|square|trail|"
        r"turnpike|pike|way)\b\.?|(?:ave|rd|blvd|ln|pkwy|hwy)\b(?:\.|(?=,|\s*(?:#|apt|suite|unit|\n|$)))"
        r"|(?:st|dr|ct)\b\.?(?=,|\s*(?:#|apt|suite|unit)))"
        r"(?:,?\s*(?:apt|apartment|suite|ste|unit|#)\.?\s*#?\w+)?")),
    Pattern("ADDRESS", _compile(  # any case, with a compass point: "89137 N CEDAR ST"
        r"\b\d{1,6}\s+[nsew]\.?\s+(?:[a-z][a-z'-]*\s+){1,3}(?:st|ave|rd|blvd|ln|dr|ct|pl|way|pkwy|hwy)\b\.?")),
    Pattern("ADDRESS", _compile(r"\b(?:p\.?\s?o\.?\s?box|apt|apartment|suite)\.?\s*#?\s*\d+\w*\b"),
            needles=("box", "apt", "apartment", "suite")),
    Pattern("ADDRESS", _compile(r"\b(?:zip|zip code|postal code|postcode)\W{0,3}(?:is\s+)?(?P<phi>\d{3,5}(?:[ -]\d{2,4})?)\b"),
            needles=("zip", "postal", "postcode")),
    Pattern("ADDRESS", _compile(r"\b(?:A[KLRZ]|C[AOT]|D[CE]|FL|GA|HI|I[ADLN]|K[SY]|LA|M[ADEINOST]|N[CDEHJMVY]|O[HKR]|"
                                r"PA|RI|S[CD]|T[NX]|UT|V[AT]|W[AIVY])\s+(?P<phi>\d{5}(?:-\d{4})?)\b", 0)),
    # dates: 7/22, 09/03/1997, 10-15-19; hyphenated m-d needs a word that says "date" before it
    Pattern("DATE", _compile(rf"(?<![\d/,]|\d[.:])(?P<m>{MONTH_NUMBER})/(?P<d>{DAY})(?:/(?P<y>{YEAR}))?(?![\d/]|\.\d)"),
            _not_score_or_fraction),
    Pattern("DATE", _compile(rf"(?<![\d/.:-])(?P<m>{MONTH_NUMBER})-(?P<d>{DAY})-(?P<y>{YEAR})(?![\d-])"),
            _not_score_or_fraction),
    Pattern("DATE", _compile(rf"(?<![\d/.:-])(?P<m>{MONTH_NUMBER})-(?P<d>{DAY})(?P<y>)(?![\d-])"),
            preceded_by(DATE_WORDS, _not_score_or_fraction)),  # 7-8 is a range unless "on 7-8"
    Pattern("DATE", _compile(r"(?<![\d/.:,])(?:0?[1-9]|1[0-2])/(?:3[2-9]|[4-9]\d)(?![\d/]|\.\d)")),  # 4/97: month/year
    Pattern("DATE", _compile(r"\b\d{4}-\d{2}-\d{2}\b")),  # ISO
    Pattern("DATE", _compile(r"\bthe\s+(?P<phi>[123]?\d(?:st|nd|rd|th))\b(?!\s+(?:time|times|day|hour|hr|week|floor|dose|"
                             r"attempt|try|percentile|grade|rib|intercostal|ics|toe|finger|digit))")),
    Pattern("DATE", _compile(r"\b(?:in|since|during|early|late|mid|of|until|by)\s+(?P<phi>(?:jan|feb|mar|apr|jun|jul|aug|"
                             r"sep|sept|oct|nov|dec)\b\.?)")),
    Pattern("DATE", _compile(rf"(?=[adfjmnos\d])(?:\b{MONTH}\.?\s+{DAY}(?:st|nd|rd|th)?\b(?:,?\s+(?:19|20)\d\d\b)?"
                             rf"|\b{DAY}(?:st|nd|rd|th)?\s+(?:of\s+)?{MONTH}\b\.?(?:,?\s+(?:19|20)\d\d\b)?"
                             rf"|\b{FULL_MONTH}\b(?:,?\s+(?:of\s+)?(?:19|20)\d\d\b)?)", stdlib=True)),
    Pattern("DATE", _compile(r"\b(?:christmas|thanksgiving|easter|new year'?s(?: day| eve)?|independence day|"
                             r"memorial day|labor day|halloween|valentine'?s day)\b"),
            needles=("christmas", "thanksgiving", "easter", "new year", "independence", "memorial day", "labor day",
                     "halloween", "valentine")),
    # years, which Safe Harbor allows but the PhysioNet standard marks: '92, 62', 1980s, CABG 84
    Pattern("DATE", _compile(r"(?<=')\d\d\b(?!')|(?<![\d.-])\d\d(?='(?!s))|\b(?:19|20)\d0'?s\b")),  # not "70's"
    Pattern("DATE", _compile(r"\b(?P<phi>(?:19|20)\d\d)\b"), _four_digit_year),
    Pattern("DATE", _compile(r"(?<![\d.'/:-])(?:[4-9]\d|0\d|1\d)\b(?!\.\d|'|/|:)", stdlib=True), _event_year),
]


def find_patterns(text: str) -> list[tuple[int, int, str]]:
    """Every pattern match in `text` as `(start, end, label)`; overlaps are resolved by the caller."""
    found = []
    lowered = text.lower()
    for pattern in PATTERNS:
        if pattern.needles and not any(needle in lowered for needle in pattern.needles):
            continue
        for match in pattern.regex.finditer(text):
            if pattern.accept is not None and not pattern.accept(text, match):
                continue
            start, end = match.span("phi") if match.groupdict().get("phi") else match.span()
            label = pattern.label_of(match) if pattern.label_of else pattern.label
            found.append((start, end, label))
    return found
