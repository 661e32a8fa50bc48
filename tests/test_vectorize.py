"""The tokenizer and the field-weighted TF-IDF vectorizer."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from recommender.articles import Article
from recommender.tokenize import singular, tokenize
from recommender.vectorize import FieldVectorizer


def test_tokenize_english_drops_stop_words_and_plurals():
    assert tokenize("The missiles were launched over the countries") == ["missile", "launched", "country"]
    assert singular("launches") == "launch" and singular("news") == "new" and singular("crisis") == "crisis"


def test_tokenize_other_languages_keeps_their_words():
    assert tokenize("Die Länder und der Bund", "de") == ["die", "länder", "und", "der", "bund"]
    assert tokenize("東京で地震", "ja") == ["東京", "京で", "で地", "地震"]


def test_vectors_are_unit_length_float32(corpus):
    vectorizer = FieldVectorizer().fit(corpus)
    matrix = vectorizer.transform(corpus)
    assert matrix.dtype == np.float32
    np.testing.assert_allclose(np.sqrt(matrix.multiply(matrix).sum(axis=1)).A1, 1.0, rtol=1e-5)


def test_headline_weight_changes_the_vector(corpus):
    plain = FieldVectorizer(weights={"headline": 0.0, "lead": 0.0}).fit(corpus).transform(corpus[:1])
    headline = FieldVectorizer(weights={"headline": 3.0}).fit(corpus).transform(corpus[:1])
    assert abs(plain - headline).sum() > 0.1


def test_state_round_trip_gives_identical_vectors(corpus):
    vectorizer = FieldVectorizer().fit(corpus)
    params, arrays = vectorizer.get_state()
    again = FieldVectorizer.from_state(params, arrays)
    assert (vectorizer.transform(corpus) != again.transform(corpus)).nnz == 0


def test_unfitted_vectorizer_refuses():
    with pytest.raises(NotFittedError):
        FieldVectorizer().transform([Article(id="a", headline="x")])


def test_unknown_words_give_an_empty_vector(corpus):
    vectorizer = FieldVectorizer().fit(corpus)
    assert vectorizer.transform_text("zzzz qqqq").nnz == 0


def test_small_corpus_keeps_every_term_and_says_so(caplog):
    small = [Article(id=f"a{i}", headline=f"harbour crane {i}", body=f"crane strike day {i}") for i in range(5)]
    vectorizer = FieldVectorizer(min_df=2, max_df=0.5).fit(small)
    assert (vectorizer.min_df_, vectorizer.max_df_) == (1, 1.0)
    assert (vectorizer.min_df, vectorizer.max_df) == (2, 0.5)
    assert "every term is kept" in caplog.text
    words = ["kestrel", "granite", "lantern", "meadow", "orchard"]
    large = [Article(id=f"b{i}", headline=f"{words[i % 5]} report", body=f"{words[i % 5]} {words[(i + 1) % 5]} news")
             for i in range(20)]
    caplog.clear()
    fitted = FieldVectorizer(min_df=2, max_df=0.5).fit(large)
    assert (fitted.min_df_, fitted.max_df_) == (2, 0.5) and not caplog.text
