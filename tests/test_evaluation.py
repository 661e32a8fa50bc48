"""Loaders (MIND on files written here, shared data when present), harness, reports and compare."""

import json
from pathlib import Path

import pytest

from recommender.articles import ReadAlsoLink
from recommender.evaluation import compare, datasets, harness, report, run
from recommender.evaluation.baselines import PlainTfidfRanker, RandomRanker
from recommender.evaluation.mind import load_mind, read_mind_behaviors, read_mind_news
from recommender.evaluation.runner import DEFAULT_DATA_DIR
from tests.test_evaluation_rankers import planted_corpus

NEWS_TSV = [
    ["N1", "sports", "football", "Late goal wins the derby", "A striker scores in the last minute.",
     "https://example.org/n1", "[]", "[]"],
    ["N2", "sports", "football", "Derby hero signs new deal", "The striker stays at the club.",
     "https://example.org/n2", "[]", "[]"],
    ["N3", "finance", "markets", "Markets fall on rate fears", "Shares drop as rates rise.", "", "[]", "[]"],
    ["N4", "finance", "markets", "Central bank raises rates", "Rates go up again.", "", "[]", "[]"],
    ["N5", "weather", "storms", "Storm hits the coast", "Winds and rain.", "", "[]", "[]"],
]
BEHAVIORS_TSV = [
    ["1", "U1", "11/11/2019 9:05:58 AM", "N1", "N2-1 N3-0 N5-0"],
    ["2", "U2", "11/12/2019 1:00:00 PM", "N3", "N4-1 N2-0"],
    ["3", "U1", "11/13/2019 8:00:00 AM", "N1 N2", "N4-0 N5-1"],
    ["4", "U3", "11/13/2019 8:30:00 AM", "", "N1-1 N3-0"],  # no history: not scorable
    ["5", "U4", "11/14/2019 8:30:00 AM", "N2", "N1 N3"],  # test split: no labels
]


@pytest.fixture
def mind_dir(tmp_path):
    (tmp_path / "news.tsv").write_text("".join("\t".join(r) + "\n" for r in NEWS_TSV), encoding="utf-8")
    (tmp_path / "behaviors.tsv").write_text("".join("\t".join(r) + "\n" for r in BEHAVIORS_TSV), encoding="utf-8")
    return tmp_path


def test_mind_news_and_behaviors_columns(mind_dir):
    news = read_mind_news(mind_dir / "news.tsv")
    assert [a.id for a in news] == ["N1", "N2", "N3", "N4", "N5"]
    assert news[0].headline == "Late goal wins the derby" and news[0].body.startswith("A striker")
    assert news[0].section == "sports" and news[0].url == "https://example.org/n1"
    impressions = read_mind_behaviors(mind_dir / "behaviors.tsv")
    assert len(impressions) == 4  # the unlabelled test-split row is skipped
    first = impressions[0]
    assert (first.user, first.history, first.candidates, first.labels) == ("U1", ("N1",), ("N2", "N3", "N5"), (1, 0, 0))
    assert first.time.hour == 9 and impressions[1].time.hour == 13


def test_mind_tasks(mind_dir):
    impressions, coclicks = load_mind(mind_dir)
    assert [i.id for i in impressions.impressions] == ["1", "2", "3"]  # #4 has no history
    # co-clicks: U1 clicked N2 after N1, then N5 after N1 N2; U2 N4 after N3; U3 clicked N1 with no history
    assert coclicks.relevance["N1"] == {"N2": 1, "N5": 1}
    assert coclicks.relevance["N3"] == {"N4": 1}
    assert coclicks.popularity == {"N2": 1, "N4": 1, "N5": 1, "N1": 1}


