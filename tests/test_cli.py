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
                      "read_also": [{"headline": l.headline, "url": None} for l in a.read_also]}
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
