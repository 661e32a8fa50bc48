"""`readalso evaluate --tasks mind` on a MIND pair whose impressions mostly reference missing news."""

import json

from click.testing import CliRunner

from recommender.cli import cli

NEWS = [["N1", "sports", "football", "Late goal wins the derby", "A striker scores.", "https://example.org/n1"],
        ["N2", "sports", "football", "Derby hero signs new deal", "The striker stays.", ""],
        ["N3", "finance", "markets", "Markets fall on rate fears", "Shares drop.", ""]]
BEHAVIORS = [["1", "U1", "11/11/2019 9:05:58 AM", "N9 N8", "N7-1 N6-0 N5-0"],  # every id missing from news.tsv
             ["2", "U2", "11/12/2019 1:00:00 PM", "N9", "N4-1 N2-0"],
             ["3", "U3", "11/12/2019 1:00:00 PM", "N1", "N7-1 N8-0"]]


def test_a_mind_pair_of_missing_news_is_reported_degenerate_not_a_nan_crash(tmp_path):
    """Used to end with 'Out of range float values are not JSON compliant: nan'."""
    mind = tmp_path / "mind"
    mind.mkdir()
    (mind / "news.tsv").write_text("".join("\t".join([*r, "[]", "[]"]) + "\n" for r in NEWS), encoding="utf-8")
    (mind / "behaviors.tsv").write_text("".join("\t".join(r) + "\n" for r in BEHAVIORS), encoding="utf-8")
    result = CliRunner().invoke(cli, ["evaluate", "--tasks", "mind", "--mind-dir", str(mind), "--systems", "tfidf",
                                      "--no-plots", "--quiet", "--resamples", "100",
                                      "--output-dir", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "no task evaluated (skipped: mind-impressions, mind-coclicks)" in result.output
    report = json.loads((tmp_path / "out" / "evaluation.json").read_text())
    assert report["tasks"] == []
    reasons = {s["name"]: s["reason"] for s in report["skipped"]}
    assert reasons["mind-impressions"].startswith("degenerate - no usable impressions")
    assert reasons["mind-coclicks"].startswith("degenerate - no usable queries")
    assert "(skipped)" in (tmp_path / "out" / "evaluation.md").read_text()
