"""``Seq2Seq``: encoder-decoder with attention, for outputs whose length differs from the input's.

Translation, date-format conversion, sequence reversal, speech to characters. The source
is token ids (B, S) or float features (B, S, C), as :class:`InputConfig` says, as for
every task model. The encoder (any kind; bidirectional recurrent ones see the whole
source) turns it into a memory ``m`` (B, S, E). The decoder is a recurrent layer started
from ``<bos>``; its initial state is ``tanh(W mean(m))`` over real source steps (Bahdanau
et al. use the backward state at step 1; the mean works for every encoder kind). Each
step attends over the memory, padding masked out. Three decoders:

* ``attention="multiplicative"``, ``input_feeding=False`` (the default; Luong, Pham &
  Manning 2015, eq. (5), (8), attention *after* the RNN): ``s_t = RNN(emb(y_{t-1}), s_{t-1})``,
  ``c_t = attend(s_t, m)`` with the ``"general"`` or ``"dot"`` score,
  ``h~_t = tanh(W_c [c_t; s_t])``, logits ``= W_s h~_t``. Nothing of step ``t`` feeds the
  RNN's step ``t + 1`` but the gold token, so training runs the whole target through
  **one fused recurrent call** (torch's kernel) and **one batched attention** (B, U, S),
  and only the real target positions are projected to the vocabulary: 3.3x the target
  tokens per CPU second of the additive loop below and 2.5x input feeding's, at the size
  of ``benchmarks/translation.py speed`` (whose 8,000-word output layer, shared by all
  three, is most of the work).
* ``attention="multiplicative"``, ``input_feeding=True`` (Luong §3.3):
  ``s_t = RNN([emb(y_{t-1}); h~_{t-1}], s_{t-1})``; the rest as above. ``h~_{t-1}`` is
  needed before step ``t``, so training is a Python loop of U single steps.
* ``attention="additive"`` (Bahdanau, Cho & Bengio 2015): the previous decoder state
  ``s_{t-1}`` is the query, ``c_t = attend(s_{t-1}, m)``;
  ``s_t = RNN([emb(y_{t-1}); c_t], s_{t-1})``; logits ``= W_o [s_t; c_t; emb(y_{t-1})]``.
  Also a loop of U steps, each with its own attention.

**Copying** (``copy=True``; See, Liu & Manning 2017, "Get To The Point", eq. (8)-(9)):
for text whose output mostly repeats the input (archaic to modern English, dates), any of
the three decoders mixes the vocabulary distribution with the attention:
``p_gen = sigmoid(w_c c_t + w_s s_t + w_x x_t + b)`` (``x_t`` the embedded previous token),
``P(w) = p_gen P_vocab(w) + (1 - p_gen) sum_{i: w_i = w} a_t,i``, computed in log space
(:meth:`Seq2Seq.mixture`). It needs ``shared_vocab`` (set by the data's ``shared_vocab:
true``): source ids are target ids, so the attention scatters onto the target vocabulary
directly; with subwords every word is in it, so See et al.'s extended vocabulary for
out-of-vocabulary source words is not needed. The loss is the NLL of the mixture,
greedy and beam search decode from it, ``prediction`` holds its log-probabilities.
``tie_embeddings`` makes the source embedding the target's (one table, shared vocabulary);
``tie_output`` makes the output projection ``W_s`` that table too (Press & Wolf 2017;
multiplicative attention with the target embedding size equal to ``decoder_hidden_size``).

Training (``forward`` with targets): ``targets`` (B, U) end with ``<eos>`` (the seq2seq
task appends it); padding is ``-100`` (or anything past ``target_lengths``). The decoder
reads the gold previous token with probability ``teacher_forcing`` and its own argmax
otherwise (per sequence and step; scheduled sampling, Bengio et al. 2015; below 1 every
decoder runs the step loop); ``prediction`` is logits (B, U, V); the loss is cross-entropy
with ``label_smoothing`` (Szegedy et al. 2016: ``(1 - eps)`` on the gold token, ``eps / V``
on each). Without targets ``forward`` decodes and ``prediction`` is token ids.

Decoding: :meth:`Seq2Seq.decode`, greedy (``beam_size=1``) or batched beam search
(:mod:`seqlab.models.beam_search`: GNMT length penalty ``((5 + |Y|) / 6) ** length_penalty``,
the exact stopping rule, ``no_repeat_ngram_size``); the length limit per sentence is
``min(max_length, floor(max_length_a * S_i) + max_length_b)`` when ``max_length_a > 0``
(fairseq's ``max_len_a``/``max_len_b``), else ``max_length``. It returns the tokens, the
attention weights (B, L, S) for plotting, and the scores.

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

import math
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import nn as snn
from ..checks import check_bool, check_dropout, check_float, check_int
from ..data.batch import IGNORE_INDEX, Batch
from ..nn.attention import AdditiveAttention, MultiplicativeAttention
from ..nn.embedding import Embedding
from .base import TaskModel, count_targets
from .beam_search import beam_search, greedy_search
from .classifier import pool
from .encoders import EncoderConfig, build_encoder
from .inputs import InputConfig, InputLayer
from .output import Output

__all__ = ["Decoded", "Seq2Seq", "Seq2SeqConfig"]


def _default_encoder() -> EncoderConfig:
    return EncoderConfig(kind="gru", hidden_size=64, bidirectional=True)


@dataclass
class Seq2SeqConfig:
    """``inputs``: the source (token ids or float features) and how it enters, as every
    task model takes it; ``tgt_vocab_size`` and ``target_embedding_dim`` (0: the
    source's ``embedding_dim``) the target's; the special ids are
    :class:`~seqlab.data.Vocab`'s. The decoders and decoding keys are the module's."""

    inputs: InputConfig
    tgt_vocab_size: int
    target_embedding_dim: int = 0
    encoder: EncoderConfig = field(default_factory=_default_encoder)
    decoder_kind: Literal["rnn", "lstm", "gru"] = "gru"
    decoder_hidden_size: int = 64
    decoder_layers: int = 1
    attention: Literal["additive", "multiplicative"] = "multiplicative"
    score: Literal["general", "dot"] = "general"  # the multiplicative score
    input_feeding: bool = False  # multiplicative only: feed h~_{t-1} (a step loop)
    attention_size: int = 64  # the additive score's hidden size
    teacher_forcing: float = 1.0
    label_smoothing: float = 0.0
    max_length: int = 100
    max_length_a: float = 0.0  # > 0: limit each output to floor(a * S_i) + b tokens
    max_length_b: int = 10
    beam_size: int = 1  # decoding in validation and predict(): 1 is greedy
    length_penalty: float = 0.0  # GNMT's alpha for beam search
    no_repeat_ngram_size: int = 0  # > 0: never repeat an n-gram of this size
    dropout: float = 0.0
    copy: bool = False  # pointer-generator mixture (See et al. 2017); needs shared_vocab
    shared_vocab: bool = False  # set by the data: source ids are target ids
    tie_embeddings: bool = False  # the source embedding is the target embedding
    tie_output: bool = False  # the output projection is the target embedding (Press & Wolf)
    pad_id: int = 0
    bos_id: int = 2
    eos_id: int = 3

    def __post_init__(self):
        sizes = [("tgt_vocab_size", self.tgt_vocab_size)]
        if self.inputs.tokens:
            sizes.insert(0, ("inputs.vocab_size", self.inputs.vocab_size))
        for name, size in sizes:
            if size < 4:
                raise ValueError(f"{name} must be >= 4 (<pad> <unk> <bos> <eos> first), got {size}")
        check_int("target_embedding_dim", self.target_embedding_dim, min=0)
        check_float("teacher_forcing", self.teacher_forcing, min=0.0, max=1.0)
        check_float("label_smoothing", self.label_smoothing, min=0.0, max=1.0)
        if self.label_smoothing >= 1.0:
            raise ValueError(f"label_smoothing must be < 1, got {self.label_smoothing}")
        check_int("max_length", self.max_length, min=1)
        check_float("max_length_a", self.max_length_a, min=0.0)
        check_int("max_length_b", self.max_length_b, min=0)
        check_int("decoder_hidden_size", self.decoder_hidden_size, min=1)
        check_int("decoder_layers", self.decoder_layers, min=1)
        check_int("attention_size", self.attention_size, min=1)
        check_int("beam_size", self.beam_size, min=1)
        check_float("length_penalty", self.length_penalty, min=0.0)
        check_int("no_repeat_ngram_size", self.no_repeat_ngram_size, min=0)
        check_bool("input_feeding", self.input_feeding)
        if self.input_feeding and self.attention != "multiplicative":
            raise ValueError(
                "input_feeding applies to attention='multiplicative' (Bahdanau's additive "
                "decoder already feeds its context c_t into the RNN)"
            )
        check_dropout("dropout", self.dropout)
        for name in ("copy", "shared_vocab", "tie_embeddings", "tie_output"):
            check_bool(name, getattr(self, name))
        for name in ("copy", "tie_embeddings"):
            if getattr(self, name) and not (self.shared_vocab and self.inputs.tokens):
                raise ValueError(
                    f"{name}: true needs token sources in the target's vocabulary (source ids "
                    "are target ids): set data.shared_vocab: true"
                )
        if (
            self.shared_vocab
            and self.inputs.tokens
            and self.inputs.vocab_size != self.tgt_vocab_size
        ):
            raise ValueError(
                f"shared_vocab: the source and target vocabularies differ in size "
                f"({self.inputs.vocab_size} and {self.tgt_vocab_size})"
            )
        if self.tie_embeddings and self.inputs.one_hot:
            raise ValueError("tie_embeddings needs an embedded source, not one_hot")
        D = self.target_embedding_dim or self.inputs.embedding_dim
        if self.tie_embeddings and self.inputs.embedding_dim != D:
            raise ValueError(
                f"tie_embeddings needs target_embedding_dim == inputs.embedding_dim, got {D} "
                f"and {self.inputs.embedding_dim}"
            )
        if self.tie_output and (
            self.attention != "multiplicative" or self.decoder_hidden_size != D
        ):
            raise ValueError(
                "tie_output needs attention='multiplicative' and the target embedding size "
                f"equal to decoder_hidden_size (W_s reads h~_t), got {self.attention!r}, {D} "
                f"and {self.decoder_hidden_size}"
            )
        for name in ("pad_id", "bos_id", "eos_id"):
            check_int(name, getattr(self, name), min=0, max=self.tgt_vocab_size - 1)
        if len({self.pad_id, self.bos_id, self.eos_id}) < 3:
            raise ValueError(
                f"pad_id, bos_id and eos_id must differ, got {self.pad_id}, {self.bos_id}, "
                f"{self.eos_id} (an <eos> that is also <pad> would end every output at once)"
            )


class Decoded(NamedTuple):
    """``tokens`` (B, L): each ends with ``<eos>`` (unless cut at its length limit), then
    ``<pad>``; ``lengths`` (B,) including ``<eos>``; ``attention`` (B, L, S), zero past
    each length; ``scores`` (B,) the log-probability of each output (divided by the GNMT
    length penalty for beam search with ``length_penalty > 0``)."""

    tokens: Tensor
    lengths: Tensor
    attention: Tensor
    scores: Tensor


class Encoded(NamedTuple):
    """What the decoder reads of a source: ``memory`` (B, S, E), ``mask`` (B, S),
    ``state`` (the initial decoder state), ``lengths`` (B,) source lengths, ``source``
    the source ids (B, S) the copy mixture scatters onto (``None`` without ``copy``)."""

    memory: Tensor
    mask: Tensor
    state: object
    lengths: Tensor
    source: Tensor | None = None


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
        if c.tie_embeddings:  # one table for both sides (the vocabulary is shared)
            self.target = self.source.embed
        else:
            self.target = Embedding(c.tgt_vocab_size, D, padding_idx=c.pad_id)
        self.n_state = 2 if c.decoder_kind == "lstm" else 1
        self.bridge = nn.Linear(E, self.n_state * L * H)
        rnn_cls = {"rnn": snn.RNN, "lstm": snn.LSTM, "gru": snn.GRU}[c.decoder_kind]
        feed = {"additive": E, "multiplicative": H if c.input_feeding else 0}[c.attention]
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
            if c.tie_output:  # Press & Wolf 2017: W_s is the target embedding table
                self.out.weight = self.target.table.weight
        if c.copy:  # See et al. eq. (8): p_gen = sigmoid(w_c c_t + w_s s_t + w_x x_t + b)
            self.gate = nn.Linear(E + H + D, 1)
        self.dropout = nn.Dropout(c.dropout)

    @property
    def parallel_decoder(self) -> bool:
        """True when teacher forcing runs the whole target at once (Luong, no input feeding)."""
        return self.config.attention == "multiplicative" and not self.config.input_feeding

    # --- encoder side --------------------------------------------------------------------
    def encode(self, inputs: Tensor, lengths: Tensor | None = None) -> Encoded:
        """Source ids (B, S) or features (B, S, C) -> memory (B, S, E), mask (B, S), the
        initial decoder state and the source lengths."""
        if lengths is not None:
            lengths = self._lengths(Batch(inputs, lengths=lengths))
        memory, _ = self.encoder(self.dropout(self.source(inputs)), lengths)  # (B, S, E)
        mask = Batch(inputs, lengths=lengths).mask()
        B, L, H = inputs.size(0), self.config.decoder_layers, self.config.decoder_hidden_size
        init = torch.tanh(self.bridge(pool(memory, mask, "mean")))  # (B, n*L*H)
        parts = init.view(B, self.n_state, L, H).unbind(1)
        state = tuple(p.transpose(0, 1).contiguous() for p in parts)  # (L, B, H) each
        source = inputs if self.config.copy else None
        return Encoded(memory, mask, state if self.n_state == 2 else state[0], mask.sum(1), source)

    # --- the copy mixture (pointer-generator) ----------------------------------------------
    def mixture(self, logits: Tensor, features: Tensor, weights: Tensor, source: Tensor):
        """See, Liu & Manning 2017, eq. (8)-(9), in log space: ``log P(w) =
        logaddexp(log p_gen + log P_vocab(w), log(1 - p_gen) + log sum_{i: w_i = w} a_i)``.

        ``logits`` (..., V) of ``P_vocab``; ``features`` (..., E + H + D) ``[c_t; s_t;
        x_t]``; ``weights`` (..., S) the attention ``a_t``; ``source`` (..., S) the source
        ids (target ids too: the vocabulary is shared, so no extended vocabulary for
        out-of-vocabulary words is needed; subwords have none). ``log p_gen`` and
        ``log(1 - p_gen)`` are ``logsigmoid(+-z)``; a word absent from the source has copy
        probability exactly 0, whose log is ``-inf`` (taken through a double ``where``
        so that its gradient is 0, not NaN). Padding has attention 0 and adds nothing."""
        z = self.gate(features)  # (..., 1)
        copy = logits.new_zeros(logits.shape).scatter_add_(-1, source, weights)
        present = copy > 0
        log_copy = torch.where(present, torch.where(present, copy, 1.0).log(), -math.inf)
        return torch.logaddexp(
            F.logsigmoid(z) + logits.log_softmax(-1), F.logsigmoid(-z) + log_copy
        )  # (..., V) log-probabilities

    def _initial_feed(self, memory: Tensor) -> Tensor | None:
        if not self.config.input_feeding:
            return None
        return memory.new_zeros(memory.size(0), self.config.decoder_hidden_size)

    # --- one decoder step ----------------------------------------------------------------
    def step(self, prev: Tensor, state, feed, memory: Tensor, mask: Tensor, source=None):
        """``prev`` (B,) ids -> logits (B, V) (with ``copy``: the mixture's
        log-probabilities, given the source ids ``source`` (B, S)), new state, new feed,
        attention (B, S)."""
        e = self.dropout(self.target(prev.unsqueeze(1))[:, 0])  # (B, emb)
        if self.config.attention == "additive":
            context, weights = self.attention(_top_h(state), memory, mask=mask)  # (B, E)
            out, state = self.decoder(torch.cat([e, context], -1).unsqueeze(1), state)
            s = out[:, 0]  # (B, H)
            logits = self.out(self.dropout(torch.cat([s, context, e], -1)))
            new_feed = None
        else:
            x = e if feed is None else torch.cat([e, feed], -1)
            out, state = self.decoder(x.unsqueeze(1), state)
            s = out[:, 0]  # (B, H)
            context, weights = self.attention(s, memory, mask=mask)  # (B, E)
            h_tilde = torch.tanh(self.combine(torch.cat([context, s], -1)))  # (B, H)
            logits = self.out(self.dropout(h_tilde))
            new_feed = h_tilde if feed is not None else None
        if self.config.copy:
            logits = self.mixture(logits, torch.cat([context, s, e], -1), weights, source)
        return logits, state, new_feed, weights

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

    def teacher_forced(
        self, batch: Batch, encoded: Encoded | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Logits (B, U, V) and attention (B, U, S) reading the targets; and the targets
        with everything past each length set to ``-100``. ``encoded``: the source's
        :meth:`encode`, when the caller has it already."""
        logits, attention, targets, _ = self._teacher_forced(batch, encoded)
        return logits, attention, targets

    def _teacher_forced(self, batch: Batch, encoded: Encoded | None = None):
        """:meth:`teacher_forced`, and the logits (N, V) of the N real target positions
        (what the loss reads). The fused decoder projects only those N rows to the
        vocabulary (the largest product of a step: padding takes about a quarter of a
        bucketed batch) and writes them into zeros for the (B, U, V) prediction."""
        targets = self._targets(batch)
        real = targets != IGNORE_INDEX  # (B, U)
        memory, mask, state, _, source = encoded or self.encode(batch.inputs, batch.lengths)
        gold = targets.masked_fill(~real, self.config.pad_id)
        ratio = self.config.teacher_forcing if self.training else 1.0
        if self.parallel_decoder and ratio == 1.0:
            h_tilde, attention, features = self._parallel(gold, state, memory, mask)
            packed = self.out(self.dropout(h_tilde[real]))  # (N, V)
            if self.config.copy:  # the mixture's log-probabilities of the N real positions
                ids = source.unsqueeze(1).expand(-1, targets.size(1), -1)[real]  # (N, S)
                packed = self.mixture(packed, features[real], attention[real], ids)
            logits = packed.new_zeros(*targets.shape, packed.size(1))
            logits[real] = packed
            return logits, attention, targets, packed
        feed = self._initial_feed(memory)
        B, U = targets.shape
        prev = gold.new_full((B,), self.config.bos_id)
        logits, attention = [], []
        for t in range(U):
            step_logits, state, feed, weights = self.step(prev, state, feed, memory, mask, source)
            logits.append(step_logits)
            attention.append(weights)
            prev = gold[:, t]
            if ratio < 1.0:
                own = step_logits.argmax(-1).detach()
                use_gold = torch.rand(B, device=prev.device) < ratio
                prev = torch.where(use_gold, prev, own)
        logits = torch.stack(logits, 1)  # (B, U, V)
        return logits, torch.stack(attention, 1), targets, logits[real]

    def _parallel(self, gold: Tensor, state, memory: Tensor, mask: Tensor):
        """The Luong decoder without input feeding over the whole gold target: the same
        equations as U calls of :meth:`step` up to ``h~`` (B, U, H), as one recurrent
        call and one attention; also the attention (B, U, S) and ``[c_t; s_t; x_t]``
        (B, U, E + H + D), what the copy gate reads."""
        bos = gold.new_full((gold.size(0), 1), self.config.bos_id)
        prev = torch.cat([bos, gold[:, :-1]], 1)  # (B, U): y_0 = <bos>, y_1 ... y_{U-1}
        e = self.dropout(self.target(prev))  # (B, U, D)
        s, _ = self.decoder(e, state)  # (B, U, H): one fused call
        context, weights = self.attention(s, memory, mask=mask)  # (B, U, E), (B, U, S)
        h_tilde = torch.tanh(self.combine(torch.cat([context, s], -1)))  # (B, U, H)
        return h_tilde, weights, torch.cat([context, s, e], -1)

    def _loss(self, packed: Tensor, targets: Tensor) -> Tensor:
        """Mean cross-entropy over the real target positions, ``packed`` (N, V): logits,
        or with ``copy`` the mixture's log-probabilities, whose NLL it is (the same
        smoothing: ``(1 - eps) (-log P(y)) + eps mean_w (-log P(w))``)."""
        gold = targets[targets != IGNORE_INDEX]  # (N,), in the order of ``packed``
        eps = self.config.label_smoothing
        if not self.config.copy:
            return F.cross_entropy(packed, gold, label_smoothing=eps)
        nll = -packed.gather(1, gold.unsqueeze(1)).squeeze(1)
        if eps:
            nll = (1 - eps) * nll - eps * packed.mean(1)
        return nll.mean()

    def forward(self, batch: Batch, state=None) -> Output:
        batch = self._check_batch(batch)
        if batch.targets is None:
            return Output(self.decode(batch.inputs, batch.lengths).tokens)
        logits, _, targets, packed = self._teacher_forced(batch)
        return Output(logits, self._loss(packed, targets), weight=count_targets(targets))

    def supported_metrics(self) -> tuple[str, ...]:
        return ("bleu", "chrf", "exact_match")  # of the decoded outputs

    def evaluate_batch(self, batch: Batch, state=None) -> Output:
        """The teacher-forced loss (as in training) for ``val_loss``; for the metrics the
        model's own decoding (greedy, or beam with ``config.beam_size > 1``): each output
        a list of ids up to and including ``<eos>``. The source is encoded once for both.
        Scoring argmax of teacher-forced logits instead would credit every step with the
        gold history, an optimistic BLEU that no user ever sees."""
        batch = self._check_batch(batch)
        if batch.targets is None:
            return self(batch)
        with self._eval_mode():
            encoded = self.encode(batch.inputs, batch.lengths)
            _, _, targets, packed = self._teacher_forced(batch, encoded)
            decoded = self._search(encoded)
        rows, lengths = decoded.tokens.tolist(), decoded.lengths.tolist()
        return Output(
            [r[:n] for r, n in zip(rows, lengths, strict=True)],
            self._loss(packed, targets),
            weight=count_targets(targets),
        )

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
        no_repeat_ngram_size: int | None = None,
    ) -> Decoded:
        """Outputs for sources (B, S[, C]) by ``search="greedy"`` (the argmax at each
        step) or ``"beam"`` (``beam_size`` hypotheses per sequence), all sequences at once;
        by default greedy when ``beam_size == 1``, else beam. The other arguments default
        to the config's keys of the same names."""
        with self._eval_mode():
            encoded = self.encode(inputs, lengths)
            return self._search(
                encoded, beam_size, length_penalty, max_length, search, no_repeat_ngram_size
            )

    def max_lengths(self, source_lengths: Tensor, max_length: int | None = None) -> Tensor:
        """(B,) the output length limit of each sentence: ``max_length``, or
        ``min(max_length, floor(a * S_i) + b)`` with ``a = max_length_a > 0``."""
        c = self.config
        cap = c.max_length if max_length is None else max_length
        limits = torch.full_like(source_lengths, cap)
        if c.max_length_a > 0:
            relative = (source_lengths.double() * c.max_length_a).floor().long() + c.max_length_b
            limits = relative.clamp(1, cap)
        return limits

    def _search(
        self,
        encoded: Encoded,
        beam_size: int | None = None,
        length_penalty: float | None = None,
        max_length: int | None = None,
        search: str | None = None,
        no_repeat_ngram_size: int | None = None,
    ) -> Decoded:
        c = self.config
        beam_size = c.beam_size if beam_size is None else beam_size
        alpha = c.length_penalty if length_penalty is None else length_penalty
        n = c.no_repeat_ngram_size if no_repeat_ngram_size is None else no_repeat_ngram_size
        if isinstance(beam_size, bool) or not isinstance(beam_size, int) or beam_size < 1:
            raise ValueError(f"beam_size must be a positive int, got {beam_size!r}")
        search = search or ("greedy" if beam_size == 1 else "beam")
        if search not in ("greedy", "beam"):
            raise ValueError(f"search must be 'greedy' or 'beam', got {search!r}")
        if not isinstance(alpha, int | float) or not math.isfinite(alpha) or alpha < 0:
            raise ValueError(f"length_penalty must be a number >= 0, got {alpha!r}")
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"no_repeat_ngram_size must be an int >= 0, got {n!r}")
        if max_length is not None and (
            isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1
        ):
            raise ValueError(f"max_length must be an int >= 1, got {max_length!r}")
        memory, mask, state, src_lengths, source = encoded
        limits = self.max_lengths(src_lengths, max_length)
        ids = {"bos_id": c.bos_id, "eos_id": c.eos_id, "pad_id": c.pad_id}
        if search == "greedy":
            step = self._search_step(memory, mask, source)
            found = greedy_search(step, (state, self._initial_feed(memory)), limits, **ids,
                                  no_repeat_ngram_size=n)  # fmt: skip
            return Decoded(*found)
        k = beam_size
        rows = torch.arange(memory.size(0), device=memory.device).repeat_interleave(k)
        memory, mask = memory.index_select(0, rows), mask.index_select(0, rows)  # (B*k, ...)
        source = None if source is None else source.index_select(0, rows)
        start = (_select(state, rows), self._initial_feed(memory))
        found = beam_search(
            self._search_step(memory, mask, source), _reorder, start, limits, k, **ids, alpha=alpha,
            no_repeat_ngram_size=n,
        )  # fmt: skip
        return Decoded(*found)

    def _search_step(self, memory: Tensor, mask: Tensor, source: Tensor | None = None):
        def step(prev: Tensor, carried):
            state, feed = carried
            logits, state, feed, weights = self.step(prev, state, feed, memory, mask, source)
            logp = logits if self.config.copy else logits.log_softmax(-1)  # copy: log P(w)
            return logp, (state, feed), weights

        return step


def _reorder(carried, index: Tensor):
    state, feed = carried
    return _select(state, index), (None if feed is None else feed.index_select(0, index))
