"""The one tokenizer: Unicode words in any language, English stop words and plurals only for English."""

from __future__ import annotations

import re
import unicodedata

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

_WORD = re.compile(r"\w+", re.UNICODE)
# Scripts written without spaces between words: tokenised as overlapping character pairs.
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\u0e00-\u0e7f]+")
_EXTRA_ENGLISH_STOP_WORDS = frozenset({"said", "says", "say", "told", "just", "like", "year", "years", "new", "also"})
STOP_WORDS = {"en": ENGLISH_STOP_WORDS | _EXTRA_ENGLISH_STOP_WORDS}


def tokenize(text: str, language: str = "en") -> list[str]:
    """Lower-cased word tokens of ``text``; one-character words and underscores dropped."""
    text = unicodedata.normalize("NFKC", text).casefold()
    stop_words = STOP_WORDS.get(language, frozenset())
    tokens: list[str] = []
    for word in _WORD.findall(text.replace("_", " ")):
        if _UNSPACED.search(word):
            tokens.extend(_character_pairs(word))
            continue
        if len(word) < 2 or word in stop_words:
            continue
        tokens.append(singular(word) if language == "en" else word)
    return tokens


def singular(word: str) -> str:
    """Harman's S-stemmer, plus sibilant plurals (missiles -> missile, launches -> launch)."""
    if len(word) <= 3 or word[-1] != "s" or word.isdigit():
        return word
    if word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes", "zes")):
        return word[:-2]
    if word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    if word.endswith(("us", "ss", "is")):
        return word
    return word[:-1]


def _character_pairs(word: str) -> list[str]:
    out: list[str] = []
    for run in re.split(f"({_UNSPACED.pattern})", word):
        if not run:
            continue
        if _UNSPACED.fullmatch(run):
            out.extend(run[i : i + 2] for i in range(max(1, len(run) - 1)))
        elif len(run) >= 2:
            out.append(run)
    return out


class Analyzer:
    """Callable for ``TfidfVectorizer(analyzer=...)``: documents are ``(text, language)`` pairs."""

    def __call__(self, document) -> list[str]:
        text, language = document
        return tokenize(text, language)
