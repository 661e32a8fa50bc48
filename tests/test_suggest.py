"""readalso suggest: a Read-also block set into a draft in its own shape (text, HTML, JSON)."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from conftest import DEMO, SHARED, build_model
from recommender.articles import ReadAlsoLink
from recommender.ranking import Filters
from recommender.readers import Record
from recommender.readers import page as page_reader
from recommender.readers import text as text_reader
from recommender.suggest import choose, suggest
from recommender.writers import detect_shape
from recommender.writers import html as html_writer
from recommender.writers import text as text_writer

SEED = SHARED / "seed" / "article-with-read-also.txt"
BLOCK_LINES = ("Read also:", "- ")


# -- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_template(tmp_path_factory):
    """The demo corpus (text and HTML) in a store with a built model beside it, as 'readalso demo' leaves it."""
    from recommender.links import resolve_store
    from recommender.readers import read_path
    from recommender.store import Store

    db = tmp_path_factory.mktemp("demo") / "demo.db"
    with Store(db) as store:
        for folder in ("text", "html"):
            store.articles.upsert_many(item.article for item in read_path(DEMO / folder) if isinstance(item, Record))
        resolve_store(store)
        build_model(store, db.with_suffix(".artifacts"))
    return db


@pytest.fixture
def demo_db(demo_template, tmp_path):
    db = tmp_path / demo_template.name
    shutil.copy(demo_template, db)
    shutil.copytree(demo_template.with_suffix(".artifacts"), db.with_suffix(".artifacts"))
    return db


@pytest.fixture
def demo(demo_db):
    from recommender.versions import open_engine

    store, engine = open_engine(demo_db)
    with store:
        yield engine, store


@pytest.fixture
def seed() -> str:
    if not SEED.exists():
        pytest.skip(f"the seed article is not present at {SEED} (../shared/seed/article-with-read-also.txt)")
    return SEED.read_text(encoding="utf-8")


def without_block(text: str) -> str:
    return "\n".join(line for line in text.split("\n") if not line.startswith(BLOCK_LINES))


STORM_DRAFT = """id: storm-draft
headline: Port Kellan flood defences to be raised after Storm Ardent review

