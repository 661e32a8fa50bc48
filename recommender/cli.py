"""The ``readalso`` command line: thin wrappers around the library."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click
from tqdm import tqdm

from recommender import artifacts
from recommender.articles import ArticleError
from recommender.engine import Engine, UnknownArticle
from recommender.evaluation import TASKS
from recommender.evaluation import compare as compare_results
from recommender.evaluation import run as run_evaluation
from recommender.links import resolve_store
from recommender.ranking import Filters
from recommender.readers import FORMATS, Problem, parse_mapping, read_path
from recommender.readers.text import parse as parse_text
from recommender.store import Store, StoreError, default_db_path

DEMO_CORPUS = Path(__file__).resolve().parents[1] / "data" / "demo"
USER_ERRORS = (StoreError, artifacts.ArtifactError, UnknownArticle, ArticleError, ValueError, OSError)


def model_root(db: Path) -> Path:
    """Where the built model of a store lives: beside it, ``<name>.artifacts/``."""
    return db.with_suffix(".artifacts")


def open_engine(db: Path) -> tuple[Store, Engine]:
    """The store and its current model, brought up to date with articles ingested since the build."""
    store = Store(db, create=False)
    engine = Engine.load(artifacts.current(model_root(db)), store)
    engine.sync(store)
    return store, engine


class _Group(click.Group):
    """Turns domain errors into one-line messages (exit 1), never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except USER_ERRORS as error:
            raise click.ClickException(str(error)) from None


