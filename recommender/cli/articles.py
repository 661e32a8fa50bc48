"""Commands over articles: ingest, build, related, show, demo."""

from __future__ import annotations

import errno
import json
import sys
from pathlib import Path

import click
from tqdm import tqdm

from recommender.articles import ArticleError
from recommender.cli import Context, cli, model_root, open_engine, prune_versions, refresh_model
from recommender.engine import Engine
from recommender.links import resolve_store
from recommender.ranking import Filters
from recommender.readers import FORMATS, Problem, parse_mapping, read_path
from recommender.readers.text import parse as parse_text
from recommender.store import Store, StoreFull

DEMO_CORPUS = Path(__file__).resolve().parents[2] / "data" / "demo"


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "format_", type=click.Choice(FORMATS), help="Force a reader instead of the file extension.")
@click.option("--map", "mapping", default="", metavar="TARGET=SOURCE,...",
              help="Rename source fields, e.g. headline=title,body=text.")
@click.pass_obj
def ingest(obj: Context, paths: tuple[Path, ...], format_: str | None, mapping: str):
    """Load articles (JSON Lines, CSV, raw text, HTML; files or folders) into the store.

    Idempotent: articles are matched by id (two ids with one URL are reported, not
    merged). A bad record is reported with its file:line and skipped; the others still
    load. Each article is written with its links in one transaction, so a full disk or a
    kill leaves every article whole or absent: run the same ingest again to finish.

    \b
    Example:
      readalso ingest news.csv --map headline=title,body=text,published_at=date
    """
    try:
        fields = parse_mapping(mapping)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--map") from None
    for path in paths:
        if not path.exists():
            raise click.ClickException(f"no such file or folder: {path}")
    counts = {"new": 0, "updated": 0, "unchanged": 0, "skipped": 0}
    problems: list[Problem] = []
    full: StoreFull | None = None
    with Store(obj.db) as store:
        try:
            for path in paths:
                for item in tqdm(read_path(path, format=format_, mapping=fields), desc=f"ingest {path.name}",
                                 unit=" articles", disable=None, file=sys.stderr):
                    if isinstance(item, Problem):
                        problems.append(item)
                        continue
                    try:
                        status, _ = store.upsert(item.article)
                    except StoreFull as error:
                        full = StoreFull(f"{item.location}: {error}")
                        raise
                    except (ArticleError, ValueError) as error:
                        problems.append(Problem(item.location, str(error)))
                        continue
                    counts[status] += 1
            links = resolve_store(store)
            appended = refresh_model(obj.db, store)
        except StoreFull as error:
            full = full or error
        except OSError as error:  # saving the model's new version
            if error.errno != errno.ENOSPC:
                raise
            full = StoreFull(f"disk full while saving the model's new version ({error.strerror}); the articles "
                             "are stored and the model keeps its previous version")
    counts["skipped"] = len(problems)
    for problem in problems:
        click.echo(f"skipped {problem.location}: {problem.reason}", err=True)
    if full is not None:
        raise click.ClickException(f"stopped, {full}; {counts['new']} new and {counts['updated']} updated "
                                   "articles are stored whole: free some space and run the same ingest again")
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
        prune_versions(obj.db, store)
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
        "id": article.id, "headline": article.headline, "headline_derived": article.headline_derived,
        "url": article.url, "section": article.section,
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
