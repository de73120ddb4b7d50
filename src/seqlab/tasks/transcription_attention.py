"""``transcription_attention``: the ``transcription`` task's data, transcribed by an attention
encoder-decoder (:class:`~seqlab.models.AttentionTranscriber`, a
:class:`~seqlab.models.Seq2Seq` over frames) instead of CTC.

Everything about the data is :class:`~seqlab.tasks.transcription.TranscriptionTask`'s, by
inheritance: the sources (``spoken_words``, an audio table of WAV paths and transcripts,
an ``.npz`` of frames), log-mel features (``data.features``), per-channel
standardization, ``stack`` frames per encoder step, the split by group (no test word is
heard in training), the checks and their messages, and what ``seqlab predict`` reads.
What differs is the target side:

* the labels are :class:`~seqlab.data.Vocab`'s specials (``<pad>`` 0, ``<unk>`` 1,
  ``<bos>`` 2, ``<eos>`` 3) and the training transcripts' characters;
* each target is the transcript's characters followed by ``<eos>``, appended here (a
  user never writes it); there is no CTC bound on how long a transcript may be for its
  frames;
* the model is scored by ``cer`` / ``wer`` on its own decoding (greedy, or beam search
  with ``model.beam_size``), cut at ``<eos>``.

.. code-block:: yaml

    task: transcription_attention
    data: {dataset: spoken_words, features: {n_mels: 40}, stack: 3}
    model: {encoder: {kind: lstm, hidden_size: 128, num_layers: 2, bidirectional: true},
            decoder_kind: lstm, decoder_hidden_size: 128, max_length: 40}
    train: {metrics: [cer, wer], monitor: val_cer, mode: min}
"""

from __future__ import annotations

from typing import Any

import torch

from ..data import Vocab
from ..data.vocab import SPECIALS
from .transcription import TranscriptionTask, Utterance

__all__ = ["AttentionTranscriptionTask"]


class AttentionTranscriptionTask(TranscriptionTask):
    name = "transcription_attention"
    model_kind = "attention_transcriber"
    special_labels = SPECIALS  # Vocab's ids: <pad> 0, <unk> 1, <bos> 2, <eos> 3
    output_key = "tokens"  # Seq2Seq.predict(): tokens (B, L) ending in <eos>, then <pad>
    silent_labels = ("<eos>",)  # the end, cut there; a <pad> or <bos> emitted reads "?"

    def target(self, u: Utterance, steps: int) -> torch.Tensor:
        """``u``'s characters and ``<eos>``: an attention decoder may spell any number of
        characters from any number of encoder steps."""
        return torch.tensor([*self.label_ids(u.text), Vocab.eos_id], dtype=torch.long)

    def model_sizes(self) -> dict[str, Any]:
        return self.sizes_of(self.width * self.data.stack, len(self.labels))

    def placeholder_sizes(self) -> dict[str, Any]:
        return self.sizes_of(8, 8)

    @staticmethod
    def sizes_of(input_size: int, labels: int) -> dict[str, Any]:
        return {
            "inputs": {"input_size": input_size},
            "tgt_vocab_size": labels,
            "pad_id": Vocab.pad_id,
            "bos_id": Vocab.bos_id,
            "eos_id": Vocab.eos_id,
        }
