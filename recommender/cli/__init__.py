"""The ``readalso`` command line: thin wrappers around the library, one module per family of commands.

``articles`` (ingest, build, related, show, list, demo), ``editors`` (train, reading-list, pin, block),
``operations`` (batch, serve, evaluate), ``newsroom`` (suggest, sitemap); :mod:`.group` holds the
click group they are assembled into here.

Imports sit at the top of each module, except that numpy, scipy, scikit-learn, numba, Flask, pandas,
matplotlib, dask, BeautifulSoup and feedparser, and the library modules that import them, are imported
inside the commands that use them, so that ``readalso --help`` or a typo costs no model import.
"""

from __future__ import annotations

from recommender.cli import articles, editors, newsroom, operations
from recommender.cli.group import cli

__all__ = ["cli", "main"]

for command in (*articles.COMMANDS, *editors.COMMANDS, *newsroom.COMMANDS, *operations.COMMANDS):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="readalso")
