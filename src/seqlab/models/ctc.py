"""``CTCTranscriber``: feature frames in, a label sequence out, with no alignment given and
no attention: connectionist temporal classification (Graves et al. 2006; the
bidirectional LSTM + CTC of Graves et al. 2009 for handwriting, of Graves & Jaitly 2014
for speech).

An encoder (a bidirectional LSTM by default, any of :func:`build_encoder`'s kinds) gives
every frame a distribution over the labels plus a *blank* (id 0). An *alignment* is one
symbol per frame; the collapse map ``B`` removes repeats, then blanks (``a a - b b -> a
b``; ``a - a -> a a``). CTC maximizes ``p(y | x) = sum over alignments pi with B(pi) = y
of prod_t p(pi_t | x)``, computed by torch's ``CTCLoss`` (the forward-backward recursion
of Graves et al. 2006, eq. 6-16). A label sequence of length ``L`` with ``R`` adjacent
repeats needs at least ``L + R`` frames (a blank between equal labels); a shorter input
is an error naming the example, not an infinite loss.

Decoding:

* ``beam_size=1``: best path (greedy), the most likely symbol per frame, collapsed
  (Graves et al. 2006, sec. 3.2: not always the most likely labelling);
* ``beam_size>1``: prefix beam search (Graves 2012, sec. 7.5; Hannun et al. 2014,
  Algorithm 1): every prefix keeps two probabilities, of the alignments so far that end
  in a blank and that end in its last label, so that ``a - a`` and ``a a`` are told apart;
  the ``beam_size`` most probable prefixes survive each frame. With a beam holding every
  prefix it is exact: ``p(y | x)`` for every ``y``.

``prediction`` is the greedy labels (B, L) padded with ``-100``; ``evaluate_batch``
scores the configured decoding; ``predict`` gives ``labels``, ``lengths`` and ``scores``
(log-probabilities: of the best path for greedy, of the labelling for beam search).

>>> import torch
>>> from seqlab.data import Batch
>>> model = CTCTranscriber(CTCConfig(inputs=InputConfig(input_size=4), num_labels=5,
...     encoder=EncoderConfig(kind="lstm", hidden_size=8, bidirectional=True)))
>>> batch = Batch(torch.randn(2, 6, 4), torch.tensor([[1, 2], [3, -100]]),
...               torch.tensor([6, 4]), torch.tensor([2, 1]))
>>> out = model(batch)
>>> out.prediction.shape[0], out.loss.dim(), int(out.weight)
(2, 0, 3)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checks import check_dropout, check_int
from ..data.batch import IGNORE_INDEX, Batch
from .base import TaskModel, without_targets
from .encoders import EncoderConfig, build_encoder
from .inputs import InputConfig, InputLayer
from .output import Output

__all__ = [
    "BLANK",
    "CTCConfig",
    "CTCTranscriber",
    "Transcribed",
    "frames_needed",
    "greedy_decode",
    "prefix_beam_search",
]

BLANK = 0  # the CTC blank's label id


def _default_encoder() -> EncoderConfig:
    return EncoderConfig(kind="lstm", hidden_size=128, num_layers=2, bidirectional=True)


@dataclass
class CTCConfig:
    """``num_labels``: the blank (0) and every output label; ``beam_size``: 1 decodes the
    best path, more runs prefix beam search with that many prefixes."""

    inputs: InputConfig
    num_labels: int
    encoder: EncoderConfig = field(default_factory=_default_encoder)
    dropout: float = 0.0
    beam_size: int = 1

    def __post_init__(self):
        check_int("num_labels", self.num_labels, min=2)
        check_dropout("dropout", self.dropout)
        check_int("beam_size", self.beam_size, min=1)


class Transcribed(NamedTuple):
    """``labels`` (B, L) ids padded with -100, ``lengths`` (B,), ``scores`` (B,) log-probs."""

    labels: Tensor
    lengths: Tensor
    scores: Tensor


def frames_needed(labels: Tensor, lengths: Tensor) -> Tensor:
    """The fewest frames CTC needs to emit each row of ``labels`` (B, L): its length plus
    its adjacent repeats (each needs a blank between), ``(B,)``."""
    L = labels.size(1)
    real = torch.arange(L, device=labels.device)[None, :] < lengths[:, None]  # (B, L)
    repeats = (labels[:, 1:] == labels[:, :-1]) & real[:, 1:]
    return lengths + repeats.sum(1)


def _pad_rows(rows: list[list[int]], device=None) -> tuple[Tensor, Tensor]:
    lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
    width = max(1, max((len(r) for r in rows), default=0))
    out = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    return out.to(device), lengths


def greedy_decode(
    log_probs: Tensor, lengths: Tensor | None = None, blank: int = BLANK
) -> Transcribed:
    """Best-path decoding of ``log_probs`` (B, T, V): the argmax per frame, repeats merged,
    blanks dropped; ``scores`` are the best path's log-probabilities."""
    B, T, _ = log_probs.shape
    if lengths is None:
        lengths = torch.full((B,), T, dtype=torch.long)
    real = torch.arange(T)[None, :] < lengths.cpu()[:, None]  # (B, T)
    best, ids = log_probs.detach().cpu().max(-1)  # (B, T)
    previous = torch.cat([torch.full((B, 1), -1, dtype=ids.dtype), ids[:, :-1]], 1)
    keep = (ids != blank) & (ids != previous) & real
    rows = [ids[b][keep[b]].tolist() for b in range(B)]
    labels, n = _pad_rows(rows)
    return Transcribed(labels, n, (best * real).sum(1).double())


