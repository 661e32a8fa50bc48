"""Resolving Read-also items: canonical URL, normalised headline, fuzzy headline."""

from recommender.articles import Article, ReadAlsoLink, canonical_url, normalise_headline
from recommender.links import LinkResolver


def make_resolver():
    return LinkResolver().fit([
        Article(id="a", headline="Poland and Baltics to quit landmine treaty over Russia fears",
                url="https://news.example/world/landmines?utm_medium=rss"),
        Article(id="b", headline="EU Commission to decide whether to scrap AI liability rules by August"),
    ])


def test_url_match_ignores_scheme_www_tracking_and_trailing_slash():
    resolver = make_resolver()
    found = resolver.resolve(ReadAlsoLink("whatever", "http://www.news.example/world/landmines/"))
    assert (found.target_id, found.how) == ("a", "url")


def test_headline_match_is_case_and_punctuation_insensitive():
    found = make_resolver().resolve(
        ReadAlsoLink("EU commission to decide whether to scrap AI liability rules by August!"))
    assert (found.target_id, found.how) == ("b", "headline")


def test_fuzzy_match_above_threshold_only():
    resolver = make_resolver()
    close = resolver.resolve(ReadAlsoLink("Poland and the Baltics to quit landmine treaty over Russia fears"))
    assert (close.target_id, close.how) == ("a", "fuzzy")
    assert resolver.resolve(ReadAlsoLink("Poland wins the football match against Latvia")).target_id is None


def test_an_article_never_links_to_itself():
    found = make_resolver().resolve(ReadAlsoLink("Poland and Baltics to quit landmine treaty over Russia fears"),
                                    source_id="a")
    assert found.target_id is None


def test_normalisation_helpers():
    assert canonical_url("HTTPS://WWW.Example.com/a/?b=2&utm_source=x&a=1#top") == "example.com/a?a=1&b=2"
    assert normalise_headline("  Zelenskyy’s “peace” — plan ") == "zelenskyy s peace plan"
