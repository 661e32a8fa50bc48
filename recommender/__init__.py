"""readalso: related-story rankings and reading lists for news publishers."""

from recommender.articles import Article, ArticleError, ReadAlsoLink

__all__ = ["Article", "ArticleError", "ReadAlsoLink"]
__version__ = "0.1.0"
