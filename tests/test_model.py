"""The link model: estimator manners, pickle-free state, the time-aware split, and the engine's graceful blend."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from linked_corpus import linked_corpus, without_links_to
from recommender.artifacts import load_engine, save_engine
from recommender.engine import Engine, EngineConfig
from recommender.features import FEATURES
from recommender.model import LinkModel, blend
from recommender.training import (
    hide_links,
    link_triples,
    make_view,
    own_links_hidden,
    own_views,
    query_pairs,
    rolling_splits,
    time_split,
    train_link_model,
)

DAY = 86400.0


def toy_pairs(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, len(FEATURES)))
    y = (X[:, FEATURES.index("popularity")] + 0.2 * rng.random(n) > 0.7).astype(int)
    return X, y


def test_blend_is_plain_cosine_at_zero():
    assert blend([0.3, 0.9], [1.0, 0.0], 0.0).tolist() == [0.3, 0.9]
    assert blend([0.2], [0.6], 0.5).tolist() == pytest.approx([0.4])
    with pytest.raises(ValueError, match="blend weight"):
        blend([0.2], [0.6], 1.5)


def test_model_has_estimator_manners_and_learns_the_signal():
    model = LinkModel(C=0.5)
    assert model.get_params()["C"] == 0.5 and not hasattr(model, "coef_")
    with pytest.raises(NotFittedError):
        model.predict_proba(np.zeros((1, len(FEATURES))))
    X, y = toy_pairs()
    assert model.fit(X, y) is model
    assert max(model.weights(), key=model.weights().get) == "popularity"
    assert model.blend_ == 0.0  # until validation says otherwise
    with pytest.raises(ValueError, match="both positive and negative"):
        LinkModel().fit(X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="feature columns"):
        model.predict_proba(np.zeros((1, 3)))


def test_state_round_trip_without_pickle():
    X, y = toy_pairs()
    model = LinkModel(features=(*FEATURES[:6], "popularity")).fit(X, y).calibrate(*toy_pairs(seed=1))
    model.blend_ = 0.4
    params, arrays = model.get_state()
    import json
    restored = LinkModel.from_state(json.loads(json.dumps(params)), arrays)
    assert restored.score(X) == pytest.approx(model.score(X))
    assert restored.predict_proba(X) == pytest.approx(model.predict_proba(X))


def test_time_split_trains_on_older_sources_only():
    published = np.array([5, 1, 3, np.nan, 9, 7]) * DAY
    split = time_split([0, 1, 2, 3, 4, 5], published, 0.3)
    assert split.validation == [5, 4] and split.cutoff == 7 * DAY
    assert split.train == [3, 1, 2, 0]  # undated first, then oldest first
    assert all(np.isnan(published[s]) or published[s] < split.cutoff for s in split.train)


def test_training_view_holds_nothing_from_the_validation_period():
    articles = linked_corpus(days=30)
    engine = Engine(EngineConfig(use_model=False)).fit(articles)
    index = engine.index
    triples = link_triples(articles, index.row_of)
    targets = {}
    for s, t, _ in triples:
        targets.setdefault(s, []).append(t)
    split = time_split(list(targets), index.published, 0.3)
    before = ~(index.published >= split.cutoff)
    hidden = hide_links(targets, split.train, 0.5, np.random.default_rng(0))
    view = make_view(articles, index, engine.vectorizer, triples, hidden, before)
    for s, t in view.graph.pairs():
        assert before[s] and before[t] and t not in hidden.get(s, ())
    fields = engine._text_fields(articles)
    for row in split.train:
        rows, _X, y = query_pairs(index, fields, view, row, hidden[row], duplicate_threshold=0.9, same_language=True,
                                 pool=20, extras=5)
        assert before[rows].all() and row not in rows
        assert y.sum() == len(hidden[row] & set(np.flatnonzero(before)))


def test_too_few_links_leave_the_engine_at_plain_cosine(corpus):
    with_links = Engine().fit(corpus)  # six links: below the minimum
    plain = Engine(EngineConfig(use_model=False)).fit(corpus)
    assert with_links.model is None and not with_links.model_active
    for article in corpus:
        assert with_links.related(article.id, 5) == plain.related(article.id, 5)


def test_model_learns_the_trending_pick_that_cosine_misses(tmp_path):
    """Editors' taste gets the share of the list the newsroom gives it (``editor_mix``), and no more."""
    query = "s4-d59"
    articles = without_links_to(linked_corpus(), query, "hub-")
    engine = Engine(EngineConfig(editor_mix=0.5)).fit(articles)
    plain = Engine(EngineConfig(use_model=False)).fit(articles)
    assert engine.model_active, engine.model.report_ if engine.model else "no model"
    report = engine.model.report_
    assert report["model"]["mrr"]["mean"] > report["cosine"]["mrr"]["mean"]
    mixed = [r.id for r in engine.related(query, 3)]
    assert "hub-50" in mixed and mixed[0] == "s4-d19"  # the related story first, an editors' pick in its share
    assert "hub-50" not in [r.id for r in plain.related(query, 3)]
    # the default: editors order what is related; anything else only fills in after it, by relatedness
    related = [r.id for r in plain.related(query, 3)]
    default = [r.id for r in Engine().fit(articles).related(query, 3)]
    assert sorted(default[:len(related)]) == sorted(related) and "hub-50" not in default
    # the artifact keeps the model, memory-mapped and pickle-free, and ranks alike after loading
    path = save_engine(engine, tmp_path / "model")
    loaded = load_engine(path, engine.catalogue)
    assert loaded.model_active and loaded.related(query, 5) == engine.related(query, 5)
    assert isinstance(loaded.fields["body"].data, np.memmap) or loaded.fields["body"].data.base is not None


