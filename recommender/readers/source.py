"""Reading a source file's text: UTF-8, byte-order mark skipped, invalid bytes replaced.

A file with invalid UTF-8 is still read (each bad byte becomes U+FFFD, so one stray byte
does not cost a whole archive); a warning names the file once.
"""

from __future__ import annotations

import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def decode(data: bytes) -> str:
    """UTF-8 without a byte-order mark; invalid bytes become U+FFFD."""
    return data.decode("utf-8-sig", errors="replace")


def read_text(path: Path) -> str:
    data = path.read_bytes()
    text = decode(data)
    if text.count("\ufffd") > data.count("\ufffd".encode("utf-8")):
        logger.warning("%s: invalid UTF-8 bytes replaced with U+FFFD", path)
    return text
