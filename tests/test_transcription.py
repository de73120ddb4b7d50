"""The transcription task: CER/WER against a reference edit distance, the npz and audio
table readers, the split by group, a run from files to `seqlab predict`, and bad input
(one clear line each, exit code 2 on the command line)."""

import functools
import random

import numpy as np
import pytest
import torch

from seqlab import load_run, run_config, train_run
from seqlab.cli import main
from seqlab.config import ConfigError
from seqlab.data import Batch, DataError
from seqlab.data.speech import espeak_available, synthesize
from seqlab.tasks.base import DataSource
from seqlab.tasks.transcription import Utterance, group_split, read_transcribed_npz
from seqlab.train.metrics import CER, WER, cer, edit_distance, make_metric, wer

torch.set_num_threads(1)


# --- metrics --------------------------------------------------------------------------------
def reference_distance(a, b):
    """Levenshtein's recursive definition, memoized: an independent reference."""

    @functools.cache
    def d(i, j):
        if i == 0 or j == 0:
            return i + j
        return min(d(i - 1, j) + 1, d(i, j - 1) + 1, d(i - 1, j - 1) + (a[i - 1] != b[j - 1]))

    return d(len(a), len(b))


def test_edit_distance_matches_the_recursive_definition():
    rng = random.Random(0)
    for _ in range(300):
        a = "".join(rng.choice("abc") for _ in range(rng.randint(0, 8)))
        b = "".join(rng.choice("abc") for _ in range(rng.randint(0, 8)))
        assert edit_distance(a, b) == reference_distance(a, b)
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3 and edit_distance("abc", "") == 3


def test_cer_and_wer_are_corpus_rates():
    hyps, refs = ["the cat sat", "dg"], ["the cat sat down", "dog"]
    assert cer(hyps, refs) == pytest.approx((5 + 1) / (16 + 3))
    assert wer(hyps, refs) == pytest.approx((1 + 1) / (4 + 1))
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        cer(hyps, refs[:1])


def test_accumulators_add_batches_exactly():
    space = 5
    batches = [
        (torch.tensor([[1, 2, 5, 3, -100]]), torch.tensor([[1, 2, 5, 3, 3]])),
        (torch.tensor([[4, 4, -100]]), torch.tensor([[4, 5, 4]])),
    ]
    c, w = make_metric("cer"), make_metric("wer", space=space)
    for pred, target in batches:
        batch = Batch(torch.zeros(1, 3, 2), target, target_lengths=torch.tensor([target.size(1)]))
        c.update(pred, batch)
        w.update([[t for t in pred[0].tolist() if t != -100]], batch)
    assert c.value() == pytest.approx((1 + 1) / (5 + 3))
    assert w.value() == pytest.approx((1 + 2) / (2 + 2))  # [1 2][3] vs [1 2][3 3]; [4 4] vs [4][4]
    assert isinstance(c, CER) and isinstance(w, WER)
    with pytest.raises(ValueError, match="metric 'wer' needs space="):
        make_metric("wer")


# --- files ---------------------------------------------------------------------------------
ALPHABET = "abcdefgh "


def fake_frames(text, rng, width=6):
    """Each character as 2-3 noisy frames of its own pattern: a learnable 'speech'."""
    patterns = 2.0 * np.random.default_rng(42).standard_normal((len(ALPHABET), width))
    frames = [np.zeros((1, width))]
    for ch in text:
        frames.append(
            patterns[ALPHABET.index(ch)] + 0.1 * rng.standard_normal((rng.integers(2, 4), width))
        )
        frames.append(np.zeros((1, width)))
    return np.concatenate(frames).astype(np.float32)


def write_npz(path, texts, seed=0, width=6, groups=None, frames=None):
    rng = np.random.default_rng(seed)
    frames = frames if frames is not None else [fake_frames(t, rng, width) for t in texts]
    offsets = np.cumsum([0, *map(len, frames)])
    arrays = dict(x=np.concatenate(frames), offsets=offsets, text=np.array(texts))
    if groups is not None:
        arrays["group"] = np.array(groups)
    np.savez(path, **arrays)
    return path


def words(n, seed):
    rng = random.Random(seed)
    return ["".join(rng.choice(ALPHABET[:-1]) for _ in range(rng.randint(2, 5))) for _ in range(n)]


def test_npz_reader_and_groups(tmp_path):
    p = write_npz(tmp_path / "a.npz", ["ab", "cd", "ab"], groups=["g1", "g2", "g1"])
    items = read_transcribed_npz(p)
    assert [u.text for u in items] == ["ab", "cd", "ab"] and [u.group for u in items] == [
        "g1",
        "g2",
        "g1",
    ]
    assert items[0].source.shape[1] == 6 and items[0].where.endswith("a.npz, utterance 0")
    assert [u.group for u in read_transcribed_npz(write_npz(tmp_path / "b.npz", ["ab", "cd"]))] == [
        "ab",
        "cd",
    ]


