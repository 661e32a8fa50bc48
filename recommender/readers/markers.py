"""Finding Read-also links in body text, shared by every reader.

Three things are taken out of a body and the rest is left as it was:

1. **Read-also blocks**: a label line (``Read also:``, ``Read more:``, ``Related:``,
   ``See also:``, ``Also read:``, ``More on this story:``, any case) followed by list
   items (``- headline``, ``* headline``, ``• headline``). The items become links.
2. **Inline markers** as flattened web text prints them: ``READ MORE: <headline>``
   glued to the next paragraph with no newline. Where the headline ends is decided by
   :func:`split_headline`, which scores every candidate split point (see there).
   ``Read more from X`` / ``Read more on X here:`` are not markers (no colon right after
   the label, or the text after it is a pointer, not a headline): they never make links.
3. **Newsroom boilerplate** ("This is a developing story ...", "(Reporting by ...;
   Editing by ...)", "Sign up for our newsletter ...") when it stands alone as a trailing
   line or as a trailing sentence of the last paragraph.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from recommender.articles import ReadAlsoLink

__all__ = ["Block", "Extracted", "extract", "find_blocks", "split_headline", "strip_boilerplate"]

_LABEL = (
    r"(?:read\s+also|read\s+more|also\s+read|see\s+also|more\s+on\s+this(?:\s+story)?"
    r"|related(?:\s+(?:stories|articles|coverage|content|news|links|reading))?)"
)
_BLOCK_LABEL = re.compile(rf"^\s*(?:{_LABEL})\s*:?\s*$", re.I)
_BULLET = re.compile(r"^\s*[-*•–—]\s*(\S.*?)\s*$")
# An inline marker: the label at the start of a line or after a space or sentence end,
# then ":" (also ":-" or " - " as the data prints it). "Read more from X" has no colon.
_INLINE = re.compile(rf"(?:(?<=^)|(?<=[\s.!?\"”)]))({_LABEL})(?:\s*:\s*-?|\s+[-–—]\s+)", re.I)
_URL = re.compile(r"^(?:https?://|www\.)\S+", re.I)
_POINTER = re.compile(r"^here\b(?!['’])", re.I)  # "Read more: here"

# Words written lower case inside title-case headlines (AP / Chicago style); capitalised,
# they start a sentence.
_SENTENCE_ONLY = frozenset(
    "the a an and but or nor in on of at for to by with from as".split()
)
# Common words that start sentences (pronouns, determiners, conjunctions, discourse words).
_STARTERS = _SENTENCE_ONLY | frozenset(
    """he she it they we i you his her its their our this that these those there here
    some many most several few all both each every no not one two three another other
    such if when while after before since although though because however meanwhile
    still yet now then so also even only last earlier later according speaking during
    despite under over about against among between without within instead indeed
    nonetheless nevertheless moreover furthermore what who why how where which whether
    nearly almost more less unlike like until once just""".split()
)
# A headline does not end on one of these.
_NO_END = _SENTENCE_ONLY | frozenset(
    """into onto over under about than that which whose his her its their our your my
    is are was were be been has have had will would can could should not no this these
    those said says new""".split()
)
_QUOTES_OPEN = "\"“'‘"
_MAX_HEADLINE_WORDS = 30
_SENTENCE_INSIDE = re.compile(r"[a-z]{2}[.!?][\"”’')]*\s+[\"“‘'(]?[A-Z]")
_MEDIA_TAG = re.compile(r"\s*\((?:video|photos?|watch|live|audio|gallery|interactive)\)$", re.I)


class Extracted(NamedTuple):
    """A body with its Read-also blocks, inline markers and boilerplate removed."""

    body: str
    links: tuple[ReadAlsoLink, ...]


def extract(text: str) -> Extracted:
    """Take Read-also blocks, inline markers and trailing boilerplate out of ``text``.

    Paragraphs (lines) are kept in order; blank-line runs are collapsed to one.
    """
    lines = (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines = [line for line in lines if not _BOILERPLATE_RE.match(line.strip())]
    links: list[ReadAlsoLink] = []
    kept: list[str] = []
    i = 0
    while i < len(lines):
        block = _block_at(lines, i)
        if block is not None:
            links += [ReadAlsoLink(headline) for headline in block.items]
            i = block.end
            continue
        line, found = _extract_inline(lines[i])
        links += found
        if (line.strip() or (kept and kept[-1].strip())) and not (found and not line.strip()):
            kept.append(line)
        i += 1
    body = strip_boilerplate("\n".join(kept).strip())
    return Extracted(body, tuple(links))


class Block(NamedTuple):
    """A Read-also block in a list of lines: ``lines[start:end]``, its label line and item headlines."""

    start: int
    end: int
    label: str
    items: tuple[str, ...]


def find_blocks(lines: list[str]) -> list[Block]:
    """The Read-also blocks among ``lines`` (paragraphs), as :func:`extract` finds them."""
    blocks, i = [], 0
    while i < len(lines):
        block = _block_at(lines, i)
        if block is None:
            i += 1
        else:
            blocks.append(block)
            i = block.end
    return blocks


def _block_at(lines: list[str], i: int) -> Block | None:
    """The block whose label is ``lines[i]``: bulleted items (blank lines allowed between), else
    up to ten plain headline lines; None when ``lines[i]`` is no label or nothing follows it."""
    if not _BLOCK_LABEL.match(lines[i]):
        return None
    j, items = i + 1, []
    while j < len(lines):
        bullet = _BULLET.match(lines[j])
        if bullet:
            items.append(bullet.group(1))
        elif lines[j].strip():
            break
        j += 1
    if not items:  # "Read more:" over plain headline lines (no bullets)
        j = i + 1
        while j < len(lines) and len(items) < 10 and _looks_like_headline_line(lines[j]):
            items.append(lines[j].strip())
            j += 1
    return Block(i, j, lines[i], tuple(items)) if items else None


def _looks_like_headline_line(line: str) -> bool:
    words = line.split()
    return 0 < len(words) <= 20 and not re.search(r"[.:;,][\"”’')]*$", line.strip()) \
        and _can_start_sentence(words[0]) and not _BLOCK_LABEL.match(line) and not _INLINE.match(line)


def _extract_inline(line: str) -> tuple[str, list[ReadAlsoLink]]:
    links: list[ReadAlsoLink] = []
    parts: list[str] = []
    rest = line
    while True:
        match = _INLINE.search(rest)
        if not match:
            parts.append(rest)
            break
        before, after = rest[: match.start()], rest[match.end():]
        if not after.strip():  # a dangling label at the end of a paragraph
            parts.append(before)
            break
        url = _URL.match(after.lstrip())
        if url:  # "Read more: https://..." -- a pointer, not a headline: drop both
            parts.append(before.rstrip() + " ")
            rest = after.lstrip()[url.end():]
            continue
        headline, remainder = ("", after) if _POINTER.match(after.lstrip()) else split_headline(after)
        if not headline:  # "Read more: here", "Related: https://...": not a headline
            parts.append(rest[: match.end()])
            rest = after
            continue
        links.append(ReadAlsoLink(headline))
        parts.append(before.rstrip() + " ")
        rest = remainder
    text = "".join(parts)
    return (re.sub(r"[ \t]{2,}", " ", text).strip() if text != line else text), links


def split_headline(text: str) -> tuple[str, str]:
    """Split flattened ``<headline> <next paragraph>`` into the two parts.

    Every word boundary within the first 30 words where the next word could begin a
    sentence (capitalised, a digit, or an opening quote) is a candidate; each is scored
    by features of headlines and sentence starts, and the best wins (the shorter one on
    ties). The features, with their weights:

    * the next word is a common sentence opener ("The", "But", "In", "He", ...): +2,
      one that title case keeps lower case ("The", "In", "And"): +3; an opening quote: +2;
      a capitalised other word (a name?): +0.5;
    * the headline ends with "?" or "!": +2.5; with a glued "-" ("explained- According"): +4;
    * the headline ends on a function word ("of", "the", "to", "is"): -4; on ",", ":" or a
      lone dash: -4; on a sentence full stop ("winner."): -4;
    * the headline crosses a sentence end ("word. Next") or a capitalised "The"/"In"/"And"
      in mid-headline: -4 each; its quotes do not balance: -3;
    * the split falls inside a run of capitalised words ("Kim | Jong-nam"): -1; the next
      paragraph would begin "Name:" (the headline's own colon): -2;
    * a capitalised word with a suffix names rarely have ("Vowing", "Nationally"): +1.5;
    * length: -0.8 per word under 4, and -0.12 per word away from 9.

    When the rest of the paragraph is at most 25 words with no sentence end inside it or at
    its end, all of it is the headline (a marker on a line of its own). Otherwise taking
    everything is a candidate only when the text ends within 30 words. Returns ``(headline, remainder)``;
    the headline is ``""`` when there is nothing that looks like one.
    """
    text = text.strip()
    tokens = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", text)]
    if not tokens:
        return "", ""
    if not _can_start_sentence(tokens[0][2]):  # headlines start with a capital, digit or quote
        return "", text
    if len(tokens) <= 25 and not _SENTENCE_INSIDE.search(text) and not re.search(r"[.;,:][\"”’')]*$", text):
        return _tidy(text), ""  # the rest of the paragraph is the headline
    best: tuple[float, int] | None = None
    limit = min(len(tokens), _MAX_HEADLINE_WORDS)
    for j in range(1, limit + 1):
        words = [t for _, _, t in tokens[:j]]
        nxt = tokens[j][2] if j < len(tokens) else None
        if nxt is not None and not _can_start_sentence(nxt) and not words[-1].endswith(("-", "?")):
            continue
        if nxt is None and words[-1].endswith((".", ";", ",")) and not words[-1].endswith("?."):
            continue
        score = _score(words, [t for _, _, t in tokens[j : j + 2]])
        if best is None or score > best[0]:
            best = (score, j)
    if best is None:
        return "", text
    j = best[1]
    headline = text[: tokens[j - 1][1]].strip()
    remainder = text[tokens[j][0]:] if j < len(tokens) else ""
    return _tidy(headline), remainder.lstrip("-–— ")


def _tidy(headline: str) -> str:
    headline = re.sub(r"\s*[-–—]+$", "", headline.strip())
    return _MEDIA_TAG.sub("", headline).strip()


def _bare(token: str) -> str:
    return token.strip("\"“”'‘’()[],.;:!?-–—").lower()


def _can_start_sentence(token: str) -> bool:
    token = token.lstrip("-–—")
    if not token:
        return False
    head = token.lstrip(_QUOTES_OPEN + "([")
    if not head:
        return False
    return head[0].isupper() or head[0].isdigit()


def _is_capitalised(token: str) -> bool:
    head = token.lstrip(_QUOTES_OPEN + "([-")
    return bool(head) and (head[0].isupper() or head[0].isdigit())


def _looks_derived(token: str) -> bool:
    """A capitalised word with a common English suffix ("Vowing", "Nationally"): not a name."""
    head = token.strip("\"“”'‘’()[],.;:!?")
    return len(head) > 5 and head[0].isupper() and head[1:].islower() and head.endswith(("ing", "ly", "ed"))


def _score(words: list[str], after: list[str]) -> float:
    score = 0.0
    last = words[-1]
    last_bare = _bare(last)
    nxt = after[0] if after else None
    # The next word.
    if nxt is not None:
        nxt_clean = nxt.lstrip("-–—")
        nxt_bare = _bare(nxt_clean)
        if nxt_clean[:1] in _QUOTES_OPEN:
            score += 2.0
        elif nxt_bare in _SENTENCE_ONLY:
            score += 3.0
        elif nxt_bare in _STARTERS:
            score += 2.0
        elif _looks_derived(nxt_clean):
            score += 1.5
        elif _is_capitalised(nxt_clean):
            score += 0.5
        if len(words) > 1 and _is_capitalised(last) and _is_capitalised(nxt_clean) \
                and not last.endswith(("?", "!", "-", ".", "'", "\"", "”", "’")):
            score -= 1.0
        if any(t.endswith(":") for t in after[:2]):
            score -= 2.0
    # How the headline ends.
    core = last.rstrip("-–—")
    closed = core.rstrip("\"”’')")
    if closed.endswith(("?", "!")):
        score += 2.5
    elif closed.endswith(".") and len(last_bare) > 2 and last_bare.islower():
        score -= 4.0
    elif core and core != last:
        score += 4.0
    elif not core or last.endswith((",", ":", ";")):
        score -= 4.0
    if last_bare in _NO_END and not last.endswith(("?", "!", "-", "'", "’", "\"", "”")):
        score -= 4.0
    # What the headline crosses.
    for k, word in enumerate(words[:-1]):
        bare = _bare(word)
        if word.rstrip("-–—").endswith((".", ".\"", ".”")) and len(bare) > 2 and bare.isalpha() and bare.islower():
            score -= 4.0
        after_word = words[k + 1]
        if (_bare(after_word) in _SENTENCE_ONLY and after_word.lstrip(_QUOTES_OPEN)[:1].isupper()
                and not word.endswith((":", "?", "!", "-", "–", "—")) and word.strip("-–—")):
            score -= 4.0
        elif (_bare(after_word) in _STARTERS and after_word[:1].isupper() and word[:1].islower()
                and _bare(word) not in _NO_END and not word.endswith((":", "?", "!", "-", "–", "—"))):
            score -= 2.0
    if not _quotes_balanced(words):
        score -= 3.0
    # Length.
    n = len(words)
    if n < 4:
        score -= 0.8 * (4 - n)
    score -= 0.12 * abs(n - 9)
    return score


def _quotes_balanced(words: list[str]) -> bool:
    text = " ".join(words)
    if text.count('"') % 2 or text.count("“") != text.count("”"):
        return False
    opens = sum(1 for w in words if len(w) > 1 and w[0] in "'‘")
    closing = [w for w in words if len(w) > 1 and re.search(r"['’][,:;?!.]?$", w)]
    plural_possessives = sum(1 for w in closing if re.search(r"s['’]$", w, re.I))
    return opens <= len(closing) <= opens + plural_possessives


_BOILERPLATE = [
    r"this (?:is a )?(?:developing|breaking) (?:news )?story\b.*",
    r"this story (?:is developing|has been updated|will be updated)\b.*",
    r"(?:please )?check back (?:later |soon )?for (?:more|updates)\b.*",
    r"follow (?:our|the) live (?:coverage|updates|blog)\b.*",
    r"follow us on\b.*",
    r"additional reporting(?: by)?\b.*",
    r"\(?reporting by\b[^)]*;[^)]*\)?",
    r"\(?(?:writing|editing) by\b.*\)?",
    r"sign up (?:for|to) (?:our|the|her|his|my)\b.*newsletter.*",
    r"subscribe to (?:our|the)\b.*newsletter.*",
    r"(?:source|sources)\s*:\s*-?\s*(?:al jazeera|reuters|ap|afp|news agencies)\b.*",
    r"do you have information you want to share.*",
    r"copyright \d{4}.*|©.*|all rights reserved\.?",
    r"today[’']s coverage from .* correspondents around the world\.?",
    r"like .{1,40} on facebook\b.*",
    r"read or share this story:.*",
]
_BOILERPLATE_RE = re.compile(r"^(?:" + "|".join(_BOILERPLATE) + r")$", re.I | re.S)
_SENTENCE_END = re.compile(r"(?<=[.!?)\"”])\s+(?=[\"“(]?[A-Z])")


def strip_boilerplate(body: str) -> str:
    """Drop standalone newsroom boilerplate lines and trailing boilerplate sentences."""
    lines = [line for line in body.split("\n") if not _BOILERPLATE_RE.match(line.strip())]
    while lines and not lines[-1].strip():
        lines.pop()
    if lines:
        sentences = _SENTENCE_END.split(lines[-1])
        while len(sentences) > 1 and _BOILERPLATE_RE.match(sentences[-1].strip()):
            sentences.pop()
        lines[-1] = " ".join(sentences)
    return "\n".join(lines).strip()
