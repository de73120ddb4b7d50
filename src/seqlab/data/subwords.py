"""Subword vocabularies: BPE (Sennrich et al. 2016) or unigram (Kudo 2018), trained on the
training split with Hugging Face ``tokenizers`` (``pip install tokenizers``, the
``subwords`` extra).

Words are split at spaces with the Metaspace convention (a word's first piece carries
``▁``, SentencePiece's marker), so :meth:`Subwords.text` gives the text back exactly,
spaces and punctuation where they were: that is the detokenizer BLEU is computed on. The
four special tokens come first, at :class:`~seqlab.data.Vocab`'s ids (``<pad>`` 0,
``<unk>`` 1, ``<bos>`` 2, ``<eos>`` 3), so models see the same ids as with char and word
vocabularies. A trained model is its ``tokenizers`` JSON (:meth:`to_json`), saved as its
own file next to the weights and read back with ``Tokenizer.from_str``: no pickle.

>>> sw = Subwords.train(["the cat sat", "the cat ran", "a hat"] * 20, "bpe", vocab_size=40)
>>> sw.vocab.tokens[:4]
['<pad>', '<unk>', '<bos>', '<eos>']
>>> sw.text(sw.ids("the hat sat, the cat ran."))
'the hat sat<unk> the cat ran<unk>'
>>> Subwords.from_json(sw.to_json()).ids("the cat") == sw.ids("the cat")
True
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .errors import DataError
from .vocab import SPECIALS, UNK, Vocab

__all__ = ["SUBWORD_KINDS", "Subwords"]

SUBWORD_KINDS = ("bpe", "unigram")
INSTALL = "subword vocabularies need Hugging Face tokenizers: pip install tokenizers"


def _tokenizers():
    try:
        import tokenizers
    except ImportError as e:
        raise DataError(INSTALL) from e
    return tokenizers


class Subwords:
    """A trained subword tokenizer: text -> ids -> text, with a :class:`Vocab` of its pieces."""

    def __init__(self, tokenizer: Any, kind: str, lowercase: bool = False):
        self.tokenizer = tokenizer
        self.kind = kind
        self.lowercase = lowercase
        size = tokenizer.get_vocab_size()
        pieces = [tokenizer.id_to_token(i) for i in range(size)]
        if tuple(pieces[:4]) != SPECIALS:
            raise DataError(
                f"a subword model must start with the special tokens {list(SPECIALS)}, "
                f"got {pieces[:4]}"
            )
        self.vocab = Vocab(pieces[4:])
        if len(self.vocab) != size:
            raise DataError(f"a subword model lists a piece twice ({size} ids)")

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        kind: str = "bpe",
        vocab_size: int = 8000,
        min_freq: int = 2,
        lowercase: bool = False,
    ) -> Subwords:
        """Learn ``vocab_size`` pieces (specials included) from ``texts``."""
        if kind not in SUBWORD_KINDS:
            raise ValueError(f"subword kind must be one of {SUBWORD_KINDS}, got {kind!r}")
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 8:
            raise ValueError(f"subword vocab_size must be an int >= 8, got {vocab_size!r}")
        tk = _tokenizers()
        if kind == "bpe":
            model = tk.models.BPE(unk_token=UNK)
            trainer = tk.trainers.BpeTrainer(
                vocab_size=vocab_size, min_frequency=min_freq, special_tokens=list(SPECIALS),
                show_progress=False,
            )  # fmt: skip
        else:
            model = tk.models.Unigram()
            trainer = tk.trainers.UnigramTrainer(
                vocab_size=vocab_size, special_tokens=list(SPECIALS), unk_token=UNK,
                show_progress=False,
            )  # fmt: skip
        tokenizer = tk.Tokenizer(model)
        normalizers = [tk.normalizers.NFKC()]
        if lowercase:
            normalizers.append(tk.normalizers.Lowercase())
        tokenizer.normalizer = tk.normalizers.Sequence(normalizers)
        tokenizer.pre_tokenizer = tk.pre_tokenizers.Metaspace()
        tokenizer.decoder = tk.decoders.Metaspace()
        texts = list(texts)
        if not any(t.strip() for t in texts):
            raise DataError("cannot train a subword vocabulary on empty texts")
        tokenizer.train_from_iterator(texts, trainer=trainer)
        return cls(tokenizer, kind, lowercase)

    def ids(self, text: str, max_length: int | None = None) -> list[int]:
        if not isinstance(text, str):
            raise ValueError(f"text must be a str, got {type(text).__name__}")
        ids = self.tokenizer.encode(text, add_special_tokens=False).ids
        return ids if max_length is None else ids[:max_length]

    def text(self, ids: Sequence[int]) -> str:
        """The text of ``ids``, cut at the first ``<eos>``; ``<pad>``/``<bos>`` dropped,
        ``<unk>`` shown."""
        kept = []
        for i in ids:
            if i == Vocab.eos_id:
                break
            if i not in (Vocab.pad_id, Vocab.bos_id):
                kept.append(int(i))
        return self.tokenizer.decode(kept, skip_special_tokens=False).replace(
            f" {UNK}", UNK
        )  # Metaspace puts no space before a piece it did not prefix

    # --- saving: the tokenizers JSON, its own file ---------------------------------------
    def to_json(self) -> dict[str, Any]:
        return json.loads(self.tokenizer.to_str())

    @classmethod
    def from_json(
        cls, data: Mapping[str, Any], kind: str = "bpe", lowercase: bool = False, source: str = ""
    ) -> Subwords:
        tk = _tokenizers()
        try:
            tokenizer = tk.Tokenizer.from_str(json.dumps(data))
        except Exception as e:  # tokenizers raises its own Exception type
            raise DataError(f"{source or 'subword model'}: not a tokenizers model ({e})") from e
        return cls(tokenizer, kind, lowercase)