Engineers will raise the flood walls along the River Osk in Port Kellan after a review found that Storm Ardent's surge overtopped them in three places.
The crown recovery fund will pay for most of the work, which starts in January and should take two years.
Families still in temporary housing said the plan came too late for them.
The council will publish the full review next week.
"""  # noqa: E501


# -- the seed: text in the seed's own shape ---------------------------------------------------
def test_seed_without_its_block_comes_out_in_the_seed_shape(demo, seed):
    engine, store = demo
    draft = without_block(seed)
    result = suggest(engine, store, draft, name="seed.txt", k=5)
    lines, seed_lines = result.document.split("\n"), seed.split("\n")
    assert result.shape == "text"
    assert lines[:2] == seed_lines[:2]                   # two paragraphs, then the block, as in the seed
    assert lines[2] == "Read also:" == seed_lines[2]
    items = lines[3:8]
    assert len(items) == 5 and all(item.startswith("- ") for item in items)
    assert lines[8:] == seed_lines[8:]                   # the rest of the draft as it was, byte for byte
    stored = store.get_many([p.id for p in result.picks[0]])
    assert [f"- {stored[p.id].headline}" for p in result.picks[0]] == items  # real stored stories
    assert {p.source for p in result.picks[0]} == {"engine"}


def test_seed_with_its_block_comes_back_unchanged(demo, seed):
    engine, store = demo
    result = suggest(engine, store, seed, name="seed.txt", k=5)
    assert result.document == seed
    assert [p.source for p in result.picks[0]] == ["editor"] * 5


def test_seed_round_trip_and_idempotence(demo, seed):
    engine, store = demo
    draft = without_block(seed)
    once = suggest(engine, store, draft, name="seed.txt", k=4)
    twice = suggest(engine, store, once.document, name="seed.txt", k=4)
    assert twice.document == once.document
    before = text_reader.parse(draft, location="draft", default_id="seed").article
    after = text_reader.parse(once.document, location="out", default_id="seed").article
    assert after.with_links(()) == before                # the same article ...
    assert [link.headline for link in after.read_also] == [p.headline for p in once.picks[0]]  # ... with the block


def test_seed_through_the_cli_on_the_demo_store(demo_db, seed, tmp_path):
    draft = tmp_path / "seed-draft.txt"
    draft.write_text(without_block(seed), encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(_cli(), ["--db", str(demo_db), "suggest", str(draft)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.split("\n")[2] == "Read also:"
    again = runner.invoke(_cli(), ["--db", str(demo_db), "suggest", "-"], input=result.output)
    assert again.output == result.output
    out = tmp_path / "out.txt"
    explained = runner.invoke(_cli(), ["--db", str(demo_db), "suggest", str(draft), "--json", "-k", "3",
                                       "-o", str(out)])
    assert explained.exit_code == 0, explained.output
    payload = json.loads(out.read_text(encoding="utf-8"))
    assert payload["shape"] == "text" and len(payload["blocks"][0]["read_also"]) == 3
    assert payload["blocks"][0]["block"].startswith("Read also:\n- ")


def _cli():
    from recommender.cli import cli

    return cli


# -- the block's content: editor's picks, k, replace, pins, blocks, filters -----------------------
def test_editor_picks_are_kept_first_and_not_repeated(demo):
    engine, store = demo
    stored = store.articles.get("storm-ardent-05")
    draft = STORM_DRAFT.replace(
        "Families still",
        f"Read also:\n- {stored.headline}\n- An editor's own pick the store does not hold\nFamilies still")
    result = suggest(engine, store, draft, k=5)
    picks = result.picks[0]
    assert [p.source for p in picks] == ["editor", "editor", "engine", "engine", "engine"]
    assert picks[0].id == "storm-ardent-05" and picks[0].url == stored.url  # resolved: its URL filled in
    assert picks[1].id is None
    assert "storm-ardent-05" not in {p.id for p in picks[2:]}
    lines = result.document.split("\n")
    at = lines.index("Read also:")
    assert lines[at - 1].startswith("The crown recovery fund")  # the editor's block stays where it stood
    assert lines[at + 1] == f"- {stored.headline}"


def test_replace_drops_the_editors_block(demo):
    engine, store = demo
    draft = STORM_DRAFT.replace("Families still", "Read also:\n- An editor's own pick\nFamilies still")
    result = suggest(engine, store, draft, k=3, replace=True)
    assert [p.source for p in result.picks[0]] == ["engine"] * 3
    assert "An editor's own pick" not in result.document
    assert result.document.count("Read also:") == 1


def test_more_editor_picks_than_k_are_all_kept(demo):
    engine, store = demo
    draft = STORM_DRAFT.replace("Families still", "Read also:\n- One\n- Two\n- Three\nFamilies still")
    result = suggest(engine, store, draft, k=2)
    assert [p.headline for p in result.picks[0]] == ["One", "Two", "Three"]


def test_pins_and_blocks_of_the_drafts_id_apply(demo):
    engine, store = demo
    # An update of a stored story: pins and blocks are set on stored ids.
    draft = text_reader.parse(STORM_DRAFT.replace("id: storm-draft", "id: storm-ardent-08"),
                              location="draft", default_id="x").article
    plain = [p.id for p in choose(engine, store, draft, 4)]
    assert "storm-ardent-08" not in plain
    store.feedback.set("storm-ardent-08", plain[1], "block")
    store.feedback.set("storm-ardent-08", "rates-03", "pin")
    picks = choose(engine, store, draft, 4)
    assert picks[0].id == "rates-03" and picks[0].reason == "pinned by an editor"
    assert plain[1] not in {p.id for p in picks}


def test_filters_and_the_draft_itself(demo):
    engine, store = demo
    picks = choose(engine, store, text_reader.parse(STORM_DRAFT, location="d", default_id="x").article, 4,
                   filters=Filters(section="politics"))
    assert picks and {store.articles.get(p.id).section for p in picks} == {"politics"}
    stored = store.articles.get("storm-ardent-03")  # a stored story sent as a draft never suggests itself
    assert "storm-ardent-03" not in {p.id for p in choose(engine, store, stored.with_links(()), 5)}


# -- text shape details -----------------------------------------------------------------------
LINKS = [ReadAlsoLink("First related story", "https://news.example/a"), ReadAlsoLink("Second one")]


@pytest.mark.parametrize("after, expected", [
    (0, ["Read also:", "- First related story", "- Second one", "P1.", "P2.", "P3."]),
    (1, ["P1.", "Read also:", "- First related story", "- Second one", "P2.", "P3."]),
    (None, ["P1.", "P2.", "Read also:", "- First related story", "- Second one", "P3."]),
    (9, ["P1.", "P2.", "P3.", "Read also:", "- First related story", "- Second one"]),
])
def test_text_block_after_paragraph_n(after, expected):
    out = text_writer.set_block("P1.\nP2.\nP3.\n", LINKS, after=after)
    assert out == "\n".join(expected) + "\n"
    assert text_writer.set_block(out, LINKS, after=after) == out


def test_text_keeps_header_headline_blank_lines_label_and_line_endings():
    draft = "id: d1\nheadline: A headline\n\nFirst paragraph.\n\nSecond paragraph.\n\nThird paragraph.\n"
    out = text_writer.set_block(draft, LINKS)
    assert out == ("id: d1\nheadline: A headline\n\nFirst paragraph.\n\nSecond paragraph.\n\n"
                   "Read also:\n- First related story\n- Second one\n\nThird paragraph.\n")
    assert text_writer.set_block(out, LINKS) == out
    bbc = "Short headline here\nFirst paragraph.\nSecond paragraph.\nRead more:\n* Old pick\nThird."
    out = text_writer.set_block(bbc, LINKS, after=1)
    assert out == ("Short headline here\nFirst paragraph.\nRead more:\n* First related story\n* Second one\n"
                   "Second paragraph.\nThird.")
    crlf = text_writer.set_block("P1.\r\nP2.\r\nP3.\r\n", LINKS)
    assert crlf == "P1.\r\nP2.\r\nRead also:\r\n- First related story\r\n- Second one\r\nP3.\r\n"


def test_text_round_trip_through_the_reader():
    draft = ("headline: Barrier vote\n\nThe council voted.\nWork starts in spring.\nRead also:\n- Old pick\n"
             "More text follows.\n")
    out = text_writer.set_block(draft, LINKS)
    before = text_reader.parse(draft, location="a", default_id="d").article
    after = text_reader.parse(out, location="b", default_id="d").article
    assert after.body == before.body and after.headline == before.headline
    assert [link.headline for link in after.read_also] == [link.headline for link in LINKS]


# -- HTML shape -------------------------------------------------------------------------------
def test_html_page_gets_an_aside_in_place(demo):
    engine, store = demo
    source = (DEMO / "html" / "kestrel-05.html").read_text(encoding="utf-8")
    result = suggest(engine, store, source, name="kestrel-05.html", k=6)
    assert result.shape == "html"
    picks = result.picks[0]
    assert [p.source for p in picks] == ["editor"] * 4 + ["engine"] * 2
    assert suggest(engine, store, source, k=4).document == source   # nothing to add: the page as it came
    lines = result.document.split("\n")
    block = [line for line in lines if "<aside" in line]
    assert len(block) == 1 and block[0].strip().startswith('<aside class="read-also"><h2>Read also</h2><ul>')
    # Everything but the block is byte for byte the page as it was.
    original = source.split("\n")
    start = next(i for i, line in enumerate(original) if "<aside" in line)
    end = next(i for i, line in enumerate(original) if "</aside>" in line)
    assert [line for line in lines if "<aside" not in line] == original[:start] + original[end + 1:]
    assert suggest(engine, store, result.document, name="kestrel-05.html", k=6).document == result.document
    read = page_reader.parse(result.document, location="out", default_id="x").article
    before = page_reader.parse(source, location="in", default_id="x").article
    assert read.with_links(()) == before.with_links(())
    assert [(link.headline, link.url) for link in read.read_also] == [(p.headline, p.url) for p in picks]
    assert all(p.url.startswith("https://demo.readalso.example/") for p in picks)


def test_html_fragment_after_n_and_replace(demo):
    engine, store = demo
    fragment = ("<h1>Storm Ardent flood defences to be raised</h1>\n<p>Engineers will raise the flood walls "
                "along the River Osk.</p>\n<p>The crown recovery fund will pay.</p>\n<p>Families wait.</p>\n")
    once = suggest(engine, store, fragment, k=3, after=1)
    lines = once.document.split("\n")
    assert lines[1].startswith("<p>Engineers") and lines[2].startswith('<aside class="read-also">')
    assert once.document.replace(lines[2] + "\n", "") == fragment
    assert suggest(engine, store, once.document, k=3).document == once.document   # stays after paragraph 1
    moved = suggest(engine, store, once.document, k=2, after=3, replace=True)
    assert moved.document.split("\n")[4].startswith("<aside") and len(moved.picks[0]) == 2


def test_html_block_escapes_headlines_and_keeps_only_http_links():
    # the validation layer refuses such links in an Article; the writer stays safe if handed one anyway
    hostile = [ReadAlsoLink('<img src=x onerror=alert(1)> "Quoted" & more', "https://news.example/a?x=1&y=\"2\""),
               SimpleNamespace(headline="Script link", url="javascript:alert(1)", target_id=None),
               SimpleNamespace(headline="Relative", url="/world/b", target_id=None)]
    block = html_writer.render_block(hostile, base="https://news.example/politics/draft")
    assert "<img" not in block and "&lt;img src=x onerror=alert(1)&gt;" in block
    assert 'href="https://news.example/a?x=1&amp;y=&quot;2&quot;"' in block
    assert "javascript:" not in block and "<a>Script link</a>" in block
    assert 'href="https://news.example/world/b"' in block
    page = (f"<html><head><title>Draft</title><link rel=canonical href='https://news.example/p'></head>"
            f"<body><p>One.</p>{block}</body></html>")
    links = page_reader.parse(page, location="p", default_id="p").article.read_also
    assert [link.headline for link in links] == [
        '<img src=x onerror=alert(1)> "Quoted" & more', "Script link", "Relative"]
    assert [link.url for link in links] == ['https://news.example/a?x=1&y="2"', None, "https://news.example/world/b"]


# -- JSON shape -------------------------------------------------------------------------------
def test_json_record_gets_its_read_also_field(demo):
    engine, store = demo
    record = {"id": "storm-draft", "headline": "Port Kellan flood defences to be raised after Storm Ardent",
              "body": "Engineers will raise the flood walls along the River Osk.\nThe recovery fund pays.",
              "section": "climate", "read_also": [{"headline": "An editor's pick", "url": None}]}
    source = json.dumps(record, indent=2)
    result = suggest(engine, store, source, k=3)
    out = json.loads(result.document)
    assert result.shape == "json" and list(out) == list(record)
    assert out["read_also"][0] == {"headline": "An editor's pick", "url": None}
    assert len(out["read_also"]) == 3 and all(item["url"] for item in out["read_also"][1:])
    assert result.document.startswith("{\n  ")      # indented as it came
    assert suggest(engine, store, result.document, k=3).document == result.document
    replaced = json.loads(suggest(engine, store, source, k=3, replace=True).document)
    assert "An editor's pick" not in {item["headline"] for item in replaced["read_also"]}


def test_json_lines_each_record_filled(demo):
    engine, store = demo
    lines = "\n".join(json.dumps({"id": f"d{i}", "headline": headline}) for i, headline in enumerate(
        ["Reserve Bank raises interest rates again", "Kestrel lander finds water ice"])) + "\n"
    result = suggest(engine, store, lines, name="drafts.jsonl", k=2)
    records = [json.loads(line) for line in result.document.splitlines()]
    assert [r["id"] for r in records] == ["d0", "d1"] and all(len(r["read_also"]) == 2 for r in records)
    assert result.document.count("\n") == 2


def test_detect_shape():
    assert detect_shape("<p>x</p>") == "html" and detect_shape(' {"a": 1}') == "json"
    assert detect_shape("Plain text.") == "text" and detect_shape("", "draft.html") == "html"
    assert detect_shape("<p>looks like HTML</p>", "notes.txt") == "text"
    with pytest.raises(ValueError, match="not drafts"):
        detect_shape("<rss/>", "feed.rss")


def test_unreadable_draft_is_a_value_error(demo):
    engine, store = demo
    with pytest.raises(ValueError, match="no headline"):
        suggest(engine, store, "<html><body></body></html>")


# -- the README's newsroom workflow on the demo corpus ----------------------------------------
def test_demo_feeds_and_drafts_as_the_readme_runs_them(demo_db):
    from recommender.cli import cli

    runner = CliRunner()

    def run(*args):
        result = runner.invoke(cli, ["--db", str(demo_db), *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    assert "4 new, 0 updated, 0 unchanged, 0 skipped" in run("ingest", str(DEMO / "feeds"))
    assert "sitemap: 2 entries, 2 matched to saved pages, 0 without one" in run(
        "ingest", str(DEMO / "html"), "--sitemap", str(DEMO / "html" / "sitemap.xml"))
    run("build")
    draft = (DEMO / "drafts" / "storm-ardent-draft.txt").read_text(encoding="utf-8")
    lines = run("suggest", str(DEMO / "drafts" / "storm-ardent-draft.txt")).split("\n")
    assert lines[2] == "Read also:" and len([line for line in lines if line.startswith("- ")]) == 5
    assert without_block("\n".join(lines)) == draft
    page = run("suggest", str(DEMO / "drafts" / "kestrel-draft.html"), "--after", "1").split("\n")
    at = next(i for i, line in enumerate(page) if "<aside" in line)
    assert "wake-up commands" in page[at - 1] and page[at].count("<li>") == 5


def test_csv_rows_get_their_read_also_cell(demo, tmp_path):
    engine, store = demo
    source = ("id;headline;body;section\r\n"
              "c1;Reserve Bank raises interest rates again;\"Mortgage costs climb; savers gain.\";business\r\n"
              "\r\n"
              'c2;"Kestrel lander finds water ice";"The drill found ice.\nRead also:\n- Old pick";science\r\n')
    result = suggest(engine, store, source, name="drafts.csv", k=3)
    assert result.shape == "csv" and [d.id for d in result.drafts] == ["c1", "c2"]
    rows = result.document.split("\r\n")
    assert rows[0] == "id;headline;body;section;read_also"
    from recommender.readers import read_path

    out = tmp_path / "out.csv"
    out.write_text(result.document, encoding="utf-8", newline="")
    read = [item.article for item in read_path(out)]
    assert [[link.headline for link in a.read_also] for a in read] == [
        [p.headline for p in picks] for picks in result.picks]
    assert result.picks[1][0].headline == "Old pick" and len(result.picks[1]) == 3
    assert suggest(engine, store, result.document, name="drafts.csv", k=3).document == result.document
    replaced = suggest(engine, store, source, name="drafts.csv", k=3, replace=True)
    assert "Old pick" not in replaced.document


# -- properties: any draft, any block ---------------------------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéß", min_size=1, max_size=9)
SENTENCE = st.lists(WORD, min_size=3, max_size=14).map(lambda words: " ".join(words).capitalize() + ".")
HEADLINE = st.lists(WORD, min_size=1, max_size=12).map(lambda words: " ".join(words).capitalize()) | st.sampled_from(
    ["iPhone sales fall", "What next? The 4.6% question", "'Salt Harvest' & <b>friends</b>", "Rates: up again."])
LINK_LISTS = st.lists(st.builds(ReadAlsoLink, HEADLINE, st.sampled_from([None, "https://news.example/a"])),
                      min_size=1, max_size=6, unique_by=lambda link: link.headline.lower())


@settings(max_examples=60, deadline=None)
@given(paragraphs=st.lists(SENTENCE, min_size=1, max_size=8), links=LINK_LISTS, again=LINK_LISTS,
       after=st.none() | st.integers(0, 10), spaced=st.booleans())
def test_text_writer_round_trips_and_is_idempotent(paragraphs, links, again, after, spaced):
    draft = ("\n\n" if spaced else "\n").join(paragraphs) + "\n"
    out = text_writer.set_block(draft, links, after=after)
    assert text_writer.set_block(out, links, after=after) == out
    before = text_reader.parse(draft, location="a", default_id="d").article
    read = text_reader.parse(out, location="b", default_id="d").article
    assert read.with_links(()) == before
    assert [link.headline for link in read.read_also] == [link.headline for link in links]
    replaced = text_writer.set_block(out, again)                     # a new block where the old one stood
    assert text_writer.set_block(draft, [], after=after) == draft.rstrip("\n") + "\n"
    assert [link.headline for link in text_reader.parse(replaced, location="c", default_id="d").article.read_also] \
        == [link.headline for link in again]


@settings(max_examples=60, deadline=None)
@given(paragraphs=st.lists(SENTENCE, min_size=1, max_size=8), links=LINK_LISTS,
       after=st.none() | st.integers(0, 10), indent=st.sampled_from(["", "  ", "\t"]))
def test_html_writer_round_trips_and_is_idempotent(paragraphs, links, after, indent):
    page = ("<html><head><title>A draft</title><link rel='canonical' href='https://news.example/x/draft'></head>"
            "<body><article>\n" + "".join(f"{indent}<p>{p}</p>\n" for p in paragraphs) + "</article></body></html>")
    out = html_writer.set_block(page, links, after=after)
    assert html_writer.set_block(out, links, after=after) == out
    assert html_writer.set_block(out, [], after=after) == page
    read = page_reader.parse(out, location="b", default_id="d").article
    assert read.with_links(()) == page_reader.parse(page, location="a", default_id="d").article
    expected = [(link.headline, html_writer.safe_url(link.url, "https://news.example/x/draft")) for link in links]
    assert [(link.headline, link.url) for link in read.read_also] == expected
