"""The engine: vectorizer + index + ranking, the one scoring path for CLI, service, batch and evaluation."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from recommender import artifacts
from recommender.articles import Article
from recommender.expansion import MAX_TERMS as EXPANSION_TERMS
from recommender.expansion import NEIGHBOURS as EXPANSION_NEIGHBOURS
from recommender.expansion import WEIGHT as EXPANSION_WEIGHT
from recommender.expansion import expand
from recommender.features import FEATURES, SIGNAL_FEATURES, LinkGraph, Query, age_days, pair_features
from recommender.index import ArticleIndex
from recommender.links import LinkResolver
from recommender.model import LinkModel
from recommender.ranking import (Filters, Recommendation, bounded_editor_share, collapse_near_duplicates, describe,
                                 editor_reason, maximal_marginal_relevance, shared_terms_of_rows, timing)
from recommender.rowdots import block_dots, row_dots
from recommender.training import (CANDIDATE_POOL, candidate_rows, link_texts, link_triples, links_field,
                                  train_link_model)
from recommender.vectorize import FieldVectorizer

log = logging.getLogger(__name__)


class UnknownArticle(KeyError):
    """No article with that id is known to the engine."""

    def __str__(self) -> str:
        return f"unknown article id {self.args[0]!r}"


@dataclass(frozen=True)
class EngineConfig:
    """How articles are vectorised and rankings shaped. Weights are relative, per field."""

    headline_weight: float = 0.3  # 0.3 and no separate lead: measured on news-events among 20,000 distractors
    lead_weight: float = 0.0
    body_weight: float = 1.0
    read_also_weight: float = 0.0
    anchors_weight: float = 0.0
    min_df: int = 2
    max_df: float = 0.5
    collapse_duplicates: bool = True
    duplicate_threshold: float = 0.9  # cosine of syndicated wire copies (measured on news-events: 0.9+ are reprints)
    same_language: bool = True
    # Archive-aware ranking (recommender.expansion): every vector, a query's included, is blended with its
    # `expansion` nearest neighbours (0: off) before candidates are searched and relatedness is scored.
    expansion: int = EXPANSION_NEIGHBOURS
    expansion_weight: float = EXPANSION_WEIGHT
    expansion_terms: int | None = EXPANSION_TERMS
    # Relatedness is the floor, editors' taste orders within it: the link model orders the candidates whose
    # relatedness reaches `relatedness_floor` times the best one's; any other candidate may take at most
    # `editor_mix` of the first n places, for every n (the rest fill in by relatedness).
    relatedness_floor: float = 0.7
    editor_mix: float = 0.0
    # The link model (recommender.model), learned from resolved Read-also links when there are enough.
    use_model: bool = True
    link_text: bool = True
    freshness: bool = True
    popularity: bool = True
    colinking: bool = True
    # Live queries probe the postings with only this many strongest terms (None: all, exact); see
    # ArticleIndex.search and docs/batch.md for the measured loss. Batch lists are always exact.
    query_terms: int | None = None

    # Signals that can be switched off one at a time (ablation), and how.
    SIGNALS = {
        "headline": {"headline_weight": 0.0},
        "duplicate_collapse": {"collapse_duplicates": False},
        "expansion": {"expansion": 0},
        "model": {"use_model": False},
        "link_text": {"link_text": False},
        "freshness": {"freshness": False},
        "popularity": {"popularity": False},
        "colinking": {"colinking": False},
    }

    def model_features(self) -> tuple[str, ...]:
        """The pair features the link model may use under this configuration."""
        off = {name for signal, names in SIGNAL_FEATURES.items() if not getattr(self, signal) for name in names}
        return tuple(name for name in FEATURES if name not in off)

    def field_weights(self) -> dict[str, float]:
        return {"headline": self.headline_weight, "lead": self.lead_weight, "body": self.body_weight,
                "read_also": self.read_also_weight, "anchors": self.anchors_weight}

    def without(self, signal: str) -> "EngineConfig":
        """This configuration with one signal switched off."""
        if signal not in self.SIGNALS:
            raise ValueError(f"unknown signal {signal!r}; known: {', '.join(self.SIGNALS)}")
        return replace(self, **self.SIGNALS[signal])

    @classmethod
    def parse(cls, text: str) -> "EngineConfig":
        """The configuration from ``"key=value,..."`` (``expansion=8,editor_mix=0.2``; ``none`` for None)."""
        types = {f.name: f.type for f in fields(cls)}
        values = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            key, _, value = item.partition("=")
            if key not in types or key == "SIGNALS":
                raise ValueError(f"unknown engine setting {key!r}; known: {', '.join(sorted(types))}")
            kind = types[key]
            if value.lower() == "none" and "None" in kind:
                values[key] = None
            elif kind.startswith("bool"):
                values[key] = value.lower() in ("1", "true", "yes")
            else:
                try:
                    values[key] = int(value) if kind.startswith("int") else float(value)
                except ValueError:
                    raise ValueError(f"engine setting {key} needs a number, got {value!r}") from None
        return cls(**values)

    @classmethod
    def from_dict(cls, values: Mapping) -> "EngineConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


class _Memory:
    """Article lookup for an engine built from a list of articles (no store)."""

    def __init__(self, articles: Iterable[Article]):
        self.articles = {a.id: a for a in articles}

    def get_many(self, ids: Iterable[str]) -> dict[str, Article]:
        return {i: self.articles[i] for i in ids if i in self.articles}

    def feedback_for(self, source_id: str):
        """No editor feedback without a store."""
        return None


class Engine:
    """Related-story rankings over a fitted vectorizer and an exact cosine index."""

    def __init__(self, vectorizer: FieldVectorizer, index: ArticleIndex, config: EngineConfig, catalogue,
                 *, hashes: Mapping[str, str] | None = None, version: str | None = None):
        self.vectorizer = vectorizer
        self.index = index
        self.config = config
        self.catalogue = catalogue
        self.hashes = dict(hashes or {})
        self.version = version
        self.terms = vectorizer.terms_
        self.model: LinkModel | None = None  # set by train() or load()
        self.fields: dict[str, sp.csr_matrix] = {}  # headline/body/links rows aligned with the index, with a model
        self.graph: LinkGraph | None = None
        self.changed: set[str] = set()  # ids (re)vectorised since the artifact `version` was saved
        self.synced: tuple[str, int] | None = None  # (store path, change sequence number) last synced with

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_articles(cls, articles: Sequence[Article], config: EngineConfig | None = None) -> "Engine":
        """Fit on a list of articles in memory; their Read-also links are resolved among them."""
        config = config or EngineConfig()
        resolver = LinkResolver().fit(articles)
        articles = [resolver.resolve_article(a) for a in articles]
        return cls._fit(articles, config, _Memory(articles))

    @classmethod
    def build(cls, store, config: EngineConfig | None = None) -> "Engine":
        """Fit on every article in a store (links already resolved there)."""
        articles = list(store.articles.iter_articles())
        if not articles:
            raise ValueError("the store holds no articles: ingest some first")
        return cls._fit(articles, config or EngineConfig(), store)

    @classmethod
    def _fit(cls, articles: Sequence[Article], config: EngineConfig, catalogue) -> "Engine":
        ids = [a.id for a in articles]
        if len(set(ids)) != len(ids):
            raise ValueError("article ids must be unique")
        vectorizer = FieldVectorizer(weights=config.field_weights(), min_df=config.min_df,
                                     max_df=config.max_df).fit(articles)
        matrix = vectorizer.transform(articles, anchors=_anchors(articles))
        index = ArticleIndex.from_articles(articles, matrix, vectorizer.transform_copies(articles))
        engine = cls(vectorizer, index, config, catalogue, hashes={a.id: a.content_hash for a in articles})
        engine.expand_rows(0)
        if config.use_model:
            engine.train(articles)
        return engine

    def train(self, articles: Sequence[Article], **options) -> LinkModel | None:
        """Fit the link model on the articles' resolved Read-also links (see :mod:`recommender.training`).

        ``articles`` are the indexed articles with their links; ``options`` go to
        :func:`~recommender.training.train_link_model` (``validation_share``, ``seed``, ...). With too
        few links the engine keeps ranking by plain cosine and this returns ``None``.
        """
        self.model, self.fields, self.graph = None, {}, None
        if not any(link.target_id for article in articles for link in article.read_also):
            return None
        fields = self._text_fields(articles)
        model = train_link_model(articles, self.index, fields, self.vectorizer,
                                 features=self.config.model_features(),
                                 duplicate_threshold=self.config.duplicate_threshold,
                                 same_language=self.config.same_language, **options)
        if model is None:
            return None
        triples = link_triples(articles, self.index.row_of)
        texts = link_texts(articles, self.index.row_of, triples, len(self.index.ids))
        fields["links"] = links_field(self.vectorizer, texts, list(self.index.languages))
        self.model, self.fields = model, fields
        self.graph = LinkGraph.from_pairs([(s, t) for s, t, _ in triples], self.index.published)
        return model

    def _text_fields(self, articles: Sequence[Article]) -> dict[str, sp.csr_matrix]:
        """Headline and body rows aligned with the index (rows without an article stay empty)."""
        by_row = {self.index.row_of[a.id]: a for a in articles if a.id in self.index.row_of}
        n = len(self.index.ids)
        languages = list(self.index.languages)
        return {"headline": self.vectorizer.transform_texts([by_row[r].headline if r in by_row else ""
                                                             for r in range(n)], languages),
                "body": self.vectorizer.transform_texts([by_row[r].body if r in by_row else ""
                                                         for r in range(n)], languages)}

    @property
    def model_active(self) -> bool:
        """Whether rankings are rescored by the link model (a model whose validated blend weight is positive)."""
        return self.model is not None and self.model.blend_ > 0 and self.config.use_model

    def expand_rows(self, start: int = 0) -> None:
        """Give the index rows from ``start`` on their expanded search rows (each blended with its nearest
        articles; the rows before ``start`` keep theirs). Fitting and :meth:`add` call it."""
        if not self.config.expansion:
            return
        rows = self.index.matrix[start:]
        near = self.index.nearest(rows, self.config.expansion, self._languages(self.index.languages[start:]),
                                  exclude=np.arange(start, self.index.matrix.shape[0]))
        self.index.set_expanded(expand(rows, self.index.matrix, near.indices, near.scores,
                                       weight=self.config.expansion_weight, max_terms=self.config.expansion_terms),
                                start)

    def _languages(self, languages) -> list[str] | None:
        return list(languages) if self.config.same_language else None

    def expand_query(self, vector: sp.csr_matrix, language: str) -> sp.csr_matrix:
        """The search row of an article vector that is not stored: expanded with its nearest stored articles."""
        if not self.config.expansion:
            return vector
        near = self.index.nearest(vector, self.config.expansion, self._languages([language]), n_threads=1)
        return expand(vector, self.index.matrix, near.indices, near.scores, weight=self.config.expansion_weight,
                      max_terms=self.config.expansion_terms)

    def add(self, articles: Sequence[Article]) -> None:
        """Vectorise new or changed articles with the fitted vocabulary and append them (no refit); each is
        expanded with its nearest articles at once."""
        if not articles:
            return
        start = self.index.matrix.shape[0]
        self.index.add(articles, self.vectorizer.transform(articles), self.vectorizer.transform_copies(articles))
        self.expand_rows(start)
        if self.graph is not None:
            self._add_model_rows(articles)
        self.hashes.update((a.id, a.content_hash) for a in articles)
        self.changed.update(a.id for a in articles)
        if isinstance(self.catalogue, _Memory):
            self.catalogue.articles.update((a.id, a) for a in articles)

    def _add_model_rows(self, articles: Sequence[Article]) -> None:
        """Extend the model's field rows and link graph with appended articles (their own links count at once;
        the anchor text they give their targets waits for the next build)."""
        languages = [a.language for a in articles]
        new = {"headline": self.vectorizer.transform_texts([a.headline for a in articles], languages),
               "body": self.vectorizer.transform_texts([a.body for a in articles], languages),
               "links": self.vectorizer.transform_texts([" ".join(l.headline for l in a.read_also) for a in articles],
                                                        languages)}
        self.fields = {name: sp.vstack([self.fields[name], new[name]], format="csr") for name in new}
        replaced = {a.id for a in articles}
        ids, row_of = self.index.ids, self.index.row_of
        pairs = [(row_of[ids[s]], row_of[ids[t]]) for s, t in self.graph.pairs() if ids[s] not in replaced]
        pairs += [(row_of[a.id], row_of[l.target_id]) for a in articles for l in a.read_also if l.target_id in row_of]
        self.graph = LinkGraph.from_pairs(pairs, self.index.published)

    def sync(self, store) -> int:
        """Add articles stored or changed since this engine was built; returns how many.

        The first sync with a store compares every content hash; later ones read only the
        articles its change log lists after the last sync.
        """
        if self.synced is not None and self.synced[0] == str(store.path):
            seq, ids = store.changes.since(self.synced[1])
            hashes = store.articles.content_hashes(ids) if ids else {}
        else:
            seq = store.changes.last()  # read first: a write racing the scan is listed next time
            hashes = store.articles.content_hashes()
        stale = [i for i, h in hashes.items() if self.hashes.get(i) != h]
        self.add(list(store.get_many(stale).values()))
        self.synced = (str(store.path), seq)
        return len(stale)

    # -- persistence --------------------------------------------------------------------------
    def save(self, root: str | os.PathLike) -> Path:
        """Write a new artifact version under ``root`` and make it current."""
        vectorizer_params, vectorizer_arrays = self.vectorizer.get_state()
        matrix = self.index.matrix
        alive = self.index.alive
        rows = np.flatnonzero(alive)
        matrix = matrix[rows] if rows.size != matrix.shape[0] else matrix
        ids = [self.index.ids[r] for r in rows]
        params = {"config": asdict(self.config), "vectorizer": vectorizer_params, "ids": ids,
                  "sections": [str(s) for s in self.index.sections[rows]],
                  "languages": [str(s) for s in self.index.languages[rows]],
                  "sites": [str(s) for s in self.index.sites[rows]],
                  "hashes": [self.hashes.get(i, "") for i in ids]}
        copies = self.index.copies[rows] if rows.size != self.index.copies.shape[0] else self.index.copies
        arrays = {**_csr_arrays("matrix", matrix), **_csr_arrays("copies", copies),
                  "published": self.index.published[rows], **vectorizer_arrays}
        if self.index.expansion:
            arrays.update(_csr_arrays("expanded", self.index.expanded[rows]))
        if self.model is not None:
            params["model"], model_arrays = self.model.get_state()
            arrays.update(model_arrays)
            for name, field in self.fields.items():
                arrays.update(_csr_arrays(f"field_{name}", field[rows]))
            position = np.full(len(self.index.ids), -1, dtype=np.int64)
            position[rows] = np.arange(rows.size)
            pairs = np.asarray([(position[s], position[t]) for s, t in self.graph.pairs()
                                if position[s] >= 0 and position[t] >= 0], dtype=np.int64).reshape(-1, 2)
            arrays["link_pairs"] = pairs
        path = artifacts.save(root, arrays, params, fingerprint=_fingerprint(ids, params["hashes"]))
        self.version = path.name
        self.changed.clear()
        return path

    @classmethod
    def load(cls, directory: str | os.PathLike, catalogue, *, verify: bool = True) -> "Engine":
        """Load an artifact directory (memory-mapped arrays); ``catalogue`` is the store."""
        params, arrays, manifest = artifacts.load(directory, verify=verify)
        copies = _csr_from_arrays("copies", arrays) if "copies_shape" in arrays else None
        expanded = _csr_from_arrays("expanded", arrays) if "expanded_shape" in arrays else None
        index = ArticleIndex(_csr_from_arrays("matrix", arrays), params["ids"], arrays["published"], params["sections"],
                             params["languages"], copies, params.get("sites"), expanded)  # no sites before same_site
        vectorizer = FieldVectorizer.from_state(params["vectorizer"], arrays)
        engine = cls(vectorizer, index, EngineConfig.from_dict(params["config"]), catalogue,
                     hashes=dict(zip(params["ids"], params["hashes"])), version=manifest["version"])
        if "model" in params:
            engine.model = LinkModel.from_state(params["model"], arrays)
            engine.fields = {name: _csr_from_arrays(f"field_{name}", arrays) for name in ("headline", "body", "links")}
            engine.graph = LinkGraph.from_pairs([tuple(p) for p in np.asarray(arrays["link_pairs"]).tolist()],
                                                index.published)
        return engine

    # -- rankings -----------------------------------------------------------------------------
    def related(self, article_id: str, k: int = 10, *, filters: Filters | None = None, diversity: float = 0.0,
                now: datetime | None = None, stored: bool = True) -> list[Recommendation]:
        """Top-k related stories for a known article (never the article itself); ``stored=False`` ranks live
        even when a batch list would answer."""
        if article_id not in self.index or not self.index.alive[self.index.row_of[article_id]]:
            raise UnknownArticle(article_id)
        precomputed = self._precomputed(article_id, k, filters, diversity) if stored else None
        if precomputed is not None:
            return precomputed
        language = self.index.languages[self.index.row_of[article_id]]
        return self._rank(self.query(article_id), language, k, filters, diversity, now, exclude=(article_id,))

    def _precomputed(self, article_id: str, k: int, filters: Filters | None,
                     diversity: float) -> list[Recommendation] | None:
        """The batch list (``readalso batch``) of an article when it answers this query exactly, else None.

        Only without filters or diversity, for this model version, when the article was not
        re-vectorised since and has no editors' pins or blocks (those apply at once, live); the
        first k of a longer list are served (same ranking as live k).
        """
        lookup = getattr(self.catalogue, "precomputed", None)
        if (lookup is None or self.version is None or diversity or (filters is not None and filters != Filters())
                or article_id in self.changed or self.catalogue.feedback_for(article_id) is not None):
            return None
        found = lookup(article_id, self.version, k)
        return None if found is None else [Recommendation(*row) for row in found]

    def related_to_text(self, headline: str, body: str = "", k: int = 10, *, filters: Filters | None = None,
                        diversity: float = 0.0, language: str = "en", now: datetime | None = None,
                        source_id: str | None = None) -> list[Recommendation]:
        """Top-k related stories for text that is not stored (a draft, a pasted article).

        ``source_id``: the draft's id, when it has one; the editors' pins and blocks of that id
        apply as for a stored article, and the stored article of that id is never suggested.
        """
        draft = Article(id="draft", headline=headline.strip() or body.strip()[:200] or "untitled", body=body, language=language)
        vector = self.vectorizer.transform([draft])
        moment = now or datetime.now(timezone.utc)
        query = Query(vector, {"headline": self.vectorizer.transform_text(draft.headline, draft.language),
                               "body": self.vectorizer.transform_text(body, draft.language)},
                      published=moment.timestamp(), section=(filters.section or "") if filters else "",
                      expanded=self.expand_query(vector, draft.language), id=source_id)
        return self._rank(query, draft.language, k, filters, diversity, now, exclude=(source_id,) if source_id else ())

    def query(self, article_id: str) -> Query:
        """What the ranking knows about a stored article (pass it, or its id, to :meth:`rerank`)."""
        row = self.index.row_of[article_id]
        return Query(self.index.matrix[row], {name: field[row] for name, field in self.fields.items()},
                     published=float(self.index.published[row]), section=str(self.index.sections[row]), row=row,
                     id=article_id, site=str(self.index.sites[row]), expanded=self.index.expanded[row])

    def similarity(self, text_a: str, text_b: str, language: str = "en") -> float:
        """Cosine of two texts under the fitted vocabulary and IDF."""
        a = self.vectorizer.transform_text(text_a, language)
        b = self.vectorizer.transform_text(text_b, language)
        return float(a.multiply(b).sum())

    def articles(self, ids: Iterable[str]) -> dict[str, Article]:
        return self.catalogue.get_many(ids)

    def _rank(self, query: Query, language: str, k: int, filters: Filters | None, diversity: float,
              now: datetime | None, exclude: Sequence[str]) -> list[Recommendation]:
        """Search candidates by relatedness and :meth:`rerank` them; the search deepens until k distinct
        stories survive (or the candidates run out), however many near-copies crowd the top."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        filters = filters or Filters()
        now = now or datetime.now(timezone.utc)
        mask = self.index.mask(language=language if self.config.same_language else None, section=filters.section,
                               published_after=filters.published_after(now), exclude=[*filters.exclude, *exclude])
        # With the link model and an exact search, one search deep enough for its candidate pool serves both.
        exact = self.model_active and self.config.query_terms is None
        depth = max(candidate_count(k), CANDIDATE_POOL) if exact else candidate_count(k)
        while True:
            hits = self.index.search(query.search_vector, depth, mask, max_terms=self.config.query_terms)
            rows = hits.indices[0][hits.indices[0] >= 0]
            ranking = self.rerank(rows, hits.scores[0][: rows.size], k, query=query, diversity=diversity, mask=mask,
                                  exact=exact)
            if len(ranking) >= k or rows.size < depth:
                return ranking
            depth *= 4

    def rerank(self, rows: np.ndarray, scores: np.ndarray, k: int, *, query: Query | str, diversity: float = 0.0,
               mask: np.ndarray | None = None, exact: bool = False) -> list[Recommendation]:
        """Turn candidates searched by relatedness (best first) into the final top-k: editors' blocks removed,
        ordered by the link model within the relatedness floor (when a model is active), copies collapsed,
        diversified, explained, editors' pins first.

        The live path and batch scoring both end here, so they rank alike. ``query`` is a stored
        article's id or a :meth:`query`; ``mask`` (allowed rows) defaults to every live row of the
        query's language except itself. ``exact`` says ``rows`` and ``scores`` are an exact
        ``index.search`` under ``mask`` at least ``CANDIDATE_POOL`` deep, so the model's candidate pool
        reuses them instead of searching again.
        """
        rows = np.asarray(rows, dtype=np.int64)
        relatedness = np.asarray(scores, dtype=np.float64)
        if isinstance(query, str):
            query = self.query(query)
        if mask is None:
            mask = self.index.alive.copy()
            if query.row is not None:
                mask[query.row] = False
                if self.config.same_language:
                    mask &= self.index.languages == self.index.languages[query.row]
        lookup = getattr(self.catalogue, "feedback_for", None)
        feedback = lookup(query.id) if lookup is not None and query.id else None
        if self.model_active:  # the model also considers what editors like that relatedness missed
            more, more_scores = candidate_rows(self.index, self.graph, query, mask, CANDIDATE_POOL,
                                               cosine_top=(rows, relatedness) if exact else None)
            new = ~np.isin(more, rows)
            rows, relatedness = np.concatenate([rows, more[new]]), np.concatenate([relatedness, more_scores[new]])
        if feedback is not None and feedback.blocks:
            keep = np.asarray([self.index.ids[r] not in feedback.blocks for r in rows], dtype=bool)
            rows, relatedness = rows[keep], relatedness[keep]
        if self.config.collapse_duplicates:  # wire copies of the query itself
            keep = self._copy_similarity(query, rows) < self.config.duplicate_threshold
            rows, relatedness = rows[keep], relatedness[keep]
        order_by, probability, features = relatedness, None, None
        if self.model_active and rows.size:
            features = pair_features(query, rows, matrix=self.index.matrix, fields=self.fields,
                                     published=self.index.published, sections=self.index.sections, graph=self.graph,
                                     duplicate_threshold=self.config.duplicate_threshold, sites=self.index.sites,
                                     expanded=self.index.expanded)
            relatedness = features[:, FEATURES.index("relatedness")]
            probability = self.model.predict_proba(features)
            order_by = self.model.score(features)
            order = bounded_editor_share(order_by, relatedness, rows, floor=self.config.relatedness_floor,
                                         mix=self.config.editor_mix)
            rows, relatedness, order_by = rows[order], relatedness[order], order_by[order]
            probability, features = probability[order], features[order]
        positions = self._shortlist(rows, order_by, k, diversity)
        ranking = self._explained(query, rows[positions], relatedness[positions],
                                  None if probability is None else probability[positions],
                                  None if features is None else features[positions])
        if feedback is not None and feedback.pins:
            ranking = self._pinned(ranking, feedback.pins, query, mask, k)
        return ranking

    def _explained(self, query: Query, rows: np.ndarray, relatedness: np.ndarray, probability: np.ndarray | None,
                   features: np.ndarray | None) -> list[Recommendation]:
        """The picks as :class:`Recommendation` values, each with the reasons that set it apart."""
        shared = shared_terms_of_rows(query.vector, self.index.matrix[rows], self.terms)  # one slice, not k
        days = age_days(query.published, self.index.published[rows])
        linked = self.graph.linked(query.row, rows) if self.graph is not None else np.zeros(rows.size, dtype=bool)
        ranking = []
        for i, row in enumerate(rows.tolist()):
            editors = dict(zip(FEATURES, features[i])) if features is not None else {}
            extra = [timing(-days[i]), editor_reason(bool(linked[i]), editors.get("colinking", 0.0),
                                                      editors.get("popularity", 0.0))]
            ranking.append(Recommendation(self.index.ids[row], round(float(relatedness[i]), 6),
                                          describe(shared[i], [e for e in extra if e]),
                                          None if probability is None else round(float(probability[i]), 6)))
        return ranking

    def _copy_similarity(self, query: Query, rows: np.ndarray) -> np.ndarray:
        """Cosine of the candidates' bodies with the query's body: how much each is a copy of it."""
        if query.row is not None:
            body = self.index.copies[query.row]
        elif query.fields.get("body") is not None and query.fields["body"].nnz:
            body = query.fields["body"]  # unseen text: the body it was given
        else:
            body = query.vector
        return row_dots(self.index.copies, rows, body)

    def _shortlist(self, rows: np.ndarray, scores: np.ndarray, k: int, diversity: float) -> np.ndarray:
        """Positions of the final top-k among ranked candidates: near-duplicates collapsed, then diversified.

        Without diversity only the head of the list is compared (a duplicate decision depends only on
        earlier candidates, and each cosine only on its two rows), and all of it only when the head
        loses too many to collapse.
        """
        if diversity == 0 and not self.config.collapse_duplicates:
            return np.arange(min(k, rows.size))
        head = rows.size if diversity > 0 else min(rows.size, 2 * k + 2)
        while True:
            positions = np.arange(head)
            if self.config.collapse_duplicates:
                copies = block_dots(self.index.copies, rows[:head])  # = candidates @ candidates.T, bit for bit
                positions = np.asarray(collapse_near_duplicates(list(positions), copies,
                                                                self.config.duplicate_threshold), dtype=np.int64)
            if positions.size >= k or head == rows.size:
                break
            head = rows.size
        if diversity > 0:
            similarity = block_dots(self.index.matrix, rows[:head])
            chosen = maximal_marginal_relevance(scores[positions], similarity[np.ix_(positions, positions)], k, diversity)
            positions = positions[chosen]
        return positions[:k]

    def _pinned(self, ranking: list[Recommendation], pins: Sequence[str], query: Query, mask: np.ndarray | None,
                k: int) -> list[Recommendation]:
        """Editors' pins first, in their order (live, allowed by the caller's filters, never the article itself)."""
        rows = [self.index.row_of.get(pin) for pin in pins]
        kept = [(pin, row) for pin, row in zip(pins, rows)
                if row is not None and self.index.alive[row] and pin != query.id and (mask is None or mask[row])]
        relatedness = row_dots(self.index.expanded, np.asarray([row for _, row in kept], dtype=np.int64),
                               query.search_vector)
        pinned = [Recommendation(pin, round(float(r), 6), "pinned by an editor")
                  for (pin, _), r in zip(kept, relatedness)]
        chosen = {r.id for r in pinned}
        return (pinned + [r for r in ranking if r.id not in chosen])[:k]