def test_group_split_never_puts_a_group_in_two_splits():
    items = [Utterance(np.zeros((1, 1)), f"w{i % 30}", f"w{i % 30}", "") for i in range(300)]
    source = DataSource(train="x", val_fraction=0.2, test_fraction=0.1, seed=3)
    splits = group_split(items, source)
    seen = [{u.group for u in part} for part in (splits.train, splits.val, splits.test)]
    assert (len(seen[0]), len(seen[1]), len(seen[2])) == (21, 6, 3)
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])
    assert sum(map(len, (splits.train, splits.val, splits.test))) == 300
    limited = group_split(items, DataSource(train="x", limit=50, seed=3))
    assert sum(map(len, (limited.train, limited.val, limited.test))) == 50


def config(tmp_path, train, **data):
    return run_config({
        "task": "transcribe",
        "data": {"train": str(train), "batch_size": 8, **data},
        "model": {"encoder": {"kind": "lstm", "hidden_size": 16, "bidirectional": True}},
        "train": {"epochs": 1, "max_steps": 3, "metrics": ["cer", "wer"], "monitor": "val_cer", "mode": "min", "progress": False},
    })  # fmt: skip


def test_a_run_from_npz_files_to_predict(tmp_path, capsys):
    texts = [*words(40, 0), "ab cd", "ef gh"]
    cfg = config(tmp_path, write_npz(tmp_path / "train.npz", texts), stack=2)
    assert cfg.task == "transcription"
    run = train_run(cfg, tmp_path / "run")
    assert run.task.labels[:2] == ["<blank>", "<unk>"] and " " in run.task.labels
    assert run.model.config.inputs.input_size == 12  # 2 stacked frames of 6
    frames = fake_frames("abc", np.random.default_rng(1))
    np.savez(tmp_path / "one.npz", x=frames)
    again = load_run(tmp_path / "run")
    rows = list(again.predict([frames, str(tmp_path / "one.npz"), frames[:3].tolist()]))
    assert rows[0] == rows[1] and set(rows[0]) == {"output", "score"}
    assert set(rows[0]["output"]) <= set(ALPHABET)
    (tmp_path / "in.txt").write_text(f"{tmp_path / 'one.npz'}\n")
    assert main(["predict", str(tmp_path / "run"), str(tmp_path / "in.txt"), "--beam", "4"]) == 0
    assert main(["evaluate", str(tmp_path / "run"), "--split", "val"]) == 0
    out = capsys.readouterr().out
    assert "val_cer" in out


@pytest.mark.skipif(
    not espeak_available(), reason="espeak-ng is not installed: apt-get install espeak-ng"
)
def test_a_run_from_an_audio_table(tmp_path):
    folder = tmp_path / "clips"
    rows = ["audio\ttext"]
    for i, w in enumerate(["cat", "dog", "sun", "moon", "tree", "red"]):
        p = synthesize(w, "en-us", 170, folder)
        rows.append(f"{p.relative_to(tmp_path)}\t{w}")
        if i < 2:
            rows.append(f"{p.relative_to(tmp_path)}\t{w}")
    (tmp_path / "train.tsv").write_text("\n".join(rows) + "\n")
    cfg = config(tmp_path, tmp_path / "train.tsv", stack=3, val_fraction=0.2, test_fraction=0.0)
    run = train_run(cfg)
    assert run.model.config.inputs.input_size == 3 * 40
    wav = synthesize("cat", "en-gb", 170, folder)
    assert set(next(iter(run.predict([str(wav)])))) == {"output", "score"}


# --- bad input --------------------------------------------------------------------------------
def test_empty_utterance_is_one_clear_error(tmp_path):
    frames = [np.ones((3, 6), np.float32), np.zeros((0, 6), np.float32)]
    p = write_npz(tmp_path / "e.npz", ["ab", "cd"], frames=frames)
    with pytest.raises(DataError, match=r"e.npz: utterance 1 \('cd'\) has no frames"):
        read_transcribed_npz(p)


def test_empty_transcript_is_one_clear_error(tmp_path):
    p = write_npz(tmp_path / "t.npz", ["ab", "  ", *words(10, 1)])
    cfg = config(tmp_path, p)
    with pytest.raises(DataError, match=r"t.npz, utterance 1: empty transcript"):
        train_run(cfg)


