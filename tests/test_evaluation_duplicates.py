"""Duplicate-aware evaluation: wire copies count as one story (hand-computed)."""

from datetime import UTC, datetime

from recommender.articles import Article
from recommender.evaluation import metrics as m
from recommender.evaluation.datasets import duplicate_groups
from recommender.evaluation.harness import merge_duplicates


def test_merge_duplicates_counts_each_story_once():
    groups = {"q": "Q", "q-copy": "Q", "a": "A", "a-copy": "A", "b": "B", "x": "X"}
    grades = {"q-copy": 2, "a": 2, "a-copy": 2, "b": 1}
    ranked = ["a", "a-copy", "q-copy", "b", "x"]
    stories, story_grades = merge_duplicates(ranked, grades, "q", groups)
    # the second copy of A and the copy of the query itself earn nothing
    assert stories == ["A", "copy:a-copy", "copy:q-copy", "B", "X"]
    assert story_grades == {"A": 2, "B": 1}
    # nDCG@5 by hand: DCG = (2^2-1)/log2(2) + (2^1-1)/log2(5) = 3 + 0.43068 = 3.43068
    # ideal = 3/log2(2) + 1/log2(3) = 3 + 0.63093 = 3.63093
    assert abs(m.ndcg_at_k(stories, story_grades, 5) - 3.43068 / 3.63093) < 1e-4
    # AP over stories {A, B}: hits at ranks 1 and 4 -> (1/1 + 2/4) / 2 = 0.75
    assert m.average_precision(stories, {"A", "B"}) == 0.75


def test_duplicate_groups_join_reprints_only():
    when = datetime(2026, 1, 1, tzinfo=UTC)
    body = "Erie smashes its snowfall record with flakes still falling on the lake shore towns."
    articles = [
        Article(id="ap", headline="Erie smashes snowfall record", body=body, published_at=when),
        Article(id="reprint", headline="Erie Smashes Snowfall Record", body=body, published_at=when),
        Article(id="other", headline="Storm closes schools", body="Schools closed as a storm hit the region.",
                published_at=when),
    ]
    groups = duplicate_groups(articles)
    assert groups["ap"] == groups["reprint"] != groups["other"]
