"""The store's tables, indexes and triggers, created if missing when a store is opened."""

from __future__ import annotations

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    url TEXT,
    canonical_url TEXT,
    headline TEXT NOT NULL,
    norm_headline TEXT NOT NULL,
    body TEXT NOT NULL,
    published_at TEXT,
    section TEXT,
    language TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    headline_derived INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS articles_canonical_url ON articles(canonical_url);
CREATE INDEX IF NOT EXISTS articles_norm_headline ON articles(norm_headline);
CREATE TABLE IF NOT EXISTS read_also (
    source_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    headline TEXT NOT NULL,
    url TEXT,
    target_id TEXT,
    resolution TEXT,
    PRIMARY KEY (source_id, position)
);
CREATE INDEX IF NOT EXISTS read_also_target ON read_also(target_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS feedback (
    source_id TEXT NOT NULL,
    target_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('pin', 'block')),
    created_at TEXT NOT NULL,
    PRIMARY KEY (source_id, target_id)
);
CREATE TABLE IF NOT EXISTS related_lists (
    article_id TEXT NOT NULL,
    model_version TEXT NOT NULL,
    position INTEGER NOT NULL,
    target_id TEXT NOT NULL,
    score REAL NOT NULL,
    reason TEXT NOT NULL,
    editor_probability REAL,
    reach REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (article_id, model_version, position)
);
CREATE TABLE IF NOT EXISTS event_counts (
    day TEXT NOT NULL,
    type TEXT NOT NULL,
    article_id TEXT NOT NULL,
    target_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    model_version TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (day, type, article_id, target_id, position, model_version)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS event_counts_article ON event_counts(article_id, type);
"""

# Every change to an article, or to editors' pins and blocks, bumps meta.articles_changed, so other
# processes serving the same store notice it with one cheap read and drop cached rankings at once.
CHANGE_COUNTER = "articles_changed"
SCHEMA += "".join(f"""
CREATE TRIGGER IF NOT EXISTS {table}_changed_{action.lower()} AFTER {action} ON {table} BEGIN
    INSERT INTO meta (key, value) VALUES ('{CHANGE_COUNTER}', '1')
    ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT);
END;""" for table in ("articles", "feedback") for action in ("INSERT", "UPDATE", "DELETE"))


# The article change log: the latest write of each article, in commit order (SQLite has one writer
# at a time), so an engine syncs only what changed since the sequence number it last saw.
SCHEMA += """
CREATE TABLE IF NOT EXISTS article_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS article_changes_article ON article_changes(article_id);
""" + "".join(f"""
CREATE TRIGGER IF NOT EXISTS articles_logged_{action.lower()} AFTER {action} ON articles BEGIN
    DELETE FROM article_changes WHERE article_id = NEW.id;
    INSERT INTO article_changes (article_id) VALUES (NEW.id);
END;""" for action in ("INSERT", "UPDATE"))
