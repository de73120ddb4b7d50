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

from ..checks import check_bool

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
        except (re.error, TypeError) as e:
            raise ValueError(f"pattern {pattern!r} is not a valid regular expression ({e})") from e
        if self._regex.groups:  # findall would return the groups, not the tokens
            raise ValueError(
                f"pattern {pattern!r} has capturing groups; make them non-capturing: (?:...)"
            )
        self.lowercase = check_bool("lowercase", lowercase)
        self.pattern = pattern

    def __call__(self, text: str) -> list[str]:
        if not isinstance(text, str):
            raise ValueError(f"text must be a str, got {type(text).__name__}")
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
        unknown = sorted(set(options) - {"lowercase", "pattern"})
        if unknown:
            raise ValueError(f"the word tokenizer takes lowercase and pattern, got {unknown}")
        return WordTokenizer(**options)
    raise ValueError(f"tokenizer must be 'char' or 'word', got {kind!r}")
