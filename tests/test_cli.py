"""The readalso command line through click's CliRunner."""

import json

import pytest
from click.testing import CliRunner

from recommender.cli import cli


def write_jsonl(path, articles, rename=None):
    rename = rename or {}
    with open(path, "w", encoding="utf-8") as handle:
        for a in articles:
            record = {"id": a.id, "url": a.url, "headline": a.headline, "body": a.body, "section": a.section,
                      "published_at": a.published_at.isoformat(),
                      "read_also": [{"headline": link.headline, "url": None} for link in a.read_also]}
            handle.write(json.dumps({rename.get(k, k): v for k, v in record.items()}) + "\n")


@pytest.fixture
def run(tmp_path):
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(cli, ["--db", str(tmp_path / "store.db"), *args], input=input, catch_exceptions=False)

    return invoke


def test_ingest_build_related_show(run, tmp_path, corpus):
    write_jsonl(tmp_path / "a.jsonl", corpus)
    result = run("ingest", str(tmp_path / "a.jsonl"))
    assert result.exit_code == 0, result.output
    assert "9 new, 0 updated, 0 unchanged, 0 skipped; links: 6 resolved, 0 unresolved" in result.output
    assert "9 unchanged" in run("ingest", str(tmp_path / "a.jsonl")).output
    assert run("build").exit_code == 0
    result = run("related", "storm-1", "-k", "2", "--json")
    ranking = json.loads(result.output)
    assert [r["id"][:5] for r in ranking] == ["storm", "storm"]
    assert {"id", "headline", "score", "reason", "url", "section", "published_at"} <= set(ranking[0])
    table = run("related", "storm-1", "-k", "2").output
    assert "Storm Ardent" in table
    shown = json.loads(run("show", "storm-2", "--json").output)
    assert shown["read_also"] == [{"headline": corpus[0].headline, "url": None, "target_id": "storm-1",
                                   "resolution": "headline"}]


def test_related_for_unseen_text_from_stdin(run, tmp_path, corpus):
    write_jsonl(tmp_path / "a.jsonl", corpus)
    run("ingest", str(tmp_path / "a.jsonl"))
    run("build")
    result = run("related", "--text", "-", "--json", input="Mayor wins the recount\nThe council vote was close.")
    assert json.loads(result.output)[0]["id"].startswith("election")


def test_ingest_after_build_is_recommendable_at_once(run, tmp_path, corpus):
    write_jsonl(tmp_path / "a.jsonl", corpus[:8])
    write_jsonl(tmp_path / "b.jsonl", corpus[8:])
    run("ingest", str(tmp_path / "a.jsonl"))
    run("build")
    assert "1 added to the model" in run("ingest", str(tmp_path / "b.jsonl")).output
    assert "chips-3" in [r["id"] for r in json.loads(run("related", "chips-1", "--json").output)]


def test_field_mapping_and_bad_lines_are_reported(run, tmp_path, corpus):
    path = tmp_path / "mapped.jsonl"
    write_jsonl(path, corpus[:2], rename={"headline": "title", "body": "text"})
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("{not json\n")
    result = run("ingest", str(path), "--map", "headline=title,body=text")  # output holds stdout and stderr
    assert result.exit_code == 0
    assert "2 new" in result.output and "1 skipped" in result.output
    assert "skipped " in result.output and "mapped.jsonl:3" in result.output


@pytest.mark.parametrize("args, message", [
    (("related", "nope"), "no store"),
    (("show", "nope"), "no store"),
    (("ingest", "missing.jsonl"), "no such file"),
    (("ingest", "x.jsonl", "--map", "headline"), "target=source"),
])
def test_user_errors_exit_non_zero_with_one_line(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "fresh" / "x.db"), *args])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_unknown_id_after_build(run, tmp_path, corpus):
    write_jsonl(tmp_path / "a.jsonl", corpus)
    run("ingest", str(tmp_path / "a.jsonl"))
    run("build")
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "store.db"), "related", "nope"])
    assert result.exit_code == 1 and "unknown article id 'nope'" in result.output


def test_every_command_has_help():
    for name, command in cli.commands.items():
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0 and command.help and len(command.help.strip()) > 20, name


def test_related_text_file_with_header(run, tmp_path, corpus):
    write_jsonl(tmp_path / "a.jsonl", corpus)
    run("ingest", str(tmp_path / "a.jsonl"))
    run("build")
    draft = tmp_path / "draft.txt"
    draft.write_text("headline: Chip plant output grows\n\nVeltrix wafer production and silicon orders.\n")
    result = run("related", "--text", str(draft), "--json", "-k", "1")
    assert json.loads(result.output)[0]["id"].startswith("chips")