def test_ablation_signals_switch_features_off():
    config = EngineConfig().without("popularity")
    assert "popularity" not in config.model_features() and "trending" not in config.model_features()
    assert EngineConfig().without("model").use_model is False
    model = train_link_model(linked_corpus(days=30), *_parts(linked_corpus(days=30)), features=config.model_features())
    assert model is not None and "popularity" not in model.weights()


def _parts(articles):
    engine = Engine(EngineConfig(use_model=False)).fit(articles)
    return engine.index, engine._text_fields(articles), engine.vectorizer


def test_added_articles_are_ranked_by_the_model_and_their_links_count_from_the_next_build():
    articles = linked_corpus(days=40)
    engine = Engine().fit(articles[:-3])
    assert engine.model is not None and any(link.target_id for a in articles[-3:] for link in a.read_also)
    before = engine.graph.pairs()
    engine.add(articles[-3:])
    assert engine.graph.pairs() == before  # no feature between two stored articles changes on add
    assert engine.fields["body"].shape[0] == len(engine.index.ids)
    assert engine.related(articles[-1].id, 3)[0].editor_probability is not None


def test_rolling_splits_validate_each_chunk_on_a_model_of_the_past():
    published = np.arange(10, dtype=float) * DAY
    splits = rolling_splits(list(range(10)), published, 0.5, 3)
    assert [s.validation for s in splits] == [[5, 6], [7, 8], [9]]
    for split in splits:
        assert split.train == list(range(split.validation[0]))
        assert max(published[split.train]) < split.cutoff <= min(published[split.validation])
    assert rolling_splits([0], published, 0.5, 3) == []


def test_batch_scoring_agrees_with_live_under_the_model():
    from recommender.batch import score_rows

    engine = Engine().fit(linked_corpus(days=40))
    assert engine.model_active
    rows = np.arange(0, len(engine.index.ids), 5)
    for article_id, ranking, _reach in score_rows(engine, rows, 5):
        assert [(t, s) for t, s, _, _ in ranking] == [(r.id, r.score) for r in engine.related(article_id, 5)]


def test_a_query_sees_every_link_but_its_own_hidden_ones():
    articles = linked_corpus(days=30)
    engine = Engine(EngineConfig(use_model=False)).fit(articles)
    index, vectorizer = engine.index, engine.vectorizer
    triples = link_triples(articles, index.row_of)
    everything = np.ones(len(index.ids), dtype=bool)
    view = make_view(articles, index, vectorizer, triples, {}, everything)
    row = index.row_of["s2-d12"]
    targets = {t for s, t, _ in triples if s == row}
    hidden = {next(iter(sorted(targets)))}
    for gone in (hidden, targets):
        own = own_links_hidden(view, index, vectorizer, row, gone)
        reference = make_view(articles, index, vectorizer, triples, {row: gone}, everything)  # built from scratch
        assert own.graph.pairs() == reference.graph.pairs() and len(own.graph) == len(view.graph) - len(gone)
        assert abs(own.links - reference.links).max() < 1e-6 and own.visible == reference.visible
    assert own_links_hidden(view, index, vectorizer, row, set()) is view
    hidden = {r: {t for s, t, _ in triples if s == r} for r in (row, index.row_of["s3-d13"], index.row_of["s4-d14"])}
    for r, batched in own_views(view, index, vectorizer, list(hidden), hidden):  # texts vectorised together
        alone = own_links_hidden(view, index, vectorizer, r, hidden[r])
        assert batched.graph.pairs() == alone.graph.pairs() and (batched.links != alone.links).nnz == 0
