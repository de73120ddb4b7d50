"""Truncated BPTT: the state is carried in value, cut in gradient, and it learns what a
reset-every-chunk baseline cannot."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seqlab.data import Batch
from seqlab.models import Output
from seqlab.nn import GRU, LSTM
from seqlab.train import Trainer, TrainerConfig, TruncatedBPTT, repackage_hidden
from seqlab.train.metrics import Accuracy


class StreamTagger(nn.Module):
    """A stateful many-to-many model: one class per step, state in and out."""

    def __init__(self, input_size=3, hidden=16, classes=2, cell=LSTM):
        super().__init__()
        self.rnn = cell(input_size, hidden)
        self.head = nn.Linear(hidden, classes)

    def forward(self, batch: Batch, state=None) -> Output:
        out, state = self.rnn(batch.inputs, state)  # (B, T, H)
        logits = self.head(out)  # (B, T, classes)
        loss = F.cross_entropy(logits.flatten(0, 1), batch.targets.flatten())
        return Output(logits, loss, state)


class ResetEveryChunk(nn.Module):
    """The baseline: the same model, but every chunk starts from a zero state."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, batch: Batch, state=None) -> Output:
        out = self.inner(batch)
        return Output(out.prediction, out.loss, out.state)


def chunks(inputs: torch.Tensor, targets: torch.Tensor, k: int) -> list[Batch]:
    """Cut (B, N, ...) parallel streams into consecutive chunks of k steps, in order."""
    return [Batch(inputs[:, i : i + k], targets[:, i : i + k]) for i in range(0, inputs.size(1), k)]


def latch_streams(B: int, N: int, p: float, seed: int):
    """The latch (flip-flop) task: input symbols noise / set-0 / set-1 (one-hot, (B, N, 3));
    the target at every step is the bit of the latest set symbol. Set symbols are rare, so
    the latest one usually lies in an earlier chunk: only a carried state knows it."""
    g = torch.Generator().manual_seed(seed)
    event = torch.rand(B, N, generator=g) < p
    bit = torch.randint(0, 2, (B, N), generator=g)
    symbols = torch.where(event, 1 + bit, torch.zeros_like(bit))  # 0 noise, 1 set-0, 2 set-1
    symbols[:, 0] = 1 + bit[:, 0]  # every stream starts with a set symbol
    targets = torch.empty(B, N, dtype=torch.long)
    latched = torch.zeros(B, dtype=torch.long)
    for t in range(N):
        latched = torch.where(symbols[:, t] > 0, symbols[:, t] - 1, latched)
        targets[:, t] = latched
    return F.one_hot(symbols, 3).float(), targets


def test_repackage_hidden_keeps_values_and_drops_history():
    h = torch.randn(1, 2, 3, requires_grad=True)
    state = {"lstm": (h * 2, h + 1), "cache": [h.sum(0)]}
    out = repackage_hidden(state)
    assert not out["lstm"][0].requires_grad and not out["cache"][0].requires_grad
    torch.testing.assert_close(out["lstm"][1], h + 1)
    assert repackage_hidden(None) is None
    with pytest.raises(TypeError, match="cannot detach a recurrent state of type str"):
        repackage_hidden("h")


def _input_grads(backprop_chunks: int, n_chunks: int = 3, k: int = 4):
    torch.manual_seed(0)
    model = StreamTagger(cell=GRU)
    x = torch.randn(2, n_chunks * k, 3)
    y = torch.randint(0, 2, (2, n_chunks * k))
    parts = [
        Batch(x[:, i : i + k].clone().requires_grad_(), y[:, i : i + k])
        for i in range(0, x.size(1), k)
    ]
    tbptt = TruncatedBPTT(backprop_chunks)
    for part in parts:
        out = tbptt.forward(model, part)
    out.loss.backward()  # the loss of the last chunk only
    return [p.inputs.grad for p in parts], out, tbptt


def test_gradient_reaches_back_exactly_backprop_chunks():
    grads, _, tbptt = _input_grads(backprop_chunks=1)
    assert grads[0] is None and grads[1] is None  # cut at the chunk boundary
    assert grads[2].abs().sum() > 0
    assert not tbptt.state.requires_grad
    grads, _, _ = _input_grads(backprop_chunks=2)  # k2 = 2 k1 (Williams & Peng)
    assert grads[0] is None
    assert grads[1].abs().sum() > 0 and grads[2].abs().sum() > 0


def test_carried_state_equals_one_pass_over_the_whole_stream():
    """The values flow through: chunked outputs equal an unbroken forward pass."""
    torch.manual_seed(1)
    model = StreamTagger()
    x, y = latch_streams(3, 20, 0.2, seed=0)
    whole = model(Batch(x, y)).prediction
    tbptt = TruncatedBPTT()
    parts = [tbptt.forward(model, c).prediction for c in chunks(x, y, 6)]
    torch.testing.assert_close(torch.cat(parts, 1), whole, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backprop_chunks", [1, 2])
def test_reset_every_starts_the_streams_again_on_schedule(backprop_chunks):
    """reset_every=2: chunks 0-1 are one pass over their steps, chunks 2-3 another one
    from the initial state, and so on; the gradient never crosses a reset."""
    torch.manual_seed(2)
    model = StreamTagger()
    x, y = latch_streams(3, 30, 0.2, seed=0)
    parts = chunks(x, y, 5)  # 6 chunks
    tbptt = TruncatedBPTT(backprop_chunks, reset_every=2)
    got = [tbptt.forward(model, c).prediction for c in parts]
    for start in (0, 10, 20):  # each pair of chunks read from a zero state
        fresh = model(Batch(x[:, start : start + 10], y[:, start : start + 10])).prediction
        k = start // 5
        torch.testing.assert_close(torch.cat(got[k : k + 2], 1), fresh, rtol=1e-5, atol=1e-6)
    # the window after a reset holds only the chunks since it
    inputs = [Batch(c.inputs.clone().requires_grad_(), c.targets) for c in parts[:3]]
    tbptt = TruncatedBPTT(2, reset_every=2)
    for c in inputs:
        out = tbptt.forward(model, c)
    out.loss.backward()
    assert inputs[1].inputs.grad is None and inputs[2].inputs.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="reset_every must be >= 1, got 0"):
        TruncatedBPTT(1, reset_every=0)
    with pytest.raises(ValueError, match="reset_every"):
        TrainerConfig(tbptt={"stateful": True, "reset_every": 0})


