"""The ``readalso`` click group: the global options, and domain errors shown as one line."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from recommender.articles import ArticleError, UnknownIds
from recommender.readers import ReaderError
from recommender.store import DEFAULT_DB, StoreError
from recommender.writers import DraftError

# Domain errors of the heavy modules, by name: each can only have been raised once its module is imported.
_LAZY_USER_ERRORS = (("recommender.artifacts", "ArtifactError"), ("recommender.engine", "UnknownArticle"),
                     ("recommender.evaluation.runner", "UnknownName"),
                     ("recommender.evaluation.datasets", "DatasetMalformed"),
                     ("recommender.evaluation.report", "ReportError"))


def user_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean bad input, shown as one-line messages rather than tracebacks."""
    lazy = tuple(getattr(sys.modules[module], name) for module, name in _LAZY_USER_ERRORS if module in sys.modules)
    return (StoreError, ArticleError, UnknownIds, ReaderError, DraftError, *lazy)


class _Group(click.Group):
    """Turns domain errors into one-line messages (exit 1); anything else is a bug and keeps its traceback."""

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
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = Context(db or Path(os.environ.get("READALSO_DB") or DEFAULT_DB))