def test_evaluate_and_compare_on_the_demo_corpus(tmp_path):
    runner = CliRunner()
    out = tmp_path / "reports"
    result = runner.invoke(cli, ["evaluate", "--tasks", "demo-links", "--systems", "engine", "--systems", "tfidf",
                                 "--no-plots", "--quiet", "--resamples", "200", "--output-dir", str(out)])
    assert result.exit_code == 0, result.output
    assert "demo-links" in result.output and (out / "evaluation.json").exists()
    compared = runner.invoke(cli, ["evaluate", "--compare", str(out / "evaluation.json"), str(out / "evaluation.json")])
    assert compared.exit_code == 0 and "ndcg@10" in compared.output


def test_ingest_names_the_ids_it_created_and_updated(run, tmp_path, corpus):
    write_jsonl(tmp_path / "a.jsonl", corpus)
    text = run("ingest", str(tmp_path / "a.jsonl")).output
    assert "new: storm-1, storm-2, storm-3, election-1" in text
    changed = [a.with_links(()) if a.id == "chips-2" else a for a in corpus]
    write_jsonl(tmp_path / "a.jsonl", changed)
    summary = json.loads(run("ingest", str(tmp_path / "a.jsonl"), "--json").output)
    assert summary["counts"] == {"new": 0, "updated": 1, "unchanged": 8, "skipped": 0}
    assert summary["updated"] == ["chips-2"] and summary["new"] == []
    assert sorted(summary["unchanged"]) == sorted(a.id for a in corpus if a.id != "chips-2")
    assert summary["links"] == {"resolved": 5, "unresolved": 0}


def test_list_filters_by_section_dates_and_links(run, tmp_path, corpus):
    write_jsonl(tmp_path / "a.jsonl", corpus)
    run("ingest", str(tmp_path / "a.jsonl"))
    rows = json.loads(run("list", "--json").output)
    assert [r["id"] for r in rows] == [a.id for a in sorted(corpus, key=lambda a: a.published_at)]
    assert {r["id"]: (r["links"], r["resolved"], r["inbound"]) for r in rows}["storm-1"] == (0, 0, 2)
    assert {r["id"]: (r["links"], r["resolved"], r["inbound"]) for r in rows}["storm-2"] == (1, 1, 0)
    climate = json.loads(run("list", "--section", "climate", "--json").output)
    assert [r["id"] for r in climate] == ["storm-1", "storm-2", "storm-3"]
    # one article a day from 2026-10-01: the 2nd to the 4th, whole days inclusive
    dated = json.loads(run("list", "--since", "2026-10-02", "--until", "2026-10-04", "--json").output)
    assert [r["id"] for r in dated] == ["storm-2", "storm-3", "election-1"]
    linked = json.loads(run("list", "--has-links", "--json").output)
    assert {r["id"] for r in linked} == {a.id for a in corpus if a.read_also}
    unlinked = json.loads(run("list", "--no-links", "-n", "2", "--json").output)
    assert [r["id"] for r in unlinked] == ["storm-1", "election-1"]
    table = run("list", "--section", "politics").output.splitlines()
    assert table[0].split() == ["id", "published", "section", "links", "in", "headline"]
    assert table[1].startswith("election-1") and table[-1] == "3 articles"
    assert run("list", "--section", "nowhere").output.strip() == "no articles match"


def test_html_pages_get_slug_ids_that_never_overwrite_another_url(run, tmp_path):
    page = """<html><head><link rel="canonical" href="https://news.example/{section}/flood-barrier-fails">
    <meta property="og:title" content="{headline}"></head><body><article><p>{body}</p></article></body></html>"""
    (tmp_path / "a.html").write_text(page.format(section="climate", headline="Flood barrier fails",
                                                 body="The barrier failed at dawn."))
    (tmp_path / "b.html").write_text(page.format(section="sport", headline="Club's flood barrier fails",
                                                 body="The stadium flooded."))
    first = json.loads(run("ingest", str(tmp_path / "a.html"), "--json").output)
    assert first["new"] == ["flood-barrier-fails"]
    second = json.loads(run("ingest", str(tmp_path / "b.html"), "--json").output)
    (other,) = second["new"]
    assert other.startswith("flood-barrier-fails-") and len(other) == len("flood-barrier-fails-") + 6
    again = json.loads(run("ingest", str(tmp_path / "a.html"), str(tmp_path / "b.html"), "--json").output)
    assert again["unchanged"] == ["flood-barrier-fails", other]


def test_start_up_imports_no_heavy_library():
    """``readalso --help`` must stay fast: the engine's libraries load inside the commands only."""
    import subprocess
    import sys

    code = ("import sys, recommender.cli; "
            "print([m for m in ('sklearn', 'scipy', 'numba', 'flask', 'numpy') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
