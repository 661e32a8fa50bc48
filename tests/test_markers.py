"""Read-also blocks, inline READ MORE markers and boilerplate: markers.extract / split_headline."""

import csv
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.articles import normalise_headline
from recommender.readers.markers import _INLINE, extract, split_headline, strip_boilerplate

SHARED = Path(__file__).parents[2] / "shared"
READMORE = SHARED / "data" / "news-readmore"


def headlines(extracted):
    return [link.headline for link in extracted.links]


@pytest.mark.parametrize("label", ["Read also:", "READ MORE:", "Related:", "See also:", "Also read:",
                                   "More on this story:", "related", "Read also"])
@pytest.mark.parametrize("bullet", ["-", "*", "•"])
def test_block_anywhere_in_body(label, bullet):
    text = f"First paragraph.\n{label}\n{bullet} One headline\n{bullet} Two: the sequel?\nLast paragraph."
    result = extract(text)
    assert headlines(result) == ["One headline", "Two: the sequel?"]
    assert result.body == "First paragraph.\nLast paragraph."


def test_block_items_may_be_separated_by_blank_lines():
    result = extract("Intro.\n\nRead also:\n\n- A\n\n- B\n\nOutro.")
    assert headlines(result) == ["A", "B"]
    assert "Outro." in result.body and "Read also" not in result.body


def test_label_over_plain_headline_lines():
    text = ("Intro.\nRead more:\nBritish Airways apologizes after passengers complain\n"
            "A man got a middle seat and a long paragraph follows here, which is body text.\n")
    result = extract(text)
    assert headlines(result) == ["British Airways apologizes after passengers complain"]
    assert result.body.startswith("Intro.\nA man got")


@pytest.mark.parametrize(
    ("text", "headline", "rest"),
    [
        ("comment on it. READ MORE: Israeli settlement law 'violates rights and dignity'"
         " Trump is more sympathetic to Israel.",
         "Israeli settlement law 'violates rights and dignity'", "comment on it. Trump is more sympathetic to Israel."),
        ("decades. RELATED: Theresa May in trouble over Trump's UK state visit invite At Mar-a-Lago, Trump is happy.",
         "Theresa May in trouble over Trump's UK state visit invite", "decades. At Mar-a-Lago, Trump is happy."),
        ("x. READ MORE: How will Brexit affect the European Union? Mass migration has left the bloc weak.",
         "How will Brexit affect the European Union?", "x. Mass migration has left the bloc weak."),
        ("x. READ MORE: Syria's civil war explained- According to the report, 88 percent are hazards.",
         "Syria's civil war explained", "x. According to the report, 88 percent are hazards."),
        ("x. ALSO READ - China's Great Famine: A mission to expose the truth Not a single official came.",
         "China's Great Famine: A mission to expose the truth", "x. Not a single official came."),
        ("x. READ MORE:-The 'slow-motion slaughter' of Syrian civilians UN efforts have been hampered.",
         "The 'slow-motion slaughter' of Syrian civilians", "x. UN efforts have been hampered."),
        ("x. Related: Elon Musk is aiming to land spaceships on Mars in 2022",
         "Elon Musk is aiming to land spaceships on Mars in 2022", "x."),
    ],
)
def test_inline_marker_glued_to_next_paragraph(text, headline, rest):
    result = extract(text)
    assert headlines(result) == [headline]
    assert result.body == rest


def test_inline_marker_on_its_own_line_takes_the_line():
    result = extract("Before.\nRead More: Every ‘Black Mirror’ Episode Ranked, From Worst to Best (VIDEO)\nAfter.")
    assert headlines(result) == ["Every ‘Black Mirror’ Episode Ranked, From Worst to Best"]
    assert result.body == "Before.\nAfter."


def test_name_after_headline_starts_the_next_paragraph():
    text = "READ MORE: Nerve agent used to kill Kim Jong-nam: police Kim Sul-song, 42, was named."
    assert split_headline(text[len("READ MORE: "):])[0] == "Nerve agent used to kill Kim Jong-nam: police"


