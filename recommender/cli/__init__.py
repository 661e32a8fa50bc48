"""The ``readalso`` command line: thin wrappers around the library, one module per family of commands.

``articles`` (ingest, build, related, show, list, demo), ``editors`` (train, reading-list, pin, block),
``operations`` (batch, serve, evaluate), ``newsroom`` (suggest, sitemap).

Start-up stays fast: numpy, scipy, scikit-learn, numba and Flask are imported inside the
commands that use them, never at module level here, so ``readalso --help`` or a typo costs
no model import.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from recommender.articles import ArticleError
from recommender.store import DEFAULT_DB, SERVED_MODEL, Store, StoreError

# Domain errors of the heavy modules, by name: each can only have been raised once its module is imported.
_LAZY_USER_ERRORS = (("recommender.artifacts", "ArtifactError"), ("recommender.engine", "UnknownArticle"))


def user_errors() -> tuple[type[BaseException], ...]:
    """The exceptions shown as one-line messages rather than tracebacks."""
    lazy = tuple(getattr(sys.modules[module], name) for module, name in _LAZY_USER_ERRORS if module in sys.modules)
    return (StoreError, ArticleError, ValueError, OSError, *lazy)


def model_root(db: Path) -> Path:
    """Where the built model of a store lives: beside it, ``<name>.artifacts/``."""
    return db.with_suffix(".artifacts")


def open_engine(db: Path):
    """The store and its current model (an ``Engine``), brought up to date with articles ingested since the build."""
    from recommender import artifacts
    from recommender.sync import sync_with_store

    store = Store(db, create=False)
    engine = artifacts.load_engine(artifacts.current(model_root(db)), store)
    sync_with_store(engine, store)
    return store, engine


class _Group(click.Group):
    """Turns domain errors into one-line messages (exit 1), never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except user_errors() as error:
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
    ctx.obj = Context(db or Path(os.environ.get("READALSO_DB") or DEFAULT_DB))


def refresh_model(db: Path, store: Store) -> int:
    """After a build, vectorise newly ingested articles with the fitted vocabulary and save them into the model."""
    from recommender import artifacts
    from recommender.sync import sync_with_store

    try:
        engine = artifacts.load_engine(artifacts.current(model_root(db)), store)
    except artifacts.ArtifactError:
        return 0
    added = sync_with_store(engine, store)
    if added:
        artifacts.save_engine(engine, model_root(db))
        prune_versions(db, store)
    return added


def prune_versions(db: Path, store: Store) -> list[str]:
    """Drop old model versions: never CURRENT, the one the store says servers serve, a leased one,
    nor the newest intact ones (see ``artifacts.prune``)."""
    from recommender import artifacts

    return artifacts.prune(model_root(db), protect=(store.meta.get(SERVED_MODEL),))


def main() -> None:
    cli(prog_name="readalso")


from recommender.cli import articles, editors, newsroom, operations  # noqa: E402,F401  (registers the commands)
