"""``Vocab``: tokens to ids and back, with four special tokens at fixed ids.

The ids of the specials never change, so models and the trainer may rely on them:
``<pad>`` = 0 (what padding collates write), ``<unk>`` = 1 (any token not in the
vocabulary), ``<bos>`` = 2 and ``<eos>`` = 3 (sequence start and end for generation and
decoders). Ordinary tokens follow from id 4, most frequent first; ties keep the order in
which the tokens were first seen, so building is deterministic.

>>> v = Vocab.build([["a", "b", "a"], ["c", "a", "b"]], min_freq=2)
>>> v.tokens
['<pad>', '<unk>', '<bos>', '<eos>', 'a', 'b']
>>> v.encode(["a", "c", "b"], add_bos=True, add_eos=True)
[2, 4, 1, 5, 3]
>>> v.decode([2, 4, 1, 5, 3, 0, 0])
['a', '<unk>', 'b']
>>> Vocab.from_dict(v.to_dict()) == v
True
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from os import PathLike

from .errors import DataError, read_json, write_json

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIALS = (PAD, UNK, BOS, EOS)


class Vocab:
    """A list of tokens; a token's id is its position. The first four are :data:`SPECIALS`."""

    pad_id = 0
    unk_id = 1
    bos_id = 2
    eos_id = 3

    def __init__(self, tokens: Iterable[str] = ()):
        self.tokens: list[str] = list(SPECIALS)
        self._ids: dict[str, int] = {t: i for i, t in enumerate(SPECIALS)}
        for token in tokens:
            if not isinstance(token, str):
                raise ValueError(f"tokens must be strings, got {token!r}")
            if token not in self._ids:
                self._ids[token] = len(self.tokens)
                self.tokens.append(token)

    @classmethod
    def build(
        cls,
        corpus: Iterable[Sequence[str]],
        min_freq: int = 1,
        max_size: int | None = None,
    ) -> Vocab:
        """Count tokens over ``corpus`` (an iterable of token sequences).

        Args:
            min_freq: keep tokens seen at least this often.
            max_size: at most this many tokens in all, the four specials included.
        """
        if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
            raise ValueError(f"min_freq must be a positive int, got {min_freq!r}")
        if max_size is not None and (
            isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < len(SPECIALS)
        ):
            raise ValueError(f"max_size must be None or an int >= 4, got {max_size!r}")
        if isinstance(corpus, str):
            raise ValueError("corpus must be an iterable of token sequences, got a str")
        counts: Counter[str] = Counter()
        for tokens in corpus:
            counts.update(tokens)
        # most_common sorts by count and keeps first-seen order among ties (stable sort).
        kept = [t for t, n in counts.most_common() if n >= min_freq and t not in SPECIALS]
        if max_size is not None:
            kept = kept[: max_size - len(SPECIALS)]
        return cls(kept)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._ids

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.tokens == other.tokens

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)})"

    def id(self, token: str) -> int:
        """The id of ``token``; :attr:`unk_id` when it is not in the vocabulary."""
        return self._ids.get(token, self.unk_id)

    def token(self, index: int) -> str:
        if not 0 <= index < len(self.tokens):
            raise ValueError(f"id must be in [0, {len(self.tokens)}), got {index}")
        return self.tokens[index]

    def encode(
        self, tokens: Iterable[str], add_bos: bool = False, add_eos: bool = False
    ) -> list[int]:
        ids = [self._ids.get(t, self.unk_id) for t in tokens]
        return ([self.bos_id] if add_bos else []) + ids + ([self.eos_id] if add_eos else [])

    def decode(self, ids: Iterable[int], strip_special: bool = True) -> list[str]:
        """Tokens for ``ids`` (ints or a 1-D tensor). With ``strip_special``, ``<bos>`` and
        ``<pad>`` are dropped and decoding stops at the first ``<eos>``; ``<unk>`` stays."""
        out = []
        for i in ids:
            i = int(i)
            if strip_special:
                if i == self.eos_id:
                    break
                if i in (self.pad_id, self.bos_id):
                    continue
            out.append(self.token(i))
        return out

    def to_dict(self) -> dict:
        return {"tokens": list(self.tokens)}

    @classmethod
    def from_dict(cls, data: dict, source: str = "vocab") -> Vocab:
        tokens = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise DataError("expected an object with a 'tokens' list of strings", path=source)
        if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
            raise DataError(
                f"the first tokens must be {list(SPECIALS)}, got {tokens[: len(SPECIALS)]}",
                path=source,
            )
        if len(set(tokens)) != len(tokens):
            raise DataError("tokens are not unique", path=source)
        return cls(tokens[len(SPECIALS) :])

    def save(self, path: str | PathLike) -> None:
        """Write JSON atomically (a temporary file renamed into place)."""
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | PathLike) -> Vocab:
        return cls.from_dict(read_json(path), source=str(path))
