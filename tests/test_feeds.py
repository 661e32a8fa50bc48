"""Feeds (RSS 2.0, Atom) and news sitemaps in: readers, hostile XML, ingest."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import DEMO
from recommender.cli import cli
from recommender.readers import Problem, Record, detect_format, read_path, xmlsafe
from recommender.readers.sitemap import SitemapMatcher, read_sitemap

FEEDS = Path(__file__).parent / "fixtures" / "feeds"


def split(items):
    items = list(items)
    return ({Path(i.location).name: i.article for i in items if isinstance(i, Record)},
            {Path(i.location).name: i.reason for i in items if isinstance(i, Problem)})


# -- RSS and Atom -----------------------------------------------------------------------------
def test_rss_items():
    articles, problems = split(read_path(FEEDS / "harbour.rss"))
    assert sorted(articles) == ["harbour.rss[0]", "harbour.rss[1]", "harbour.rss[4]"]
    assert sorted(problems) == ["harbour.rss[2]", "harbour.rss[3]"]
    assert "the same item as" in problems["harbour.rss[2]"] and "harbour.rss[0]" in problems["harbour.rss[2]"]
    assert "not a date" in problems["harbour.rss[3]"] and "Lighthouse keeper" in problems["harbour.rss[3]"]
    barrier, ferry, market = articles["harbour.rss[0]"], articles["harbour.rss[1]"], articles["harbour.rss[4]"]
    assert barrier.headline == "Harbour council approves new flood barrier"
    # the slug, as its saved page gets
    assert barrier.url == "https://gazette.example/local/flood-barrier" and barrier.id == "flood-barrier"
    assert barrier.published_at == datetime(2026, 11, 24, 8, 15, tzinfo=UTC)       # RFC 822
    assert ferry.published_at == datetime(2026, 11, 23, 16, 40, tzinfo=UTC)        # +0100 to UTC
    assert barrier.section == "local" and ferry.section == "business" and market.section is None
    assert barrier.language == "en"                                                         # en-gb
    # HTML stripped by the HTML reader: paragraphs are lines, no tags, no script.
    assert barrier.body == ("The harbour council voted on Monday to build a new flood barrier at the river mouth.\n"
                            "Work starts in spring.")
    # content:encoded preferred to the description; its Read-also aside becomes a link (resolved URL).
    assert ferry.body.startswith("Ferry crews will return to work on Wednesday") and "Read also" not in ferry.body
    assert [(link.headline, link.url) for link in ferry.read_also] == [
        ("Ferry crews walk out over pay", "https://gazette.example/business/ferry-strike-begins")]


def test_atom_entries():
    articles, problems = split(read_path(FEEDS / "observatory.atom"))
    assert sorted(articles) == ["observatory.atom[0]", "observatory.atom[1]"]
    assert list(problems) == ["observatory.atom[2]"] and "no title" in problems["observatory.atom[2]"]
    comet, dome = articles["observatory.atom[0]"], articles["observatory.atom[1]"]
    assert comet.headline == "Comet Ardent-Vale visible at dawn"                      # type="html" title
    assert comet.published_at == datetime(2026, 11, 25, 4, 30, tzinfo=UTC)   # ISO 8601 with offset
    assert comet.body == "The comet rises in the east about an hour before the Sun.\nBinoculars show its green coma."
    assert comet.section == "science"
    assert dome.url is None and dome.id.startswith("g-")          # no link: the id comes from the guid
    assert dome.published_at == datetime(2026, 11, 20, 12, tzinfo=UTC)    # updated, no published
    assert dome.body == "Engineers replaced two panels of the dome."
    again, _ = split(read_path(FEEDS / "observatory.atom"))
    assert [a.id for a in again.values()] == [a.id for a in articles.values()]


def test_ingest_feeds_is_idempotent_and_updates_exactly_the_changed_item(tmp_path):
    folder = tmp_path / "feeds"
    shutil.copytree(FEEDS, folder)
    runner = CliRunner()

    def ingest(*paths):
        return runner.invoke(cli, ["--db", str(tmp_path / "store.db"), "ingest", *map(str, paths)],
                             catch_exceptions=False)

    first = ingest(folder)
    assert first.exit_code == 0
    assert "5 new, 0 updated, 0 unchanged, 3 skipped" in first.output
    for place in ("harbour.rss[2]", "harbour.rss[3]", "observatory.atom[2]"):
        assert f"skipped {folder / place}" in first.output
    assert "5 unchanged" in ingest(folder).output
    feed = folder / "harbour.rss"
    feed.write_text(feed.read_text(encoding="utf-8").replace("Work starts in spring.", "Work starts in March."),
                    encoding="utf-8")
    changed = ingest(feed)
    assert "0 new, 1 updated, 2 unchanged, 2 skipped" in changed.output
    from recommender.store import Store

    with Store(tmp_path / "store.db", create=False) as store:
        barrier = store.articles.find_by_canonical_url("https://gazette.example/local/flood-barrier")
        assert store.articles.get(barrier).body.endswith("Work starts in March.")


def test_xml_is_told_apart_by_its_root(tmp_path):
    (tmp_path / "news.xml").write_bytes((FEEDS / "harbour.rss").read_bytes())
    (tmp_path / "sitemap.xml").write_bytes((DEMO / "html" / "sitemap.xml").read_bytes())
    (tmp_path / "config.xml").write_text("<?xml version='1.0'?><config><a/></config>")
    assert detect_format(tmp_path / "news.xml") == "feed"
    with pytest.raises(ValueError, match="is a sitemap"):
        detect_format(tmp_path / "sitemap.xml")
    with pytest.raises(ValueError, match="not an RSS or Atom feed"):
        detect_format(tmp_path / "config.xml")
    articles, problems = split(read_path(tmp_path))          # a folder: the sitemap is skipped
    assert len(articles) == 3 and list(problems) == ["config.xml", "news.xml[2]", "news.xml[3]"]


# -- hostile XML ------------------------------------------------------------------------------
BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>
<rss version="2.0"><channel><item><title>&c;</title><link>https://x.example/a</link></item></channel></rss>"""  # noqa: E501
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY secret SYSTEM "file:///etc/hostname">]>
<rss version="2.0"><channel><item><title>&secret;</title><link>https://x.example/a</link></item></channel></rss>"""


