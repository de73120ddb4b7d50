"""Training: the loop, truncated BPTT, callbacks, checkpoints, metrics, data parallelism."""

from . import metrics
from .callbacks import Callback, CSVLogger, EarlyStopping, ProgressBar, TensorBoardLogger
from .checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from .config import (
    CheckpointConfig,
    ClipConfig,
    EarlyStoppingConfig,
    OptimizerConfig,
    ScheduleConfig,
    TBPTTConfig,
    TrainerConfig,
)
from .distributed import (
    DistInfo,
    all_reduce_sum,
    cleanup_distributed,
    distributed_sampler,
    init_distributed,
    is_main_process,
    launch,
)
from .metrics import Metric, make_metric
from .optim import LRSchedule, build_optimizer
from .runtime import resolve_device, seed_everything
from .step import NonFiniteError, StepResult, clip_gradients, train_step
from .tbptt import TruncatedBPTT, repackage_hidden
from .trainer import Trainer

__all__ = [
    "CSVLogger",
    "Callback",
    "Checkpoint",
    "CheckpointConfig",
    "CheckpointError",
    "ClipConfig",
    "DistInfo",
    "EarlyStopping",
    "EarlyStoppingConfig",
    "LRSchedule",
    "Metric",
    "NonFiniteError",
    "OptimizerConfig",
    "ProgressBar",
    "ScheduleConfig",
    "StepResult",
    "TBPTTConfig",
    "TensorBoardLogger",
    "Trainer",
    "TrainerConfig",
    "TruncatedBPTT",
    "all_reduce_sum",
    "build_optimizer",
    "cleanup_distributed",
    "clip_gradients",
    "distributed_sampler",
    "init_distributed",
    "is_main_process",
    "launch",
    "load_checkpoint",
    "make_metric",
    "metrics",
    "repackage_hidden",
    "resolve_device",
    "save_checkpoint",
    "seed_everything",
    "train_step",
]
