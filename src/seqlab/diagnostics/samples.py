"""``SampleLog``: a language model's own text, a few samples at the end of every epoch.

Appended to ``RUN_DIR/samples.txt`` (the log a person reads to see a model learn to
write: noise, then words, then form), each under a header naming the epoch, the prompt
and the sampling settings. The prompt is the start of the validation text (else the
training text): 40 characters from its first line break for a character model, 8 tokens
otherwise; a conditioned run (``task.sample_prompts()``) samples from ``<bos>`` for each
of a few conditions instead. Sampling uses a
private generator seeded per sample, so the training's random stream is untouched, and
the model's mode is restored after.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ..train.callbacks import Callback

__all__ = ["SAMPLES_FILE", "SampleLog"]

SAMPLES_FILE = "samples.txt"


class SampleLog(Callback):
    def __init__(
        self,
        task,
        model: torch.nn.Module,
        directory: str | os.PathLike,
        samples: int = 2,
        length: int = 200,
        temperature: float = 0.8,
    ):
        self.task, self.model = task, model
        self.path = Path(directory) / SAMPLES_FILE
        self.samples, self.length, self.temperature = samples, length, temperature

    def prompt(self) -> str:
        splits = self.task.splits
        text = next((p[0] for p in (splits.val, splits.train) if p and p[0]), "")
        if self.task.text.tokenizer_name == "char":
            start = text.find("\n", 0, 200) + 1  # from the start of a line
            return text[start : start + 40] or "\n"
        return " ".join(text.split()[:8]) or self.task.text.vocab.token(4)

    def prompts(self) -> list[tuple[str, dict[str, Any]]]:
        """(prompt, generate options) per header: the task's own (a conditioned run: one
        per condition) or :meth:`prompt` alone."""
        own = getattr(self.task, "sample_prompts", lambda: None)()
        return own if own is not None else [(self.prompt(), {})]

    def on_epoch_end(self, trainer, epoch: int, logs: dict[str, Any]) -> None:
        lines = []
        for prompt, options in self.prompts():
            given = "".join(f", {k} {v!r}" for k, v in options.items())
            lines.append(
                f"=== epoch {epoch + 1}: prompt {prompt!r}{given}, "
                f"temperature {self.temperature} ==="
            )
            with torch.no_grad():
                for k in range(self.samples):
                    text = self.task.generate(
                        self.model, prompt, self.length, temperature=self.temperature, seed=k,
                        **options,
                    )  # fmt: skip
                    lines += [f"--- sample {k + 1}", prompt + text]
        with open(self.path, "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n\n")
