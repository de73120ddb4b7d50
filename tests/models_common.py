"""Shared helpers for the task-model tests (tests/test_models_*.py)."""

from __future__ import annotations

import io

import torch
from safetensors.torch import load, save

from seqlab.config import to_dict
from seqlab.data import Batch
from seqlab.models import EncoderConfig, build_model

ENCODERS = {
    "rnn": dict(kind="rnn"),
    "lstm": dict(kind="lstm"),
    "gru": dict(kind="gru"),
    "lstm-peephole-ln": dict(kind="lstm", peephole=True, layer_norm=True, num_layers=2),
    "bigru": dict(kind="gru", bidirectional=True),
    "bilstm-2": dict(kind="lstm", bidirectional=True, num_layers=2),
    "tcn": dict(kind="tcn", num_layers=2, kernel_size=3),
    "wavenet": dict(kind="wavenet", num_layers=3, skip_channels=6),
}


def encoder(name: str, hidden: int = 8) -> EncoderConfig:
    return EncoderConfig(hidden_size=hidden, **ENCODERS[name])


def encoder_names(causal: bool = False) -> list[str]:
    """Every encoder in ``ENCODERS`` (only the causal ones with ``causal=True``)."""
    return [n for n in ENCODERS if not (causal and n.startswith("bi"))]


def pad(seqs: list[torch.Tensor], value=0) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad 1-D (or (T, C)) tensors into (B, T[, C]) and return their lengths."""
    lengths = torch.tensor([len(s) for s in seqs])
    T = int(lengths.max())
    out = seqs[0].new_full((len(seqs), T, *seqs[0].shape[1:]), value)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = s
    return out, lengths


def roundtrip(model: torch.nn.Module) -> torch.nn.Module:
    """Save as a checkpoint would (JSON config + safetensors weights) and rebuild."""
    weights = save({k: v.contiguous() for k, v in model.state_dict().items()})
    rebuilt = build_model(model.kind, to_dict(model.config))
    rebuilt.load_state_dict(load(io.BytesIO(weights).getvalue()))
    return rebuilt.eval()


def train(model, batch: Batch, steps: int, lr: float = 1e-2) -> float:
    """Adam on one fixed batch; returns the final loss."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        loss = model(batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    model.eval()
    with torch.no_grad():
        return model(batch).loss.item()


def train_on(model, make_batch, steps: int, lr: float = 1e-2) -> None:
    """Adam on fresh generated batches, ``make_batch(step) -> Batch``."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for step in range(steps):
        opt.zero_grad()
        model(make_batch(step)).loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    model.eval()
