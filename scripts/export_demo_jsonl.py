"""Export the demo corpus's text articles to JSON Lines.

    .venv/bin/python scripts/export_demo_jsonl.py            # data/demo -> data/demo/articles.jsonl

Reads ``<demo>/text/*.txt`` with the project's own readers (``recommender.readers.read_path``),
so the Read-also block and the newsroom boilerplate line are kept out of ``body`` exactly as
the engine sees them. Each Read-also item gets the ``url`` of the demo article whose headline
it names (text and HTML pages both count as the corpus), or ``null`` when no demo article has
that headline. One line per text article, ordered by publication time then id; a reader
problem or a duplicate id stops the export.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from recommender.articles import normalise_headline
from recommender.readers import Problem, read_path

ROOT = Path(__file__).resolve().parent.parent


def read_articles(path: Path) -> list:
    articles, problems = [], []
    for item in read_path(path):
        (problems if isinstance(item, Problem) else articles).append(item)
    if problems:
        details = "\n".join(f"  {p.location}: {p.reason}" for p in problems)
        raise SystemExit(f"cannot read {path}:\n{details}")
    return [record.article for record in articles]


def export(demo: Path, out: Path) -> int:
    texts = read_articles(demo / "text")
    pages = read_articles(demo / "html") if (demo / "html").is_dir() else []
    ids = [article.id for article in texts]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise SystemExit(f"duplicate ids in {demo / 'text'}: {', '.join(duplicates)}")
    url_of = {normalise_headline(article.headline): article.url for article in texts + pages}
    texts.sort(key=lambda article: (article.published_at, article.id))
    with out.open("w", encoding="utf-8") as stream:
        for article in texts:
            record = {
                "id": article.id,
                "url": article.url,
                "headline": article.headline,
                "body": article.body,
                "published_at": article.published_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "section": article.section,
                "language": article.language,
                "read_also": [{"headline": link.headline, "url": url_of.get(normalise_headline(link.headline))}
                              for link in article.read_also],
            }
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(texts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo", type=Path, default=ROOT / "data" / "demo", help="the demo corpus directory")
    parser.add_argument("--out", type=Path, default=None, help="output file (default: <demo>/articles.jsonl)")
    args = parser.parse_args(argv)
    out = args.out or args.demo / "articles.jsonl"
    count = export(args.demo, out)
    print(f"wrote {count} articles to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
