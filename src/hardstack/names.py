"""Identifiers derived from the names people give their projects."""

from __future__ import annotations

import re
import unicodedata

# Letters that Unicode does not decompose into ASCII ones.
LETTERS = {"æ": "ae", "ø": "o", "œ": "oe", "ß": "ss", "đ": "d", "ð": "d", "þ": "th", "ł": "l", "ı": "i", "ĸ": "k"}
# Signs that join a word rather than separate two: Joe's -> joes, Q&A -> qa, "Quoted" -> quoted.
JOINERS = "'\u2019\u2018\"\u201c\u201d&"
SLUG_MAX = 50


def slugify(name: str) -> str:
    """A lowercase identifier (letters, digits, '_'; starts with a letter) for any project name:
    `Joe's "Q&A" Shop #1: Ærø` -> `joes_qa_shop_1_aero`. The same rule is cookiecutter.json's default."""
    text = "".join(LETTERS.get(ch, ch) for ch in str(name).lower())
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(f"[{re.escape(JOINERS)}]", "", text)
    text = re.sub(r"[^a-z0-9]+", "_", text).strip("_")
    if not text[:1].isalpha():
        text = f"project_{text}".rstrip("_")
    return text[:SLUG_MAX].rstrip("_")
