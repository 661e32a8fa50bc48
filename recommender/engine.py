"""The engine: a fitted vectorizer, index and link model, ranking through the one pipeline (recommender.pipeline)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from recommender import pipeline
from recommender.articles import MAX_K, Article
from recommender.catalogue import Catalogue, MemoryCatalogue
from recommender.cosine import Row, row_dots
from recommender.expansion import MAX_TERMS as EXPANSION_TERMS
from recommender.expansion import NEIGHBOURS as EXPANSION_NEIGHBOURS
from recommender.expansion import WEIGHT as EXPANSION_WEIGHT
from recommender.expansion import expand
from recommender.features import FEATURES, SIGNAL_FEATURES, LinkGraph, Query
from recommender.index import ArticleIndex
from recommender.links import LinkResolver
from recommender.model import LinkModel
from recommender.ranking import Filters, Ranking
from recommender.training import link_texts, link_triples, links_field, train_link_model
from recommender.vectorize import DEFAULT_WEIGHTS, FieldVectorizer

log = logging.getLogger(__name__)


class UnknownArticle(KeyError):
    """No article with that id is known to the engine."""

    def __str__(self) -> str:
        return f"unknown article id {self.args[0]!r}"


@dataclass(frozen=True)
class EngineConfig:
    """How articles are vectorised and rankings shaped. Weights are relative, per field."""

    headline_weight: float = DEFAULT_WEIGHTS["headline"]
    lead_weight: float = DEFAULT_WEIGHTS["lead"]
    body_weight: float = DEFAULT_WEIGHTS["body"]
    read_also_weight: float = DEFAULT_WEIGHTS["read_also"]
    anchors_weight: float = DEFAULT_WEIGHTS["anchors"]
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
    SIGNALS: ClassVar[dict[str, dict[str, Any]]] = {
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

    def without(self, signal: str) -> EngineConfig:
        """This configuration with one signal switched off."""
        if signal not in self.SIGNALS:
            raise ValueError(f"unknown signal {signal!r}; known: {', '.join(self.SIGNALS)}")
        return replace(self, **self.SIGNALS[signal])

    @classmethod
    def parse(cls, text: str) -> EngineConfig:
        """The configuration from ``"key=value,..."`` (``expansion=8,editor_mix=0.2``; ``none`` for None)."""
        types = {f.name: f.type for f in fields(cls)}
        values: dict[str, Any] = {}
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
    def from_dict(cls, values: Mapping) -> EngineConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


class Engine:
    """Related-story rankings: a fitted vectorizer, an exact cosine index, the link model, the one pipeline.

    ``Engine(config, catalogue).fit(articles)`` fits it; ``artifacts.save_engine`` /
    ``artifacts.load_engine`` persist it; ``sync.sync_with_store`` keeps it current with a store.
    """

    vectorizer: FieldVectorizer  # the fitted state: set by fit() or artifacts.load_engine()
    index: ArticleIndex
    terms: np.ndarray

    def __init__(self, config: EngineConfig | None = None, catalogue: Catalogue | None = None):
        self.config = config or EngineConfig()
        self.catalogue: Catalogue = MemoryCatalogue(()) if catalogue is None else catalogue
        self.model: LinkModel | None = None
        self.fields: dict[str, sp.csr_matrix] = {}  # headline/body/links rows aligned with the index, with a model
        self.graph: LinkGraph | None = None
        self.hashes: dict[str, str] = {}  # article id -> content hash of what is indexed
        self.version: str | None = None  # the artifact version this engine was saved as or loaded from
        # Batch lists are stored under `lists_key`: the version of the fit (a version that only appended
        # articles keeps it). `stale` are the ids whose stored list no longer equals the live ranking.
        self.lists_key: str | None = None
        self.stale: set[str] = set()
        self.synced: tuple[str, int] | None = None  # (store path, change sequence number) last synced with

    def fit(self, articles: Iterable[Article], **training) -> Engine:
        """Fit vocabulary, index, expansion and (with ``config.use_model``) the link model; returns self.

        Without a catalogue (the store) the articles are their own: their Read-also links are resolved
        among them. With one, links are as stored. ``training`` goes to :meth:`train`.
        """
        articles = list(articles)
        if not articles:
            raise ValueError("no articles to fit on: ingest some first")
        ids = [a.id for a in articles]
        if len(set(ids)) != len(ids):
            raise ValueError("article ids must be unique")
        if isinstance(self.catalogue, MemoryCatalogue):
            resolver = LinkResolver().fit(articles)
            articles = [resolver.resolve_article(a) for a in articles]
            self.catalogue = MemoryCatalogue(articles)
        config = self.config
        self.vectorizer = FieldVectorizer(weights=config.field_weights(), min_df=config.min_df,
                                          max_df=config.max_df).fit(articles)
        self.terms = self.vectorizer.terms_
        matrix = self.vectorizer.transform(articles, anchors=_anchors(articles))
        self.index = ArticleIndex.from_articles(articles, matrix, self.vectorizer.transform_copies(articles))
        self.hashes = {a.id: a.content_hash for a in articles}
        self.version, self.lists_key, self.stale, self.synced = None, None, set(), None
        self.expand_rows(0)
        self.model, self.fields, self.graph = None, {}, None
        if config.use_model:
            self.train(articles, **training)
        return self

    def train(self, articles: Sequence[Article], **options) -> Engine:
        """Fit the link model on the articles' resolved Read-also links (see :mod:`recommender.training`);
        returns self.

        ``articles`` are the indexed articles with their links; ``options`` go to
        :func:`~recommender.training.train_link_model` (``validation_share``, ``seed``, ...). With too
        few links ``model`` stays None and the engine ranks by relatedness.
        """
        self.model, self.fields, self.graph = None, {}, None
        if not any(link.target_id for article in articles for link in article.read_also):
            return self
        fields = self._text_fields(articles)
        model = train_link_model(articles, self.index, fields, self.vectorizer,
                                 features=self.config.model_features(),
                                 duplicate_threshold=self.config.duplicate_threshold,
                                 same_language=self.config.same_language, **options)
        if model is None:
            return self
        triples = link_triples(articles, self.index.row_of)
        texts = link_texts(articles, self.index.row_of, triples, len(self.index.ids))
        fields["links"] = links_field(self.vectorizer, texts, list(self.index.languages))
        self.model, self.fields = model, fields
        self.graph = LinkGraph.from_pairs([(s, t) for s, t, _ in triples], self.index.published)
        return self

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
        expanded with its nearest articles at once. Their stored lists, and the stored lists they would
        enter (:meth:`_lists_reached`), are stale from now on."""
        if not articles:
            return
        start = self.index.matrix.shape[0]
        replaced = np.asarray([self.index.row_of[a.id] for a in articles if a.id in self.index.row_of], dtype=np.int64)
        self.index.add(articles, self.vectorizer.transform(articles), self.vectorizer.transform_copies(articles))
        self.expand_rows(start)
        if self.graph is not None:
            self._add_model_rows(articles)
        self.hashes.update((a.id, a.content_hash) for a in articles)
        self.stale.update(a.id for a in articles)
        self.stale.update(self._lists_reached(start, replaced))
        if isinstance(self.catalogue, MemoryCatalogue):
            self.catalogue.add(articles)

    def _lists_reached(self, start: int, replaced: np.ndarray) -> set[str]:
        """Ids of stored lists that rows added from ``start`` would enter, or replaced rows were candidates of: a
        list's candidates are its search's top, so a row reaches it when its relatedness to the list's article
        is at least the list's ``reach`` (the relatedness of its last searched candidate)."""
        reaches = self.catalogue.list_reaches(self.lists_key) if self.lists_key is not None else {}
        if not reaches:
            return set()
        index = self.index
        holders = np.asarray([index.row_of[i] for i in reaches if i in index.row_of], dtype=np.int64)
        holders = holders[index.alive[holders] & (holders < start)]
        moved = np.concatenate([np.arange(start, index.matrix.shape[0]), replaced])
        related = (index.expanded @ index.expanded[moved].T).toarray()[holders]  # no copy of the holders' rows
        if self.config.same_language:
            related[index.languages[holders][:, None] != index.languages[moved][None, :]] = 0.0
        reach = np.asarray([reaches[index.ids[row]] for row in holders], dtype=np.float64)
        hit = ((related > 0) & (related >= reach[:, None])).any(axis=1)
        moved_links = [index.row_of[index.ids[row]] for row in replaced]  # the replaced articles' rows now
        if self.model_active and self.graph is not None and np.isin(moved_links, self.graph.linked_rows).any():
            hit[:] = True  # a replaced article editors link to may be any list's extra candidate (candidates.py)
        return {index.ids[row] for row in holders[hit]}

    def _add_model_rows(self, articles: Sequence[Article]) -> None:
        """Extend the model's field rows with appended articles. The link graph keeps the editors' links as
        built (a replaced article's links move to its new row): links of articles added since count from the
        next build, so adding articles changes no feature of two stored articles."""
        if self.graph is None:
            return
        languages = [a.language for a in articles]
        new = {"headline": self.vectorizer.transform_texts([a.headline for a in articles], languages),
               "body": self.vectorizer.transform_texts([a.body for a in articles], languages),
               "links": self.vectorizer.transform_texts(
                   [" ".join(link.headline for link in a.read_also) for a in articles], languages)}
        self.fields = {name: sp.vstack([self.fields[name], new[name]], format="csr") for name in new}
        ids, row_of = self.index.ids, self.index.row_of
        self.graph = LinkGraph.from_pairs([(row_of[ids[s]], row_of[ids[t]]) for s, t in self.graph.pairs()],
                                          self.index.published)

    # -- rankings -----------------------------------------------------------------------------
    def related(self, article_id: str, k: int = 10, *, filters: Filters | None = None, diversity: float = 0.0,
                now: datetime | None = None, stored: bool = True) -> Ranking:
        """Top-k related stories for a known article (never the article itself); ``stored=False`` ranks live
        even when a batch list would answer."""
        if article_id not in self.index or not self.index.alive[self.index.row_of[article_id]]:
            raise UnknownArticle(article_id)
        check_k(k)
        precomputed = self._precomputed(article_id, k, filters, diversity) if stored else None
        if precomputed is not None:
            return precomputed
        language = self.index.languages[self.index.row_of[article_id]]
        return self._rank(self.query(article_id), language, k, filters, diversity, now, exclude=(article_id,))

    def _precomputed(self, article_id: str, k: int, filters: Filters | None, diversity: float) -> Ranking | None:
        """The batch list (``readalso batch``) of an article when it answers this query exactly, else None.

        Only without filters or diversity, for lists of this fit, when no article added since reached
        the list (``stale``) and the article has no editors' pins or blocks (those apply at once, live);
        the first k of a longer list are served (same ranking as live k).
        """
        if (self.lists_key is None or diversity or (filters is not None and filters != Filters())
                or article_id in self.stale or self.catalogue.feedback_for(article_id) is not None):
            return None
        found = self.catalogue.precomputed(article_id, self.lists_key, k)
        return None if found is None else Ranking.from_rows(found)

    def related_to_text(self, headline: str, body: str = "", k: int = 10, *, filters: Filters | None = None,
                        diversity: float = 0.0, language: str = "en", now: datetime | None = None,
                        source_id: str | None = None) -> Ranking:
        """Top-k related stories for text that is not stored (a draft, a pasted article).

        ``source_id``: the draft's id, when it has one; the editors' pins and blocks of that id
        apply as for a stored article, and the stored article of that id is never suggested.
        """
        check_k(k)
        draft = Article(id="draft", headline=headline.strip() or body.strip()[:200] or "untitled", body=body,
                        language=language)
        vector = self.vectorizer.transform([draft])
        moment = now or datetime.now(UTC)
        fields = {"headline": self.vectorizer.transform_text(draft.headline, draft.language),
                  "body": self.vectorizer.transform_text(body, draft.language)}
        query = Query(Row.from_sparse(vector), {name: Row.from_sparse(row) for name, row in fields.items()},
                      published=moment.timestamp(), section=(filters.section or "") if filters else "",
                      expanded=Row.from_sparse(self.expand_query(vector, draft.language)), id=source_id)
        return self._rank(query, draft.language, k, filters, diversity, now, exclude=(source_id,) if source_id else ())

    def query(self, article_id: str) -> Query:
        """What the ranking knows about a stored article."""
        row = self.index.row_of[article_id]
        fields = {name: Row.of(field, row) for name, field in self.fields.items()}
        return Query(Row.of(self.index.matrix, row), fields,
                     published=float(self.index.published[row]), section=str(self.index.sections[row]), row=row,
                     id=article_id, site=str(self.index.sites[row]), expanded=Row.of(self.index.expanded, row))

    def similarity(self, text_a: str, text_b: str, language: str = "en") -> float:
        """Cosine of two texts under the fitted vocabulary and IDF."""
        a = self.vectorizer.transform_text(text_a, language)
        b = self.vectorizer.transform_text(text_b, language)
        return float(row_dots(a, np.zeros(1, dtype=np.int64), b)[0])

    def articles(self, ids: Iterable[str]) -> dict[str, Article]:
        return self.catalogue.get_many(ids)

    def _rank(self, query: Query, language: str, k: int, filters: Filters | None, diversity: float,
              now: datetime | None, exclude: Sequence[str]) -> Ranking:
        """The pipeline for one query under the caller's filters."""
        filters = filters or Filters()
        now = now or datetime.now(UTC)
        mask = self.index.mask(language=language if self.config.same_language else None, section=filters.section,
                               published_after=filters.published_after(now), exclude=[*filters.exclude, *exclude])
        return pipeline.rank(self, [query], k, mask, diversity=diversity)[0]


def check_k(k: int) -> None:
    """Every ranking's k is in 1..MAX_K."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= MAX_K:
        raise ValueError(f"k must be an integer in 1..{MAX_K}, got {k!r}")


def _anchors(articles: Sequence[Article]) -> list[list[str]]:
    """For each article, the headlines other articles use when they link to it."""
    position = {a.id: i for i, a in enumerate(articles)}
    anchors: list[list[str]] = [[] for _ in articles]
    for article in articles:
        for link in article.read_also:
            if link.target_id in position:
                anchors[position[link.target_id]].append(link.headline)
    return anchors
