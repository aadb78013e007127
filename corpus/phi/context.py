"""Names and places, found from the words around them: "Dr. X", "daughter X", "transferred to X Hospital".

A name has no shape a regex can see, and nursing notes are often all capitals, so the rules read the
tokens around a candidate instead: a title, a relation word, a facility word or a verb of moving
says what follows or precedes it, and the lexicon says whether a word could be a name or a place
and how common it is in English. Each rule is one small function over the token list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medmix.corpus.phi.lexicon import Lexicon

UPPER, LOWER = re.compile(r"[A-Z]"), re.compile(r"[a-z]")
TOKEN = re.compile(r"[A-Za-z](?:[A-Za-z'’]*[A-Za-z])?|\d+|\S|\n")  # a line break is a token: names do not cross it

TITLES = {"dr", "drs", "doctor", "dr's", "mr", "mrs", "ms", "miss", "mister", "prof", "professor", "md",
          "sr", "sra", "herr", "frau", "mme", "mlle"}
SELF_INTRODUCTIONS = [("my", "name", "is"), ("name", ":"), ("name", "is"), ("call", "me"), ("signed",),
                      ("sincerely", ",")]
INTRODUCTION_ENDS = {phrase[-1] for phrase in SELF_INTRODUCTIONS}  # "My name is Antti Poutiainen"
ROLES = {"np", "rn", "lpn", "pcp", "ho", "attending", "resident", "intern", "fellow", "nurse", "cardiologist",
         "surgeon", "physician", "neurologist", "oncologist", "nephrologist", "pulmonologist", "therapist",
         "sw", "chaplain", "priest", "rabbi", "pastor"}  # single tokens: the tokenizer splits "pa-c", "pt/ot"
RELATIONS = {"son", "sons", "daughter", "daughters", "dtr", "dau", "wife", "husband", "hubby", "spouse",
             "sister", "sisters", "brother", "brothers", "sis", "bro", "mother", "mom", "father", "dad",
             "niece", "nephew", "grandson", "granddaughter", "grandaughter", "grandchild", "grandmother",
             "grandfather", "friend", "proxy", "hcp", "fiance", "fiancee", "partner", "aunt", "uncle",
             "cousin", "neighbor", "neighbour", "boyfriend", "girlfriend", "companion", "stepdaughter",
             "stepson", "guardian", "roommate", "inlaw", "in-law", "sil", "dil", "named", "caregiver"}
# words that can sit between the cue and the name: "daughter, Sarah", "wife (Irene", "son is John"
CONNECTORS = {",", "-", ":", "(", "=", "is", "named", "name", "'s", "’s", "#", "1", "2", "3", "'", "\"", "/"}
CONJUNCTIONS = {"and", "&", ",", "/", "or"}
# common words that follow a title or a relation word and are not names: "Dr. aware", "son at bedside"
STOP = {"the", "a", "an", "to", "in", "at", "on", "of", "and", "or", "for", "with", "by", "from", "as", "is",
        "was", "are", "were", "be", "been", "has", "had", "have", "will", "would", "can", "could", "may",
        "might", "should", "shall", "did", "does", "do", "not", "no", "yes", "here", "there", "this", "that",
        "these", "those", "his", "her", "hers", "him", "he", "she", "they", "them", "their", "it", "its",
        "who", "which", "what", "when", "where", "why", "how", "all", "any", "some", "each", "both", "also",
        "aware", "notified", "paged", "called", "informed", "made", "re", "see", "seen", "saw", "said",
        "ordered", "order", "orders", "wants", "wanted", "feels", "felt", "states", "stated", "came", "come",
        "visit", "visited", "visiting", "present", "updated", "update", "spoke", "spoken", "talked",
        "office", "team", "service", "note", "notes", "plan", "consult", "following", "follow", "today",
        "tonight", "tomorrow", "yesterday", "am", "pm", "out", "up", "down", "over", "via", "per",
        "bedside", "home", "phone", "call", "number", "contact", "pt", "patient", "family", "well", "now",
        "then", "very", "more", "most", "much", "many", "other", "another", "same", "new", "old", "one",
        "two", "three", "first", "last", "next", "prior", "after", "before", "while", "during", "about",
        "mother", "father", "son", "daughter", "wife", "husband", "sister", "brother", "friend", "children",
        "son's", "daughter's", "wife's", "husband's", "re:", "unit", "floor", "room", "nurse", "doctor"}
FACILITY_WORDS = {"hospital", "hosp", "hospitals", "memorial", "regional", "rehab", "rehabilitation", "clinic",
                  "infirmary", "manor", "healthcare", "vamc", "adventist", "institute", "hospice"}
FACILITY_NAME_WORDS = {"memorial", "regional", "adventist", "general", "community", "vamc"}  # part of the name
# named like a hospital, by the words before them: "Hopkins University", "Acme Corp", "Union Medical Center"
INSTITUTION_WORDS = {"university", "college", "center", "centre", "corp", "corporation", "llc", "company"}  # not "inc", which notes use for "increased"
KIND_WORDS = {"medical", "health", "cancer", "heart", "care", "university", "community", "children's"}  # "X Medical Center"
OF_INSTITUTIONS = {"university", "college"}  # "University of Maryland": the name comes after "of"
NOT_A_PLACE = STOP | {"outside", "local", "area", "our", "osh", "home", "floor", "unit", "ward", "er", "ed", "or",
                      "icu", "ccu", "micu", "sicu", "csru", "rehab", "hospital", "hosp", "nursing", "another",
                      "cath", "lab", "bed", "rm", "room", "chair", "dialysis", "hd", "ct", "mri", "us", "usual",
                      "baseline", "care", "acute", "long", "term", "skilled", "facility", "level", "step",
                      "assisted", "living", "house", "apartment", "work", "school", "church", "rest", "tele",
                      "floor's", "their", "his", "her", "pt's", "patient's", "nh", "snf", "vna", "ltc", "er's",
                      "cardiac", "pulmonary", "pulm", "physical", "occupational", "inpatient", "outpatient", "subacute",
                      "begin", "start", "continue", "cont", "needs", "need", "require", "requires", "await", "awaiting"}
MOVES = {"flighted", "adm", "arrived", "arrival", "enroute", "leave", "left", "received", "records", "belongings",
         "transfer", "transferred", "transfered", "trans", "tx", "txd", "transported", "sent", "taken", "brought",
         "admitted", "admit", "readmitted", "went", "go", "goes", "going", "came", "come", "coming", "return",
         "returned", "returning", "discharged", "dc'd", "dc", "d/c", "flown", "medflight", "medflighted",
         "lives", "live", "living", "resides", "resided", "reside", "works", "worked", "followed", "seen",
         "moved", "moving", "visiting", "vacation", "vacationing", "trip", "travelled", "traveled", "born",
         "screened", "referred", "accepted", "bed"}
PLACE_PREPOSITIONS = {"to", "from", "at", "in", "into", "near", "by", "@"}
DIRECT_MOVES = {"transfer", "transferred", "transfered", "trans", "tx", "medflight", "medflighted", "flighted"}
PLACE_SKIPPABLE = {"the", "greater", "north", "south", "east", "west", "upper", "lower", "downtown"}  # and room numbers
SAINTS = {"st", "saint", "ste"}
RELIGIOUS = {"holy": {"cross", "family", "name", "redeemer", "spirit", "trinity"},
             "sacred": {"heart"}, "good": {"sam", "samaritan", "shepherd"}}
CREDENTIALS = {"rn", "rrt", "md", "np", "msw", "bsn", "lpn", "cna", "crna", "pharmd", "lcsw", "licsw", "ccrn"}
WEAK_CUES = {"per", "by", "with", "from", "called", "paged", "page", "spoke", "spoken", "talked", "updated",
             "notified", "informed", "visited", "accompanied", "contact", "see", "seen", "asked", "told"}
WARD_FOLLOWERS = {"\n", ".", ",", ";", ")", "when", "today", "tonight", "tomorrow", "pending", "if", "once"}
COUNTED = {"to", "of", "x", "am", "pm", "per", "in", "on", "over", "at"}  # "2 to 3", "2 of 4", "2 x", "2 am"
ENGLISH_ENDINGS = ("ed", "ing", "s", "ly", "tion", "sion", "ment", "ness", "ity", "ive", "ous", "al")
WARD_ENDINGS = ("icu", "ccu", "ology", "ogy", "unit", "floor")  # "pMICU", "cardiology": inside the hospital


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ is three times slower, and we make many
class Token:
    start: int
    end: int
    text: str
    low: str
    word: str  # lowercase, without a possessive 's


def tokenize(text: str) -> list[Token]:
    tokens = []
    append = tokens.append
    for match in TOKEN.finditer(text):
        raw = match.group()
        low = raw.lower()
        start, end = match.span()
        append(Token(start, end, raw, low, low[:-2] if low.endswith(("'s", "’s")) else low))
    return tokens


def is_cased(text: str) -> bool:
    """Whether capitals carry meaning: not in all-caps or all-lowercase notes."""
    upper = len(UPPER.findall(text, 0, 5000))
    lower = len(LOWER.findall(text, 0, 5000))
    return lower > 0 and 0.03 < upper / (upper + lower) < 0.5


class ContextRules:
    """Finds NAME and LOCATION spans in one token list: `name_spans()` and `place_spans()`."""

    def __init__(self, lexicon: Lexicon):
        self.lex = lexicon
        self.name_cues = TITLES | RELATIONS | ROLES | WEAK_CUES | CREDENTIALS | INTRODUCTION_ENDS
        self.place_cues = (FACILITY_WORDS | INSTITUTION_WORDS | SAINTS | set(RELIGIOUS) | PLACE_PREPOSITIONS | DIRECT_MOVES | set(lexicon.places)
                           | {words[0] for words in lexicon.multiword_places})

    # ------------------------------------------------------------------------------ word judgements

    @staticmethod
    def capitalized(token: Token, cased: bool) -> bool:
        return cased and token.text[0].isupper() and not token.text.isupper()

    def plain_word(self, token: Token) -> str | None:
        """The word, if it is alphabetic, two letters or more, and no stop word; else None."""
        word = token.word
        usable = len(word) > 1 and word.replace("'", "").isalpha() and word not in STOP and word not in CREDENTIALS
        return word if usable else None

    def after_title(self, token: Token, cased: bool) -> bool:
        """After "Dr." or "Mrs.", nearly any word is a name, eponyms included ("Dr. Foley")."""
        word = self.plain_word(token)
        if word is None or word in RELATIONS:
            return False
        return self.lex.is_name(word) or word not in self.lex.clinical and (
            self.lex.zipf(word) < 3.0 or self.capitalized(token, cased) and self.lex.zipf(word) < 4.0)

    def introduced_name(self, token: Token, cased: bool) -> bool:
        """After "my name is", a capitalized word, or any census name."""
        word = self.plain_word(token)
        return word is not None and word not in RELATIONS and (
            self.lex.name_dominant(word) or self.capitalized(token, cased) or self.rare(word))

    def _introduction_ends(self, tokens: list[Token], index: int) -> bool:
        if tokens[index].low not in INTRODUCTION_ENDS:
            return False
        for phrase in SELF_INTRODUCTIONS:
            start = index - len(phrase) + 1
            if start >= 0 and all(tokens[start + i].low == part for i, part in enumerate(phrase)):
                return True
        return False

    def could_be_name(self, token: Token, cased: bool) -> bool:
        """A word that may continue a name, or follow a relation word: a census name, or rare and capitalized."""
        word = self.plain_word(token)
        if word is None or word in self.lex.clinical or word in RELATIONS:
            return False
        if self.lex.is_name(word):
            return self.lex.zipf(word) < 5.0 or self.lex.name_dominant(word)
        return self.rare(word) or (self.capitalized(token, cased) and self.lex.zipf(word) < 4.0)

    def after_relation(self, token: Token, cased: bool) -> bool:
        """After "daughter" or "HCP is": any census first name, however common a word ("son Bill", "wife
        Hope"), and names the census lacks ("Priya", "Kwame") if not too common a word."""
        word = self.plain_word(token)
        if word is None or word in self.lex.clinical or word in RELATIONS:
            return False
        if word in self.lex.first_names and (not cased or self.capitalized(token, cased)):
            return True
        return self.could_be_name(token, cased) or self.uncommon_non_word(word, 3.5)

    def uncommon_non_word(self, word: str, below: float) -> bool:
        """Uncommon, and not shaped like an English verb, plural or abstract noun ("phoned", "laxatives"): with a
        strong cue before it, what a name outside the census looks like. No typo test: "Priya" is one edit from "privy"."""
        return self.lex.zipf(word) < below and not word.endswith(ENGLISH_ENDINGS)

    def rare(self, word: str, below: float = 2.5) -> bool:
        """Rare in English and no typo of a common or clinical word: what an unlisted surname looks like."""
        return self.lex.zipf(word) < below and not self.lex.misspelt_word(word)

    def mostly_a_name(self, token: Token, cased: bool) -> bool:
        """A word that is a name even without a cue: "John", "Suzette", "Vasquez"; capitalized if case counts."""
        word = self.plain_word(token)
        if word is None or word in self.lex.clinical or len(word) < 3 or (cased and not self.capitalized(token, cased)):
            return False
        return self.lex.name_dominant(word) and (cased or word in self.lex.first_names)

    def is_initial(self, tokens: list[Token], index: int) -> bool:
        token = tokens[index]
        standing_alone = index == 0 or tokens[index - 1].end < token.start or tokens[index - 1].text in ("(", "-", "\n")
        return (len(token.text) == 1 and token.text.isalpha() and standing_alone  # not the s of "60's."
                and index + 1 < len(tokens) and tokens[index + 1].text == ".")

    # ---------------------------------------------------------------------------------------- names

    def _skip(self, tokens: list[Token], index: int, skippable: set[str], limit: int = 2) -> int:
        skipped = 0
        while index < len(tokens) and skipped < limit and (tokens[index].low in skippable or tokens[index].text == "."):
            index += 1
            skipped += 1
        return index

    def _name_run(self, tokens: list[Token], index: int, cased: bool, first) -> int:
        """The end of the name starting at `index`: initials and words, "-" joining double names; at most four.
        `first` judges the first word, `could_be_name` the rest."""
        end, judge = index, first
        while end < len(tokens) and end - index < 5:
            if self.is_initial(tokens, end):
                end += 2
            elif judge(tokens[end], cased):
                end += 1
                if end + 1 < len(tokens) and tokens[end].text == "-" and self.plain_word(tokens[end + 1]):
                    end += 2  # "Stord-Painter", "Retterer-Moore"
            else:
                break
            judge = self.surname_after_first_name if end - index == 1 else self.could_be_name
        return end

    def surname_after_first_name(self, token: Token, cased: bool) -> bool:
        """After "Art" or "Dr. Oluwaseun", a census surname is a surname, however common or clinical a word it is
        ("Art White", "Linda Murphy")."""
        word = self.plain_word(token)
        return word is not None and (word.replace("'", "") in self.lex.last_names or self.could_be_name(token, cased)
                                     or word not in self.lex.clinical and self.uncommon_non_word(word, 3.0))

    def _names_after(self, tokens: list[Token], index: int, cased: bool, first,
                     conjunction_only: bool = False) -> list[tuple[int, int]]:
        """Names following a cue at `index`: "Drs. Vasquez and Rizzo", "daughter, Mary Ann"; or, with
        `conjunction_only`, names joined to the name ending at `index`: "Suzette and Hank"."""
        found = []
        start = end = index + 1
        if not conjunction_only:
            start = self._skip(tokens, index + 1, CONNECTORS)
            end = self._name_run(tokens, start, cased, first)
        while conjunction_only or end > start and not all(
                self.is_initial(tokens, i) or tokens[i].text == "." for i in range(start, end)):
            if not conjunction_only:
                found.append((tokens[start].start, tokens[end - 1].end))
            conjunction_only = False
            if end < len(tokens) and tokens[end].low in CONJUNCTIONS:
                start = self._skip(tokens, end + 1, TITLES, limit=2)
                end = self._name_run(tokens, start, cased, first)
            else:
                break
        return found

    def _names_before_credential(self, tokens: list[Token], index: int, cased: bool) -> list[tuple[int, int]]:
        """"Anita Morris RN", "J. Yi, MD", "B. Kargas PA aware": the name stands before the credential."""
        end = index - 1 if index > 0 and tokens[index - 1].text == "," else index
        start = end
        while start > 0 and end - start < 4:
            previous = start - 1
            if tokens[previous].text == "." and previous > 0 and self.is_initial(tokens, previous - 1):
                start = previous - 1
            elif self.could_be_name(tokens[previous], cased) or (tokens[previous].text == "-" and start < end):
                start = previous
            elif start < end and tokens[start].text == "-" and self.plain_word(tokens[previous]):
                start = previous  # "Stord-Painter MD": the first half of a double name
            else:
                break
        while start < end and tokens[start].text == "-":
            start += 1
        words = [t.word for t in tokens[start:end] if t.text.isalpha() and len(t.text) > 1]
        if words and any(self.lex.is_name(w) or self.rare(w) for w in words):
            return [(tokens[start].start, tokens[end - 1].end)]
        return []

    def name_spans(self, tokens: list[Token], cased: bool) -> list[tuple[int, int]]:
        found: list[tuple[int, int]] = []
        for index, token in enumerate(tokens):
            word = token.low
            if not (word in self.name_cues or len(word) == 1 and word.isalpha() or self.lex.is_name(token.word)):
                continue  # most words: nothing to check
            if word in TITLES and (index + 1 == len(tokens) or tokens[index + 1].text != ":"):  # not "MS: alert"
                found += self._names_after(tokens, index, cased, self.after_title)
            if word in RELATIONS or word in ROLES:
                found += self._names_after(tokens, index, cased, self.after_relation)
                if index > 0 and tokens[index - 1].text == "(":
                    found += self._names_before_credential(tokens, index - 1, cased)  # "Ursla Moretti (daughter)"
            if word in CREDENTIALS:
                found += self._names_before_credential(tokens, index, cased)  # "Anita Morris RN", "Stord-Painter MD"
            if self._introduction_ends(tokens, index):
                found += self._names_after(tokens, index, cased, self.introduced_name)
            elif word in WEAK_CUES:
                found += self._names_after(tokens, index, cased, self.mostly_a_name)
            elif self._initial_and_surname(tokens, index, cased):
                found.append((token.start, tokens[self._name_run(tokens, index + 2, cased, self.could_be_name) - 1].end))
            elif self._bare_initial_and_surname(tokens, index):
                found.append((token.start, tokens[index + 1].end))
            elif self._first_name_pair(tokens, index, cased) or self.mostly_a_name(token, cased):
                end = max(self._name_run(tokens, index, cased, self.could_be_name), index + 1)
                found.append((token.start, tokens[end - 1].end))
                found += self._names_after(tokens, end - 1, cased, self.after_relation, conjunction_only=True)
        return found

    def _initial_and_surname(self, tokens: list[Token], index: int, cased: bool) -> bool:
        """"W. Marotta", "q. lander": an initial standing alone (not "p.o."), then a surname-like word."""
        if not self.is_initial(tokens, index) or index + 2 >= len(tokens):
            return False
        if index > 0 and tokens[index - 1].end == tokens[index].start and tokens[index - 1].text[0].isalnum():
            return False  # "p.o.", "q.d."
        word = self.plain_word(tokens[index + 2])
        return word is not None and word not in self.lex.clinical and (
            self.lex.name_dominant(word) or self.uncommon_non_word(word, 3.0))

    def _bare_initial_and_surname(self, tokens: list[Token], index: int) -> bool:
        """"J SMITH ordered", "Dr B Muse": a capital letter alone, then a census surname that is no common word."""
        token = tokens[index]
        if len(token.text) != 1 or not token.text.isupper() or token.text in "AILRXPOQ" or index + 1 >= len(tokens):
            return False  # A, I: words; L, R, P, O, Q, X: left, right, plan, objective, every, times
        word = self.plain_word(tokens[index + 1])
        return (word is not None and word in self.lex.last_names and word not in self.lex.clinical
                and self.lex.name_dominant(word) and tokens[index + 1].start == token.end + 1)

    def _first_name_pair(self, tokens: list[Token], index: int, cased: bool) -> bool:
        """"Irene Czyzewicz", "mary souza": a first name, then a surname or a rare word."""
        word = self.plain_word(tokens[index])
        if word is None or word not in self.lex.first_names or word in self.lex.clinical or index + 1 >= len(tokens):
            return False
        if self.lex.zipf(word) >= 5.0 or (cased and not tokens[index].text[0].isupper()):
            return False
        nxt = self.plain_word(tokens[index + 1])
        return nxt is not None and nxt not in self.lex.clinical and (
            nxt in self.lex.last_names and self.lex.zipf(nxt) < 4.5 or self.rare(nxt))

    # --------------------------------------------------------------------------------------- places

    def could_be_place(self, token: Token, cased: bool, after_move: bool, preposition: str = "") -> bool:
        word = token.word
        if not word.isalpha() or word in NOT_A_PLACE or word in self.lex.clinical or word in FACILITY_WORDS:
            return False
        if word.endswith(WARD_ENDINGS):
            return False
        zipf = self.lex.zipf(word)
        if word in self.lex.places and zipf < 4.6:
            return True
        acronym = 2 <= len(word) <= 4 and zipf < 3.3 and (token.text.isupper() or not cased)  # "GH", "GBMC"
        if not after_move:  # "at GH" in a mixed-case note; in all-caps notes every word looks like an acronym
            return acronym and cased and preposition in ("at", "@")
        return acronym or self.rare(word, 3.0) or (self.capitalized(token, cased) and zipf < 4.5)

    def place_spans(self, tokens: list[Token], cased: bool) -> list[tuple[int, int]]:
        found: list[tuple[int, int]] = []
        for index, token in enumerate(tokens):
            word = token.low
            if index + 1 < len(tokens) and tokens[index + 1].text.isdigit() and self._ward_and_floor(tokens, index):
                found.append((token.start, token.end))
                continue
            if word not in self.place_cues and token.word not in self.place_cues:
                continue
            nxt = index + 2 if index + 2 < len(tokens) and tokens[index + 1].text == "." else index + 1
            if word in FACILITY_WORDS or word in INSTITUTION_WORDS:  # "Calvert Hospital", "Laurel Regional"
                end = index
                while end > 0 and index - end < 2 and tokens[end - 1].low in KIND_WORDS:
                    end -= 1  # "Union Medical Center": the name stands before the kind of place
                start = end
                while start > 0 and end - start < 3 and self._facility_name_word(tokens[start - 1], cased):
                    start -= 1
                if start < end:
                    end = end + 1 if end == index and word in FACILITY_NAME_WORDS else end
                    found.append((tokens[start].start, tokens[end - 1].end))
                if word in OF_INSTITUTIONS and index + 2 < len(tokens) and tokens[index + 1].low == "of":
                    after = index + 2  # "University of Maryland"
                    while after < len(tokens) and after - index < 5 and self._facility_name_word(tokens[after], cased):
                        after += 1
                    if after > index + 2:
                        found.append((tokens[index + 2].start, tokens[after - 1].end))
            elif word in SAINTS and nxt < len(tokens) and self._saint_name(tokens[nxt], cased):
                found.append((token.start, tokens[nxt].end))  # "St. Mary's", "Saint Agnes"
            elif word in RELIGIOUS and nxt < len(tokens) and tokens[nxt].low in RELIGIOUS[word]:
                found.append((token.start, tokens[nxt].end))  # "Holy Cross", "Good Sam"
            elif index + 1 < len(tokens) and (word, tokens[index + 1].word) in self.lex.multiword_places:
                found.append((token.start, tokens[index + 1].end))  # "Bel Air", "Middle River"
            elif word in PLACE_PREPOSITIONS or word in DIRECT_MOVES:
                after_move = word in DIRECT_MOVES or self._after_move(tokens, index)
                start = self._skip(tokens, index + 1, PLACE_SKIPPABLE, limit=2)
                if start < len(tokens) and tokens[start].text.isdigit():
                    start += 1  # "transferred to 209 Quartermain"
                end = start
                while end < len(tokens) and end - start < 3 and self.could_be_place(tokens[end], cased, after_move, word):
                    end += 1
                if end > start:
                    found.append((tokens[start].start, tokens[end - 1].end))
            elif self._known_place(token, cased):
                found.append((token.start, token.end))
        return found

    def _ward_and_floor(self, tokens: list[Token], index: int) -> bool:
        """"Quartermain 2": a rare word before a lone digit that counts nothing (not "Lasix 2 mg") names a ward."""
        if index + 1 >= len(tokens) or len(tokens[index + 1].text) != 1 or not tokens[index + 1].text.isdigit():
            return False
        after = tokens[index + 2] if index + 2 < len(tokens) else None
        decimal = after is not None and after.text == "." and index + 3 < len(tokens) and tokens[index + 3].text.isdigit()
        ends_phrase = after is None or after.low in WARD_FOLLOWERS or after.low in STOP and after.low not in COUNTED
        word = self.plain_word(tokens[index])
        return (word is not None and len(word) > 4 and word not in self.lex.clinical and ends_phrase and not decimal
                and self.uncommon_non_word(word, 2.0) and not self.lex.misspelt_word(word))

    def _facility_name_word(self, token: Token, cased: bool) -> bool:
        word = token.word
        if not word.isalpha() or word in NOT_A_PLACE or word in self.lex.clinical or word.endswith(WARD_ENDINGS):
            return False
        return (word in FACILITY_NAME_WORDS or self.lex.zipf(word) < 4.8 or self.capitalized(token, cased)
                or word in self.lex.places or self.lex.is_name(word))

    def _saint_name(self, token: Token, cased: bool) -> bool:
        """"St. Agnes" is a place; "ST elevations" is an ECG finding."""
        word = self.plain_word(token)
        if word is None or word in self.lex.clinical:
            return False
        if cased:
            return self.capitalized(token, cased)
        return self.lex.is_name(word) and self.lex.zipf(word) < 5.0

    def _after_move(self, tokens: list[Token], index: int) -> bool:
        return any(tokens[back].low in MOVES for back in range(max(0, index - 3), index))

    def _known_place(self, token: Token, cased: bool) -> bool:
        """A US city from GeoNames that is rare as an English word: "Catonsville", "Rockville"."""
        word = token.word
        if word not in self.lex.places or word in self.lex.clinical or len(word) < 4:
            return False
        if cased and not token.text[0].isupper():
            return False
        return self.lex.zipf(word) < 3.0 and not self.lex.is_name(word)
