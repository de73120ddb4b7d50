"""Batching benchmark: bucketing + packing vs pad-to-longest random batches.

One training epoch of a many-to-one LSTM classifier (embedding -> seqlab.nn.LSTM ->
linear on the state at each sequence's last real step) over sequences whose lengths are
drawn log-normally and clipped to [5, 500]: most are short, a few are long, so a random
batch is padded to a long maximum and most of its compute is spent on padding.

* ``random+pad``: shuffled batches padded to their longest sequence; the LSTM runs over
  every padded step and the output at step ``length - 1`` is taken (the same value the
  packed run gives: the LSTM is causal, padding comes after).
* ``bucket+pack``: ``BucketSampler`` batches of similar length, and the LSTM is given
  ``lengths``, so its state stops at each sequence's last real step (on the CPU through
  seqlab's exact padded fused path, since torch's packed CPU kernels are several times
  slower; on CUDA through a packed sequence).
* ``bucket+pad``: bucketing alone (padded batches, unpacked kernel, output gathered at
  ``length - 1``), to separate the two effects. For a unidirectional model it gives the
  same result as packing; a bidirectional one needs the packed (or masked) run.

Both start from the same weights; the loss of the whole corpus at those weights is
computed both ways and must agree, and the mean training loss of the epoch is reported.
Throughput is real (unpadded) tokens per second, the median of ``--repeats`` epochs,
methods interleaved within each repeat. ``torch.set_num_threads(2)``.

    python benchmarks/batching.py            # writes benchmarks/results/batching.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from seqlab.data import BucketSampler, collate_classification
from seqlab.nn import LSTM


class Classifier(nn.Module):
    def __init__(self, vocab: int, embed: int, hidden: int, classes: int):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed, padding_idx=0)
        self.lstm = LSTM(embed, hidden)
        self.head = nn.Linear(hidden, classes)

    def forward(self, inputs, lengths, pack: bool):
        x = self.embed(inputs)  # (B, T, E)
        if pack:
            _, (h, _) = self.lstm(x, lengths=lengths)
            last = h[-1]  # (B, H): state at each sequence's last real step
        else:
            out, _ = self.lstm(x)  # (B, T, H), padding steps computed too
            idx = (lengths - 1).view(-1, 1, 1).expand(-1, 1, out.size(2))
            last = out.gather(1, idx).squeeze(1)  # (B, H)
        return self.head(last)


def make_corpus(n: int, vocab: int, classes: int, seed: int):
    rng = np.random.default_rng(seed)
    lengths = np.clip(np.round(rng.lognormal(np.log(40), 1.0, size=n)), 5, 500).astype(int)
    data = []
    for length in lengths:
        seq = rng.integers(1, vocab, size=length)
        data.append((torch.from_numpy(seq), int(seq[0] % classes)))  # label: the first token
    return data, lengths.tolist()


def loader(data, lengths, method: str, batch_size: int, epoch: int):
    if method == "random+pad":
        g = torch.Generator().manual_seed(epoch)
        return DataLoader(data, batch_size, shuffle=True, generator=g,
                          collate_fn=collate_classification)  # fmt: skip
    sampler = BucketSampler(lengths, batch_size, seed=epoch)
    return DataLoader(data, batch_sampler=sampler, collate_fn=collate_classification)


def run_epoch(model, data, lengths, method, batch_size, epoch, lr):
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    pack = method.endswith("pack")
    total, count = 0.0, 0
    start, cpu_start = time.perf_counter(), time.process_time()
    for batch in loader(data, lengths, method, batch_size, epoch):
        logits = model(batch.inputs, batch.lengths, pack)
        loss = F.cross_entropy(logits, batch.targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * batch.size
        count += batch.size
    return time.perf_counter() - start, time.process_time() - cpu_start, total / count


@torch.no_grad()
def corpus_loss(model, data, lengths, method, batch_size):
    total = 0.0
    for batch in loader(data, lengths, method, batch_size, epoch=0):
        logits = model(batch.inputs, batch.lengths, method.endswith("pack"))
        total += F.cross_entropy(logits, batch.targets, reduction="sum").item()
    return total / len(data)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "batching.json"))
    args = p.parse_args()
    torch.set_num_threads(2)
    vocab, embed, classes = 100, 32, 4
    data, lengths = make_corpus(args.n, vocab, classes, seed=0)
    methods = ["random+pad", "bucket+pack", "bucket+pad"]

    torch.manual_seed(0)
    init = Classifier(vocab, embed, args.hidden, classes).state_dict()
    model = Classifier(vocab, embed, args.hidden, classes)
    model.load_state_dict(init)
    model.eval()
    same = {m: corpus_loss(model, data, lengths, m, args.batch_size) for m in methods}

    times = {m: [] for m in methods}
    cpu = {m: [] for m in methods}
    losses = {m: [] for m in methods}
    for r in range(args.repeats):
        for m in methods:
            model = Classifier(vocab, embed, args.hidden, classes)
            model.load_state_dict(init)
            model.train()
            seconds, cpu_seconds, loss = run_epoch(
                model, data, lengths, m, args.batch_size, r, lr=0.5
            )
            times[m].append(seconds)
            cpu[m].append(cpu_seconds)
            losses[m].append(loss)

    real_tokens = sum(lengths)
    base = statistics.median(times["random+pad"])
    cpu_base = statistics.median(cpu["random+pad"])
    rows = {}
    for m in methods:
        padded = sum(
            len(b) * max(lengths[i] for i in b)
            for b in (
                BucketSampler(lengths, args.batch_size, seed=0)
                if m.startswith("bucket")
                else [
                    list(range(i, min(i + args.batch_size, len(data))))
                    for i in range(0, len(data), args.batch_size)
                ]
            )
        )
        med = statistics.median(times[m])
        rows[m] = {
            "epoch_seconds_median": med,
            "epoch_seconds_all": times[m],
            "tokens_per_second": real_tokens / med,
            "speedup_vs_random_pad": base / med,
            "cpu_seconds_median": statistics.median(cpu[m]),
            "cpu_speedup_vs_random_pad": cpu_base / statistics.median(cpu[m]),
            "padded_steps_per_real_step": padded / real_tokens,
            "loss_at_init": same[m],
            "epoch_train_loss_median": statistics.median(losses[m]),
        }
    result = {
        "benchmark": "batching",
        "config": {
            **vars(args),
            "vocab": vocab,
            "embed": embed,
            "classes": classes,
            "threads": 2,
            "real_tokens": real_tokens,
            "length_median": float(np.median(lengths)),
            "length_max": max(lengths),
        },
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "processor": platform.processor() or platform.machine(),
        },
        "results": rows,
        "loss_at_init_max_abs_diff": max(same.values()) - min(same.values()),
    }
    print(f"{args.n} sequences, lengths median {np.median(lengths):.0f}, max {max(lengths)}, "
          f"{real_tokens} real tokens; batch {args.batch_size}, hidden {args.hidden}, "
          f"median of {args.repeats} epochs")  # fmt: skip
    print(f"{'method':<12} {'epoch s':>8} {'tokens/s':>9} {'speedup':>8} {'cpu s':>7} "
          f"{'cpu spdup':>9} {'pad ratio':>9} {'loss@init':>10} {'train loss':>10}")  # fmt: skip
    for m, r in rows.items():
        print(f"{m:<12} {r['epoch_seconds_median']:>8.2f} {r['tokens_per_second']:>9.0f} "
              f"{r['speedup_vs_random_pad']:>7.2f}x {r['cpu_seconds_median']:>7.2f} "
              f"{r['cpu_speedup_vs_random_pad']:>8.2f}x {r['padded_steps_per_real_step']:>9.2f} "
              f"{r['loss_at_init']:>10.6f} {r['epoch_train_loss_median']:>10.4f}")  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