def test_mind_impressions_scored(mind_dir):
    impressions, _ = load_mind(mind_dir)
    result = harness.evaluate_impressions(impressions, {"tfidf": PlainTfidfRanker(), "random": RandomRanker()},
                                          reference="tfidf", progress=False, n_resamples=50)
    tfidf = result["systems"]["tfidf"]["metrics"]
    # impression 1: N2 shares "derby"/"striker" with N1 -> clicked item first; 2: N4 shares "rates" with N3
    assert tfidf["auc"]["mean"] >= 0.66 and tfidf["mrr"]["mean"] >= 0.66
    assert set(result["paired"]["random"]) == {"auc", "mrr", "ndcg@5", "ndcg@10"}


def test_mind_missing_is_a_clear_skip(tmp_path):
    with pytest.raises(datasets.DatasetMissing, match=r"news.tsv"):
        load_mind(tmp_path)


def _planted_task():
    articles = planted_corpus()
    relevance = {a.id: {b.id: 1 for b in articles if b.id != a.id and b.id.split("-")[0] == a.id.split("-")[0]}
                 for a in articles}
    return datasets.RetrievalTask(name="planted", description="three planted stories", articles=tuple(articles),
                                  relevance=relevance)


def test_harness_on_planted_corpus():
    result = harness.evaluate_retrieval(_planted_task(), {"tfidf": PlainTfidfRanker(), "random": RandomRanker()},
                                        reference="tfidf", ks=(1, 3), depth=5, progress=False, n_resamples=100)
    tfidf = result["systems"]["tfidf"]
    assert result["n_queries"] == 12
    assert tfidf["metrics"]["p@3"]["mean"] == 1.0 and tfidf["metrics"]["ndcg@3"]["mean"] == 1.0
    assert tfidf["metrics"]["map"]["mean"] == 1.0
    assert result["systems"]["random"]["metrics"]["p@3"]["mean"] < 1.0
    assert len(tfidf["per_query"]["ndcg@3"]) == 12
    assert result["paired"]["random"]["p@3"]["diff"] < 0


def test_hold_out_links_hides_and_keeps():
    articles = planted_corpus()
    two = articles[0].with_links((*articles[0].read_also, ReadAlsoLink(headline="b", target_id="budget-0")))
    task = datasets.hold_out_links([two, *articles[1:]], fraction=0.5, seed=0)
    hidden = task.relevance["flood-0"]
    assert len(hidden) == 1  # round(0.5 * 2) of the two links
    visible = {link.target_id for link in task.articles[0].read_also}
    assert visible.isdisjoint(hidden) and len(visible) == 1
    # the 11 single-link articles hide their one link (at least one is always hidden): 1 visible link left
    assert task.popularity == {next(iter(visible)): 1} and task.n_events == 1


def test_strip_marker_with_different_punctuation():
    body = "Before.- READ MORE: Ayatollah Khamenei - Donald Trump shows real face of US As previous talks showed."
    stripped = datasets.strip_marker(body, "Ayatollah Khamenei: Donald Trump shows real face of US")
    assert stripped == "Before.- As previous talks showed."


def test_demo_loader_resolves_by_headline(tmp_path):
    rows = [{"id": f"d{i}", "headline": f"Story number {i}", "body": "text", "published_at": f"2024-01-0{i + 1}",
             "read_also": [{"headline": f"Story number {(i + 1) % 3}"}]} for i in range(3)]
    path = tmp_path / "articles.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    task = datasets.load_demo_links(path, fraction=1.0)
    assert task.relevance == {"d0": {"d1": 1}, "d1": {"d2": 1}, "d2": {"d0": 1}}


def _results():
    task = _planted_task()
    result = harness.evaluate_retrieval(task, {"tfidf": PlainTfidfRanker(), "random": RandomRanker()},
                                        reference="tfidf", ks=(1, 3, 5, 10), depth=5, progress=False, n_resamples=50)
    sts = datasets.SimilarityTask(name="sts", description="pairs", pairs=(
        ("river flood rescue", "flood rescue on the river", 4.5), ("budget tax vote", "tax vote in parliament", 3.0),
        ("football goal", "budget deficit", 0.2), ("storm rain", "heavy rain storm", 4.0)))
    similarity = harness.evaluate_similarity(sts, {"tfidf": PlainTfidfRanker(), "random": RandomRanker()},
                                             reference="tfidf", progress=False, n_resamples=50)
    assert "random" not in similarity["systems"]  # no text similarity: skipped
    return {"created": "now", "command": "test", "settings": {"seed": 0}, "tasks": [result, similarity],
            "skipped": [{"name": "mind", "reason": "data not found"}]}


