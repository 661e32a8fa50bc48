"""The service on the demo corpus (data/demo), when it is present."""

from __future__ import annotations

import pytest

from conftest import DEMO, build_model
from recommender.links import resolve_store
from recommender.readers import Record, read_path
from recommender.store import Store


@pytest.fixture
def demo_db(tmp_path):
    sources = [p for p in (DEMO / "text", DEMO / "html") if p.exists()]
    if not sources:
        pytest.skip(f"no demo corpus under {DEMO}")
    db = tmp_path / "demo.db"
    with Store(db) as store:
        store.articles.upsert_many(item.article for path in sources for item in read_path(path)
                                   if isinstance(item, Record))
        resolve_store(store)
        build_model(store, db.with_suffix(".artifacts"))
    return db


def test_demo_corpus_through_the_service(make_app, demo_db):
    client = make_app(DB=demo_db).test_client()
    assert client.get("/readyz").get_json()["articles"] >= 20
    demo = client.get("/demo")
    assert demo.status_code == 302
    article_id = demo.headers["Location"].removeprefix("/demo/")
    page = client.get(demo.headers["Location"])
    assert page.status_code == 200 and f'data-readalso-article="{article_id}"' in page.get_data(as_text=True)
    items = client.get(f"/v1/articles/{article_id}/related?k=5").get_json()["related"]
    assert len(items) == 5 and all(item["headline"] and item["reason"] for item in items)
    with Store(demo_db) as store:
        linked = {link.target_id for link in store.articles.get(article_id).read_also} | {
            source for source, target in store.links.resolved() if target == article_id}
    assert linked & {item["id"] for item in items}  # editors' own picks are among the five


def test_demo_pages_behave_like_a_site(make_app, demo_db):
    client = make_app(DB=demo_db).test_client()
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/vnd.microsoft.icon"
    assert icon.data[:4] == b"\x00\x00\x01\x00"  # an ICO header
    with Store(demo_db) as store:
        body = store.articles.get("kestrel-05").body  # an HTML page of the corpus: its id is its URL's slug
    page = client.get("/demo/kestrel-05").get_data(as_text=True)
    paragraphs = [p for p in body.split("\n") if p.strip()]
    assert len(paragraphs) >= 3 and page.count("<p>") == len(paragraphs)
    assert 'data-readalso-link="/demo/{id}"' in page and '<link rel="icon" href="/favicon.ico">' in page