class Context:
    def __init__(self, db: Path):
        self.db = db


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="SQLite store (default: $READALSO_DB or ./readalso-data/readalso.db).")
@click.option("-v", "--verbose", is_flag=True, help="Log what the engine does.")
@click.pass_context
def cli(ctx: click.Context, db: Path | None, verbose: bool):
    """readalso: related stories and reading lists for news sites.

    \b
    Example:
      readalso ingest data/demo/text && readalso build && readalso related storm-ardent-01
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = Context(db or default_db_path())


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "format_", type=click.Choice(FORMATS), help="Force a reader instead of the file extension.")
@click.option("--map", "mapping", default="", metavar="TARGET=SOURCE,...",
              help="Rename source fields, e.g. headline=title,body=text.")
@click.pass_obj
def ingest(obj: Context, paths: tuple[Path, ...], format_: str | None, mapping: str):
    """Load articles (JSON Lines, CSV, raw text, HTML; files or folders) into the store.

    Idempotent: articles are matched by id, else by canonical URL. A bad record is
    reported with its file:line and skipped; the others still load.

    \b
    Example:
      readalso ingest news.csv --map headline=title,body=text,published_at=date
    """
    try:
        fields = parse_mapping(mapping)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--map") from None
    counts = {"new": 0, "updated": 0, "unchanged": 0, "skipped": 0}
    problems: list[Problem] = []
    with Store(obj.db) as store:
        for path in paths:
            if not path.exists():
                raise click.ClickException(f"no such file or folder: {path}")
            for item in tqdm(read_path(path, format=format_, mapping=fields), desc=f"ingest {path.name}",
                             unit=" articles", disable=None, file=sys.stderr):
                if isinstance(item, Problem):
                    problems.append(item)
                    continue
                try:
                    status, _ = store.upsert(item.article)
                except (ArticleError, ValueError) as error:
                    problems.append(Problem(item.location, str(error)))
                    continue
                counts[status] += 1
        counts["skipped"] = len(problems)
        links = resolve_store(store)
        appended = _refresh_model(obj.db, store)
    for problem in problems:
        click.echo(f"skipped {problem.location}: {problem.reason}", err=True)
    click.echo(", ".join(f"{n} {what}" for what, n in counts.items()) +
               f"; links: {links['resolved']} resolved, {links['unresolved']} unresolved" +
               (f"; {appended} added to the model" if appended else ""))


@cli.command()
@click.pass_obj
def build(obj: Context):
    """Fit the TF-IDF model and index from every stored article and save a new artifact version.

    With enough resolved Read-also links the link model is learned too (as 'readalso train' does).
    """
    with Store(obj.db, create=False) as store:
        resolve_store(store)
        engine = Engine.build(store)
        path = engine.save(model_root(obj.db))
    click.echo(f"built {path.name}: {len(engine.index)} articles, {len(engine.vectorizer.vocabulary_)} terms -> {path}")


@cli.command()
@click.argument("article_id", required=False)
@click.option("--text", "text_file", type=click.File("r", encoding="utf-8"), help="Rank for unseen text (FILE or -).")
@click.option("-k", default=5, show_default=True, type=click.IntRange(1, 100), help="How many stories.")
@click.option("--section", help="Only stories of this section.")
@click.option("--max-age-days", type=click.FloatRange(min=0, min_open=True), help="Only stories at most this old.")
@click.option("--exclude", multiple=True, metavar="ID", help="Never show this story (repeatable).")
@click.option("--diversity", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="0 = pure relevance, 1 = maximal variety (MMR).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def related(obj: Context, article_id, text_file, k, section, max_age_days, exclude, diversity, as_json):
    """Related stories for a stored article, or for text with --text.

    \b
    Example:
      readalso related storm-ardent-01 -k 5 --json
      echo "Flood barriers fail in the delta" | readalso related --text -
    """
    if bool(article_id) == bool(text_file):
        raise click.UsageError("give either an ARTICLE_ID or --text FILE")
    filters = Filters(section=section, max_age_days=max_age_days, exclude=frozenset(exclude))
    store, engine = open_engine(obj.db)
    with store:
        if article_id:
            ranking = engine.related(article_id, k, filters=filters, diversity=diversity)
        else:
            parsed = parse_text(text_file.read(), location=text_file.name, default_id="draft")
            if isinstance(parsed, Problem):
                raise click.ClickException(f"{parsed.location}: {parsed.reason}")
            draft = parsed.article
            ranking = engine.related_to_text(draft.headline, draft.body, k, filters=filters, diversity=diversity,
                                             language=draft.language)
        articles = engine.articles(r.id for r in ranking)
    rows = [{"id": r.id, "headline": articles[r.id].headline, "url": articles[r.id].url,
             "section": articles[r.id].section,
             "published_at": articles[r.id].published_at.isoformat() if articles[r.id].published_at else None,
             "score": r.score, "reason": r.reason} for r in ranking]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no related stories")
    for rank, row in enumerate(rows, 1):
        click.echo(f"{rank:>2}. {row['score']:.3f}  {row['headline']}  [{row['id']}]")
        click.echo(f"           {row['reason']}")


@cli.command()
@click.argument("article_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def show(obj: Context, article_id: str, as_json: bool):
    """Show a stored article as the engine sees it: fields, body and its resolved Read-also links."""
    with Store(obj.db, create=False) as store:
        article = store.get(article_id)
    if article is None:
        raise click.ClickException(f"unknown article id {article_id!r}")
    record = {
        "id": article.id, "headline": article.headline, "url": article.url, "section": article.section,
        "language": article.language,
        "published_at": article.published_at.isoformat() if article.published_at else None,
        "reading_minutes": round(article.reading_minutes, 1), "body": article.body,
        "read_also": [{"headline": l.headline, "url": l.url, "target_id": l.target_id, "resolution": l.resolution}
                      for l in article.read_also],
    }
    if as_json:
        click.echo(json.dumps(record, indent=2, ensure_ascii=False))
        return
    click.echo(f"{article.headline}\n{article.id} | {article.section or '-'} | {record['published_at'] or '-'} | {article.url or '-'}\n")
    click.echo(article.body)
    for link in record["read_also"]:
        target = f"-> {link['target_id']} ({link['resolution']})" if link["target_id"] else "(unresolved)"
        click.echo(f"  read also: {link['headline']} {target}")


@cli.command()
@click.option("--corpus", type=click.Path(exists=True, file_okay=False, path_type=Path), default=DEMO_CORPUS,
              show_default=True, help="Demo corpus folder.")
@click.option("-k", default=4, show_default=True, type=click.IntRange(1, 20))
@click.pass_context
def demo(ctx: click.Context, corpus: Path, k: int):
    """Ingest the demo corpus, build the model and print related stories for a few articles."""
    sources = [p for p in (corpus / "text", corpus / "html") if p.exists()]
    if not sources:
        raise click.ClickException(f"no demo articles under {corpus}")
    ctx.invoke(ingest, paths=tuple(sources), format_=None, mapping="")
    ctx.invoke(build)
    store, engine = open_engine(ctx.obj.db)
    with store:
        linked = store.inbound_counts()
        examples = [max(linked, key=linked.get)] if linked else []
        examples += [a.id for a in store.iter_articles()][-2:]
        for article_id in dict.fromkeys(examples):
            article = store.get(article_id)
            click.echo(f"\n== {article.headline}  [{article.id}, {article.section}]")
            ranking = engine.related(article_id, k)
            headlines = engine.articles(r.id for r in ranking)
            for rank, r in enumerate(ranking, 1):
                click.echo(f"  {rank}. {r.score:.3f}  {headlines[r.id].headline}  ({r.reason})")


@cli.command()
@click.option("-k", default=10, show_default=True, type=click.IntRange(1, 100), help="Stories per list.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write JSON Lines here.")
@click.option("--since", type=click.DateTime(), help="Only articles published on or after this date.")
@click.option("--ids", "ids_file", type=click.File("r", encoding="utf-8"),
              help="Only the article ids in this file, one per line (- for stdin).")
@click.option("-j", "--jobs", default=1, show_default=True, type=click.IntRange(1, None),
              help="Parallel worker processes (local joblib, or Dask workers with --dask local).")
@click.option("--dask", metavar="local|tcp://HOST:8786",
              help="Run the blocks on dask.distributed: a LocalCluster or a running scheduler.")
@click.option("--block-rows", type=click.IntRange(1, None), help="Articles per block [default: n / (4 jobs), 64..8192].")
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where finished blocks are kept until the merge [default: beside the model].")
@click.pass_obj
def batch(obj: Context, k, out, since, ids_file, jobs, dask, block_rows, work_dir):
    """Precompute the top-k related list of every article (or --since DATE, or --ids FILE).

    Lists go to the store (table related_lists, tagged with the model version; the live path
    serves them when no filter asks otherwise) and, with --out, to JSON Lines, one line per
    article: {"id": ..., "related": [{"id": ..., "score": ...}, ...]}, best first. Same ranking
    as 'readalso related'. An interrupted run resumes: finished blocks are not recomputed.

    \b
    Memory: peak ~ S + J * (S + min(B, 256 MiB / 4N) * 4N + 12 B C) bytes, with
    S = 8 nnz + 8 N (the model's matrix, memory-mapped and shared), N articles, nnz stored
    terms, J jobs, B rows per block, C = 4k + 10 candidates. 1M articles, J = 2: ~5 GB.
    Dask workers load the model from the same paths: run them where those paths exist.

    \b
    Example:
      readalso batch -k 10 --out related.jsonl --jobs 2
      readalso batch --since 2024-06-01 --dask tcp://scheduler:8786
    """
    from recommender.batch import run_batch
    ids = None
    if ids_file is not None:
        ids = list(dict.fromkeys(line.strip() for line in ids_file if line.strip()))
    with Store(obj.db, create=False) as store:
        _refresh_model(obj.db, store)
    report = run_batch(artifacts.current(model_root(obj.db)), db=obj.db, k=k, out=out, ids=ids, since=since,
                       block_rows=block_rows, n_jobs=jobs, dask=dask, work_dir=work_dir)
    click.echo(f"{report.articles} related lists for {report.model_version} in {report.seconds:.1f} s "
               f"({report.articles_per_second:.0f} articles/s; {report.computed_blocks} blocks computed, "
               f"{report.reused_blocks} reused)" + (f" -> {report.out}" if report.out else ""))


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0: all).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="gunicorn worker processes (each loads the memory-mapped model once).")
@click.option("--timeout", default=30, show_default=True, type=click.IntRange(1, 3600),
              help="Seconds before gunicorn restarts a stuck worker.")
@click.option("--debug", is_flag=True, help="Flask's development server with reloader and debugger instead.")
@click.pass_obj
def serve(obj: Context, host: str, port: int, workers: int, timeout: int, debug: bool):
    """Serve the JSON API, the Read-also widget and the demo page over HTTP (gunicorn).

    Write routes need READALSO_API_TOKEN; browsers on other sites need READALSO_CORS_ORIGINS
    (comma-separated origins). More settings: READALSO_* variables or a file in READALSO_CONFIG.

    \b
    Example:
      readalso demo && READALSO_API_TOKEN=secret readalso serve --port 8000 --workers 4
      open http://127.0.0.1:8000/demo
    """
    from service.server import serve as run_gunicorn, serve_debug  # Flask and gunicorn only when serving

    config = {"DB": str(obj.db)}
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    click.echo(f"readalso: serving {obj.db} on http://{shown}:{port}  demo page: http://{shown}:{port}/demo", err=True)
    if debug:
        serve_debug(config, host=host, port=port)
    else:
        run_gunicorn(config, host=host, port=port, workers=workers, timeout=timeout)


@cli.command()
@click.option("--validation-share", default=0.5, show_default=True, type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Newest share of linking articles validated on (rolling origin).")
@click.option("--folds", default=3, show_default=True, type=click.IntRange(1, 20),
              help="Time-ordered validation chunks, each validated by a model trained on what came before.")
@click.option("--seed", default=0, show_default=True, help="Seed for the hidden links.")
@click.option("--json", "as_json", is_flag=True, help="Print the validation report as JSON.")
@click.pass_obj
def train(obj: Context, validation_share: float, folds: int, seed: int, as_json: bool):
    """Learn the link model from the editors' resolved Read-also links and save a new model version.

    Models trained on older linking articles are validated on newer ones (rolling origin);
    reports recall@5 and MRR on the validation links for the model and for plain cosine. The
    model counts only as far as validation supports it (its blend weight); with too few links
    the engine stays plain TF-IDF cosine. 'readalso build' trains the same way by default.

    \b
    Example:
      readalso train --json
    """
    from recommender.engine import EngineConfig

    with Store(obj.db, create=False) as store:
        resolve_store(store)
        articles = list(store.iter_articles())
        if not articles:
            raise click.ClickException("the store holds no articles: ingest some first")
        engine = Engine._fit(articles, EngineConfig(use_model=False), store)
        model = engine.train(articles, validation_share=validation_share, folds=folds, seed=seed)
        path = engine.save(model_root(obj.db))
    report = model.report_ if model is not None else None
    if as_json:
        click.echo(json.dumps({"version": path.name, "report": report}, indent=2))
        return
    if model is None:
        click.echo(f"saved {path.name}: too few resolved links to train and validate a link model; "
                   "ranking by plain TF-IDF cosine")
        return
    click.echo(f"saved {path.name}: link model from {report['links']} links of {report['sources']} articles; "
               f"validated on the links of {report['validation_queries']} newer articles in {report['folds']} folds")
    for name in ("cosine", "model"):
        cells = "  ".join(f"{metric} {report[name][metric]['mean']:.3f} ± {report[name][metric]['se']:.3f}"
                          for metric in ("recall@5", "mrr"))
        click.echo(f"  {name:<7} {cells}")
    click.echo(f"  blend weight {model.blend_:.2f} (best on validation {report['best_blend']:.2f}, "
               f"paired t {report['t']})")


@cli.command("reading-list")
@click.option("--story", "story_id", metavar="ID", help="Catch up on the developing story of this article.")
@click.option("--history", "history", metavar="ID...", help="What to read next after these articles (space- or comma-separated).")
@click.argument("more_history", nargs=-1)
@click.option("--minutes", type=click.FloatRange(min=0, min_open=True), help="Time budget from reading times.")
@click.option("-k", default=10, show_default=True, type=click.IntRange(1, 50), help="At most this many (--history).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def reading_list(obj: Context, story_id, history, more_history, minutes, k, as_json):
    """A reading list: a developing story in time order (--story) or what to read next (--history).

    \b
    Example:
      readalso reading-list --story storm-ardent-02 --minutes 10
      readalso reading-list --history storm-ardent-01 vote-harbour-02 --json
    """
    from recommender.reading_list import history_list, story_list

    if bool(story_id) == bool(history):
        raise click.UsageError("give either --story ID or --history ID...")
    store, engine = open_engine(obj.db)
    with store:
        if story_id:
            result = story_list(engine, story_id, minutes=minutes)
        else:
            ids = [i for part in (history, *more_history) for i in part.replace(",", " ").split()]
            result = history_list(engine, ids, minutes=minutes, k=k)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        return
    if not result.items:
        click.echo("nothing to read")
    for item in result.items:
        mark = "  <- latest" if item.latest else ""
        click.echo(f"{(item.published_at or '-')[:16]:<16}  {item.minutes:>4.1f} min  {item.headline}  [{item.id}]{mark}")
    click.echo(f"{len(result.items)} articles, {result.total_minutes:.1f} min"
               + (f" of {minutes:g}" if minutes else ""))


def _feedback_command(kind: str):
    @click.argument("source")
    @click.argument("target")
    @click.option("--remove", is_flag=True, help=f"Remove the {kind} instead.")
    @click.pass_obj
    def command(obj: Context, source: str, target: str, remove: bool):
        with Store(obj.db, create=False) as store:
            if remove:
                found = store.remove_feedback(source, target, kind)
                click.echo(f"removed {kind} {source} -> {target}" if found else f"no {kind} {source} -> {target}")
            else:
                store.set_feedback(source, target, kind)
                done = "pinned" if kind == "pin" else "blocked"
                click.echo(f"{done} {target} {'to' if kind == 'pin' else 'from'} {source}'s list")
    return command


cli.command("pin", help="""Pin story TARGET to article SOURCE's related list (shown first, in pin order).

Honoured by 'related', the service and batch scoring.

\b
Example:
  readalso pin storm-ardent-02 storm-ardent-05
  readalso pin storm-ardent-02 storm-ardent-05 --remove
""")(_feedback_command("pin"))
cli.command("block", help="""Never show story TARGET in article SOURCE's lists (related and reading lists).

\b
Example:
  readalso block storm-ardent-02 chips-veltrix-01
""")(_feedback_command("block"))


@cli.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of the public data sets (default: ../shared/data beside the repo).")
@click.option("--output-dir", default="reports", show_default=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--stem", default="evaluation", show_default=True, help="File name stem of the reports.")
@click.option("--tasks", "task_names", multiple=True, metavar="TASK",
              help="Ground truth to run (repeatable; default all): " + ", ".join(TASKS) + ".")
@click.option("--systems", "system_names", multiple=True, metavar="SYSTEM",
              help="System to run (repeatable; default the engine, its ablations and every baseline).")
@click.option("--no-ablation", is_flag=True, help="Skip the engine-no-<signal> variants.")
@click.option("--max-distractors", default=20_000, show_default=True, type=click.IntRange(0))
@click.option("--demo", "demo_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Demo corpus JSON Lines (default data/demo/articles.jsonl).")
@click.option("--mind-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder with MIND news.tsv + behaviors.tsv (default <data-dir>/mind).")
@click.option("--resamples", default=1000, show_default=True, type=click.IntRange(100), help="Bootstrap resamples.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--no-plots", is_flag=True, help="Tables only.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--compare", "compared", nargs=2, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              metavar="A.json B.json", help="Print B - A for every metric, with its significance, and stop.")
def evaluate(data_dir, output_dir, stem, task_names, system_names, no_ablation, max_distractors, demo_path, mind_dir,
             resamples, seed, no_plots, quiet, compared):
    """Rank every ground truth found with the engine and every baseline; write JSON, Markdown and HTML reports.

    Ground truths: event clusters (also among distractors), held-out editor links, headline
    similarity, MIND click logs. Every metric has a 95% bootstrap interval and a paired test
    against the engine.

    \b
    Example:
      readalso evaluate --tasks news-events --systems engine --systems tfidf
      readalso evaluate --compare reports/before.json reports/after.json
    """
    if compared:
        click.echo(compare_results(*compared, seed=seed, n_resamples=resamples)["text"])
        return
    command = "readalso evaluate " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["evaluate"] else None
    outcome = run_evaluation(data_dir, output_dir, tasks=list(task_names) or None, systems=list(system_names) or None,
                             seed=seed, n_resamples=resamples, max_distractors=max_distractors, demo_path=demo_path,
                             mind_dir=mind_dir, ablation=not no_ablation, plots=not no_plots, progress=not quiet,
                             stem=stem, command=command)
    click.echo(outcome["summary"])
    for kind, path in outcome["paths"].items():
        click.echo(f"{kind}: {path}")


def main() -> None:
    cli(prog_name="readalso")


def _refresh_model(db: Path, store: Store) -> int:
    """After a build, vectorise newly ingested articles with the fitted vocabulary and save them into the model."""
    try:
        engine = Engine.load(artifacts.current(model_root(db)), store)
    except artifacts.ArtifactError:
        return 0
    added = engine.sync(store)
    if added:
        engine.save(model_root(db))
        artifacts.prune(model_root(db))
    return added