def test_a_transcript_too_long_for_its_frames_is_one_clear_error(tmp_path):
    texts = [*words(12, 2), "aaaa"]
    frames = [fake_frames(t, np.random.default_rng(0)) for t in texts[:-1]] + [
        np.ones((5, 6), np.float32)
    ]
    p = write_npz(tmp_path / "l.npz", texts, frames=frames)
    cfg = config(tmp_path, p, val_fraction=0.0, test_fraction=0.0)
    with pytest.raises(
        DataError,
        match=r"l.npz, utterance 12: 5 steps cannot emit the transcript 'aaaa', which needs 7",
    ):
        train_run(cfg)
    cfg = config(
        tmp_path,
        write_npz(tmp_path / "m.npz", [*texts[:-1], "abcd"], frames=frames),
        stack=2,
        val_fraction=0.0,
        test_fraction=0.0,
    )
    with pytest.raises(
        DataError,
        match=r"3 steps cannot emit the transcript 'abcd', which needs 4 .*; lower data.stack \(now 2\)",
    ):
        train_run(cfg)


def test_a_val_file_of_another_width_is_one_clear_error(tmp_path):
    train = write_npz(tmp_path / "train.npz", words(20, 3))
    val = write_npz(tmp_path / "val.npz", words(5, 4), width=4)
    cfg = config(tmp_path, train, val=str(val))
    with pytest.raises(
        DataError,
        match=r"val.npz, utterance 0: frames must be \(T >= 1, 6\) like the training data's, got shape \(\d+, 4\)",
    ):
        train_run(cfg)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        (dict(x=np.ones((4, 2)), offsets=np.array([0, 4])), r"missing array\(s\) \['text'\]"),
        (
            dict(x=np.ones((4, 2)), offsets=np.array([0, 4]), text=np.array([1])),
            r"'text' must be \(N,\) strings",
        ),
        (
            dict(x=np.ones((4, 2)), offsets=np.array([0, 3]), text=np.array(["a"])),
            "'offsets' must rise from 0 to len",
        ),
        (
            dict(x=np.full((2, 2), np.nan), offsets=np.array([0, 2]), text=np.array(["a"])),
            "utterance 0, frame 0, channel 0: value nan",
        ),
    ],
)
def test_bad_npz_files_are_one_clear_error(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=message):
        read_transcribed_npz(tmp_path / "bad.npz")


def test_bad_predict_inputs_are_one_line_and_exit_code_2(tmp_path, capsys):
    cfg = config(tmp_path, write_npz(tmp_path / "train.npz", words(30, 5)))
    train_run(cfg, tmp_path / "run")
    run = load_run(tmp_path / "run")
    with pytest.raises(
        ValueError,
        match=r"frames must be \(T >= 1, 6\) like the training data's, got shape \(3, 4\)",
    ):
        list(run.predict([np.ones((3, 4))]))
    with pytest.raises(ValueError, match="an empty sequence of frames"):
        list(run.predict([np.zeros((0, 6))]))
    with pytest.raises(ValueError, match=r"this run was trained on \.npz frames, not audio"):
        list(run.predict(["clip.wav"]))
    (tmp_path / "in.txt").write_text("[[1, 2, 3]]\n")
    assert main(["predict", str(tmp_path / "run"), str(tmp_path / "in.txt")]) == 2
    err = capsys.readouterr().err
    assert "frames must be (T >= 1, 6)" in err and "Traceback" not in err and err.count("\n") == 1


def test_a_missing_audio_file_names_the_table_line(tmp_path):
    (tmp_path / "t.tsv").write_text("audio\ttext\nnone.wav\tcat\n")
    cfg = config(tmp_path, tmp_path / "t.tsv")
    with pytest.raises(DataError, match=r"t.tsv, line 2: audio file not found: .*none.wav"):
        train_run(cfg)


def test_too_few_groups_is_a_config_error(tmp_path):
    cfg = config(tmp_path, write_npz(tmp_path / "g.npz", ["ab", "ab", "cd"]))
    with pytest.raises(ConfigError, match="2 groups of utterances leave none to train on"):
        train_run(cfg)


@pytest.mark.slow
def test_learns_to_transcribe_unheard_words(tmp_path):
    """Held-out transcripts (never in training) of the synthetic frames: CER < 0.1
    (the empty transcript scores 1)."""
    texts = words(400, 7)
    cfg = run_config({
        "task": "transcription",
        "data": {"train": str(write_npz(tmp_path / "train.npz", texts)), "batch_size": 16},
        "model": {"encoder": {"kind": "lstm", "hidden_size": 32, "bidirectional": True}},
        "train": {"epochs": 15, "metrics": ["cer"], "monitor": "val_cer", "mode": "min",
                  "optimizer": {"name": "adam", "lr": 0.01}, "progress": False},
    })  # fmt: skip
    run = train_run(cfg)
    held_out = {u.text for u in run.task.splits.test}
    assert not held_out & {u.text for u in run.task.splits.train}
    assert run.evaluate("test")["cer"] < 0.1
