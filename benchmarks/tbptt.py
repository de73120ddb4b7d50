"""Peak memory of a training pass with truncated BPTT, as the stream grows.

One epoch of ``Trainer.fit`` (``stateful=True``, chunks of k = 200) over a character-
level language-model stream of 200, 2,000 and 20,000 steps; full BPTT over the whole
stream in one piece for comparison. Goal: TBPTT's peak at 20,000 steps within 1.2x of
its peak at 200 (memory must not grow with the stream).

Each (mode, length, repeat) runs in a fresh subprocess, which measures two things:

* **graph peak**: the most bytes of tensors held for the backward pass at any moment.
  ``torch.autograd.graph.saved_tensors_hooks`` sees every tensor autograd saves (the
  fused LSTM kernel's workspace included); storages are counted once while any saved
  reference to them lives, and released when the graph that holds them is freed. This is
  the memory that BPTT length drives, without the interpreter's and allocator's noise.
* **RSS increment**: the process's peak resident set (``getrusage`` ``ru_maxrss``,
  after the pass) minus its resident set just before the pass (``/proc/self/statm``):
  everything the pass added, allocator caches and kernel scratch included.

The RSS also holds what glibc's allocator keeps after ``free``: its mmap threshold grows
with the largest block freed (up to 32 MiB), after which big activation buffers come
from the heap and are kept and fragmented rather than returned. So TBPTT is measured
twice: with glibc's defaults, and with ``MALLOC_MMAP_THRESHOLD_=131072`` (the default
threshold, fixed), which separates the allocator's retention from what training holds.

All numbers are medians of 5 runs. ``python benchmarks/tbptt.py`` prints a table and
writes ``benchmarks/results/tbptt.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.data import Batch
from seqlab.models import Output
from seqlab.nn import LSTM
from seqlab.train import Trainer, TrainerConfig

K = 200
LENGTHS = (200, 2_000, 20_000)
BATCH, VOCAB, EMBED, HIDDEN = 16, 64, 32, 128
REPEATS = 5


class CharLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, EMBED)
        self.rnn = LSTM(EMBED, HIDDEN)
        self.head = nn.Linear(HIDDEN, VOCAB)

    def forward(self, batch: Batch, state=None) -> Output:
        out, state = self.rnn(self.embed(batch.inputs), state)  # (B, T, H)
        logits = self.head(out)  # (B, T, V)
        loss = F.cross_entropy(logits.flatten(0, 1), batch.targets.flatten())
        return Output(logits, loss, state)


class SavedBytes:
    """Bytes of the storages autograd holds for backward: now and at the peak."""

    def __init__(self):
        self.live: dict[int, list[int]] = {}  # storage address -> [bytes, references]
        self.current = 0
        self.peak = 0

    def pack(self, tensor):
        storage = tensor.untyped_storage()
        key = storage.data_ptr()
        entry = self.live.get(key)
        if entry is None:
            self.live[key] = [storage.nbytes(), 1]
            self.current += storage.nbytes()
            self.peak = max(self.peak, self.current)
        else:
            entry[1] += 1
        return _Held(self, key, tensor)

    @staticmethod
    def unpack(held):
        return held.tensor

    def release(self, key: int) -> None:
        entry = self.live[key]
        entry[1] -= 1
        if entry[1] == 0:
            self.current -= entry[0]
            del self.live[key]


class _Held:
    """A saved tensor; when the graph drops it, the count goes down."""

    __slots__ = ("key", "owner", "tensor")

    def __init__(self, owner: SavedBytes, key: int, tensor):
        self.owner, self.key, self.tensor = owner, key, tensor

    def __del__(self):
        self.owner.release(self.key)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child(mode: str, length: int) -> dict:
    """One training pass in this process; returns the measurements."""
    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = CharLM()
    stream = torch.randint(0, VOCAB, (BATCH, length + 1))  # B parallel streams, +1 target
    x, y = stream[:, :-1], stream[:, 1:]
    # Chunks are copies, as a collate function makes them: a view would keep the whole
    # stream's storage in the graph (the embedding saves its indices) and be counted.
    if mode == "tbptt":
        data = [
            Batch(x[:, i : i + K].clone(), y[:, i : i + K].clone()) for i in range(0, length, K)
        ]
    else:  # full BPTT: the whole stream is one sequence
        data = [Batch(x.clone(), y.clone())]
    cfg = TrainerConfig(epochs=1, optimizer={"lr": 1e-3}, tbptt={"stateful": mode == "tbptt"},
                        progress=False, tensorboard=False, device="cpu")  # fmt: skip
    trainer = Trainer(model, cfg)
    counter = SavedBytes()
    before = _rss_bytes()
    start = time.perf_counter()
    with torch.autograd.graph.saved_tensors_hooks(counter.pack, counter.unpack):
        trainer.fit(data)
    seconds = time.perf_counter() - start
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    return {"graph_peak_bytes": counter.peak, "rss_increment_bytes": max(0, peak_rss - before),
            "seconds": seconds}  # fmt: skip


FIXED_MMAP = {"MALLOC_MMAP_THRESHOLD_": "131072"}
SETUPS = (("tbptt", {}), ("tbptt", FIXED_MMAP), ("full", {}))


def measure(mode: str, length: int, env: dict[str, str]) -> dict:
    runs = []
    for _ in range(REPEATS):
        out = subprocess.run([sys.executable, __file__, "--child", mode, str(length)],
                             check=True, capture_output=True, text=True,
                             env={**os.environ, **env})  # fmt: skip
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def main() -> None:
    results = {"k": K, "batch": BATCH, "vocab": VOCAB, "embed": EMBED, "hidden": HIDDEN,
               "repeats": REPEATS, "torch": torch.__version__, "runs": []}  # fmt: skip
    print(f"{'mode':6} {'malloc':7} {'steps':>7} {'graph peak MiB':>15} {'RSS incr. MiB':>14} "
          f"{'seconds':>8}")  # fmt: skip
    for mode, env in SETUPS:
        malloc = "fixed" if env else "default"
        for length in LENGTHS:
            m = measure(mode, length, env)
            results["runs"].append({"mode": mode, "malloc": malloc, "steps": length, **m})
            graph, rss = m["graph_peak_bytes"] / 2**20, m["rss_increment_bytes"] / 2**20
            line = (
                f"{mode:6} {malloc:7} {length:>7} {graph:>15.2f} {rss:>14.1f} {m['seconds']:>8.2f}"
            )
            print(line, flush=True)
    by = {(r["mode"], r["malloc"], r["steps"]): r for r in results["runs"]}
    for malloc in ("default", "fixed"):
        for key in ("graph_peak_bytes", "rss_increment_bytes"):
            long, short = by[("tbptt", malloc, LENGTHS[-1])], by[("tbptt", malloc, LENGTHS[0])]
            ratio = long[key] / max(1, short[key])
            results[f"tbptt_{malloc}_malloc_{key}_ratio_{LENGTHS[-1]}_vs_{LENGTHS[0]}"] = ratio
            print(
                f"TBPTT ({malloc} malloc) {key} at {LENGTHS[-1]} / at {LENGTHS[0]}: "
                f"{ratio:.3f} (goal <= 1.2)"
            )
    os.makedirs(os.path.join(os.path.dirname(__file__), "results"), exist_ok=True)
    path = os.path.join(os.path.dirname(__file__), "results", "tbptt.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=2)
    print(f"wrote {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", nargs=2, metavar=("MODE", "STEPS"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]))))
    else:
        main()
