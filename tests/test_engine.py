"""The engine end to end on a planted corpus: stories cluster, filters, duplicates, incremental add, artifacts."""

from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest

from recommender import artifacts
from recommender import index as index_module
from recommender.articles import MAX_K, Article
from recommender.artifacts import load_engine, save_engine
from recommender.cosine import postings
from recommender.engine import Engine, EngineConfig, UnknownArticle
from recommender.ranking import Filters
from recommender.store import Store
from recommender.store.articles import Articles
from recommender.sync import sync_with_store


def story(article_id):
    return article_id.rsplit("-", 1)[0]


def test_related_stories_come_from_the_same_story(corpus):
    engine = Engine().fit(corpus)
    for article in corpus:
        ranking = engine.related(article.id, 2)
        assert [story(r.id) for r in ranking] == [story(article.id)] * 2
        assert article.id not in [r.id for r in ranking]
        assert all(r.reason.startswith("shares ") for r in ranking)
        assert [r.score for r in ranking] == sorted((r.score for r in ranking), reverse=True)


def test_unknown_article_and_bad_k(corpus):
    engine = Engine().fit(corpus)
    with pytest.raises(UnknownArticle, match="unknown article id 'nope'"):
        engine.related("nope")
    for k in (0, MAX_K + 1, True):  # one k range everywhere: 1..MAX_K
        with pytest.raises(ValueError, match=f"k must be an integer in 1..{MAX_K}"):
            engine.related("storm-1", k)


def test_filters_section_age_and_exclusions(corpus):
    engine = Engine().fit(corpus)
    assert all(r.id.startswith("chips") for r in engine.related("storm-1", 5, filters=Filters(section="technology")))
    excluded = engine.related("storm-1", 5, filters=Filters(exclude=frozenset({"storm-2"})))
    assert "storm-2" not in [r.id for r in excluded] and "storm-3" in [r.id for r in excluded]
    now = corpus[0].published_at + timedelta(days=9)
    recent = engine.related("storm-1", 5, filters=Filters(max_age_days=3.5), now=now)
    assert recent and all(r.id in {"chips-1", "chips-2", "chips-3"} for r in recent)


def test_near_duplicates_collapse_to_one(corpus):
    wire = replace(corpus[1], id="storm-2-wire", url="https://wire.example/storm-2",
                   headline=corpus[1].headline + " (wire)")
    engine = Engine().fit([*corpus, wire])
    ids = [r.id for r in engine.related("storm-3", 5)]
    assert len({"storm-2", "storm-2-wire"} & set(ids)) == 1
    assert "storm-2" not in [r.id for r in engine.related("storm-2-wire", 5)]  # a copy of the query itself
    keep_all = Engine(EngineConfig(collapse_duplicates=False)).fit([*corpus, wire])
    assert {"storm-2", "storm-2-wire"} <= {r.id for r in keep_all.related("storm-3", 5)}


def test_diversity_spreads_the_list(corpus):
    engine = Engine().fit(corpus)
    plain = engine.related("storm-1", 3)
    varied = engine.related("storm-1", 3, diversity=0.9)
    assert len({story(r.id) for r in varied}) > len({story(r.id) for r in plain})


def test_only_same_language_by_default(corpus):
    german = Article(id="de-1", headline="Sturm Ardent flutet Küstenstädte", language="de",
                     body=corpus[0].body)
    engine = Engine().fit([*corpus, german])
    assert "de-1" not in [r.id for r in engine.related("storm-1", 8)]
    assert all(r.id != "storm-1" for r in engine.related("de-1", 3))


def test_unseen_text_is_ranked_like_a_stored_article(corpus):
    engine = Engine().fit(corpus)
    ranking = engine.related_to_text("Flood barriers fail as the storm hits the coast", "Towns evacuated.")
    assert story(ranking[0].id) == "storm"
    assert engine.similarity("storm flood barrier", "flood barriers and storms") > 0.9


def test_incremental_add_makes_new_articles_recommendable_without_refit(corpus):
    engine = Engine().fit(corpus[:8])
    vocabulary = dict(engine.vectorizer.vocabulary_)
    engine.add([corpus[8]])
    assert engine.vectorizer.vocabulary_ == vocabulary
    assert "chips-3" in [r.id for r in engine.related("chips-1", 2)]


def test_artifact_round_trip_and_sync_with_store(tmp_path, corpus):
    with Store(tmp_path / "s.db") as store:
        store.articles.upsert_many(corpus[:8])
        built = Engine(None, store).fit(store.articles.iter_articles())
        path = save_engine(built, tmp_path / "model")
        assert artifacts.current(tmp_path / "model") == path
        loaded = load_engine(path, store)
        assert loaded.related("storm-1", 3) == built.related("storm-1", 3)
        assert loaded.index.sites.tolist() == built.index.sites.tolist() == ["news.example"] * 8
        assert isinstance(loaded.index.matrix.data, np.memmap) or loaded.index.matrix.data.base is not None
        store.articles.upsert(corpus[8])
        assert sync_with_store(loaded, store) == 1
        assert "chips-3" in [r.id for r in loaded.related("chips-1", 2)]


