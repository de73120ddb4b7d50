"""Tokenizers: text to a list of tokens, and back.

``CharTokenizer`` keeps every character (spaces and newlines included), so joining the
tokens gives the text back exactly. ``WordTokenizer`` uses :data:`WORD_PATTERN`: a run of
letters/digits/underscores, optionally with one inner apostrophe part (``don't``,
``king's``), or any single other non-space character (punctuation); whitespace is dropped.

>>> CharTokenizer()("to be")
['t', 'o', ' ', 'b', 'e']
>>> WordTokenizer(lowercase=True)("Don't stop, Horatio!")
["don't", 'stop', ',', 'horatio', '!']
"""

from __future__ import annotations

import re
from collections.abc import Sequence

WORD_PATTERN = r"\w+(?:'\w+)?|[^\w\s]"


class CharTokenizer:
    """One token per character; ``join`` is its exact inverse."""

    def __call__(self, text: str) -> list[str]:
        return list(text)

    def join(self, tokens: Sequence[str]) -> str:
        return "".join(tokens)


class WordTokenizer:
    """Words and punctuation by a regular expression (default :data:`WORD_PATTERN`)."""

    def __init__(self, lowercase: bool = False, pattern: str = WORD_PATTERN):
        try:
            self._regex = re.compile(pattern)
        except re.error as e:
            raise ValueError(f"pattern {pattern!r} is not a valid regular expression ({e})") from e
        self.lowercase = lowercase
        self.pattern = pattern

    def __call__(self, text: str) -> list[str]:
        if self.lowercase:
            text = text.lower()
        return self._regex.findall(text)

    def join(self, tokens: Sequence[str]) -> str:
        return " ".join(tokens)


def get_tokenizer(kind: str, **options) -> CharTokenizer | WordTokenizer:
    """``"char"`` or ``"word"`` (options go to :class:`WordTokenizer`)."""
    if kind == "char":
        if options:
            raise ValueError(f"the char tokenizer takes no options, got {sorted(options)}")
        return CharTokenizer()
    if kind == "word":
        return WordTokenizer(**options)
    raise ValueError(f"tokenizer must be 'char' or 'word', got {kind!r}")
