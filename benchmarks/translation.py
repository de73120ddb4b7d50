"""Translation benchmarks: decoder training speed, date conversion, KJV -> WEB.

``speed``: target tokens per second of a training step (forward, backward, Adam) for the
three decoders of :mod:`seqlab.models.seq2seq` on one model size (a bidirectional GRU
encoder of 128, a GRU decoder of 256, 8,000-word vocabularies, embeddings of 128: about
5 M parameters, the size of issue #24's first try), on random batches of 64 pairs of
20-40 tokens. ``luong`` (attention after the RNN, no input feeding) runs the target as one
fused recurrent call; ``luong+feed`` (input feeding) and ``bahdanau`` (additive, the
previous default) loop over target steps. Median of ``--repeats`` timings of ``--steps``
steps, decoders interleaved in each repeat.

``dates``: ``examples/dates_attention.yaml`` through ``train_run``; exact match of the
greedy decoding on the test split and the wall time (goal: >= 99 % in under 2 minutes).

``bible``: ``examples/bible_translation.yaml`` (KJV -> World English Bible, whole closing
books of the canon held out) in one run, scored (BLEU, chrF, greedy decoding) on the test
books after each of ``--minutes`` of training (wall time of training, scoring excluded;
CPU seconds and load recorded beside it), with six example translations, next to the
copy-the-source baseline.

    python benchmarks/translation.py speed    # writes benchmarks/results/translation_speed.json
    python benchmarks/translation.py dates
    python benchmarks/translation.py bible --minutes 10 30
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from seqlab.data import Batch
from seqlab.models import EncoderConfig, InputConfig, Seq2Seq, Seq2SeqConfig
from seqlab.run import git_commit
from seqlab.train.callbacks import Callback

RESULTS = Path(__file__).parent / "results"
EXAMPLES = Path(__file__).parent.parent / "examples"

DECODERS = {
    "luong": dict(attention="multiplicative", input_feeding=False),
    "luong+feed": dict(attention="multiplicative", input_feeding=True),
    "bahdanau": dict(attention="additive"),
}


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _model(decoder: str, vocab: int = 8000) -> Seq2Seq:
    torch.manual_seed(0)
    cfg = Seq2SeqConfig(
        inputs=InputConfig(vocab_size=vocab, embedding_dim=128),
        tgt_vocab_size=vocab,
        encoder=EncoderConfig(kind="gru", hidden_size=128, bidirectional=True),
        decoder_hidden_size=256,
        attention_size=128,
        **DECODERS[decoder],
    )
    return Seq2Seq(cfg).train()


def _batch(seed: int, B: int = 64, vocab: int = 8000) -> Batch:
    g = torch.Generator().manual_seed(seed)
    S = torch.randint(20, 41, (B,), generator=g)
    U = torch.randint(20, 41, (B,), generator=g)
    src = torch.zeros(B, int(S.max()), dtype=torch.long)
    tgt = torch.full((B, int(U.max())), -100, dtype=torch.long)
    for i in range(B):
        src[i, : S[i]] = torch.randint(4, vocab, (int(S[i]),), generator=g)
        tgt[i, : U[i] - 1] = torch.randint(4, vocab, (int(U[i]) - 1,), generator=g)
        tgt[i, U[i] - 1] = 3
    return Batch(src, tgt, S)


def speed(args) -> dict:
    torch.set_num_threads(args.threads)
    models = {name: _model(name) for name in DECODERS}
    opts = {name: torch.optim.Adam(m.parameters(), lr=1e-3) for name, m in models.items()}
    batches = [_batch(i) for i in range(args.steps)]
    tokens = sum(int((b.targets != -100).sum()) for b in batches)
    times = {name: [] for name in models}
    cpu = {name: [] for name in models}
    for m in models.values():  # warm-up
        m(batches[0]).loss.backward()
    for _ in range(args.repeats):
        for name, m in models.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            for b in batches:
                opts[name].zero_grad()
                m(b).loss.backward()
                opts[name].step()
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    rows = {}
    for name, ts in times.items():
        t, c = statistics.median(ts), statistics.median(cpu[name])
        rows[name] = {
            "wall_seconds": round(t, 3),
            "cpu_seconds": round(c, 3),
            "target_tokens_per_s": round(tokens / t, 1),
            "target_tokens_per_cpu_s": round(tokens / c, 1),
        }
    for name in rows:
        for key in ("target_tokens_per_s", "target_tokens_per_cpu_s"):
            rows[name][f"luong_speedup_{key[14:]}"] = round(rows["luong"][key] / rows[name][key], 2)
    params = sum(p.numel() for p in models["luong"].parameters())
    result = {
        "benchmark": "seq2seq decoder training throughput",
        "settings": {
            "batch": 64,
            "steps": args.steps,
            "repeats": args.repeats,
            "threads": args.threads,
            "vocab": 8000,
            "encoder": "bigru 128",
            "decoder": "gru 256",
            "parameters_luong": params,
        },
        "load_before": _load(),
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "results": rows,
    }
    result["load_after"] = _load()
    return result


def _run_example(name: str, overrides: dict, out: Path) -> tuple:
    from seqlab.config import load_yaml
    from seqlab.run import run_config, train_run

    raw = load_yaml(EXAMPLES / name)
    for dotted, value in overrides.items():
        node = raw
        *path, last = dotted.split(".")
        for key in path:
            node = node.setdefault(key, {})
        node[last] = value
    raw.setdefault("train", {}).setdefault("progress", False)
    config = run_config(raw)
    start = time.perf_counter()
    run = train_run(config, directory=out)
    return run, time.perf_counter() - start, raw


def dates(args) -> dict:
    torch.set_num_threads(args.threads)
    load_before = _load()
    cpu = time.process_time()
    run, seconds, raw = _run_example("dates_attention.yaml", {}, Path(args.out) / "dates")
    cpu = time.process_time() - cpu
    summary = json.loads((Path(args.out) / "dates" / "summary.json").read_text())
    return {
        "benchmark": "date conversion (examples/dates_attention.yaml)",
        "config": raw,
        "threads": args.threads,
        "load_before": load_before,
        "load_after": _load(),
        "wall_seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "epochs": len(run.history),
        "summary_metrics": summary.get("metrics"),
    }


def copy_baseline(pairs) -> dict:
    """BLEU and chrF of outputting the source sentence unchanged."""
    from seqlab.train.metrics.seq2seq import bleu, chrf

    src = [s for s, _ in pairs]
    ref = [t for _, t in pairs]
    return {"bleu": round(bleu(src, ref), 2), "chrf": round(chrf(src, ref), 2)}


class Marks(Callback):
    """Scores the test split with the current weights after each of ``minutes`` of
    training (the scoring time is not counted as training), and stops at the last."""

    def __init__(self, minutes, loader, task=None, examples=()):
        self.marks = sorted(minutes)
        self.loader = loader
        self.task, self.examples = task, list(examples)  # (source, reference) pairs
        self.on_mark = None  # called after each mark
        self.scores = []

    def on_fit_start(self, trainer) -> None:
        self.start, self.paused = time.perf_counter(), 0.0
        self.cpu_start = time.process_time()

    def on_step_end(self, trainer, logs) -> None:
        trained = time.perf_counter() - self.start - self.paused
        if not self.marks or trained < self.marks[0] * 60:
            return
        mark = self.marks.pop(0)
        t0 = time.perf_counter()
        cpu = round(time.process_time() - self.cpu_start, 1)  # training CPU s so far
        scores = trainer.evaluate(self.loader, prefix="test_")
        examples = self._translate(trainer.module)
        self.paused += time.perf_counter() - t0
        self.cpu_start += time.process_time() - self.cpu_start - cpu  # scoring not counted
        self.scores.append({
            "minutes": mark, "step": trainer.global_step, "epoch": logs["epoch"],
            "train_cpu_seconds": cpu,
            "load": _load(), **{k: round(float(v), 3) for k, v in scores.items()},
            "examples": examples,
        })  # fmt: skip
        print(json.dumps(self.scores[-1]), flush=True)
        if self.on_mark is not None:
            self.on_mark()
        if not self.marks:
            trainer.config.max_steps = trainer.global_step

    def _translate(self, model) -> list[dict]:
        """Greedy outputs for the example test verses, next to source and reference."""
        if self.task is None or not self.examples:
            return []
        was = model.training
        model.eval()
        batch = self.task.encode([s for s, _ in self.examples])
        decoded = model.decode(batch.inputs, batch.lengths)._asdict()
        outputs = self.task.decode([s for s, _ in self.examples], decoded)
        model.train(was)
        return [
            {"source": s, "reference": r, "output": o["output"]}
            for (s, r), o in zip(self.examples, outputs, strict=True)
        ]


def _books(task) -> dict:
    """The books of the val and test splits (``split: books`` holds out whole books)."""
    return {k: list(dict.fromkeys(task.groups[k])) for k in ("val", "test") if k in task.groups}


def bible(args) -> dict:
    """One run, scored on the test books at each of ``--minutes`` (e.g. 10 30)."""
    from seqlab.config import load_yaml
    from seqlab.run import run_config, train_run

    torch.set_num_threads(args.threads)
    load_before = _load()
    raw = load_yaml(EXAMPLES / "bible_translation.yaml")
    raw["train"]["progress"] = False
    config = run_config(raw)
    # the test loader comes from a task prepared like train_run's (the same data, split and
    # seeded fit); that its subwords equal the run's is checked below
    task = config.task_class(config.data)
    task.prepare()
    test = task.splits.test
    examples = [test[int(i * len(test) / 6)] for i in range(6)]  # evenly spaced verses
    result = {
        "benchmark": "KJV -> WEB (examples/bible_translation.yaml)",
        "commit": git_commit(),  # read at the start: the code that runs
        "threads": args.threads,
        "load_before": load_before,
        "pairs": {k: len(getattr(task.splits, k)) for k in ("train", "val", "test")},
        "held_out_books": _books(task),
        "copy_source_baseline_test": copy_baseline(test),
        "config": raw,
    }
    shown = ("pairs", "held_out_books", "copy_source_baseline_test")
    print(json.dumps({k: result[k] for k in shown}), flush=True)
    marks = Marks(args.minutes, task.loader("test"), task, examples)
    # after each mark the results so far are written (marked partial), so a run stopped
    # before its last mark still leaves its earlier ones
    marks.on_mark = lambda: _write("bible", {**result, "partial": True, "load_now": _load(),
                                            "test_at_minutes": marks.scores})  # fmt: skip
    out = Path(args.out) / "bible"
    start, cpu = time.perf_counter(), time.process_time()
    run = train_run(config, directory=out, callbacks=[marks])
    same = task.state_files() == run.task.state_files()
    summary = json.loads((out / "summary.json").read_text())
    return {
        **result,
        "load_after": _load(),
        "wall_seconds_total": round(time.perf_counter() - start, 1),
        "cpu_seconds_total": round(time.process_time() - cpu, 1),
        "test_at_minutes": marks.scores,
        "test_loader_vocab_equals_run": same,
        "summary_metrics_best_checkpoint": summary.get("metrics"),
    }


def _write(what: str, result: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"translation_{what}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=["speed", "dates", "bible"])
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    # 1 thread: on a shared, oversubscribed machine a second thread spins (CPU time
    # without progress); on a quiet 2-core machine pass --threads 2
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--minutes", type=float, nargs="+", default=[10.0, 30.0])
    p.add_argument("--out", default="/tmp/seqlab-translation")
    args = p.parse_args(argv)
    result = {"speed": speed, "dates": dates, "bible": bible}[args.what](args)
    path = _write(args.what, result)
    json.dump(result.get("results", result.get("test_at_minutes")), sys.stdout, indent=2)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