@pytest.mark.parametrize(
    "text",
    [
        "Read more from Reality Check on this.",
        "Read more on RB Leipzig here: RB Leipzig's rapid rise 'no fairytale' continues.",
        "You can read more from The Local Denmark here.",
        "The cases were related: both men were arrested.",
        "Read more: here.",
    ],
)
def test_pointer_phrases_make_no_links(text):
    result = extract(text)
    assert result.links == ()


def test_url_after_marker_is_dropped_without_a_link():
    result = extract("Officials spoke. Read more: https://t.co/abc The talks continue.")
    assert result.links == ()
    assert result.body == "Officials spoke. The talks continue."


def test_headline_may_start_with_a_preposition():
    result = extract("x. READ MORE: In Kenya, doctors' strike leaves a nation ailing KMPDU, which has 5,000 members,"
                     " wants more.")
    assert [link.headline for link in result.links] == ["In Kenya, doctors' strike leaves a nation ailing"]


def test_dangling_label_is_dropped():
    assert extract("The end. Read more:").body == "The end."


@pytest.mark.parametrize(
    "line",
    [
        "This is a developing story and our journalists are working on further updates.",
        "This is a developing story. Please check back for updates.",
        "Follow our live coverage of the summit here.",
        "Additional reporting by Jane Doe in Paris.",
        "Sign up for our newsletter to get the news every morning.",
        "(Reporting by Kate Kelland; Editing by Kevin Liffey)",
    ],
)
def test_trailing_boilerplate_is_dropped(line):
    assert extract(f"The body stays.\n{line}").body == "The body stays."
    assert extract(f"The body stays. {line}").body == "The body stays."


def test_boilerplate_words_inside_a_sentence_stay():
    text = "Officials said this is a developing story of corruption that spans years in the region."
    assert strip_boilerplate(text) == text
    assert extract("Sign up to the scheme was slow.\nMore text.").body == "Sign up to the scheme was slow.\nMore text."


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_extract_never_crashes_and_never_grows_the_text(text):
    result = extract(text)
    assert isinstance(result.body, str)
    assert len(result.body) <= len(text)
    for link in result.links:
        assert link.headline.strip()


def _readmore_cases():
    if not (READMORE / "derived_readmore_links.jsonl").exists():
        pytest.skip(f"news-readmore data not found under {READMORE} (shared data set is optional)")
    csv.field_size_limit(2**31 - 1)
    titles, texts = {}, {}
    with open(READMORE / "NewsArticles.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            titles[int(row["article_id"])] = row["title"]
            texts[int(row["article_id"])] = row["text"]
    cases = []
    with open(READMORE / "derived_readmore_links.jsonl", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if row["resolved_target_article_id"] is None:
                continue
            snippet, source = row["marker_and_following_text"], texts[row["source_article_id"]]
            start = source.find(snippet[:80])
            cases.append((source[start:] if start >= 0 else snippet, titles[row["resolved_target_article_id"]]))
    return cases


def test_inline_splitter_accuracy_on_news_readmore():
    """The 42 READ MORE links whose target is another article of the corpus: the extracted
    headline must equal that article's title (case and punctuation aside, since the
    outlet prints "Khamenei - Donald Trump ..." for the title "Khamenei: Donald Trump ...").
    The splitter runs on the full source text from the marker on, as in real reading."""
    cases = _readmore_cases()
    assert len(cases) == 42
    exact = 0
    for text, title in cases:
        marker = _INLINE.search(text)
        headline, _ = split_headline(text[marker.end():])
        exact += normalise_headline(headline) == normalise_headline(title)
    # 41/42 when written; the one miss is printed "... 'terror links' in Turkey" while the
    # target's title stops before "in Turkey".
    assert exact / len(cases) >= 0.95, f"{exact}/{len(cases)} headlines extracted exactly"
