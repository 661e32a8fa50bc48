"""Commands for the newsroom loop: suggest (a Read-also block set into a draft), sitemap (what a sitemap lists)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from recommender import versions
from recommender.articles import MAX_K
from recommender.cli.group import Context
from recommender.readers.sitemap import read_sitemap
from recommender.readers.source import decode
from recommender.writers import SHAPES


@click.command()
@click.argument("draft", type=click.File("rb"))
@click.option("--shape", type=click.Choice(SHAPES),
              help="The draft's shape, instead of telling it from the extension or the first character.")
@click.option("-k", default=5, show_default=True, type=click.IntRange(1, MAX_K),
              help="Items in the block, the editor's own included.")
@click.option("--after", type=click.IntRange(min=0), default=None, metavar="N",
              help="Set the block after paragraph N (0: before the first)  [default: where the draft's block "
                   "stands, else 2]")
@click.option("--replace", is_flag=True, help="Replace the draft's Read-also block instead of keeping its items first.")
@click.option("--section", help="Only stories of this section.")
@click.option("--max-age-days", type=click.FloatRange(min=0, min_open=True), help="Only stories at most this old.")
@click.option("--exclude", multiple=True, metavar="ID", help="Never suggest this story (repeatable).")
@click.option("--diversity", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="0 = pure relevance, 1 = maximal variety (MMR).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the draft here (may be the input file) instead of printing it.")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: the shape, the draft with its block, the block alone and each item's source.")
@click.pass_obj
def suggest(obj: Context, draft, shape, k, after, replace, section, max_age_days, exclude, diversity, output, as_json):
    """Set a Read-also block into DRAFT (a file, or - for standard input) in its own shape.

    Raw text gets a 'Read also:' line and '- headline' lines after paragraph 2, as in the
    seed article; HTML gets an <aside class="read-also"> of links; JSON (and JSON Lines,
    CSV: record by record) gets its read_also field filled. The editor's own items stay first;
    the engine fills the block up to -k, with the editors' pins and blocks for the draft's id
    applied. Running it on its own output changes nothing.

    \b
    Example:
      readalso suggest data/demo/drafts/storm-ardent-draft.txt
      readalso suggest data/demo/drafts/kestrel-draft.html --after 1 -k 3
      sed -n 1p data/demo/articles.jsonl | readalso suggest --shape json -k 3 --replace -
    """
    from recommender.ranking import Filters
    from recommender.suggest import suggest as suggest_block

    source = decode(draft.read())
    name = getattr(draft, "name", None)
    name = None if not isinstance(name, str) or name in ("-", "<stdin>") else name
    filters = Filters(section=section, max_age_days=max_age_days, exclude=frozenset(exclude))
    store, engine = versions.open_engine(obj.db)
    with store:
        result = suggest_block(engine, store, source, shape=shape, name=name, k=k, filters=filters,
                               diversity=diversity, replace=replace, after=after,
                               default_id=Path(name).stem if name else "draft")
    if as_json:
        text = json.dumps({"shape": result.shape, "document": result.document,
                           "blocks": [{"id": d.id, "block": result.block(i), "read_also": [p.to_dict() for p in picks]}
                                      for i, (d, picks) in enumerate(zip(result.drafts, result.picks))]},
                          indent=2, ensure_ascii=False) + "\n"
    else:
        text = result.document  # as the draft was: no newline added at the end
    if output is not None:
        try:
            output.write_text(result.document if not as_json else text, encoding="utf-8", newline="")
        except OSError as error:
            raise click.ClickException(f"cannot write {output}: {error.strerror or error}") from None
        return
    click.echo(text, nl=False)


@click.command()
@click.argument("sitemap_file", metavar="SITEMAP", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON Lines: url, id, published_at, title, language.")
def sitemap(sitemap_file: Path, as_json: bool):
    """List the articles a (news) sitemap names: URL, the id its saved page gets, date and title.

    Entries that cannot be read are reported with their place (sitemap.xml[3]). To load the
    saved pages it lists: readalso ingest PAGES --sitemap SITEMAP.

    \b
    Example:
      readalso sitemap data/demo/html/sitemap.xml
    """
    entries, problems = read_sitemap(sitemap_file)
    for problem in problems:
        click.echo(f"skipped {problem.location}: {problem.reason}", err=True)
    for entry in entries:
        published = entry.published_at.isoformat() if entry.published_at else None
        if as_json:
            click.echo(json.dumps({"url": entry.url, "id": entry.id, "published_at": published, "title": entry.title,
                                   "language": entry.language}, ensure_ascii=False))
        else:
            title = f"  {entry.title}" if entry.title else ""
            click.echo(f"{(published or '-')[:16]:<16}  {entry.id}  {entry.url}{title}")


COMMANDS = (suggest, sitemap)