def _log_add(a: float, b: float) -> float:
    """``log(exp(a) + exp(b))`` without overflow."""
    if a < b:
        a, b = b, a
    return a if b == -math.inf else a + math.log1p(math.exp(b - a))


def prefix_beam_search(log_probs: Tensor, beam_size: int, blank: int = BLANK
                       ) -> list[tuple[tuple[int, ...], float]]:  # fmt: skip
    """The ``beam_size`` most probable labellings of one utterance's ``log_probs`` (T, V)
    and their log-probabilities, best first (the module doc; Hannun et al. 2014, Alg. 1).

    A prefix ``l`` keeps ``(log p_b, log p_nb)``: the alignments of frames ``1..t`` that
    collapse to ``l`` and end in a blank, or in ``l``'s last label. At frame ``t`` with
    ``p = p(. | x_t)``:

    * a blank: ``p_b(l) += (p_b + p_nb)(l) p(blank)``;
    * ``l``'s last label ``c`` again: ``p_nb(l) += p_nb(l) p(c)`` (a repeat, collapsed) and
      ``p_nb(l + c) += p_b(l) p(c)`` (after a blank, a new ``c``);
    * any other label ``c``: ``p_nb(l + c) += (p_b + p_nb)(l) p(c)``.
    """
    check_int("beam_size", beam_size, min=1)
    if log_probs.dim() != 2:
        raise ValueError(f"log_probs must be (T, V), got {tuple(log_probs.shape)}")
    lp = log_probs.detach().double().cpu().tolist()
    V = len(lp[0]) if lp else 0
    neg = -math.inf
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, neg)}
    for frame in lp:
        grown: dict[tuple[int, ...], list[float]] = {}

        def slot(prefix, _grown=grown):
            return _grown.setdefault(prefix, [neg, neg])

        for prefix, (pb, pnb) in beams.items():
            total = _log_add(pb, pnb)
            here = slot(prefix)
            here[0] = _log_add(here[0], total + frame[blank])
            last = prefix[-1] if prefix else None
            for c in range(V):
                if c == blank:
                    continue
                p = frame[c]
                if c == last:
                    here[1] = _log_add(here[1], pnb + p)
                    longer = slot((*prefix, c))
                    longer[1] = _log_add(longer[1], pb + p)
                else:
                    longer = slot((*prefix, c))
                    longer[1] = _log_add(longer[1], total + p)
        scored = [(_log_add(pb, pnb), prefix, pb, pnb) for prefix, (pb, pnb) in grown.items()]
        scored = sorted((s for s in scored if s[0] > neg), key=lambda s: s[0], reverse=True)
        beams = {
            prefix: (pb, pnb) for _, prefix, pb, pnb in scored[:beam_size]
        }  # unreachable dropped
    return [(prefix, _log_add(pb, pnb)) for prefix, (pb, pnb) in beams.items()]


