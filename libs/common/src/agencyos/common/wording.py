"""Small helpers for the words in messages people read."""

from __future__ import annotations


def with_article(word: str) -> str:
    """`word` after its indefinite article: "an admin", "a member", "an approved ..."

    By the first letter, which suits the role, status and scope names messages are built
    from (none starts with a silent consonant or a "you" sound)."""
    article = "an" if word[:1].lower() in ("a", "e", "i", "o", "u") else "a"
    return f"{article} {word}"
