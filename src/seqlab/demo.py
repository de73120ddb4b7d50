"""A first look: a small LSTM learns the adding problem and its loss falls.

The adding problem (Hochreiter & Schmidhuber 1997; Bai et al. 2018): each input step
is (a random number in [0, 1), a marker); exactly two markers are 1, and the target is
the sum of the two marked numbers. Always predicting the mean sum 1.0 gives MSE ≈ 0.167
(the variance of a sum of two U(0, 1)), so a loss well below that means the network
remembers across time.

Run: ``python -m seqlab.demo`` (``make demo`` sets everything up first).
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from seqlab.nn import LSTM


def adding_problem(n: int, length: int, generator: torch.Generator) -> tuple:
    """Inputs (n, length, 2) and targets (n,) of the adding problem."""
    values = torch.rand(n, length, generator=generator)
    markers = torch.zeros(n, length)
    half = length // 2
    first = torch.randint(0, half, (n,), generator=generator)
    second = torch.randint(half, length, (n,), generator=generator)
    rows = torch.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = torch.stack([values, markers], dim=-1)
    y = values[rows, first] + values[rows, second]
    return x, y


class Regressor(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.lstm = LSTM(2, hidden)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1]).squeeze(-1)  # many-to-one: last step


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--length", type=int, default=50)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    model = Regressor(args.hidden)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x_val, y_val = adding_problem(1000, args.length, gen)
    print(
        f"adding problem, T={args.length}: baseline MSE (always predict 1.0) = "
        f"{float(((y_val - 1.0) ** 2).mean()):.4f}"
    )
    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        x, y = adding_problem(64, args.length, gen)
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step == 1:
            with torch.no_grad():
                val = float(nn.functional.mse_loss(model(x_val), y_val))
            print(
                f"step {step:4d}  train MSE {loss.item():.4f}  val MSE {val:.4f}"
                f"  ({time.perf_counter() - start:.1f}s)"
            )
    return val


if __name__ == "__main__":
    main()