@pytest.mark.parametrize("data", [BOMB, EXTERNAL, BOMB.replace(b"</rss>", b"")], ids=["bomb", "external", "malformed"])
def test_entities_are_refused(tmp_path, data):
    (tmp_path / "evil.rss").write_bytes(data)
    items = list(read_path(tmp_path / "evil.rss"))
    assert len(items) == 1 and isinstance(items[0], Problem) and "refused" in items[0].reason


def test_a_feed_naming_a_file_is_not_that_file(tmp_path):
    (tmp_path / "pointer.rss").write_text(str((FEEDS / "harbour.rss").resolve()))
    items = list(read_path(tmp_path / "pointer.rss"))
    assert len(items) == 1 and isinstance(items[0], Problem) and "not a readable feed" in items[0].reason


def test_size_is_bounded(tmp_path, monkeypatch):
    with pytest.raises(xmlsafe.UnsafeXML, match="more than the 1000"):
        xmlsafe.load(FEEDS / "harbour.rss", limit=1000)
    monkeypatch.setattr(xmlsafe, "MAX_BYTES", 1000)
    items = list(read_path(FEEDS / "harbour.rss"))
    assert len(items) == 1 and isinstance(items[0], Problem) and "more than the 1000" in items[0].reason


# -- sitemaps ---------------------------------------------------------------------------------
def test_news_sitemap_lists_urls_ids_and_dates():
    entries, problems = read_sitemap(DEMO / "html" / "sitemap.xml")
    assert problems == []
    assert [e.url for e in entries] == ["https://demo.readalso.example/science/kestrel-05",
                                        "https://demo.readalso.example/culture/salt-harvest-05"]
    assert entries[0].published_at == datetime(2026, 11, 9, 12, tzinfo=UTC)
    assert entries[0].title.startswith("Kestrel sends first images") and entries[0].language == "en"
    pages, _ = split(read_path(DEMO / "html"))
    assert {e.id for e in entries} == {a.id for a in pages.values()}   # the ids the saved pages get


def test_saved_pages_are_matched_to_the_sitemap(tmp_path):
    pages = tmp_path / "pages"
    pages.mkdir()
    kestrel = (DEMO / "html" / "kestrel-05.html").read_text(encoding="utf-8")
    # A page saved without its canonical URL, og:url or date: matched by its file name.
    bare = "\n".join(line for line in kestrel.split("\n")
                     if "canonical" not in line and "og:url" not in line and "published_time" not in line
                     and "<time" not in line)
    (pages / "kestrel-05.html").write_text(bare, encoding="utf-8")
    shutil.copy(DEMO / "html" / "salt-harvest-05.html", pages / "salt-harvest-05.html")
    (pages / "section-front.html").write_text(
        "<html><head><title>Science</title></head><body><p>Index.</p></body></html>")
    entries, _ = read_sitemap(DEMO / "html" / "sitemap.xml")
    matcher = SitemapMatcher(entries)
    articles, problems = split(matcher.match(read_path(pages)))
    assert list(problems) == ["section-front.html"] and "not in the sitemap" in problems["section-front.html"]
    page = articles["kestrel-05.html"]
    assert page.url == "https://demo.readalso.example/science/kestrel-05" and page.id == entries[0].id
    assert page.published_at == entries[0].published_at
    assert matcher.unmatched == []
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "s.db"), "ingest", str(pages),
                                      "--sitemap", str(DEMO / "html" / "sitemap.xml")], catch_exceptions=False)
    assert "2 new, 0 updated, 0 unchanged, 1 skipped" in result.output
    assert "sitemap: 2 entries, 2 matched to saved pages, 0 without one" in result.output
    listed = CliRunner().invoke(cli, ["sitemap", str(DEMO / "html" / "sitemap.xml"), "--json"])
    rows = [json.loads(line) for line in listed.output.splitlines()]
    assert [(r["id"], r["published_at"]) for r in rows] == [(entries[0].id, "2026-11-09T12:00:00+00:00"),
                                                            (entries[1].id, "2026-11-10T11:00:00+00:00")]


def test_sitemap_index_and_bad_entries(tmp_path):
    index = tmp_path / "index.xml"
    index.write_text('<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap>'
                     "<loc>https://x.example/news.xml</loc></sitemap></sitemapindex>")
    with pytest.raises(ValueError, match="sitemap index"):
        read_sitemap(index)
    bad = tmp_path / "bad.xml"
    bad.write_text('<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                   "<url><loc>https://x.example/a</loc><lastmod>2026-11-01</lastmod></url>"
                   "<url><loc>javascript:alert(1)</loc></url>"
                   "<url><loc>https://x.example/c</loc><lastmod>someday</lastmod></url></urlset>")
    entries, problems = read_sitemap(bad)
    assert [e.url for e in entries] == ["https://x.example/a"]
    assert [Path(p.location).name for p in problems] == ["bad.xml[1]", "bad.xml[2]"]
    evil = tmp_path / "evil.xml"
    evil.write_bytes(BOMB.replace(b"rss", b"urlset"))
    with pytest.raises(ValueError, match="refused"):
        read_sitemap(evil)
