"""``build_model(kind, config)``: rebuild a task model from its kind and plain-dict config.

A checkpoint stores ``model.kind`` and ``seqlab.config.to_dict(model.config)`` as JSON
next to the safetensors weights; this turns them back into a model (then
``load_state_dict``).

>>> from seqlab.config import to_dict
>>> model = build_model("forecaster", {"input_size": 1, "horizon": 4,
...                                    "encoder": {"kind": "gru", "hidden_size": 8}})
>>> type(model).__name__, to_dict(model.config)["encoder"]["kind"]
('Forecaster', 'gru')
>>> build_model("clasifier", {})
Traceback (most recent call last):
...
ValueError: unknown model kind 'clasifier'; expected one of: classifier, tagger, ...
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .attention_transcriber import AttentionTranscriber
from .base import TaskModel
from .classifier import SequenceClassifier
from .ctc import CTCTranscriber
from .forecaster import Forecaster
from .language_model import LanguageModel
from .music import MusicModel
from .seq2seq import Seq2Seq
from .tagger import SequenceTagger

__all__ = ["MODELS", "build_model"]

MODELS: dict[str, type[TaskModel]] = {
    cls.kind: cls
    for cls in (
        SequenceClassifier,
        SequenceTagger,
        LanguageModel,
        Seq2Seq,
        Forecaster,
        MusicModel,
        CTCTranscriber,
        AttentionTranscriber,
    )
}


def build_model(kind: str, config: Mapping[str, Any] | Any) -> TaskModel:
    """The model ``kind`` built from ``config`` (its config dataclass or a plain dict)."""
    if kind not in MODELS:
        raise ValueError(f"unknown model kind {kind!r}; expected one of: {', '.join(MODELS)}")
    return MODELS[kind].from_config(config)
