"""Task models, one file per task shape; each ``forward(batch) -> Output(prediction, loss)``."""

from .attention_transcriber import AttentionTranscriber
from .base import TaskModel
from .classifier import ClassifierConfig, SequenceClassifier
from .crf import LinearChainCRF
from .ctc import CTCConfig, CTCTranscriber, greedy_decode, prefix_beam_search
from .encoder_config import (
    EncoderConfig,
    MLPEncoderConfig,
    RecurrentEncoderConfig,
    TCNEncoderConfig,
    WaveNetEncoderConfig,
)
from .encoders import Encoder, build_encoder
from .forecaster import Forecaster, ForecasterConfig, pinball_loss, seasonal_naive
from .inputs import InputConfig, InputLayer
from .language_model import LanguageModel, LanguageModelConfig, sample_next
from .music import MusicModel, MusicModelConfig, frame_nll_terms, limit_notes
from .output import Output
from .registry import MODELS, build_model
from .seq2seq import Decoded, Seq2Seq, Seq2SeqConfig
from .tagger import SequenceTagger, TaggerConfig

__all__ = ["Output"]
__all__ += [
    "MODELS",
    "AttentionTranscriber",
    "CTCConfig",
    "CTCTranscriber",
    "ClassifierConfig",
    "Decoded",
    "Encoder",
    "EncoderConfig",
    "Forecaster",
    "ForecasterConfig",
    "InputConfig",
    "InputLayer",
    "LanguageModel",
    "LanguageModelConfig",
    "LinearChainCRF",
    "MLPEncoderConfig",
    "MusicModel",
    "MusicModelConfig",
    "RecurrentEncoderConfig",
    "Seq2Seq",
    "Seq2SeqConfig",
    "SequenceClassifier",
    "SequenceTagger",
    "TCNEncoderConfig",
    "TaggerConfig",
    "TaskModel",
    "WaveNetEncoderConfig",
    "build_encoder",
    "build_model",
    "frame_nll_terms",
    "greedy_decode",
    "limit_notes",
    "pinball_loss",
    "prefix_beam_search",
    "sample_next",
    "seasonal_naive",
]
