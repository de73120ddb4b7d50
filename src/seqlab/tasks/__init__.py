"""Task pipelines: from a run config's ``data:`` section to loaders, model sizes and
metric facts, and from new inputs to rows of predictions (see :mod:`.base`)."""

from .base import DataSource, Splits, Task
from .classification import ClassificationData, ClassificationTask
from .forecasting import ForecastingData, ForecastingTask
from .language_model import LanguageModelData, LanguageModelTask
from .music import MusicData, MusicTask
from .seq2seq import Seq2SeqData, Seq2SeqTask
from .tagging import TaggingData, TaggingTask
from .transcription import TranscriptionData, TranscriptionTask
from .transcription_attention import AttentionTranscriptionTask

TASKS: dict[str, type[Task]] = {
    cls.name: cls
    for cls in (
        ClassificationTask,
        TaggingTask,
        LanguageModelTask,
        Seq2SeqTask,
        ForecastingTask,
        MusicTask,
        TranscriptionTask,
        AttentionTranscriptionTask,
    )
}

__all__ = [
    "TASKS",
    "AttentionTranscriptionTask",
    "ClassificationData",
    "ClassificationTask",
    "DataSource",
    "ForecastingData",
    "ForecastingTask",
    "LanguageModelData",
    "LanguageModelTask",
    "MusicData",
    "MusicTask",
    "Seq2SeqData",
    "Seq2SeqTask",
    "Splits",
    "TaggingData",
    "TaggingTask",
    "Task",
    "TranscriptionData",
    "TranscriptionTask",
]
