"""Speed of a training step with the CPU's denormal floats computed or flushed to zero.

A gradient that vanishes through time (the lectures' vanishing gradient) passes through
float32 denormals (below 1.18e-38), which x86 CPUs compute 10-100x slower than normal
floats. ``Trainer.fit`` flushes them (``train.flush_denormal``, default true) through
:func:`seqlab.train.runtime.denormals_flushed`. The mode belongs to each thread, so with
more than one torch thread it matters whether the intra-op workers are flushed too.

One step: forward, loss and backward of seqlab's LSTM (130 units, the adding problem's
model) over T=600 steps of 2 features, batch 32, freshly initialized (its gradient
vanishes through time). Modes, interleaved within one process, median of the repeats:

* ``off``: no thread flushes (torch's default).
* ``caller``: only the calling thread flushes (``torch.set_flush_denormal(True)``).
* ``every``: ``denormals_flushed()``, what fit does: the calling thread and torch's
  workers.

``python -m benchmarks.denormals`` prints a table and writes
``benchmarks/results/denormals.json``. Timings are wall seconds a step; check the load
first (``uptime``): the ratios within one run are what to read.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from seqlab.nn import LSTM
from seqlab.train.runtime import denormals_flushed

MODES = ("off", "caller", "every")
RESULTS = Path(__file__).parent / "results" / "denormals.json"


def measure(threads: int, length: int, steps: int, repeats: int) -> dict[str, list[float]]:
    """Wall seconds a step for each mode, one list entry per repeat."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model, head = LSTM(2, 130), torch.nn.Linear(130, 1)
    x, y = torch.randn(32, length, 2), torch.rand(32, 1)

    def step() -> None:
        out, _ = model(x)
        loss = ((head(out[:, -1]) - y) ** 2).mean()
        model.zero_grad()
        loss.backward()

    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    for _ in range(repeats):  # every thread starts off (a fresh process) and ends off
        for mode in MODES:
            torch.set_flush_denormal(mode == "caller")
            with denormals_flushed(mode == "every"):
                step()  # warm-up
                start = time.perf_counter()
                for _ in range(steps):
                    step()
                times[mode].append((time.perf_counter() - start) / steps)
    torch.set_flush_denormal(False)
    return times


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", default="1,2", help="torch thread counts, comma-separated")
    p.add_argument("--length", type=int, default=600, help="sequence length T")
    p.add_argument("--steps", type=int, default=2, help="timed steps per repeat")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)  # one thread count
    args = p.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.child, args.length, args.steps, args.repeats)))
        return
    if not torch.set_flush_denormal(False):
        p.error("this CPU has no flush-denormal mode (no SSE3)")
    load = os.getloadavg()[0]
    rows = []
    print(f"{'threads':>7} " + " ".join(f"{m + ' s/step':>14}" for m in MODES) + "  off/every")
    for threads in (int(t) for t in args.threads.split(",")):
        # a fresh process per thread count: OMP_NUM_THREADS unset, the pool made anew
        env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
        command = [sys.executable, "-m", "benchmarks.denormals", "--child", str(threads)]
        command += ["--length", str(args.length), "--steps", str(args.steps)]
        command += ["--repeats", str(args.repeats)]
        out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        times = json.loads(out.stdout.splitlines()[-1])
        median = {mode: statistics.median(times[mode]) for mode in MODES}
        rows.append({"threads": threads, "median_s_per_step": median, "repeats_s": times})
        print(
            f"{threads:>7} "
            + " ".join(f"{median[m]:>14.3f}" for m in MODES)
            + f"  {median['off'] / median['every']:>8.1f}x",
            flush=True,
        )
    result = {
        "what": f"LSTM 130 units, T={args.length}, batch 32, one training step",
        "steps": args.steps,
        "repeats": args.repeats,
        "load_before": load,
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
