"""Everything between a user's files and a batch of tensors."""

from .batch import IGNORE_INDEX, Batch
from .collate import (
    as_tensor,
    collate_classification,
    collate_seq2seq,
    collate_tagging,
    collate_windows,
    pad_sequences,
)
from .datasets import DatasetInfo, list_datasets, load, register
from .embeddings import PretrainedVectors, load_word_vectors, one_hot
from .errors import DataError, MissingPackageError
from .music import bach_chorales, piano_roll
from .readers import (
    LabelledTexts,
    NumericSequences,
    TaggedSentences,
    TextPairs,
    TimeSeries,
    read_classification,
    read_conll,
    read_npz,
    read_parallel,
    read_text,
    read_time_series,
    read_ts,
    save_npz,
)
from .sampler import BucketSampler
from .streams import StreamChunks, batchify
from .synthetic import adding_problem, copy_memory, date_conversion, reversal
from .tokenizers import WORD_PATTERN, CharTokenizer, WordTokenizer, get_tokenizer
from .vocab import SPECIALS, Vocab
from .windows import (
    ForecastingData,
    Scaler,
    SlidingWindows,
    chronological_split,
    prepare_forecasting,
)

__all__ = [
    "IGNORE_INDEX",
    "SPECIALS",
    "WORD_PATTERN",
    "Batch",
    "BucketSampler",
    "CharTokenizer",
    "DataError",
    "DatasetInfo",
    "ForecastingData",
    "LabelledTexts",
    "MissingPackageError",
    "NumericSequences",
    "PretrainedVectors",
    "Scaler",
    "SlidingWindows",
    "StreamChunks",
    "TaggedSentences",
    "TextPairs",
    "TimeSeries",
    "Vocab",
    "WordTokenizer",
    "adding_problem",
    "as_tensor",
    "bach_chorales",
    "batchify",
    "chronological_split",
    "collate_classification",
    "collate_seq2seq",
    "collate_tagging",
    "collate_windows",
    "copy_memory",
    "date_conversion",
    "get_tokenizer",
    "list_datasets",
    "load",
    "load_word_vectors",
    "one_hot",
    "pad_sequences",
    "piano_roll",
    "prepare_forecasting",
    "read_classification",
    "read_conll",
    "read_npz",
    "read_parallel",
    "read_text",
    "read_time_series",
    "read_ts",
    "register",
    "reversal",
    "save_npz",
]
