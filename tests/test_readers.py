"""Every reader on hand-made fixtures, the seed article, mapping, bad records and fuzzing."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommender.readers import FORMATS, Problem, Record, detect_format, parse_mapping, read_path

FIXTURES = Path(__file__).parent / "fixtures" / "readers"
SHARED = Path(__file__).parents[2] / "shared"
SEED = SHARED / "seed" / "article-with-read-also.txt"

SEED_LINKS = [
    "Europe at the crossroads: Euronews launches special EU summit show",
    "BREAKING: Ballistic missile fired from Yemen at Israel sparking mass rocket alarms",
    "Poland and Baltics to quit landmine treaty over Russia fears",
    "Is grass-fed beef better for the planet? New study finds its not so simple",
    "EU Commission to decide whether to scrap AI liability rules by August",
]


def read(path, **kwargs):
    return list(read_path(path, **kwargs))


def by_location(items):
    return {Path(item.location).name: item for item in items}


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a.jsonl", "jsonl"), ("a.NDJSON", "jsonl"), ("a.json", "jsonl"), ("a.csv", "csv"), ("a.tsv", "csv"),
     ("a.txt", "text"), ("a.md", "text"), ("a.html", "html"), ("a.htm", "html")],
)
def test_detect_format(name, expected):
    assert detect_format(name) == expected
    assert expected in FORMATS


def test_detect_format_names_the_file():
    with pytest.raises(ValueError, match=r"notes.docx"):
        detect_format("dir/notes.docx")


def test_unknown_format_and_mapping_target_are_refused():
    with pytest.raises(ValueError, match="format"):
        read(FIXTURES / "articles.jsonl", format="xml")
    with pytest.raises(ValueError, match="titel"):
        read(FIXTURES / "articles.jsonl", mapping={"titel": "title"})
    with pytest.raises(FileNotFoundError):
        read(FIXTURES / "missing.jsonl")


def test_parse_mapping():
    assert parse_mapping("headline=title, body=text") == {"headline": "title", "body": "text"}
    assert parse_mapping("") == {}
    with pytest.raises(ValueError, match="target=source"):
        parse_mapping("headline")


# --- JSON Lines -------------------------------------------------------------------------

def test_jsonl_records_and_problems_by_line():
    items = read(FIXTURES / "articles.jsonl")
    records = {item.location.rsplit(":", 1)[1]: item for item in items}
    first = records["1"].article  # after a UTF-8 byte-order mark
    assert first.id == "5" and first.headline == "Ceasefire talks resume"
    assert first.published_at == datetime(2025, 3, 18, 9, 30, tzinfo=UTC)
    assert first.section == "world"
    assert [(link.headline, link.url) for link in first.read_also] == [
        ("Who are the negotiators?", "https://example.com/news/negotiators"),
        ("Border crossings reopen", None),
        ("Aid convoys reach the north", None),
    ]
    assert first.body == "Talks resumed on Monday.\nNegotiators met for six hours."
    second = records["2"].article
    assert second.published_at == datetime(2017, 2, 7, tzinfo=UTC)
    assert [link.headline for link in second.read_also] == ["Parliament returns from recess"]
    assert second.body == "The vote was delayed. The finance minister said the delay was technical."
    problems = {loc: item.reason for loc, item in records.items() if isinstance(item, Problem)}
    assert set(problems) == {"4", "6", "7", "9"}
    assert "invalid JSON" in problems["4"]
    derived = records["5"].article  # no headline, a body: the headline comes from the body, marked as such
    assert (derived.headline, derived.body, derived.headline_derived) == ("No headline here", "No headline here.", True)
    assert not first.headline_derived
    assert "next Tuesday" in problems["6"]
    assert "read_also" in problems["7"]
    assert "object" in problems["9"]
    assert all(item.location.startswith(str(FIXTURES / "articles.jsonl") + ":") for item in items)


def test_missing_ids_are_stable_and_derived_from_url_else_headline():
    once, twice = read(FIXTURES / "articles.jsonl"), read(FIXTURES / "articles.jsonl")
    ids = [item.article.id for item in once if isinstance(item, Record)]
    assert ids == [item.article.id for item in twice if isinstance(item, Record)]
    assert ids[1].startswith("u-") and ids[2].startswith("h-")


def test_url_id_ignores_tracking_and_trailing_slash(tmp_path):
    path = tmp_path / "two.jsonl"
    path.write_text(
        json.dumps({"headline": "A", "url": "https://www.example.com/x/?utm_source=feed"}) + "\n"
        + json.dumps({"headline": "A again", "url": "http://example.com/x"}) + "\n"
    )
    first, second = (item.article.id for item in read(path))
    assert first == second


def test_mapping_renames_fields_and_numbers_become_text():
    mapping = parse_mapping("headline=title,body=text,id=article_id,published_at=publish_date,url=link")
    (item,) = read(FIXTURES / "renamed.jsonl", mapping=mapping)
    assert isinstance(item, Record)
    assert item.article.id == "17"
    assert item.article.headline == "Renamed fields work"
    assert item.article.body == "Body from the text field."
    assert item.article.published_at == datetime(2017, 3, 1, tzinfo=UTC)
    (unmapped,) = read(FIXTURES / "renamed.jsonl")
    assert isinstance(unmapped, Problem) and "headline" in unmapped.reason


def test_json_array_file(tmp_path):
    path = tmp_path / "many.json"
    path.write_text(json.dumps([{"headline": "One"}, {"title": "no headline"}], indent=2))
    first, second = read(path)
    assert isinstance(first, Record) and first.location.endswith("many.json[0]")
    assert isinstance(second, Problem) and second.location.endswith("many.json[1]")


def test_invalid_utf8_is_replaced_not_fatal_and_logged(tmp_path, caplog):
    path = tmp_path / "bytes.jsonl"
    path.write_bytes(b'{"headline": "Caf\xe9 reopens", "body": "ok"}\n')
    (item,) = read(path)
    assert isinstance(item, Record) and item.article.headline == "Caf\ufffd reopens"
    assert "bytes.jsonl" in caplog.text and "U+FFFD" in caplog.text


def test_slashed_date_with_time(tmp_path):
    path = tmp_path / "slashed.jsonl"
    path.write_text('{"headline": "A", "published_at": "2016/12/30 7:11"}\n')
    (item,) = read(path)
    assert item.article.published_at == datetime(2016, 12, 30, 7, 11, tzinfo=UTC)


# --- CSV --------------------------------------------------------------------------------

def test_csv_records_problems_and_multiline_cells():
    items = read(FIXTURES / "articles.csv")
    found = {item.location.rsplit(":", 1)[1]: item for item in items}
    a1 = found["2"].article
    assert a1.id == "a1" and a1.section == "politics"
    assert a1.body == "Line one of the body.\nLine two of the body."
    assert [(link.headline, link.url) for link in a1.read_also] == [
        ("Fourth story", "https://example.com/a4"), ("Second story", None), ("Third story", None)]
    a2 = found["7"].article  # the multi-line record above starts on line 2 and ends on line 6
    assert a2.published_at == datetime(2025, 1, 3, 9, tzinfo=UTC) and a2.url is None
    a3 = found["8"].article  # no headline: made from the body and marked
    assert (a3.headline, a3.headline_derived) == ("Body without a headline", True)
    assert "JSON" in found["9"].reason
    assert "fields" in found["10"].reason


def test_tsv_and_semicolon_delimiters(tmp_path):
    (tmp_path / "a.tsv").write_text("id\theadline\tbody\n1\tTab story\tText, with comma\n")
    (tmp_path / "b.csv").write_text("id;headline;body\n2;Semicolon story;Text\n")
    items = read(tmp_path)
    assert [(item.article.id, item.article.headline) for item in items] == [
        ("1", "Tab story"), ("2", "Semicolon story")]


def test_empty_csv_is_a_problem(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    (item,) = read(tmp_path / "empty.csv")
    assert isinstance(item, Problem)


# --- raw text ---------------------------------------------------------------------------

def test_text_with_header_block():
    (item,) = read(FIXTURES / "header.txt")
    article = item.article
    assert article.id == "story-42"
    assert article.headline == "Ministers agree a new climate plan"
    assert article.url == "https://example.com/climate-plan"
    assert article.published_at == datetime(2025, 4, 1, 8, tzinfo=UTC)
    assert article.section == "environment" and article.language == "en"
    assert [link.headline for link in article.read_also] == [
        "Coal plants to close by 2030", "What the plan means for households"]
    assert "Related" not in article.body and "Additional reporting" not in article.body
    assert article.body.endswith("The plan still needs parliamentary approval.")


def test_text_first_line_headline_like_bbc():
    (item,) = read(FIXTURES / "headline-first.txt")
    assert item.article.id == "headline-first"
    assert item.article.headline == "Ad sales boost Time Warner profit"
    assert item.article.body.startswith("Quarterly profits")


def test_empty_text_is_a_problem():
    (item,) = read(FIXTURES / "empty.txt")
    assert isinstance(item, Problem) and item.location.endswith("empty.txt")


@pytest.fixture
def seed():
    if not SEED.exists():
        pytest.skip(f"seed article not found at {SEED} (the shared folder is not mounted)")
    (item,) = read(SEED)
    assert isinstance(item, Record)
    return item.article, SEED.read_text(encoding="utf-8")


def test_seed_read_also_links_exactly_in_order(seed):
    article, _ = seed
    assert [link.headline for link in article.read_also] == SEED_LINKS


def test_seed_body_loses_links_label_and_boilerplate_only(seed):
    article, raw = seed
    for headline in SEED_LINKS:
        assert headline not in article.body
    assert "Read also" not in article.body
    assert "This is a developing story" not in article.body
    kept = [line for line in raw.splitlines()
            if line.strip() and line != "Read also:" and not line.startswith("- ")
            and not line.startswith("This is a developing story")]
    assert article.body.split("\n") == kept


def test_seed_id_and_headline(seed):
    article, _ = seed
    assert article.id == "article-with-read-also"
    assert article.headline.startswith("Tuesday’s call comes after Ukrainian officials agreed")
    assert len(article.headline) <= 91 and article.headline.endswith("…")
    assert article.body.startswith(article.headline[:-1])


# --- HTML -------------------------------------------------------------------------------

def test_html_page():
    (item,) = read(FIXTURES / "page.html")
    article = item.article
    assert article.headline == "Rail strike called off after late deal"
    assert article.url == "https://example.com/news/rail-strike"
    assert article.id == "rail-strike"  # the URL slug
    assert article.published_at == datetime(2025, 2, 10, 18, tzinfo=UTC)
    assert article.section == "business" and article.language == "en"
    assert article.body == ("Unions called off the strike after a late offer.\n"
                            "Trains will run as normal on Monday.\nPassengers welcomed the news.")
    assert [(link.headline, link.url) for link in article.read_also] == [
        ("What is in the pay offer?", "https://example.com/news/pay-offer"),
        ("Strikes across Europe", "https://other.example.org/strikes"),
        ("Bus fares frozen", "https://example.com/news/bus-fares"),
    ]
    assert "LEAK" not in article.body and "color" not in article.body


def test_html_fallbacks_and_failures():
    items = by_location(read(FIXTURES / "bare.html"))
    article = items["bare.html"].article
    assert article.headline == "Only a title" and article.id == "bare"
    assert article.body == "First paragraph.\nSecond paragraph."
    (nothing,) = read(FIXTURES / "nothing.html")
    assert isinstance(nothing, Problem)


def test_html_headline_from_h1_and_time_element(tmp_path):
    path = tmp_path / "p.htm"
    path.write_text('<html lang="fr"><body><h1>Titre</h1><time datetime="soon">x</time>'
                    '<time datetime="2024-05-01">1 mai</time><p>Texte.</p></body></html>')
    (item,) = read(path)
    assert item.article.headline == "Titre" and item.article.language == "fr"
    assert item.article.published_at == datetime(2024, 5, 1, tzinfo=UTC)


# --- directories, forcing, fuzzing ------------------------------------------------------

def test_directory_is_walked_sorted_with_known_extensions_only(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.txt").write_text("Second headline\n\nBody two.")
    (tmp_path / "a.txt").write_text("First headline\n\nBody one.")
    (tmp_path / "notes.docx").write_text("ignored")
    assert [Path(item.location).name for item in read(tmp_path)] == ["a.txt", "z.txt"]


def test_format_forces_a_reader(tmp_path):
    path = tmp_path / "feed.data"
    path.write_text('{"headline": "Forced"}\n')
    (item,) = read(path, format="jsonl")
    assert item.article.headline == "Forced"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400) | st.text(max_size=400).map(lambda t: t.encode("utf-8", "surrogatepass")),
       format=st.sampled_from(FORMATS))
def test_no_reader_crashes_on_arbitrary_bytes(tmp_path, data, format):
    path = tmp_path / "fuzz.bin"
    path.write_bytes(data)
    for item in read_path(path, format=format):
        assert isinstance(item, (Record, Problem))


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(record=st.fixed_dictionaries({}, optional={
    name: JSONISH for name in ("id", "url", "headline", "body", "published_at", "section", "language", "read_also")}))
def test_no_reader_crashes_on_odd_field_values(tmp_path, record):
    path = tmp_path / "odd.jsonl"
    path.write_text(json.dumps(record) + "\n")
    (item,) = read(path)
    assert isinstance(item, (Record, Problem))