def _csr_arrays(prefix: str, matrix: sp.csr_matrix) -> dict[str, np.ndarray]:
    return {f"{prefix}_data": matrix.data, f"{prefix}_indices": matrix.indices, f"{prefix}_indptr": matrix.indptr,
            f"{prefix}_shape": np.asarray(matrix.shape, dtype=np.int64)}


def _csr_from_arrays(prefix: str, arrays: Mapping[str, np.ndarray]) -> sp.csr_matrix:
    shape = tuple(int(n) for n in arrays[f"{prefix}_shape"])
    return sp.csr_matrix((arrays[f"{prefix}_data"], arrays[f"{prefix}_indices"], arrays[f"{prefix}_indptr"]),
                         shape=shape)


def candidate_count(k: int) -> int:
    """How many cosine candidates feed the final top-k (room for duplicates and diversity)."""
    return 4 * k + 10


def _anchors(articles: Sequence[Article]) -> list[list[str]]:
    """For each article, the headlines other articles use when they link to it."""
    position = {a.id: i for i, a in enumerate(articles)}
    anchors: list[list[str]] = [[] for _ in articles]
    for article in articles:
        for link in article.read_also:
            if link.target_id in position:
                anchors[position[link.target_id]].append(link.headline)
    return anchors


def _fingerprint(ids: Sequence[str], hashes: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for article_id, content_hash in zip(ids, hashes):
        digest.update(f"{article_id}\x1f{content_hash}\n".encode("utf-8"))
    return digest.hexdigest()
