"""Character error rate of the CTC and attention transcribers on spoken words never heard
in training.

Run: ``.venv/bin/python benchmarks/speech.py [ctc|attention]`` (prints a table, writes
results/speech.json or results/speech_attention.json). ``--minutes 15``: the training
time budget (the run also stops early, on val CER, as the config says); ``--config``:
another run config.

The run is ``examples/speech_ctc.yaml`` as it is: the ``spoken_words`` set (espeak-ng,
4 voices x 2 speeds; needs Debian's espeak-ng), 40 log-mel bands every 10 ms, 3 frames
per step, a 2 x 128 bidirectional LSTM, CTC. Words are split into 20 folds: 2 folds are
validation, 2 are test, so every test word (alone or in a phrase) is one no training
clip contains. The test clips are transcribed through ``Run.predict`` from their WAV
files, best path and prefix beam search (8), and scored per clip kind (single words,
phrases) with corpus CER and WER. Baseline: the empty transcript, CER = 1.

``attention`` trains ``examples/speech_attention.yaml`` instead (task
``transcription_attention``: the same data, features, stacking and split, a 2 x 128
BiLSTM encoder and an LSTM decoder with Luong attention) and decodes the test clips
greedily and by beam search (8). It checks that its test clips are exactly those of the
CTC config's split, and cites the CTC figures of ``results/speech.json`` with the commit
that wrote them (``ctc_reference``); ``ctc`` reruns those.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

from seqlab import load_run_config, train_run
from seqlab.run import git_commit
from seqlab.tasks import TranscriptionTask
from seqlab.train.callbacks import Callback
from seqlab.train.metrics import cer, wer

ROOT = Path(__file__).resolve().parent


class TimeBudget(Callback):
    """Stop at the end of the first epoch past ``seconds`` of training; log each epoch."""

    def __init__(self, seconds: float):
        self.seconds, self.start = seconds, time.perf_counter()

    def on_epoch_end(self, trainer, epoch, logs) -> None:
        seconds = time.perf_counter() - self.start
        shown = ", ".join(f"{k} {v:.4g}" for k, v in logs.items() if isinstance(v, float))
        print(f"epoch {epoch + 1}: {shown} ({seconds:.0f} s)", file=sys.stderr, flush=True)
        if seconds > self.seconds:
            trainer.stop(f"time budget of {self.seconds:.0f} s spent")


def load_average() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def same_split_as_ctc(run, ctc_config: str) -> dict[str, int]:
    """The CTC config's test split (read, not trained) holds exactly ``run``'s test clips."""
    ctc = load_run_config(ctc_config)
    task = TranscriptionTask(ctc.data)
    task.read()
    key = lambda us: sorted((str(u.source), u.text) for u in us)  # noqa: E731
    assert key(task.splits.test) == key(run.task.splits.test), "not the CTC run's test split"
    assert key(task.splits.val) == key(run.task.splits.val), "not the CTC run's val split"
    return {"test_clips": len(task.splits.test), "val_clips": len(task.splits.val)}


def ctc_reference(path: Path) -> dict:
    """The CTC figures of ``path`` and the last commit that wrote the file."""
    if not path.is_file():
        return {"missing": str(path)}
    saved = json.loads(path.read_text())
    log = ["git", "log", "-1", "--format=%h %s", "--", path.name]
    commit = subprocess.run(log, cwd=path.parent, capture_output=True, text=True).stdout.strip()
    return {
        "file": f"benchmarks/results/{path.name}",
        "commit": commit or None,
        "train": saved["train"],
        "greedy": {k: saved["test"]["greedy"][k] for k in ("words", "phrases", "all")},
        "beam8": {k: saved["test"]["beam8"][k] for k in ("words", "phrases", "all")},
    }


def score(run, utterances, beam: int, alpha: float | None = None) -> dict[str, dict[str, float]]:
    """CER/WER per clip kind of ``run``'s transcripts by beam ``beam`` (1: greedy), with
    GNMT length penalty ``alpha`` (attention only); ``length_ratio``: output characters
    over reference characters (below 1: words dropped)."""
    changes = {"beam_size": beam} if alpha is None else {"beam_size": beam, "length_penalty": alpha}
    run.model.config = dataclasses.replace(run.model.config, **changes)
    start = time.perf_counter()
    outputs = [row["output"] for row in run.predict([str(u.source) for u in utterances])]
    seconds = time.perf_counter() - start
    out = {}
    for kind, keep in (("words", lambda t: " " not in t), ("phrases", lambda t: " " in t),
                       ("all", lambda t: True)):  # fmt: skip
        pairs = [(o, u.text) for o, u in zip(outputs, utterances, strict=True) if keep(u.text)]
        if pairs:
            hyps, refs = zip(*pairs, strict=True)
            ratio = sum(map(len, hyps)) / sum(map(len, refs))
            out[kind] = {"clips": len(pairs), "cer": round(cer(hyps, refs), 4),
                         "wer": round(wer(hyps, refs), 4),
                         "length_ratio": round(ratio, 3)}  # fmt: skip
    out["decode_s"] = round(seconds, 1)
    pairs = list(zip(outputs, utterances, strict=True))
    words = [(o, u) for o, u in pairs if " " not in u.text][::37][:8]
    phrases = [(o, u) for o, u in pairs if " " in u.text][::11][:8]
    out["examples"] = [{"text": u.text, "output": o} for o, u in words + phrases]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", nargs="?", choices=["ctc", "attention"], default="ctc")
    parser.add_argument("--config", help="default: examples/speech_{ctc,attention}.yaml")
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument(
        "--threads", type=int, default=1
    )  # 2 on a shared, loaded machine: 10x slower
    parser.add_argument("--out", help="default: results/speech.json or speech_attention.json")
    args = parser.parse_args()
    examples = ROOT.parent / "examples"
    ctc_config = str(examples / "speech_ctc.yaml")
    name = {"ctc": "speech_ctc", "attention": "speech_attention"}[args.mode]
    args.config = args.config or str(examples / f"{name}.yaml")
    suffix = "" if args.mode == "ctc" else "_attention"
    args.out = args.out or str(ROOT / "results" / f"speech{suffix}.json")
    torch.set_num_threads(args.threads)
    config = load_run_config(args.config, ["train.progress=false"])
    load_before = load_average()
    start, cpu_start = time.perf_counter(), time.process_time()
    run = train_run(config, callbacks=[TimeBudget(60 * args.minutes)])
    train_s, train_cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    test = list(run.task.splits.test)
    train_texts = {u.text for u in run.task.splits.train}
    train_words = {w for t in train_texts for w in t.split()}
    test_words = {w for u in test for w in u.text.split()}
    assert not test_words & train_words, "a test word was heard in training"
    result = {
        "mode": args.mode,
        "config": Path(args.config).name,
        "commit": git_commit(short=True),
        "train": {"seconds": round(train_s, 1), "cpu_seconds": round(train_cpu_s, 1),
                  "epochs": len(run.history),
                  "best_val_cer": min(h["val_cer"] for h in run.history),
                  "clips": len(run.task.splits.train), "words": len(train_words),
                  "parameters": sum(p.numel() for p in run.model.parameters()),
                  "val_cer_by_epoch": [round(h["val_cer"], 4) for h in run.history]},
        "test": {"clips": len(test), "words": len(test_words),
                 "greedy": score(run, test, 1), "beam8": score(run, test, 8)},
        "baseline_empty_transcript_cer": 1.0,
        "threads": args.threads,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
    }  # fmt: skip
    if args.mode == "attention":  # Wu et al. 2016's penalty: beam search prefers short outputs
        result["test"]["beam8_lp1"] = score(run, test, 8, alpha=1.0)
        result["same_split_as_ctc"] = same_split_as_ctc(run, ctc_config)
        result["ctc_reference"] = ctc_reference(ROOT / "results" / "speech.json")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"{args.mode}: trained {result['train']['epochs']} epochs in {train_s:.0f} s "
          f"(load {load_before} -> {result['load_average_after']}); "
          f"test: {len(test)} clips of {len(test_words)} unheard words")  # fmt: skip
    print(f"{'decoding':18} {'clips':>6} {'CER':>7} {'WER':>7}")
    for name in ("greedy", "beam8", "beam8_lp1"):
        for kind in ("words", "phrases", "all"):
            row = result["test"].get(name, {}).get(kind)
            if row:
                label = f"{name} {kind}"
                print(f"{label:18} {row['clips']:>6} {row['cer']:>7.3f} {row['wer']:>7.3f}")
    if args.mode == "attention" and "all" in result["ctc_reference"].get("greedy", {}):
        ref = result["ctc_reference"]
        for name in ("greedy", "beam8"):
            row = ref[name]["all"]
            label = f"ctc {name} all"
            print(f"{label:18} {row['clips']:>6} {row['cer']:>7.3f} {row['wer']:>7.3f}"
                  f"  ({ref['file']}, {ref['commit']})")  # fmt: skip
    print("baseline (empty transcript): CER 1.000")


if __name__ == "__main__":
    main()
