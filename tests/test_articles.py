"""The one validation layer for articles: URLs, ids and size caps, shared by readers, store and service."""

import pytest

from recommender import articles
from recommender.articles import Article, ArticleError, Limits, ReadAlsoLink, check_id, check_limits, check_url
from recommender.readers import build_article


@pytest.mark.parametrize("url", [
    "https://news.example/a", "http://news.example:8080/a?b=1#c", "  https://news.example/padded  ",
    "HTTPS://NEWS.EXAMPLE/UPPER",
])
def test_check_url_accepts_absolute_http_urls(url):
    assert check_url(url) == url.strip()


@pytest.mark.parametrize("url", [
    "javascript:alert(document.domain)", "JavaScript:alert(1)", " javascript:alert(1)", "data:text/html,<b>x</b>",
    "vbscript:msgbox", "file:///etc/passwd", "ftp://news.example/a", "//news.example/a", "/relative/path",
    "news.example/no-scheme", "https://", "https:///path-only", "http://exa mple.com/", "https://news.example/a\nb",
    "https://news.example/\x00", "http://[::1", "https://news.example/" + "a" * 3000,
])
def test_check_url_refuses_everything_else_naming_the_value(url):
    with pytest.raises(ValueError) as raised:
        check_url(url)
    shown = url.strip()[:20]
    assert shown[:10] in str(raised.value) or "characters" in str(raised.value)


def test_article_and_link_urls_go_through_check_url():
    with pytest.raises(ArticleError, match=r"article 'x': url must be an absolute http\(s\) URL.*javascript"):
        Article(id="x", headline="Headline", url="javascript:alert(document.domain)")
    with pytest.raises(ArticleError, match="data:"):
        ReadAlsoLink("Headline", url="data:text/html,hi")
    assert Article(id="x", headline="Headline", url="  ").url is None


@pytest.mark.parametrize("value", ["storm-1", "42", "ünïcode id", "a/b", "x" * 256])
def test_check_id_takes_ids_exactly_as_given(value):
    assert check_id(value) == value
    assert Article(id=value, headline="H").id == value


@pytest.mark.parametrize("value, reason", [
    ("", "empty or blank"), (" ", "empty or blank"), (" padded ", "whitespace"), ("padded\t", "whitespace"),
    ("a\x00b", "control"), ("a\nb", "control"), ("a\x1bb", "control"), ("a\u2028b", "control"),
    ("x" * 257, "over the limit of 256"), (42, "must be a string"),
])
def test_check_id_refuses_blank_padded_control_and_long_ids(value, reason):
    with pytest.raises(ArticleError, match=reason):
        check_id(value)
    with pytest.raises(ArticleError, match=reason):
        Article(id=value, headline="H")


def test_build_article_keeps_the_given_id_and_never_replaces_a_blank_one():
    """A blank id used to become a derived h-... id and " padded " was stored as "padded"."""
    with pytest.raises(ArticleError, match="empty or blank"):
        build_article({"id": " ", "headline": "H"})
    with pytest.raises(ArticleError, match="whitespace"):
        build_article({"id": " padded ", "headline": "H"})
    assert build_article({"headline": "H"}).id.startswith("h-")  # no id at all: derived, as before


def test_build_article_drops_a_non_http_read_also_link_but_keeps_the_item():
    article = build_article({"id": "a", "headline": "H", "read_also": [
        {"headline": "Bad link", "url": "javascript:alert(1)"}, {"headline": "Good", "url": "https://n.example/g"}]})
    assert [(link.headline, link.url) for link in article.read_also] == [
        ("Bad link", None), ("Good", "https://n.example/g")]
    with pytest.raises(ArticleError, match="javascript"):
        build_article({"id": "a", "headline": "H", "url": "javascript:alert(1)"})