class CTCTranscriber(TaskModel):
    kind = "ctc"
    config_class = CTCConfig

    def __init__(self, config: CTCConfig):
        super().__init__()
        self.config = config
        self.input = InputLayer(config.inputs)
        self.encoder = build_encoder(config.encoder, self.input.output_size)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(self.encoder.output_size, config.num_labels)

    def log_probs(self, batch: Batch) -> Tensor:
        """Per-frame log-probabilities of the blank and the labels, (B, T, num_labels)."""
        out, _ = self.encoder(self.input(batch.inputs), self._lengths(batch))
        return F.log_softmax(self.head(self.dropout(out)), dim=-1)  # (B, T, V)

    def forward(self, batch: Batch, state=None) -> Output:
        batch = self._check_batch(batch)
        lp = self.log_probs(batch)
        frames = self._frames(batch)
        pred = greedy_decode(lp, frames).labels
        if batch.targets is None:
            return Output(pred)
        targets, lengths = self._targets(batch, frames)
        return Output(pred, self._loss(lp, targets, frames, lengths), weight=lengths.sum())

    @staticmethod
    def _loss(lp: Tensor, targets: Tensor, frames: Tensor, lengths: Tensor) -> Tensor:
        """The summed ``-log p(y | x)`` over the batch / its label count: a per-label mean,
        as a language model's loss is per token."""
        nll = F.ctc_loss(lp.transpose(0, 1), targets, frames, lengths, blank=BLANK,
                         reduction="sum")  # fmt: skip
        return nll / lengths.sum().clamp(min=1)

    def _frames(self, batch: Batch) -> Tensor:
        lengths = self._lengths(batch)
        B, T = batch.inputs.shape[:2]
        return torch.full((B,), T, dtype=torch.long) if lengths is None else lengths.cpu()

    def _targets(self, batch: Batch, frames: Tensor) -> tuple[Tensor, Tensor]:
        targets = batch.targets
        if targets.dim() != 2 or targets.size(0) != batch.size or targets.is_floating_point():
            raise ValueError(
                f"targets must be (B={batch.size}, L) label ids, got {targets.dtype} of shape "
                f"{tuple(targets.shape)}"
            )
        real = targets != IGNORE_INDEX
        if batch.target_lengths is not None:
            lengths = batch.target_lengths.cpu().long()
            if lengths.shape != (batch.size,) or bool(
                ((lengths < 0) | (lengths > targets.size(1))).any()
            ):
                raise ValueError(
                    f"target_lengths must be (B={batch.size},) in [0, {targets.size(1)}], got "
                    f"{lengths.tolist()}"
                )
            real = real & (torch.arange(targets.size(1))[None, :] < lengths[:, None]).to(
                real.device
            )
        else:
            lengths = real.sum(1).cpu()
        K = self.config.num_labels
        bad = real & ((targets < 1) | (targets >= K))
        if bool(bad.any()):
            b, i = (int(v) for v in bad.nonzero()[0])
            label = int(targets[b, i])
            why = "the CTC blank, never a target" if label == BLANK else f"not in [1, {K})"
            raise ValueError(f"example {b} of the batch: target label {label} is {why}")
        targets = targets.masked_fill(~real, BLANK)
        need = frames_needed(targets.cpu(), lengths)
        short = (need > frames).nonzero()
        if len(short):
            b = int(short[0])
            raise ValueError(
                f"example {b} of the batch: {int(frames[b])} frames cannot emit its "
                f"{int(lengths[b])} labels, which need {int(need[b])} (CTC puts a blank "
                "between repeated labels): give it more frames or a shorter transcript"
            )
        return targets, lengths

    def decode(self, batch: Batch, beam_size: int | None = None) -> Transcribed:
        """Labels of each utterance by best path (``beam_size=1``) or prefix beam search."""
        return self._decode(self.log_probs(batch), self._frames(batch), beam_size)

    def _decode(self, lp: Tensor, frames: Tensor, beam_size: int | None = None) -> Transcribed:
        k = self.config.beam_size if beam_size is None else check_int("beam_size", beam_size, min=1)
        if k == 1:
            return greedy_decode(lp, frames)
        found = [prefix_beam_search(lp[b, : int(frames[b])], k)[0] for b in range(lp.size(0))]
        labels, lengths = _pad_rows([list(labels) for labels, _ in found])
        return Transcribed(
            labels, lengths, torch.tensor([s for _, s in found], dtype=torch.float64)
        )

    def evaluate_batch(self, batch: Batch, state=None) -> Output:
        """The training loss and, for the metrics, the configured decoding (of the same
        log-probabilities)."""
        batch = self._check_batch(batch)
        if self.config.beam_size == 1 or batch.targets is None:
            return self(batch)
        lp = self.log_probs(batch)
        frames = self._frames(batch)
        targets, lengths = self._targets(batch, frames)
        return Output(self._decode(lp, frames).labels, self._loss(lp, targets, frames, lengths),
                      weight=lengths.sum())  # fmt: skip

    def supported_metrics(self) -> tuple[str, ...]:
        return ("cer", "wer")

    def _predict(self, batch: Batch) -> dict[str, Tensor]:
        """``labels`` (B, L) padded with -100, ``lengths`` (B,), ``scores`` (B,)."""
        return self.decode(without_targets(batch))._asdict()
