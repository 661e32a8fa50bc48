"""The systems an evaluation compares: the engine (through the one scoring path), its ablations
and the baselines, all behind the ranker contract of :mod:`recommender.evaluation.baselines`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.exceptions import NotFittedError

from recommender.cosine import row_dots
from recommender.engine import Engine, EngineConfig
from recommender.evaluation.baselines import (
    BM25MLTRanker,
    MostLinkedRanker,
    MostRecentRanker,
    PlainTfidfRanker,
    RandomRanker,
    Ranker,
    TunedTfidfRanker,
)

__all__ = ["EngineRanker", "engine_signals", "default_systems", "BASELINES"]

BASELINES = ("random", "most-recent", "most-linked", "tfidf", "tfidf-tuned", "tfidf-tuned+expansion", "bm25-mlt")


class EngineRanker(Ranker):
    """``Engine(config).fit(articles)`` then ``engine.related(query_id, k)``."""

    name = "engine"

    def __init__(self, *, config=None, name: str = "engine"):
        self.config = config
        self.name = name

    def _fit(self):
        self.engine_ = Engine(self.config).fit(self.articles_)

    def rank(self, query_id, k=10):
        self._row(query_id)
        k = self._check_k(k)
        return self.engine_.related(query_id, k=k)

    def score(self, query_id, candidate_ids: Sequence[str]) -> np.ndarray:
        """Relatedness (the cosine of the expanded search rows ``related`` ranks by, before list shaping)."""
        self._row(query_id)
        index = self.engine_.index
        rows = np.asarray([index.row_of[c] for c in candidate_ids], dtype=np.int64)
        return row_dots(index.expanded, rows, index.vector(query_id)).astype(float)

    def similarity(self, text_a, text_b):
        if not hasattr(self, "engine_"):
            raise NotFittedError("EngineRanker is not fitted yet; call fit(articles) first")
        return float(self.engine_.similarity(text_a, text_b))


def engine_signals() -> list[str]:
    """The signals the engine lets an ablation switch off (``EngineConfig.SIGNALS``)."""
    return list(EngineConfig.SIGNALS)


def default_systems(*, seed: int = 0, ablation: bool = True, config=None) -> dict[str, Ranker]:
    """The engine (with ``config``, an ``EngineConfig``; default the default one), one engine per switched-off
    signal (``engine-no-<signal>``) and every baseline."""
    config = config or EngineConfig()
    systems: dict[str, Ranker] = {"engine": EngineRanker(config=config)}
    if ablation:
        for signal in engine_signals():
            name = f"engine-no-{signal}"
            systems[name] = EngineRanker(config=config.without(signal), name=name)
    for ranker in (RandomRanker(seed=seed), MostRecentRanker(), MostLinkedRanker(), PlainTfidfRanker(),
                   TunedTfidfRanker(), TunedTfidfRanker(expansion=5), BM25MLTRanker()):
        systems[ranker.name] = ranker
    return systems