def test_size_caps_name_the_size_the_cap_and_the_setting(monkeypatch):
    article = Article(id="a", headline="H" * 20, body="b" * 50,
                      read_also=tuple(ReadAlsoLink(f"L{i}") for i in range(3)))
    assert check_limits(article) is article
    with pytest.raises(ArticleError, match=r"headline has 20 characters, over the limit of 10 \(READALSO_MAX_HEADLINE"):
        check_limits(article, Limits(max_headline_chars=10))
    with pytest.raises(ArticleError, match=r"read_also has 3 items, over the limit of 2 \(READALSO_MAX_READ_ALSO\)"):
        check_limits(article, Limits(max_read_also=2))
    monkeypatch.setenv("READALSO_MAX_BODY_CHARS", "49")
    assert Limits.from_env().max_body_chars == 49
    monkeypatch.setattr(articles, "_limits", None)  # read the environment again
    with pytest.raises(ArticleError, match="body has 50 characters, over the limit of 49"):
        build_article({"id": "a", "headline": "H", "body": "b" * 50})
    monkeypatch.setattr(articles, "_limits", None)
    monkeypatch.setenv("READALSO_MAX_ID_CHARS", "3")
    with pytest.raises(ArticleError, match="id has 4 characters, over the limit of 3"):
        Article(id="abcd", headline="H")
    monkeypatch.setenv("READALSO_MAX_BODY_CHARS", "1e3")
    with pytest.raises(ValueError, match="READALSO_MAX_BODY_CHARS must be a positive whole number, got '1e3'"):
        Limits.from_env()


def test_headline_less_record_gets_a_derived_headline_from_the_body():
    article = build_article({"id": "a", "body": "Flood barriers failed overnight. Towns were evacuated."},
                            derive_headline=True)
    assert (article.headline, article.headline_derived) == ("Flood barriers failed overnight", True)
    assert build_article({"id": "b", "headline": "Given", "body": "Text."}).headline_derived is False
    with pytest.raises(ArticleError, match="no body to derive one from"):
        build_article({"id": "c", "headline": " ", "body": "  "}, derive_headline=True)
    with pytest.raises(ArticleError, match="missing headline"):  # an API client is asked for a headline
        build_article({"id": "a", "body": "Flood barriers failed overnight."})


def test_the_service_refuses_a_second_id_for_a_stored_url_and_a_script_url(app):
    """Through the API, as through ingest: refused naming the problem (409 for the URL another article holds,
    422 for a bad value), never a merge or a 500."""
    from conftest import API_TOKEN

    client, auth = app.test_client(), {"Authorization": f"Bearer {API_TOKEN}"}
    copy = {"headline": "Copy", "url": "https://news.example/climate/storm-1"}
    response = client.put("/v1/articles/new-one", json=copy, headers=auth)
    assert response.status_code == 409
    assert "already stored for article 'storm-1'" in response.get_json()["error"]["message"]
    response = client.post("/v1/articles", json=[{"id": "fresh", "headline": "Fresh"}, {"id": "n2", **copy}],
                           headers=auth)
    assert response.status_code == 409
    assert app.extensions["readalso"].current().store.articles.get("fresh") is None  # all or none
    response = client.put("/v1/articles/x", json={"headline": "H", "url": "javascript:alert(document.domain)"},
                          headers=auth)
    assert response.status_code == 422 and "javascript:alert" in response.get_json()["error"]["message"]
    assert client.put("/v1/articles/%20padded%20", json={"headline": "H"}, headers=auth).status_code == 422
    assert client.put("/v1/articles/a%00b", json={"headline": "H"}, headers=auth).status_code == 422


def test_an_article_as_json_data_in_full_or_as_a_ranking_shows_it():
    article = build_article({"id": "a", "headline": "Dam talks stall", "body": "Text.", "section": "World",
                             "url": "https://news.example/a", "published_at": "2026-11-27T08:15:00Z",
                             "read_also": [{"headline": "Earlier", "url": "https://news.example/b"}]})
    summary = {"id": "a", "headline": "Dam talks stall", "url": "https://news.example/a", "section": "world",
               "published_at": "2026-11-27T08:15:00+00:00"}
    assert article.to_dict(summary=True) == summary and tuple(summary) == articles.SUMMARY_FIELDS
    assert article.to_dict() == {**summary, "language": "en", "body": "Text.",
                                 "read_also": [{"headline": "Earlier", "url": "https://news.example/b",
                                                "target_id": None}]}
    assert Article(id="b", headline="H").to_dict(summary=True)["published_at"] is None