def _same_postings(found, expected):
    return (np.array_equal(found.tiles, expected.tiles) and np.array_equal(found.rows, expected.rows)
            and np.array_equal(found.values, expected.values)
            and (found.n_rows, found.tile_rows) == (expected.n_rows, expected.tile_rows))


def test_a_saved_version_brings_its_postings_so_no_process_inverts_the_rows_again(tmp_path, corpus, monkeypatch):
    with Store(tmp_path / "s.db") as store:
        store.articles.upsert_many(corpus[:8])
        built = Engine(None, store).fit(store.articles.iter_articles())
        built.add([replace(corpus[0], body="Rewritten: the storm has passed.")])  # a hidden row: saved without it
        loaded = load_engine(save_engine(built, tmp_path / "model"), store)
        index = loaded.index
        assert index.expansion and isinstance(index.postings.rows, np.memmap)
        assert _same_postings(index.postings, postings(index.expanded))
        assert _same_postings(index.neighbour_postings, postings(index.matrix))

        expected = [built.related(i, 3) for i in ("storm-1", "chips-1", corpus[0].id)]
        text = built.related_to_text("Storm floods the coast", "", 3)

        def no_inversion(*args, **kwargs):
            raise AssertionError("the loaded version inverted its rows again")

        monkeypatch.setattr(index_module, "term_postings", no_inversion)
        assert [loaded.related(i, 3) for i in ("storm-1", "chips-1", corpus[0].id)] == expected
        assert loaded.related_to_text("Storm floods the coast", "", 3) == text


def test_a_version_saved_without_postings_inverts_its_rows_on_first_search(tmp_path, corpus, monkeypatch):
    with Store(tmp_path / "s.db") as store:
        store.articles.upsert_many(corpus[:8])
        built = Engine(None, store).fit(store.articles.iter_articles())
        monkeypatch.setattr(artifacts, "_postings_arrays", lambda prefix, inverted: {})
        loaded = load_engine(save_engine(built, tmp_path / "model"), store)
        assert loaded.index._postings is None
        assert loaded.related("storm-1", 3) == built.related("storm-1", 3)
        assert _same_postings(loaded.index.postings, postings(loaded.index.expanded))


def test_sync_after_the_first_reads_only_the_change_log(tmp_path, corpus, monkeypatch):
    with Store(tmp_path / "s.db") as store, Store(tmp_path / "s.db") as writer:
        store.articles.upsert_many(corpus[:8])
        engine = Engine(None, store).fit(store.articles.iter_articles())
        assert sync_with_store(engine, store) == 0  # first sync: every hash compared

        def no_full_scan(ids=None):
            assert ids is not None, "a later sync must not read every article's hash"
            return Articles.content_hashes(store.articles, ids)

        monkeypatch.setattr(store.articles, "content_hashes", no_full_scan)
        assert sync_with_store(engine, store) == 0
        writer.articles.upsert(corpus[8])  # another process's write
        changed = corpus[0]
        rewritten = replace(changed, body="Rewritten: the storm has passed.", read_also=())
        writer.articles.upsert(rewritten)
        assert sync_with_store(engine, store) == 2
        assert sync_with_store(engine, store) == 0
        assert "chips-3" in [r.id for r in engine.related("chips-1", 2)]


def test_corrupted_artifact_is_refused(tmp_path, corpus):
    path = save_engine(Engine().fit(corpus), tmp_path / "model")
    (path / "idf.npy").write_bytes(b"garbage")
    with pytest.raises(artifacts.ArtifactError, match="checksum mismatch"):
        load_engine(path, None)


def test_wire_copies_with_rewritten_headlines_are_still_copies(corpus):
    """Outlets retitle wire copies: duplicates are found on the body, whatever the headline."""
    retitled = replace(corpus[1], id="storm-2-retitled", url="https://other.example/storm",
                       headline="Coastal evacuation under way as Ardent breaks the river defences")
    engine = Engine().fit([*corpus, retitled])
    ids = [r.id for r in engine.related("storm-3", 5)]
    assert len({"storm-2", "storm-2-retitled"} & set(ids)) == 1
    assert "storm-2" not in [r.id for r in engine.related("storm-2-retitled", 5)]
    draft = engine.related_to_text("Some other headline entirely", corpus[1].body, k=5)
    assert "storm-2" not in [r.id for r in draft] and "storm-2-retitled" not in [r.id for r in draft]


def test_engine_config_parses_settings_by_their_types():
    config = EngineConfig.parse("expansion=5, expansion_terms=none, headline_weight=0.6, use_model=false")
    assert (config.expansion, config.expansion_terms, config.headline_weight, config.use_model) == (5, None, 0.6, False)
    assert EngineConfig.parse("") == EngineConfig()
    with pytest.raises(ValueError, match="unknown engine setting 'bogus'"):
        EngineConfig.parse("bogus=1")
    with pytest.raises(ValueError, match="needs a number"):
        EngineConfig.parse("expansion=many")
