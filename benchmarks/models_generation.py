"""Generation benchmark: carrying the state step to step vs recomputing the whole prefix.

A ``LanguageModel`` generates ``--new`` tokens greedily after a ``--prompt``-token prompt,
batch ``--batch``, two ways:

* ``carried``: ``LanguageModel.generate`` — a recurrent encoder reads the prompt once and
  then steps with its ``(h, c)``; a TCN/WaveNet runs its streaming path (cached
  activations), so each new token costs one step;
* ``recompute``: the naive loop, a full ``forward`` over the prompt and everything generated
  so far for every new token (cost grows with the length).

Both are greedy from the same weights, and their outputs must be identical (checked).
Time per generated token is the median of ``--repeats`` runs, the two methods
interleaved within each repeat. ``torch.set_num_threads(2)``.

    python benchmarks/models_generation.py   # writes benchmarks/results/models_generation.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

import seqlab.nn
from seqlab.data import Batch
from seqlab.models import EncoderConfig, InputConfig, LanguageModel, LanguageModelConfig


def recompute(model: LanguageModel, prompt: torch.Tensor, new: int) -> torch.Tensor:
    seq = prompt
    with torch.no_grad():
        for _ in range(new):
            logits = model(Batch(seq)).prediction[:, -1]  # (B, V), the whole prefix again
            seq = torch.cat([seq, logits.argmax(-1, keepdim=True)], 1)
    return seq


def encoders(hidden: int) -> dict[str, EncoderConfig]:
    out = {
        "lstm": EncoderConfig(kind="lstm", hidden_size=hidden, num_layers=2),
        "gru": EncoderConfig(kind="gru", hidden_size=hidden, num_layers=2),
    }
    if hasattr(seqlab.nn, "TCN"):
        out["tcn"] = EncoderConfig(kind="tcn", hidden_size=hidden, num_layers=6, kernel_size=3)
    if hasattr(seqlab.nn, "WaveNet"):
        out["wavenet"] = EncoderConfig(kind="wavenet", hidden_size=hidden, num_layers=6)
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--vocab", type=int, default=64)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--prompt", type=int, default=32)
    p.add_argument("--new", type=int, default=128)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", default="benchmarks/results/models_generation.json")
    args = p.parse_args(argv)
    torch.set_num_threads(2)

    rows = []
    for name, enc in encoders(args.hidden).items():
        torch.manual_seed(0)
        model = LanguageModel(
            LanguageModelConfig(InputConfig(vocab_size=args.vocab, embedding_dim=32), encoder=enc)
        ).eval()
        prompt = torch.randint(4, args.vocab, (args.batch, args.prompt))
        times = {"carried": [], "recompute": []}
        for _ in range(args.repeats):
            t = time.perf_counter()
            fast = model.generate(prompt, args.new, greedy=True)
            times["carried"].append(time.perf_counter() - t)
            t = time.perf_counter()
            slow = recompute(model, prompt, args.new)
            times["recompute"].append(time.perf_counter() - t)
            if not torch.equal(fast, slow):
                raise SystemExit(f"{name}: carried and recomputed generations differ")
        med = {k: statistics.median(v) * 1e3 / args.new for k, v in times.items()}
        rows.append(
            {
                "encoder": name,
                "ms_per_token_carried": med["carried"],
                "ms_per_token_recompute": med["recompute"],
                "speedup": med["recompute"] / med["carried"],
            }
        )

    print(f"{'encoder':<10}{'carried ms/tok':>16}{'recompute ms/tok':>18}{'speedup':>10}")
    for r in rows:
        print(
            f"{r['encoder']:<10}{r['ms_per_token_carried']:>16.3f}"
            f"{r['ms_per_token_recompute']:>18.3f}{r['speedup']:>9.1f}x"
        )
    result = {
        "benchmark": "models_generation",
        "args": vars(args),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "threads": torch.get_num_threads(),
        "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
