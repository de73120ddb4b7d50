"""``MusicModel``: polyphonic music as next-frame prediction over a multi-hot piano roll.

Each frame is a vector ``x_t`` in {0, 1}^K (K = 88 piano keys, :mod:`seqlab.data.music`).
Any encoder (rnn, lstm, gru, the custom cells, tcn, wavenet) reads frames ``<= t`` and a
linear head gives K logits; key ``k`` of the next frame is an independent Bernoulli with
``p = sigmoid(logit_k)`` (the RNN/TCN setting of Boulanger-Lewandowski et al. 2012 and
Bai et al. 2018, without the RBM/NADE output). The loss is the binary cross-entropy
**summed over the keys and averaged over the real frames**: the per-frame NLL in nats
that the papers report (definition in :mod:`seqlab.train.metrics.music`), so
``val_loss`` is that number, and ``Output.weight`` is the number of frames, which makes
the trainer's epoch loss the pooled mean over all frames of all pieces.

Training: ``batch.inputs`` (B, T, K) frames ``0 .. T-1`` of each piece, ``batch.targets``
(B, T, K) frames ``1 .. T`` (0/1 floats), ``batch.lengths`` the real frames.

Generation (:meth:`MusicModel.generate`) samples frame by frame and carries the state:
a recurrent encoder reads the primer in one call and then steps with its state; a TCN
or WaveNet runs its streaming path (:mod:`seqlab.nn.streaming`), so nothing is
recomputed. ``temperature`` divides the logits; ``min_notes`` / ``max_notes`` bound the
notes sounding at once (see :func:`limit_notes`).

>>> import torch
>>> from seqlab.data import Batch
>>> model = MusicModel(MusicModelConfig(keys=88, encoder=EncoderConfig(kind="gru",
...                                      hidden_size=16)))
>>> roll = (torch.rand(2, 9, 88) < 0.05).float()             # (B, T + 1, K)
>>> out = model(Batch(roll[:, :-1], targets=roll[:, 1:]))
>>> out.prediction.shape, int(out.weight)                     # logits, 2 x 8 frames
(torch.Size([2, 8, 88]), 16)
>>> model.generate(roll[0, :4], length=6, seed=0, max_notes=4).shape
torch.Size([6, 88])
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checks import check_dropout, check_float, check_int
from ..data.batch import Batch
from .base import TaskModel, without_targets
from .encoders import EncoderConfig, build_encoder
from .output import Output

__all__ = ["MusicModel", "MusicModelConfig", "frame_nll_terms", "limit_notes"]


def frame_nll_terms(logits: Tensor, targets: Tensor) -> Tensor:
    """Per-frame NLL (..., K) -> (...): ``-sum_k [y log sigmoid(l) + (1-y) log(1 -
    sigmoid(l))]``, in the stable form ``softplus(l) - y * l`` (no log of 0)."""
    return F.binary_cross_entropy_with_logits(logits, targets, reduction="none").sum(-1)


def limit_notes(frame: Tensor, probs: Tensor, min_notes: int = 0, max_notes: int | None = None):
    """A sampled frame (B, K) with between ``min_notes`` and ``max_notes`` keys on.

    Too many: the ``max_notes`` most probable of the sampled keys stay. Too few: the most
    probable silent keys are added until there are ``min_notes``. (A deterministic repair
    of the sample, not rejection sampling, so it always ends.)
    """
    K = frame.size(-1)
    count = frame.sum(-1)  # (B,)
    if max_notes is not None and bool((count > max_notes).any()):
        keep = torch.where(frame > 0, probs, -1.0).topk(max_notes, dim=-1).indices
        limited = torch.zeros_like(frame).scatter(-1, keep, 1.0)
        frame = torch.where((count > max_notes).unsqueeze(-1), limited * frame, frame)
    if min_notes > 0 and bool((count < min_notes).any()):
        top = torch.where(frame > 0, 2.0, probs).topk(min(min_notes, K), dim=-1).indices
        filled = frame.clone().scatter(-1, top, 1.0)
        frame = torch.where((frame.sum(-1) < min_notes).unsqueeze(-1), filled, frame)
    return frame


@dataclass
class MusicModelConfig:
    """``keys``: frame width (set from the data: 88 for a piano roll); ``encoder``: any
    kind (causal: a next-frame model cannot look ahead); ``dropout`` on the encoder's
    output before the head (the encoder's own ``dropout`` acts between its layers)."""

    keys: int = 88
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    dropout: float = 0.0

    def __post_init__(self):
        check_int("keys", self.keys, min=1)
        check_dropout("dropout", self.dropout)
        if self.encoder.bidirectional:
            raise ValueError("a music model predicts the next frame: bidirectional must be false")


class MusicModel(TaskModel):
    kind = "music"
    config_class = MusicModelConfig

    def __init__(self, config: MusicModelConfig):
        super().__init__()
        self.config = config
        self.encoder = build_encoder(config.encoder, config.keys)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(self.encoder.output_size, config.keys)

    def _frames(self, x: Tensor, what: str) -> Tensor:
        K = self.config.keys
        if not x.is_floating_point() or x.dim() != 3 or x.size(-1) != K:
            raise ValueError(
                f"{what} must be float piano-roll frames (B, T, {K} keys), got "
                f"{x.dtype} of shape {tuple(x.shape)}"
            )
        return x

    def forward(self, batch: Batch, state=None) -> Output:
        batch = self._check_batch(batch)
        x = self._frames(batch.inputs, "batch.inputs")
        # Pieces are independent: no state comes back for the trainer to carry into the
        # next batch (generation steps the encoder itself).
        out, _ = self.encoder(x, self._lengths(batch), state)  # (B, T, H)
        logits = self.head(self.dropout(out))  # (B, T, K)
        if batch.targets is None:
            return Output(logits)
        y = self._frames(batch.targets, "batch.targets")
        if y.shape != x.shape:
            raise ValueError(
                f"targets must have the inputs' shape {tuple(x.shape)}, got {tuple(y.shape)}"
            )
        if bool(((y != 0) & (y != 1)).any()):
            raise ValueError("targets must be 0/1 piano-roll frames (a key is on or off)")
        mask = batch.mask().to(logits.device)  # (B, T) real frames
        frames = mask.sum()
        loss = frame_nll_terms(logits, y)[mask].sum() / frames  # nats per frame
        return Output(logits, loss, weight=frames)

    def supported_metrics(self) -> tuple[str, ...]:
        return ("frame_nll", "frequency_nll", "repeat_nll", "frame_accuracy")

    def _predict(self, batch: Batch) -> dict[str, Tensor]:
        """``next_frame`` (B, K): each key's probability in the frame after each row's
        last real frame."""
        logits = self(without_targets(batch)).prediction  # (B, T, K)
        last = (batch.mask().sum(1) - 1).to(logits.device)
        rows = torch.arange(batch.size, device=logits.device)
        return {"next_frame": logits[rows, last].sigmoid()}

    # --- generation --------------------------------------------------------------------
    @torch.no_grad()
    def generate(
        self,
        prime: Tensor | None,
        length: int,
        temperature: float = 1.0,
        seed: int | None = None,
        min_notes: int = 0,
        max_notes: int | None = None,
    ) -> Tensor:
        """``length`` new frames (length, K) following ``prime`` (T0, K), frame by frame.

        ``prime=None`` starts from silence (one silent frame, not returned). Each key of
        each new frame is drawn from ``sigmoid(logit / temperature)``, then the count of
        keys on is kept in ``[min_notes, max_notes]`` (:func:`limit_notes`). ``seed``
        makes it reproducible with a private generator (the global RNG is untouched);
        without it the global RNG draws.
        """
        K = self.config.keys
        check_int("length", length, min=1)
        check_float("temperature", temperature, min=0.0, min_open=True)
        check_int("seed", seed, min=0, none=True)
        check_int("min_notes", min_notes, min=0, max=K)
        check_int("max_notes", max_notes, min=max(min_notes, 1), max=K, none=True)
        param = self.head.weight
        if prime is None:
            prime = torch.zeros(1, K)
        prime = torch.as_tensor(prime)
        if prime.dim() != 2 or prime.size(0) == 0 or prime.size(1) != K:
            raise ValueError(
                f"prime must be a piano roll (T >= 1 frames, {K} keys), got shape "
                f"{tuple(prime.shape)}"
            )
        x = prime.to(param.device, param.dtype).unsqueeze(0)  # (1, T0, K)
        generator = None  # seed=None: torch's global RNG, as LanguageModel.generate
        if seed is not None:
            generator = torch.Generator(device=param.device).manual_seed(seed)
        with self._eval_mode():
            if self.encoder.recurrent:  # the primer in one call, then carry the state
                out, state = self.encoder(x)
                stream, h = self.encoder.stream(1, state), out[:, -1]
            else:  # TCN / WaveNet: their streams keep the past in ring buffers
                stream = self.encoder.stream(1)
                for t in range(x.size(1)):
                    h = stream.step(x[:, t])
            frames = []
            for i in range(length):
                probs = torch.sigmoid(self.head(h) / temperature)  # (1, K)
                frame = torch.bernoulli(probs, generator=generator)
                frame = limit_notes(frame, probs, min_notes, max_notes)
                frames.append(frame)
                if i + 1 < length:
                    h = stream.step(frame)
        return torch.cat(frames).cpu()  # (length, K)
