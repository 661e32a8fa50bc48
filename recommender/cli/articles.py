"""Commands over articles: ingest, build, related, show, demo."""

from __future__ import annotations

import dataclasses
import errno
import json
import sys
from dataclasses import replace
from pathlib import Path

import click
from tqdm import tqdm

from recommender import versions
from recommender.articles import MAX_K, ArticleError, canonical_url
from recommender.cli.group import Context
from recommender.links import resolve_store
from recommender.readers import FORMATS, Problem, ReaderError, parse_mapping, read_path
from recommender.readers.fields import unique_slug_id
from recommender.readers.sitemap import SitemapMatcher, read_sitemap
from recommender.readers.text import parse as parse_text
from recommender.store import Store, StoreFull

SHOWN_IDS = 20  # ids per status in the text summary; --json lists them all


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "format_", type=click.Choice(FORMATS), help="Force a reader instead of the file extension.")
@click.option("--map", "mapping", default="", metavar="TARGET=SOURCE,...",
              help="Rename source fields, e.g. headline=title,body=text.")
@click.option("--sitemap", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A (news) sitemap.xml: read only the saved pages it lists, with its URLs and dates.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the summary as JSON: counts, the ids new/updated/unchanged, skipped records, links.")
@click.pass_obj
def ingest(obj: Context, paths: tuple[Path, ...], format_: str | None, mapping: str, sitemap: Path | None = None,
           as_json: bool = False):
    """Load articles (JSON Lines, CSV, raw text, HTML, RSS/Atom feeds; files or folders) into the store.

    Idempotent: articles are matched by id (two ids with one URL are reported, not merged). A
    bad record is reported with its file:line (a feed item with its place, feed.rss[3]) and
    skipped; the others still load. Each article is written with its links in one transaction,
    so a full disk or a kill leaves every article whole or absent: run the same ingest again to
    finish. The summary names the ids created and updated (all of them with --json). With
    --sitemap, saved pages are matched to the sitemap's entries (canonical URL, file name,
    headline); pages it does not list are skipped.

    \b
    Example:
      readalso ingest data/demo/html --json
      readalso ingest data/examples/wire.csv \\
        --map id=article_id,headline=title,body=text,published_at=publish_date,url=article_source_link
      readalso ingest data/demo/feeds/newsroom.rss
      readalso ingest data/demo/html --sitemap data/demo/html/sitemap.xml
    """
    try:
        fields = parse_mapping(mapping)
    except ReaderError as error:
        raise click.BadParameter(str(error), param_hint="--map") from None
    for path in paths:
        if not path.exists():
            raise click.ClickException(f"no such file or folder: {path}")
    matcher = None
    problems: list[Problem] = []
    if sitemap is not None:
        entries, sitemap_problems = read_sitemap(sitemap)
        matcher = SitemapMatcher(entries)
        problems.extend(sitemap_problems)
    ids: dict[str, list[str]] = {"new": [], "updated": [], "unchanged": []}
    full: StoreFull | None = None
    with Store(obj.db) as store:
        try:
            for path in paths:
                items = read_path(path, format=format_, mapping=fields)
                for item in tqdm(matcher.match(items) if matcher is not None else items, desc=f"ingest {path.name}",
                                 unit=" articles", disable=None, file=sys.stderr):
                    if isinstance(item, Problem):
                        problems.append(item)
                        continue
                    try:
                        article = _distinct_slug_id(store, item.article) if item.id_from_url else item.article
                        status, article_id = store.articles.upsert(article)
                    except StoreFull as error:
                        full = StoreFull(f"{item.location}: {error}")
                        raise
                    except ArticleError as error:
                        problems.append(Problem(item.location, str(error)))
                        continue
                    ids[status].append(article_id)
            links = resolve_store(store)
            appended = versions.refresh(obj.db, store)
        except StoreFull as error:
            full = full or error
        except OSError as error:  # saving the model's new version
            if error.errno != errno.ENOSPC:
                raise click.ClickException(f"cannot save the model's new version ({error.strerror or error}); "
                                           "the articles are stored and the model keeps its previous version") from None
            full = StoreFull(f"disk full while saving the model's new version ({error.strerror}); the articles "
                             "are stored and the model keeps its previous version")
    counts = {**{status: len(found) for status, found in ids.items()}, "skipped": len(problems)}
    for problem in problems if not as_json else ():
        click.echo(f"skipped {problem.location}: {problem.reason}", err=True)
    if full is not None:
        raise click.ClickException(f"stopped, {full}; {counts['new']} new and {counts['updated']} updated "
                                   "articles are stored whole: free some space and run the same ingest again")
    if as_json:
        click.echo(json.dumps({"counts": counts, **ids,
                               "skipped": [{"location": p.location, "reason": p.reason} for p in problems],
                               "links": {"resolved": links["resolved"], "unresolved": links["unresolved"]},
                               "added_to_model": appended,
                               **({"sitemap": {"entries": len(matcher.entries), "matched": len(matcher.matched),
                                               "unmatched": len(matcher.unmatched)}} if matcher is not None else {})},
                              indent=2, ensure_ascii=False))
        return
    for status in ("new", "updated"):
        if ids[status]:
            shown = ", ".join(ids[status][:SHOWN_IDS])
            more = len(ids[status]) - SHOWN_IDS
            click.echo(f"{status}: {shown}" + (f" ... and {more} more (--json lists all)" if more > 0 else ""))
    click.echo(", ".join(f"{n} {what}" for what, n in counts.items()) +
               f"; links: {links['resolved']} resolved, {links['unresolved']} unresolved" +
               (f"; {appended} added to the model" if appended else ""))
    if matcher is not None:
        click.echo(f"sitemap: {len(matcher.entries)} entries, {len(matcher.matched)} matched to saved pages, "
                   f"{len(matcher.unmatched)} without one")


EDITOR_MIX_HELP = ("Share of each list the link model may fill with stories below the relatedness floor "
                   "(editors' style picks) [default: 0, none: editors' taste only orders related stories].")
FLOOR_HELP = "A story is related when its relatedness reaches this share of the best candidate's [default: 0.7]."


def ranking_config(editor_mix: float | None, relatedness_floor: float | None):
    """The engine's configuration with the options given on the command line."""
    from recommender.engine import EngineConfig

    config = EngineConfig()
    if editor_mix is not None:
        config = replace(config, editor_mix=editor_mix)
    if relatedness_floor is not None:
        config = replace(config, relatedness_floor=relatedness_floor)
    return config


def save_model(engine, db: Path) -> Path:
    """Save ``engine`` as a new version of the store's model; a file-system failure is one line, not a traceback."""
    from recommender.artifacts import save_engine

    root = versions.model_root(db)
    try:
        return save_engine(engine, root)
    except OSError as error:
        raise click.ClickException(f"cannot save the model under {root}: {error.strerror or error}") from None


def _distinct_slug_id(store: Store, article):
    """An id a reader made from a URL slug, unless another URL's article already holds it."""
    holder = store.articles.summaries([article.id]).get(article.id)
    if holder is None or canonical_url(holder["url"]) == article.canonical_url:
        return article
    return dataclasses.replace(article, id=unique_slug_id(article.id, article.url))


@click.command()
@click.option("--editor-mix", type=click.FloatRange(0, 1), help=EDITOR_MIX_HELP)
@click.option("--relatedness-floor", type=click.FloatRange(0, 1), help=FLOOR_HELP)
@click.pass_obj
def build(obj: Context, editor_mix: float | None, relatedness_floor: float | None):
    """Fit the TF-IDF model and index from every stored article and save a new artifact version.

    Every article vector is blended with its 8 nearest articles (neighbour expansion). With enough
    resolved Read-also links the link model is learned too (as 'readalso train' does); it orders
    the related stories, and fills at most --editor-mix of a list with anything else.

    \b
    Example:
      readalso ingest data/demo/text && readalso build
      readalso build --editor-mix 0.2
    """
    from recommender.engine import Engine

    with Store(obj.db, create=False) as store:
        if not store.articles.count():
            raise click.ClickException("the store holds no articles: ingest some first")
        resolve_store(store)
        engine = Engine(ranking_config(editor_mix, relatedness_floor), store).fit(store.articles.iter_articles())
        path = save_model(engine, obj.db)
        versions.prune(obj.db, store)
    click.echo(f"built {path.name}: {len(engine.index)} articles, {len(engine.vectorizer.vocabulary_)} terms -> {path}")


@click.command()
@click.argument("article_id", required=False)
@click.option("--text", "text_file", type=click.File("r", encoding="utf-8"), help="Rank for unseen text (FILE or -).")
@click.option("-k", default=5, show_default=True, type=click.IntRange(1, MAX_K), help="How many stories.")
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
      readalso related --text data/examples/draft.txt --section climate
      echo "Flood barriers fail in the delta" | readalso related --text -
    """
    if bool(article_id) == bool(text_file):
        raise click.UsageError("give either an ARTICLE_ID or --text FILE")
    from recommender.ranking import Filters

    filters = Filters(section=section, max_age_days=max_age_days, exclude=frozenset(exclude))
    store, engine = versions.open_engine(obj.db)
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
    rows = [{**articles[r.id].to_dict(summary=True), "score": r.score, "editor_probability": r.editor_probability,
             "reason": r.reason} for r in ranking]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no related stories")
    for rank, row in enumerate(rows, 1):
        click.echo(f"{rank:>2}. {row['score']:.3f}  {row['headline']}  [{row['id']}]")
        click.echo(f"           {row['reason']}")


@click.command()
@click.argument("article_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def show(obj: Context, article_id: str, as_json: bool):
    """Show a stored article as the engine sees it: fields, body and its resolved Read-also links.

    \b
    Example:
      readalso show kestrel-05
      readalso show storm-ardent-03 --json
    """
    with Store(obj.db, create=False) as store:
        article = store.articles.get(article_id)
    if article is None:
        raise click.ClickException(f"unknown article id {article_id!r}")
    record = {**article.to_dict(), "headline_derived": article.headline_derived,
              "reading_minutes": round(article.reading_minutes, 1),
              "read_also": [{"headline": link.headline, "url": link.url, "target_id": link.target_id,
                             "resolution": link.resolution} for link in article.read_also]}
    if as_json:
        click.echo(json.dumps(record, indent=2, ensure_ascii=False))
        return
    click.echo(f"{article.headline}\n{article.id} | {article.section or '-'} | {record['published_at'] or '-'} | "
               f"{article.url or '-'}\n")
    click.echo(article.body)
    for link in article.read_also:
        target = f"-> {link.target_id} ({link.resolution})" if link.target_id else "(unresolved)"
        click.echo(f"  read also: {link.headline} {target}")


DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]


@click.command("list")
@click.option("--section", help="Only articles of this section.")
@click.option("--since", type=click.DateTime(DATE_FORMATS), help="Only articles published on or after this time (UTC).")
@click.option("--until", type=click.DateTime(DATE_FORMATS),
              help="Only articles published on or before this time (UTC; a date alone means the whole day).")
@click.option("--has-links/--no-links", "has_links", default=None,
              help="Only articles that carry Read-also links (or only those that carry none).")
@click.option("-n", "--limit", type=click.IntRange(1, None), help="At most this many (oldest first).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def list_articles(obj: Context, section, since, until, has_links, limit, as_json):
    """List stored articles, oldest first: id, date, section, Read-also links carried and received, headline.

    \b
    Example:
      readalso list --section climate
      readalso list --since 2026-11-01 --until 2026-11-10 --has-links --json
    """
    if until is not None and (until.hour, until.minute, until.second) == (0, 0, 0):
        until = until.replace(hour=23, minute=59, second=59, microsecond=999999)
    with Store(obj.db, create=False) as store:
        rows = store.articles.listing(section=section, since=since, until=until, has_links=has_links, limit=limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no articles match")
        return
    width = max(len("id"), *(len(row["id"]) for row in rows))
    # links: Read-also items this article carries (resolved/all); in: links from other articles to it
    click.echo(f"{'id':<{width}}  {'published':<10}  {'section':<11}  {'links':>5}  {'in':>3}  headline")
    for row in rows:
        links = f"{row['resolved']}/{row['links']}" if row["links"] else "-"
        click.echo(f"{row['id']:<{width}}  {(row['published_at'] or '-')[:10]:<10}  {(row['section'] or '-'):<11}"
                   f"  {links:>5}  {row['inbound'] or '-':>3}  {row['headline']}")
    click.echo(f"{len(rows)} articles")


@click.command()
@click.option("--corpus", type=click.Path(exists=True, file_okay=False, path_type=Path), default=Path("data/demo"),
              show_default=True, help="Demo corpus folder (the default is the checkout's, from its top folder).")
@click.option("-k", default=4, show_default=True, type=click.IntRange(1, MAX_K))
@click.pass_context
def demo(ctx: click.Context, corpus: Path, k: int):
    """Ingest the demo corpus, build the model and print related stories for a few articles.

    \b
    Example:
      readalso demo -k 3
    """
    sources = [p for p in (corpus / "text", corpus / "html") if p.exists()]
    if not sources:
        raise click.ClickException(f"no demo articles under {corpus}")
    ctx.invoke(ingest, paths=tuple(sources), format_=None, mapping="", as_json=False)
    ctx.invoke(build)
    store, engine = versions.open_engine(ctx.obj.db)
    with store:
        linked = store.links.inbound_counts()
        examples = [max(linked, key=linked.get)] if linked else []
        examples += [a.id for a in store.articles.iter_articles()][-2:]
        for article_id in dict.fromkeys(examples):
            article = store.articles.get(article_id)
            click.echo(f"\n== {article.headline}  [{article.id}, {article.section}]")
            ranking = engine.related(article_id, k)
            headlines = engine.articles(r.id for r in ranking)
            for rank, r in enumerate(ranking, 1):
                click.echo(f"  {rank}. {r.score:.3f}  {headlines[r.id].headline}  ({r.reason})")


COMMANDS = (ingest, build, related, show, list_articles, demo)
