"""Commands that run the archive: batch, serve, evaluate."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from recommender import versions
from recommender.articles import MAX_K
from recommender.cli.group import Context
from recommender.store import Store


class _TasksOption(click.Option):
    """``--tasks``: its help names the evaluation tasks, looked up only when help is shown
    (the evaluation package imports the whole engine)."""

    def get_help_record(self, ctx):
        from recommender.evaluation import TASKS

        self.help = "Ground truth to run (repeatable; default all): " + ", ".join(TASKS) + "."
        return super().get_help_record(ctx)


@click.command()
@click.option("-k", default=10, show_default=True, type=click.IntRange(1, MAX_K), help="Stories per list.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write JSON Lines here.")
@click.option("--since", type=click.DateTime(), help="Only articles published on or after this date.")
@click.option("--ids", "ids_file", type=click.File("r", encoding="utf-8"),
              help="Only the article ids in this file, one per line (- for stdin).")
@click.option("-j", "--jobs", default=1, show_default=True, type=click.IntRange(1, None),
              help="Parallel worker processes (local joblib, or Dask workers with --dask local).")
@click.option("--dask", metavar="local|tcp://HOST:8786",
              help="Run the blocks on dask.distributed: a LocalCluster or a running scheduler.")
@click.option("--block-rows", type=click.IntRange(1, None),
              help="Articles per block [default: n / (4 jobs), 64..8192].")
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
    Dask workers load the model from the same paths: run them where those paths exist
    (--dask local, or --dask tcp://scheduler:8786 for a running cluster; pip install 'readalso[dask]').

    \b
    Example:
      readalso batch -k 10 --out related.jsonl --jobs 2
      readalso batch --since 2026-11-01
    """
    from recommender.batch import run_batch

    ids = None
    if ids_file is not None:
        ids = list(dict.fromkeys(line.strip() for line in ids_file if line.strip()))
    with Store(obj.db, create=False) as store:
        versions.refresh(obj.db, store)
    report = run_batch(versions.current(obj.db), db=obj.db, k=k, out=out, ids=ids, since=since,
                       block_rows=block_rows, n_jobs=jobs, dask=dask, work_dir=work_dir)
    click.echo(f"{report.articles} related lists for {report.model_version} in {report.seconds:.1f} s "
               f"({report.articles_per_second:.0f} articles/s; {report.computed_blocks} blocks computed, "
               f"{report.reused_blocks} reused)" + (f" -> {report.out}" if report.out else ""))


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0: all).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="gunicorn worker processes (each loads the memory-mapped model once).")
@click.option("--threads", default=16, show_default=True, type=click.IntRange(1, 256),
              help="Threads per worker: slow clients hold one each, the others keep answering.")
@click.option("--timeout", default=30, show_default=True, type=click.IntRange(1, 3600),
              help="Seconds before gunicorn restarts a worker whose main loop stopped answering.")
@click.option("--access-log/--no-access-log", default=True, show_default=True,
              help="One line per request on stdout (off when a proxy in front already logs them).")
@click.option("--debug", is_flag=True, help="Flask's development server with reloader and debugger instead.")
@click.pass_obj
def serve(obj: Context, host: str, port: int, workers: int, threads: int, timeout: int, access_log: bool,
          debug: bool):
    """Serve the JSON API, the Read-also widget and the demo page over HTTP (gunicorn).

    Write routes need READALSO_API_TOKEN; browsers on other sites need READALSO_CORS_ORIGINS
    (comma-separated origins). More settings: READALSO_* variables or a file in READALSO_CONFIG.
    On the open internet, put a buffering proxy in front (deploy/nginx.conf, docs/service.md)
    and set READALSO_TRUSTED_PROXIES=1.

    \b
    Example:
      readalso demo && READALSO_API_TOKEN=secret readalso serve --port 8001 --workers 4
      curl -s http://127.0.0.1:8001/readyz
    """
    from service.server import serve as run_gunicorn
    from service.server import serve_debug

    config = {"DB": str(obj.db)}
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    click.echo(f"readalso: serving {obj.db} on http://{shown}:{port}  demo page: http://{shown}:{port}/demo", err=True)
    if debug:
        serve_debug(config, host=host, port=port)
    else:
        run_gunicorn(config, host=host, port=port, workers=workers, threads=threads, timeout=timeout,
                     access_log=access_log)


@click.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("../shared/data"),
              show_default=True, help="Folder of the public data sets (the default is beside the checkout, "
                                      "from its top folder); tasks whose files are absent are skipped, naming them.")
@click.option("--output-dir", default="reports", show_default=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--stem", default="evaluation", show_default=True, help="File name stem of the reports.")
@click.option("--tasks", "task_names", multiple=True, metavar="TASK", cls=_TasksOption,
              help="Ground truth to run (repeatable; default all).")
@click.option("--systems", "system_names", multiple=True, metavar="SYSTEM",
              help="System to run (repeatable; default the engine, its ablations and every baseline).")
@click.option("--no-ablation", is_flag=True, help="Skip the engine-no-<signal> variants.")
@click.option("--engine-config", default="", metavar="KEY=VALUE,...",
              help="Settings of the engine under test and its ablations, e.g. expansion=5,headline_weight=0.6.")
@click.option("--max-distractors", default=20_000, show_default=True, type=click.IntRange(0))
@click.option("--demo", "demo_path", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("data/demo/articles.jsonl"), show_default=True,
              help="Demo corpus JSON Lines (the default is the checkout's, from its top folder).")
@click.option("--mind-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder with MIND news.tsv + behaviors.tsv (default <data-dir>/mind).")
@click.option("--resamples", default=1000, show_default=True, type=click.IntRange(100), help="Bootstrap resamples.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--no-plots", is_flag=True, help="Tables only.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--compare", "compared", nargs=2, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              metavar="A.json B.json", help="Print B - A for every metric, with its significance, and stop.")
def evaluate(data_dir, output_dir, stem, task_names, system_names, no_ablation, engine_config, max_distractors,
             demo_path, mind_dir, resamples, seed, no_plots, quiet, compared):
    """Rank every ground truth found with the engine and every baseline; write JSON, Markdown and HTML reports.

    Ground truths: event clusters (also among distractors), held-out editor links, headline
    similarity, MIND click logs; all but demo-links (the demo corpus's own editor links) read
    the public data sets in --data-dir. Every metric has a 95% bootstrap interval and a paired
    test against the engine. --compare tells what a change did: run once before it, once after.

    \b
    Example:
      readalso evaluate --tasks demo-links --systems engine --systems tfidf --stem before
      readalso evaluate --tasks demo-links --systems engine --systems tfidf --stem after
      readalso evaluate --compare reports/before.json reports/after.json
    """
    from recommender.engine import EngineConfig
    from recommender.evaluation import compare as compare_results
    from recommender.evaluation import run as run_evaluation

    if compared:
        click.echo(compare_results(*compared, seed=seed, n_resamples=resamples)["text"])
        return
    try:
        config = EngineConfig.parse(engine_config)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--engine-config") from None
    command = "readalso evaluate " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["evaluate"] else None
    outcome = run_evaluation(data_dir, output_dir, tasks=list(task_names) or None, systems=list(system_names) or None,
                             seed=seed, n_resamples=resamples, max_distractors=max_distractors, demo_path=demo_path,
                             mind_dir=mind_dir, ablation=not no_ablation, plots=not no_plots, progress=not quiet,
                             stem=stem, command=command, engine_config=config)
    click.echo(outcome["summary"])
    for kind, path in outcome["paths"].items():
        click.echo(f"{kind}: {path}")


COMMANDS = (batch, serve, evaluate)
