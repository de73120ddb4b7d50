"""``AttentionTranscriber``: feature frames in, characters out, by an attention
encoder-decoder (Chorowski et al. 2015; Chan et al. 2016, "Listen, Attend and Spell"):
the :class:`~seqlab.models.Seq2Seq` model over a float source, scored as a transcriber.

Everything of :class:`Seq2Seq` holds (the config, the three decoders, greedy and batched
beam search, label smoothing); the source is frames ``(B, S, C)`` (``inputs:
{input_size: C}``) and the target the characters of the transcript followed by
``<eos>``. Unlike CTC, no frame count bounds the output: the decoder spells until it
emits ``<eos>`` or reaches its length limit (``max_length``, or ``max_length_a * S +
max_length_b``), and it conditions each character on the ones before, so it learns the
spelling of its training words as a language model does, which CTC's conditionally
independent frames cannot.

What differs from the translation model is what it is scored by: character and word
error rate (``cer``, ``wer``) of its own decoding, each output and reference cut at its
``<eos>`` (which is no character), as :class:`~seqlab.models.CTCTranscriber` is scored.

>>> import torch
>>> from seqlab.data import Batch
>>> from seqlab.models import EncoderConfig, InputConfig
>>> model = AttentionTranscriber(Seq2SeqConfig(InputConfig(input_size=6), 9,
...     encoder=EncoderConfig(kind="lstm", hidden_size=8, bidirectional=True),
...     decoder_hidden_size=16, max_length=5))
>>> frames, targets = torch.randn(2, 7, 6), torch.tensor([[4, 5, 3], [6, 3, -100]])
>>> model(Batch(frames, targets, lengths=torch.tensor([7, 4]))).prediction.shape
torch.Size([2, 3, 9])
>>> model.metric_options()
{'cer': {'eos': 3}, 'wer': {'eos': 3}}
"""

from __future__ import annotations

from typing import Any

from .seq2seq import Seq2Seq, Seq2SeqConfig

__all__ = ["AttentionTranscriber"]


class AttentionTranscriber(Seq2Seq):
    kind = "attention_transcriber"
    config_class = Seq2SeqConfig

    def supported_metrics(self) -> tuple[str, ...]:
        return ("cer", "wer", "exact_match")  # of the decoded outputs

    def metric_options(self) -> dict[str, dict[str, Any]]:
        """The rows the metrics read end in ``<eos>``: they are cut there."""
        eos = self.config.eos_id
        return {"cer": {"eos": eos}, "wer": {"eos": eos}}
