"""Commands over the editors' model and lists: train, reading-list, pin, block."""

from __future__ import annotations

import json

import click

from recommender import versions
from recommender.articles import MAX_K
from recommender.cli.articles import EDITOR_MIX_HELP, FLOOR_HELP, ranking_config, save_model
from recommender.cli.group import Context
from recommender.links import resolve_store
from recommender.store import Store


@click.command()
@click.option("--validation-share", default=0.5, show_default=True,
              type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Newest share of linking articles validated on (rolling origin).")
@click.option("--folds", default=3, show_default=True, type=click.IntRange(1, 20),
              help="Time-ordered validation chunks, each validated by a model trained on what came before.")
@click.option("--seed", default=0, show_default=True, help="Seed for the hidden links.")
@click.option("--json", "as_json", is_flag=True, help="Print the validation report as JSON.")
@click.option("--editor-mix", type=click.FloatRange(0, 1), help=EDITOR_MIX_HELP)
@click.option("--relatedness-floor", type=click.FloatRange(0, 1), help=FLOOR_HELP)
@click.pass_obj
def train(obj: Context, validation_share: float, folds: int, seed: int, as_json: bool, editor_mix: float | None,
          relatedness_floor: float | None):
    """Learn the link model from the editors' resolved Read-also links and save a new model version.

    Models trained on older linking articles are validated on newer ones (rolling origin);
    reports recall@5 and MRR on the validation links for the model and for plain cosine. The
    model counts only as far as validation supports it (its blend weight); with too few links
    the engine stays plain TF-IDF cosine. 'readalso build' trains the same way by default.

    \b
    Example:
      readalso train --json
    """
    from recommender.engine import Engine

    config = ranking_config(editor_mix, relatedness_floor)
    with Store(obj.db, create=False) as store:
        resolve_store(store)
        articles = list(store.articles.iter_articles())
        if not articles:
            raise click.ClickException("the store holds no articles: ingest some first")
        engine = Engine(config, store).fit(articles, validation_share=validation_share, folds=folds, seed=seed)
        path = save_model(engine, obj.db)
    model = engine.model
    if as_json:
        click.echo(json.dumps({"version": path.name, "report": model.report_ if model is not None else None},
                              indent=2))
        return
    if model is None:
        click.echo(f"saved {path.name}: too few resolved links to train and validate a link model; "
                   "ranking by plain TF-IDF cosine")
        return
    report: dict = model.report_
    click.echo(f"saved {path.name}: link model from {report['links']} links of {report['sources']} articles; "
               f"validated on the links of {report['validation_queries']} newer articles in {report['folds']} folds")
    for name in ("cosine", "model"):
        cells = "  ".join(f"{metric} {report[name][metric]['mean']:.3f} ± {report[name][metric]['se']:.3f}"
                          for metric in ("recall@5", "mrr"))
        click.echo(f"  {name:<7} {cells}")
    click.echo(f"  blend weight {model.blend_:.2f} (best on validation {report['best_blend']:.2f}, "
               f"paired t {report['t']})")


@click.command("reading-list")
@click.option("--story", "story_id", metavar="ID", help="Catch up on the developing story of this article.")
@click.option("--history", "history", metavar="ID...",
              help="What to read next after these articles (space- or comma-separated).")
@click.argument("more_history", nargs=-1)
@click.option("--minutes", type=click.FloatRange(min=0, min_open=True), help="Time budget from reading times.")
@click.option("-k", default=10, show_default=True, type=click.IntRange(1, MAX_K), help="At most this many (--history).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def reading_list(obj: Context, story_id, history, more_history, minutes, k, as_json):
    """A reading list: a developing story in time order (--story) or what to read next (--history).

    \b
    Example:
      readalso reading-list --story storm-ardent-02 --minutes 10
      readalso reading-list --history storm-ardent-01 rates-02 --json
    """
    from recommender.reading_list import history_list, story_list

    if bool(story_id) == bool(history):
        raise click.UsageError("give either --story ID or --history ID...")
    store, engine = versions.open_engine(obj.db)
    with store:
        if story_id:
            result = story_list(engine, story_id, minutes=minutes)
        else:
            ids = [i for part in (history, *more_history) for i in part.replace(",", " ").split()]
            if not ids:
                raise click.UsageError("--history needs at least one article id")
            result = history_list(engine, ids, minutes=minutes, k=k)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        return
    if not result.items:
        click.echo("nothing to read")
    for item in result.items:
        mark = "  <- latest" if item.latest else ""
        when = (item.published_at or "-")[:16]
        click.echo(f"{when:<16}  {item.minutes:>4.1f} min  {item.headline}  [{item.id}]{mark}")
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
                found = store.feedback.remove(source, target, kind)
                click.echo(f"removed {kind} {source} -> {target}" if found else f"no {kind} {source} -> {target}")
            else:
                store.feedback.set(source, target, kind)
                done = "pinned" if kind == "pin" else "blocked"
                click.echo(f"{done} {target} {'to' if kind == 'pin' else 'from'} {source}'s list")
    return command


pin = click.command("pin", help="""Pin story TARGET to article SOURCE's related list (shown first, in pin order).

Honoured by 'related', the service and batch scoring.

\b
Example:
  readalso pin storm-ardent-02 storm-ardent-05
  readalso pin storm-ardent-02 storm-ardent-05 --remove
""")(_feedback_command("pin"))
block = click.command("block", help="""Never show story TARGET in article SOURCE's lists (related and reading lists).

\b
Example:
  readalso block storm-ardent-02 rovers-03
  readalso block storm-ardent-02 rovers-03 --remove
""")(_feedback_command("block"))


COMMANDS = (train, reading_list, pin, block)