def test_model_without_state_gives_a_clear_error():
    class Stateless(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Linear(3, 2)

        def forward(self, batch, state=None):
            return Output(self.w(batch.inputs), self.w(batch.inputs).mean())

    with pytest.raises(ValueError, match=r"returned Output\.state=None"):
        TruncatedBPTT().forward(Stateless(), Batch(torch.randn(1, 2, 3)))
    with pytest.raises(ValueError, match="backprop_chunks must be >= 1, got 0"):
        TruncatedBPTT(0)


def _train_latch(model: nn.Module, backprop_chunks: int = 1) -> float:
    k = 10
    train = chunks(*latch_streams(16, 1000, 0.05, seed=1), k)
    val = chunks(*latch_streams(16, 500, 0.05, seed=2), k)
    cfg = TrainerConfig(epochs=4, optimizer={"lr": 2e-2}, tbptt={"stateful": True, "backprop_chunks": backprop_chunks}, clip={"norm": 1.0},
                        progress=False, seed=0)  # fmt: skip
    history = Trainer(model, cfg, metrics=[Accuracy()]).fit(train, val)
    return history[-1]["val_accuracy"]


def test_carried_state_learns_memory_across_chunks_that_reset_cannot():
    # p = 0.05, chunks of 10: at a chunk's first step the latest set symbol lies in an
    # earlier chunk ~60% of the time, so a model that starts every chunk from zero can
    # only guess there; over all steps it stays near 0.75, the carried state near 1.
    torch.manual_seed(2)
    carried = _train_latch(StreamTagger())
    torch.manual_seed(2)
    reset = _train_latch(ResetEveryChunk(StreamTagger()))
    assert carried >= 0.97
    assert reset <= 0.85
    assert carried - reset >= 0.12


def test_k2_longer_than_k1_also_learns_the_latch():
    torch.manual_seed(3)
    assert _train_latch(StreamTagger(), backprop_chunks=2) >= 0.97


class StreamingConv(nn.Module):
    """A causal dilated convolution (TCN-style) trained statefully through its streaming
    cache: the state is the last (kernel - 1) * dilation inputs, (B, C, 4) here."""

    def __init__(self, channels=3, kernel=3, dilation=2):
        super().__init__()
        self.context = (kernel - 1) * dilation
        self.conv = nn.Conv1d(channels, 2, kernel, dilation=dilation)

    def forward(self, batch: Batch, state=None) -> Output:
        x = batch.inputs.transpose(1, 2)  # (B, C, T)
        if state is None:
            state = x.new_zeros(x.size(0), x.size(1), self.context)  # causal zero padding
        x = torch.cat([state, x], 2)  # (B, C, context + T)
        logits = self.conv(x).transpose(1, 2)  # (B, T, 2)
        loss = F.cross_entropy(logits.flatten(0, 1), batch.targets.flatten())
        return Output(logits, loss, x[:, :, -self.context :])


def test_convolution_streams_through_its_cache_and_trains_statefully():
    torch.manual_seed(4)
    model = StreamingConv()
    x, y = latch_streams(2, 30, 0.3, seed=3)
    whole = model(Batch(x, y)).prediction
    tbptt = TruncatedBPTT()
    parts = [tbptt.forward(model, c).prediction for c in chunks(x, y, 7)]
    torch.testing.assert_close(torch.cat(parts, 1), whole)  # the cache = an unbroken stream
    cfg = TrainerConfig(epochs=2, optimizer={"lr": 1e-2}, tbptt={"stateful": True}, progress=False)
    history = Trainer(model, cfg).fit(chunks(*latch_streams(4, 200, 0.3, seed=4), 20))
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_language_model_metrics_come_from_the_loss():
    torch.manual_seed(5)
    x, y = latch_streams(4, 60, 0.2, seed=5)
    cfg = TrainerConfig(epochs=1, tbptt={"stateful": True}, progress=False,
                        metrics=["perplexity", "bits_per_char"])  # fmt: skip
    trainer = Trainer(StreamTagger(), cfg)
    logs = trainer.evaluate(chunks(x, y, 20), prefix="val_")
    assert logs["val_perplexity"] == pytest.approx(math.exp(logs["val_loss"]))
    assert logs["val_bits_per_char"] == pytest.approx(logs["val_loss"] / math.log(2))


def test_a_convolutional_model_under_truncated_bptt_is_refused_with_the_reason():
    from seqlab.models import build_model

    model = build_model("language_model", {"inputs": {"vocab_size": 8}, "encoder": {"kind": "tcn"}})
    ids = torch.randint(4, 8, (2, 12))
    with pytest.raises(ValueError, match="tcn and wavenet ones do not"):
        TruncatedBPTT().forward(model, Batch(ids[:, :6], ids[:, 1:7]))
