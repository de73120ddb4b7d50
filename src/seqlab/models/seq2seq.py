"""``Seq2Seq``: encoder-decoder with attention, for outputs whose length differs from the input's.

Translation, date-format conversion, sequence reversal. The encoder (any kind;
bidirectional recurrent ones see the whole source) turns the source ids into a memory
``m`` (B, S, E). The decoder is a recurrent layer run one step at a time from ``<bos>``;
its initial state is ``tanh(W mean(m))`` over real source steps (Bahdanau et al. use
the backward state at step 1; the mean works for every encoder kind). Each step
attends over the memory, padding masked out:

* ``attention="additive"`` (Bahdanau, Cho & Bengio 2015): the previous decoder state
  ``s_{t-1}`` is the query, ``c_t = attend(s_{t-1}, m)``;
  ``s_t = RNN([emb(y_{t-1}); c_t], s_{t-1})``; logits ``= W_o [s_t; c_t; emb(y_{t-1})]``.
* ``attention="multiplicative"`` (Luong, Pham & Manning 2015, eq. (5), (8), with input
  feeding §3.3): ``s_t = RNN([emb(y_{t-1}); h~_{t-1}], s_{t-1})``,
  ``c_t = attend(s_t, m)`` with the ``"general"`` or ``"dot"`` score,
  ``h~_t = tanh(W_c [c_t; s_t])``, logits ``= W_s h~_t``.

Training (``forward`` with targets): ``targets`` (B, U) end with ``<eos>``; padding is
``-100`` (or anything past ``target_lengths``). The decoder reads the gold previous
token with probability ``teacher_forcing`` and its own argmax otherwise (per sequence
and step; scheduled sampling, Bengio et al. 2015); ``prediction`` is logits (B, U, V).
Without targets ``forward`` decodes greedily and ``prediction`` is token ids.

Decoding: :meth:`Seq2Seq.decode` with ``beam_size=1`` (greedy) or more (beam search with
the GNMT length penalty ``((5 + |Y|) / 6) ** length_penalty``, Wu et al. 2016);
returns the tokens, the attention weights (B, L, S) for plotting, and the scores.

>>> import torch
>>> from seqlab.data import Batch
>>> model = Seq2Seq(Seq2SeqConfig(InputConfig(vocab_size=10, embedding_dim=8), 12,
...                 encoder=EncoderConfig(kind="gru", hidden_size=8, bidirectional=True),
...                 decoder_hidden_size=16, attention_size=8))
>>> src = torch.tensor([[4, 5, 6, 7], [8, 9, 0, 0]])
>>> tgt = torch.tensor([[7, 6, 5, 4, 3], [9, 8, 3, -100, -100]])
>>> out = model(Batch(src, tgt, lengths=torch.tensor([4, 2])))
>>> out.prediction.shape
torch.Size([2, 5, 12])
>>> decoded = model.decode(src, torch.tensor([4, 2]), beam_size=3, max_length=6)
>>> decoded.tokens.shape[0], decoded.attention.shape[2]
(2, 4)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import nn as snn
from ..checks import check_dropout, check_float, check_int
from ..data.batch import IGNORE_INDEX, Batch
from ..nn.attention import AdditiveAttention, MultiplicativeAttention
from ..nn.embedding import Embedding
from .base import TaskModel, count_targets
from .classifier import pool
from .encoders import EncoderConfig, build_encoder
from .inputs import InputConfig, InputLayer
from .output import Output

__all__ = ["Decoded", "Seq2Seq", "Seq2SeqConfig"]


def _default_encoder() -> EncoderConfig:
    return EncoderConfig(kind="gru", hidden_size=64, bidirectional=True)


@dataclass
class Seq2SeqConfig:
    """``inputs``: the source ids and how they enter, as every task model takes them;
    ``tgt_vocab_size`` and ``target_embedding_dim`` (0: the source's) the target's; the
    special ids are :class:`~seqlab.data.Vocab`'s."""

    inputs: InputConfig
    tgt_vocab_size: int
    target_embedding_dim: int = 0
    encoder: EncoderConfig = field(default_factory=_default_encoder)
    decoder_kind: Literal["rnn", "lstm", "gru"] = "gru"
    decoder_hidden_size: int = 64
    decoder_layers: int = 1
    attention: Literal["additive", "multiplicative"] = "additive"
    score: Literal["general", "dot"] = "general"  # the multiplicative score
    attention_size: int = 64  # the additive score's hidden size
    teacher_forcing: float = 1.0
    max_length: int = 100
    beam_size: int = 1  # decoding in validation and predict(): 1 is greedy
    length_penalty: float = 0.0  # GNMT's alpha for beam search
    dropout: float = 0.0
    pad_id: int = 0
    bos_id: int = 2
    eos_id: int = 3

    def __post_init__(self):
        if not self.inputs.tokens:
            raise ValueError("a seq2seq model reads source token ids: set inputs.vocab_size")
        for name, size in (("inputs.vocab_size", self.inputs.vocab_size),
                           ("tgt_vocab_size", self.tgt_vocab_size)):  # fmt: skip
            if size < 4:
                raise ValueError(f"{name} must be >= 4 (<pad> <unk> <bos> <eos> first)")
        check_int("target_embedding_dim", self.target_embedding_dim, min=0)
        check_float("teacher_forcing", self.teacher_forcing, min=0.0, max=1.0)
        check_int("max_length", self.max_length, min=1)
        check_int("decoder_hidden_size", self.decoder_hidden_size, min=1)
        check_int("decoder_layers", self.decoder_layers, min=1)
        check_int("attention_size", self.attention_size, min=1)
        check_int("beam_size", self.beam_size, min=1)
        check_float("length_penalty", self.length_penalty, min=0.0)
        check_dropout("dropout", self.dropout)
        for name in ("pad_id", "bos_id", "eos_id"):
            check_int(name, getattr(self, name), min=0, max=self.tgt_vocab_size - 1)
        if len({self.pad_id, self.bos_id, self.eos_id}) < 3:
            raise ValueError(
                f"pad_id, bos_id and eos_id must differ, got {self.pad_id}, {self.bos_id}, "
                f"{self.eos_id} (an <eos> that is also <pad> would end every output at once)"
            )


class Decoded(NamedTuple):
    """``tokens`` (B, L): each ends with ``<eos>`` (unless cut at ``max_length``), then
    ``<pad>``; ``lengths`` (B,) including ``<eos>``; ``attention`` (B, L, S), zero past
    each length; ``scores`` (B,) the log-probability of each output (length-normalised
    for beam search with ``length_penalty > 0``)."""

    tokens: Tensor
    lengths: Tensor
    attention: Tensor
    scores: Tensor


def _top_h(state) -> Tensor:
    h = state[0] if isinstance(state, tuple) else state
    return h[-1]  # (B, H), the top layer


def _select(state, index: Tensor):
    if isinstance(state, tuple):
        return tuple(s.index_select(1, index) for s in state)
    return state.index_select(1, index)


class Seq2Seq(TaskModel):
    kind = "seq2seq"
    config_class = Seq2SeqConfig

    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        self.config = config
        c = config
        self.source = InputLayer(c.inputs)
        self.encoder = build_encoder(c.encoder, self.source.output_size)
        E, H, L = self.encoder.output_size, c.decoder_hidden_size, c.decoder_layers
        D = c.target_embedding_dim or c.inputs.embedding_dim
        self.target = Embedding(c.tgt_vocab_size, D, padding_idx=c.pad_id)
        self.n_state = 2 if c.decoder_kind == "lstm" else 1
        self.bridge = nn.Linear(E, self.n_state * L * H)
        rnn_cls = {"rnn": snn.RNN, "lstm": snn.LSTM, "gru": snn.GRU}[c.decoder_kind]
        feed = E if c.attention == "additive" else H
        self.decoder = rnn_cls(D + feed, H, num_layers=L)
        if c.attention == "additive":
            self.attention = AdditiveAttention(H, E, c.attention_size)
            self.out = nn.Linear(H + E + D, c.tgt_vocab_size)
        else:
            if c.score == "dot" and E != H:
                raise ValueError(
                    f"score='dot' needs decoder_hidden_size == encoder output size, got {H} and {E}"
                )
            self.attention = MultiplicativeAttention(H, E, c.score)
            self.combine = nn.Linear(E + H, H, bias=False)  # W_c
            self.out = nn.Linear(H, c.tgt_vocab_size)  # W_s
        self.dropout = nn.Dropout(c.dropout)

    # --- encoder side --------------------------------------------------------------------
    def encode(self, inputs: Tensor, lengths: Tensor | None = None):
        """Source ids (B, S) -> memory (B, S, E), mask (B, S), initial decoder state."""
        if lengths is not None:
            lengths = self._lengths(Batch(inputs, lengths=lengths))
        memory, _ = self.encoder(self.dropout(self.source(inputs)), lengths)  # (B, S, E)
        mask = Batch(inputs, lengths=lengths).mask()
        B, L, H = inputs.size(0), self.config.decoder_layers, self.config.decoder_hidden_size
        init = torch.tanh(self.bridge(pool(memory, mask, "mean")))  # (B, n*L*H)
        parts = init.view(B, self.n_state, L, H).unbind(1)
        state = tuple(p.transpose(0, 1).contiguous() for p in parts)  # (L, B, H) each
        return memory, mask, (state if self.n_state == 2 else state[0])

    def _initial_feed(self, memory: Tensor) -> Tensor | None:
        if self.config.attention == "additive":
            return None
        return memory.new_zeros(memory.size(0), self.config.decoder_hidden_size)

    # --- one decoder step ----------------------------------------------------------------
    def step(self, prev: Tensor, state, feed, memory: Tensor, mask: Tensor):
        """``prev`` (B,) ids -> logits (B, V), new state, new feed, attention (B, S)."""
        e = self.dropout(self.target(prev.unsqueeze(1))[:, 0])  # (B, emb)
        if self.config.attention == "additive":
            context, weights = self.attention(_top_h(state), memory, mask=mask)  # (B, E)
            out, state = self.decoder(torch.cat([e, context], -1).unsqueeze(1), state)
            s = out[:, 0]  # (B, H)
            logits = self.out(self.dropout(torch.cat([s, context, e], -1)))
            return logits, state, None, weights
        out, state = self.decoder(torch.cat([e, feed], -1).unsqueeze(1), state)
        s = out[:, 0]  # (B, H)
        context, weights = self.attention(s, memory, mask=mask)  # (B, E)
        h_tilde = torch.tanh(self.combine(torch.cat([context, s], -1)))  # (B, H)
        return self.out(self.dropout(h_tilde)), state, h_tilde, weights

    # --- training ------------------------------------------------------------------------
    def _targets(self, batch: Batch) -> Tensor:
        t = batch.targets
        V = self.config.tgt_vocab_size
        if t.dim() != 2 or t.size(0) != batch.size or t.dtype.is_floating_point:
            raise ValueError(f"targets must be (B={batch.size}, U) ids, got {tuple(t.shape)}")
        t = t.clone()
        if batch.target_lengths is not None:
            tl = batch.target_lengths.to(t.device)
            if tl.shape != (batch.size,) or bool(((tl < 1) | (tl > t.size(1))).any()):
                raise ValueError(
                    f"target_lengths must be (B,) in [1, U={t.size(1)}], got {tl.tolist()}"
                )
            past = torch.arange(t.size(1), device=t.device).unsqueeze(0) >= tl.unsqueeze(1)
            t[past] = IGNORE_INDEX
        bad = (t != IGNORE_INDEX) & ((t < 0) | (t >= V))
        if bool(bad.any()):
            raise ValueError(f"target id {int(t[bad][0])} is not in [0, tgt_vocab_size={V})")
        return t

    def teacher_forced(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
        """Logits (B, U, V) and attention (B, U, S) reading the targets; and the targets
        with everything past each length set to ``-100``."""
        targets = self._targets(batch)
        memory, mask, state = self.encode(batch.inputs, batch.lengths)
        feed = self._initial_feed(memory)
        B, U = targets.shape
        gold = targets.masked_fill(targets == IGNORE_INDEX, self.config.pad_id)
        prev = gold.new_full((B,), self.config.bos_id)
        ratio = self.config.teacher_forcing if self.training else 1.0
        logits, attention = [], []
        for t in range(U):
            step_logits, state, feed, weights = self.step(prev, state, feed, memory, mask)
            logits.append(step_logits)
            attention.append(weights)
            prev = gold[:, t]
            if ratio < 1.0:
                own = step_logits.argmax(-1).detach()
                use_gold = torch.rand(B, device=prev.device) < ratio
                prev = torch.where(use_gold, prev, own)
        return torch.stack(logits, 1), torch.stack(attention, 1), targets

    def forward(self, batch: Batch, state=None) -> Output:
        batch = self._check_batch(batch)
        if batch.targets is None:
            return Output(self.decode(batch.inputs, batch.lengths).tokens)
        logits, _, targets = self.teacher_forced(batch)
        loss = F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=IGNORE_INDEX)
        return Output(logits, loss, weight=count_targets(targets))

    def supported_metrics(self) -> tuple[str, ...]:
        return ("bleu", "exact_match")  # of the decoded outputs, whose lengths are their own

    def evaluate_batch(self, batch: Batch, state=None) -> Output:
        """The teacher-forced loss (as in training) for ``val_loss``; for the metrics the
        model's own decoding (greedy, or beam with ``config.beam_size > 1``): each output
        a list of ids up to and including ``<eos>``. Scoring argmax of teacher-forced
        logits instead would credit every step with the gold history, an optimistic
        BLEU that no user ever sees."""
        batch = self._check_batch(batch)
        out = self(batch)
        if batch.targets is None:
            return out
        decoded = self.decode(batch.inputs, batch.lengths)
        rows, lengths = decoded.tokens.tolist(), decoded.lengths.tolist()
        return out._replace(prediction=[r[:n] for r, n in zip(rows, lengths, strict=True)])

    def _predict(self, batch: Batch) -> dict[str, Tensor]:
        """``tokens`` (B, L) ending in ``<eos>`` then ``<pad>``, ``lengths`` (B,),
        ``scores`` (B,) and ``attention`` (B, L, S), decoded as ``config`` says."""
        return self.decode(batch.inputs, batch.lengths)._asdict()

    # --- decoding --------------------------------------------------------------------------
    @torch.no_grad()
    def decode(
        self,
        inputs: Tensor,
        lengths: Tensor | None = None,
        beam_size: int | None = None,
        length_penalty: float | None = None,
        max_length: int | None = None,
        search: str | None = None,
    ) -> Decoded:
        """Outputs for source ids (B, S) by ``search="greedy"`` (the argmax at each step,
        all sequences at once) or ``"beam"`` (``beam_size`` hypotheses per sequence);
        by default greedy when ``beam_size == 1``, else beam. ``beam_size`` and
        ``length_penalty`` default to the config's."""
        beam_size = self.config.beam_size if beam_size is None else beam_size
        if length_penalty is None:
            length_penalty = self.config.length_penalty
        search = search or ("greedy" if beam_size == 1 else "beam")
        if search not in ("greedy", "beam"):
            raise ValueError(f"search must be 'greedy' or 'beam', got {search!r}")
        if isinstance(beam_size, bool) or not isinstance(beam_size, int) or beam_size < 1:
            raise ValueError(f"beam_size must be a positive int, got {beam_size!r}")
        if length_penalty < 0:
            raise ValueError(f"length_penalty must be >= 0, got {length_penalty}")
        max_length = self.config.max_length if max_length is None else max_length
        if max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {max_length}")
        was_training = self.training
        self.eval()
        try:
            memory, mask, state = self.encode(inputs, lengths)
            if search == "greedy":
                return self._greedy(memory, mask, state, max_length)
            hyps = [
                self._beam(
                    memory[i : i + 1],
                    mask[i : i + 1],
                    _select(state, torch.tensor([i], device=memory.device)),
                    beam_size,
                    length_penalty,
                    max_length,
                )
                for i in range(memory.size(0))
            ]
            return self._collate(hyps, memory.size(1))
        finally:
            self.train(was_training)

    def _greedy(self, memory, mask, state, max_length) -> Decoded:
        c = self.config
        B = memory.size(0)
        prev = torch.full((B,), c.bos_id, dtype=torch.long, device=memory.device)
        feed = self._initial_feed(memory)
        done = torch.zeros(B, dtype=torch.bool, device=memory.device)
        lengths = torch.zeros(B, dtype=torch.long, device=memory.device)
        scores = memory.new_zeros(B)
        tokens, attention = [], []
        for _ in range(max_length):
            logits, state, feed, weights = self.step(prev, state, feed, memory, mask)
            logp = logits.log_softmax(-1)
            prev = logp.argmax(-1)
            scores += torch.where(done, 0.0, logp.gather(1, prev.unsqueeze(1)).squeeze(1))
            tokens.append(prev.masked_fill(done, c.pad_id))
            attention.append(weights * (~done).unsqueeze(1))
            lengths += (~done).long()
            done |= prev == c.eos_id
            if bool(done.all()):
                break
        return Decoded(torch.stack(tokens, 1), lengths, torch.stack(attention, 1), scores)

    def _beam(self, memory, mask, state, k, alpha, max_length):
        """Beam search for one source; returns (tokens, attention, score) of the best."""
        c = self.config
        V = c.tgt_vocab_size

        def normalised(logp: float, length: int) -> float:
            return logp / (((5 + length) / 6) ** alpha) if alpha > 0 else logp  # GNMT lp

        seqs = [[]]
        atts = [[]]
        logps = memory.new_zeros(1)
        prev = torch.tensor([c.bos_id], device=memory.device)
        feed = self._initial_feed(memory)
        finished = []  # (normalised score, tokens, attention rows)
        for _ in range(max_length):
            n = len(seqs)
            logits, state, feed, weights = self.step(
                prev, state, feed, memory.expand(n, -1, -1), mask.expand(n, -1)
            )
            cand = (logps.unsqueeze(1) + logits.log_softmax(-1)).view(-1)  # (n * V,)
            top, idx = cand.topk(min(2 * k, cand.numel()))
            keep, new_seqs, new_atts, new_logps = [], [], [], []
            for score, i in zip(top.tolist(), idx.tolist(), strict=True):
                b, tok = divmod(i, V)
                seq, att = [*seqs[b], tok], [*atts[b], weights[b]]
                if tok == c.eos_id:
                    finished.append((normalised(score, len(seq)), seq, att))
                else:
                    keep.append(b)
                    new_seqs.append(seq)
                    new_atts.append(att)
                    new_logps.append(score)
                if len(new_seqs) == k:
                    break
            if len(finished) >= k or not new_seqs:
                break
            index = torch.tensor(keep, device=memory.device)
            state = _select(state, index)
            feed = None if feed is None else feed.index_select(0, index)
            seqs, atts = new_seqs, new_atts
            logps = torch.tensor(new_logps, device=memory.device, dtype=memory.dtype)
            prev = torch.tensor([s[-1] for s in seqs], device=memory.device)
        else:  # max_length reached: unfinished hypotheses compete too
            finished += [
                (normalised(float(lp), len(s)), s, a)
                for lp, s, a in zip(logps.tolist(), seqs, atts, strict=True)
            ]
        return max(finished, key=lambda f: f[0])

    def _collate(self, hyps, S) -> Decoded:
        L = max(len(seq) for _, seq, _ in hyps)
        device = self.out.weight.device
        tokens = torch.full((len(hyps), L), self.config.pad_id, dtype=torch.long, device=device)
        attention = torch.zeros(len(hyps), L, S, device=device)
        for i, (_, seq, att) in enumerate(hyps):
            tokens[i, : len(seq)] = torch.tensor(seq, device=device)
            attention[i, : len(seq)] = torch.stack(att)
        lengths = torch.tensor([len(seq) for _, seq, _ in hyps], device=device)
        scores = torch.tensor([score for score, _, _ in hyps], device=device)
        return Decoded(tokens, lengths, attention, scores)