def test_reports_written(tmp_path):
    paths = report.write_reports(_results(), tmp_path)
    html = Path(paths["html"]).read_text(encoding="utf-8")
    assert '<img alt=' in html and "src='data:image/png;base64," in html
    assert "http://" not in html and "https://" not in html  # self-contained
    markdown = Path(paths["markdown"]).read_text(encoding="utf-8")
    assert "| tfidf |" in markdown and "mind (skipped)" in markdown
    loaded = json.loads(Path(paths["json"]).read_text(encoding="utf-8"))
    assert loaded["tasks"][0]["systems"]["tfidf"]["metrics"]["p@3"]["mean"] == 1.0
    assert loaded["tasks"][0]["systems"]["tfidf"]["metrics"]["p@5"]["mean"] == pytest.approx(0.6)
    line = report.summary_line(loaded)
    assert "\n" not in line and "planted nDCG@10 tfidf 1.000" in line and "skipped: mind" in line


def test_compare_prints_differences(tmp_path):
    results = _results()
    a = report.write_json(results, tmp_path / "a.json")
    worse = json.loads(json.dumps(results))
    worse["tasks"][0]["systems"]["tfidf"]["per_query"]["p@5"] = [0.0] * 12
    worse["tasks"][0]["systems"]["tfidf"]["metrics"]["p@5"]["mean"] = 0.0
    b = report.write_json(worse, tmp_path / "b.json")
    outcome = compare(a, b, n_resamples=50)
    row = next(r for r in outcome["rows"] if r["system"] == "tfidf" and r["metric"] == "p@5")
    assert row["diff"] == pytest.approx(-0.6) and row["p"] < 0.01  # p@5 was 3/5 for every query
    assert "planted tfidf p@5" in outcome["text"] and "***" in outcome["text"]
    assert any(r["metric"] == "spearman" and r["diff"] == 0 for r in outcome["rows"])


def test_run_skips_missing_data(tmp_path):
    outcome = run(data_dir=tmp_path / "nothing", output_dir=tmp_path / "out", systems=["tfidf"], progress=False,
                  tasks=["news-events", "mind"], plots=False)
    assert [s["name"] for s in outcome["results"]["skipped"]] == ["news-events", "mind"]
    assert "no file" in outcome["results"]["skipped"][0]["reason"]
    assert Path(outcome["paths"]["html"]).is_file()


# --- shared data (skipped when absent) ---------------------------------------------------------

def _shared(folder: str) -> Path:
    path = DEFAULT_DATA_DIR / folder
    if not path.is_dir():
        pytest.skip(f"shared data set {folder!r} not found at {path}")
    return DEFAULT_DATA_DIR


def test_news_events_loader_on_shared_data():
    task = datasets.load_news_events(_shared("news-events"))
    assert len(task.articles) == 383
    assert len(task.query_ids) == 378  # 5 singleton events have no relevant article
    query = task.query_ids[0]
    assert set(task.relevance[query].values()) <= {1, 2} and task.relevant(query)


def test_readmore_loader_on_shared_data():
    task = datasets.load_news_readmore(_shared("news-readmore"))
    by_id = {a.id: a for a in task.articles}
    assert len(task.query_ids) >= 30
    for query, hidden in task.relevance.items():
        for target in hidden:  # the hidden headline is neither a visible link nor left in the body
            assert target not in {link.target_id for link in by_id[query].read_also}
            assert by_id[target].headline not in by_id[query].body


def test_sts_loader_on_shared_data():
    task = datasets.load_sts_headlines(_shared("sts-headlines"))
    assert len(task.pairs) == 1999 + 250
    assert all(0 <= score <= 5 for _, _, score in task.pairs)
