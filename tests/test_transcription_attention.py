"""The attention transcription task (``transcription_attention``): the same frames and
split as CTC's task, characters + ``<eos>`` as targets, CER/WER cut at ``<eos>`` equal to
CER/WER of the text a user reads, a run from files to ``seqlab predict`` / ``evaluate``,
and bad input (one clear line each, exit code 2 on the command line)."""

import numpy as np
import pytest
import torch

from devices import device_of
from seqlab import load_run, run_config, train_run
from seqlab.cli import main
from seqlab.data import Batch, DataError, Vocab
from seqlab.data.speech import espeak_available, synthesize
from seqlab.data.vocab import SPECIALS
from seqlab.models import AttentionTranscriber
from seqlab.tasks import AttentionTranscriptionTask, TranscriptionTask
from seqlab.train.metrics import cer, make_metric, wer
from test_transcription import ALPHABET, fake_frames, words, write_npz

torch.set_num_threads(1)

ESPEAK = pytest.mark.skipif(
    not espeak_available(), reason="espeak-ng is not installed: apt-get install espeak-ng"
)


def config(train, task="transcription_attention", steps=3, **data):
    model = {"encoder": {"kind": "lstm", "hidden_size": 16, "bidirectional": True}}
    if task == "transcription_attention":
        model.update(decoder_hidden_size=16, target_embedding_dim=8, max_length=12)
    return run_config({
        "task": task,
        "data": {"train": str(train), "batch_size": 8, **data},
        "model": model,
        "train": {"epochs": 1, "max_steps": steps, "metrics": ["cer", "wer"],
                  "monitor": "val_cer", "mode": "min", "progress": False},
    })  # fmt: skip


# --- the pipeline ---------------------------------------------------------------------------
def test_labels_are_the_vocab_specials_then_the_characters(tmp_path):
    task = AttentionTranscriptionTask(config(write_npz(tmp_path / "a.npz", words(30, 0))).data)
    task.prepare()
    assert tuple(task.labels[:4]) == SPECIALS == ("<pad>", "<unk>", "<bos>", "<eos>")
    assert [Vocab.pad_id, Vocab.unk_id, Vocab.bos_id, Vocab.eos_id] == [0, 1, 2, 3]
    assert task.labels[4:] == sorted({c for u in task.splits.train for c in u.text})
    sizes = task.model_sizes()
    assert sizes == {"inputs": {"input_size": 6}, "tgt_vocab_size": len(task.labels),
                     "pad_id": 0, "bos_id": 2, "eos_id": 3}  # fmt: skip


def test_frames_and_split_are_the_ctc_tasks_and_targets_end_in_eos(tmp_path):
    texts = [*words(40, 1), "ab cd", "ef gh"]
    path = write_npz(tmp_path / "a.npz", texts)
    att = AttentionTranscriptionTask(config(path, stack=3).data)
    ctc = TranscriptionTask(config(path, task="transcription", stack=3).data)
    att.prepare(), ctc.prepare()
    for split in ("train", "val", "test"):
        assert [u.where for u in att.splits.get(split)] == [u.where for u in ctc.splits.get(split)]
    assert att.channels == ctc.channels and att.labels[4:] == ctc.labels[2:]
    for a, c in zip(att.loader("train"), ctc.loader("train"), strict=True):
        assert a.inputs.shape[2] == 3 * 6 and torch.equal(a.inputs, c.inputs)  # (B, T/3, 3C)
        assert torch.equal(a.lengths, c.lengths)
        assert torch.equal(a.target_lengths, c.target_lengths + 1)  # + <eos>
        for row, ctc_row, n in zip(a.targets, c.targets, a.target_lengths, strict=True):
            assert int(row[n - 1]) == Vocab.eos_id and bool((row[n:] == -100).all())
            # the same characters: CTC's ids are 2 lower (<blank>, <unk> vs four specials)
            assert (row[: n - 1] - 2).tolist() == ctc_row[: n - 1].tolist()


def test_cer_and_wer_cut_at_eos():
    eos, space = 3, 4
    # predictions: "ab" <eos>, "a b" without <eos> (cut at its limit); references end in <eos>
    batch = Batch(torch.zeros(2, 3, 2), torch.tensor([[5, 6, 3, -100], [5, 4, 6, 3]]),
                  target_lengths=torch.tensor([3, 4]))  # fmt: skip
    c, w = make_metric("cer", eos=eos), make_metric("wer", space=space, eos=eos)
    for m in (c, w):
        m.update([[5, 6, 3], [5, 4, 7]], batch)
    assert c.value() == pytest.approx(cer(["ab", "a c"], ["ab", "a b"]))  # 1 / 5
    assert w.value() == pytest.approx(wer(["ab", "a c"], ["ab", "a b"]))  # 1 / 3
    plain = make_metric("cer")
    plain.update([[5, 6, 3], [5, 4, 7]], batch)
    assert plain.value() == pytest.approx(2 / 7)  # <eos> scored as a label: not a CER
    with pytest.raises(ValueError, match="eos must be the end-of-sequence label id"):
        make_metric("cer", eos=-1)


def test_the_metrics_score_the_text_a_user_reads(tmp_path):
    """``cer`` of evaluate_batch's decoding, cut at <eos>, equals ``cer`` of the decoded
    text against the transcripts, batch by batch (an untrained model emits anything,
    <pad> and <bos> included: they read '?' and count as errors in both)."""
    cfg = config(write_npz(tmp_path / "a.npz", [*words(40, 2), "ab cd", "ef gh"]), steps=2)
    run = train_run(cfg)
    assert isinstance(run.model, AttentionTranscriber)
    task, model = run.task, run.model
    metrics = {"cer": make_metric("cer", **model.metric_options()["cer"]),
               "wer": make_metric("wer", space=task.labels.index(" "), eos=3)}  # fmt: skip
    texts, refs = [], []
    for batch in task.loader("train"):
        batch = batch.to(device_of(model))  # where the trainer put the model
        out = model.evaluate_batch(batch)
        for m in metrics.values():
            m.update(out.prediction, batch)
        texts += [r["output"] for r in task.decode([], model.predict(batch))]
        refs += [task.text_of(row[: n - 1].tolist())
                 for row, n in zip(batch.targets, batch.target_lengths, strict=True)]  # fmt: skip
    assert metrics["cer"].value() == pytest.approx(cer(texts, refs), abs=1e-12)
    assert metrics["wer"].value() == pytest.approx(wer(texts, refs), abs=1e-12)


def test_a_run_from_npz_files_to_predict_and_evaluate(tmp_path, capsys):
    cfg = config(write_npz(tmp_path / "train.npz", [*words(40, 0), "ab cd", "ef gh"]), stack=2)
    assert cfg.task == "transcription_attention"
    run = train_run(cfg, tmp_path / "run")
    assert run.model.config.inputs.input_size == 12  # 2 stacked frames of 6
    frames = fake_frames("abc", np.random.default_rng(1))
    np.savez(tmp_path / "one.npz", x=frames)
    again = load_run(tmp_path / "run")
    assert isinstance(again.model, AttentionTranscriber) and again.task.labels == run.task.labels
    rows = list(again.predict([frames, str(tmp_path / "one.npz"), frames[:3].tolist()]))
    assert rows[0] == rows[1] and set(rows[0]) == {"output", "score"}
    assert set(rows[0]["output"]) <= set(ALPHABET) | {"?"}
    assert len(rows[0]["output"]) <= 12  # max_length, <eos> included
    (tmp_path / "in.txt").write_text(f"{tmp_path / 'one.npz'}\n")
    assert main(["predict", str(tmp_path / "run"), str(tmp_path / "in.txt"), "--beam", "3"]) == 0
    assert main(["evaluate", str(tmp_path / "run"), "--split", "val"]) == 0
    out = capsys.readouterr().out
    assert "val_cer" in out and "val_wer" in out


@ESPEAK
def test_a_run_from_an_audio_table_predicts_a_wav(tmp_path, capsys):
    folder = tmp_path / "clips"
    rows = ["audio\ttext"]
    for w in ["cat", "dog", "sun", "moon", "tree", "red", "sky"]:
        rows.append(f"{synthesize(w, 'en-us', 170, folder).relative_to(tmp_path)}\t{w}")
    (tmp_path / "train.tsv").write_text("\n".join(rows) + "\n")
    cfg = config(tmp_path / "train.tsv", stack=3, val_fraction=0.2, test_fraction=0.0)
    train_run(cfg, tmp_path / "run")
    run = load_run(tmp_path / "run")
    assert run.model.config.inputs.input_size == 3 * 40
    wav = synthesize("cat", "en-gb", 170, folder)
    (tmp_path / "in.txt").write_text(f"{wav}\n")
    assert main(["predict", str(tmp_path / "run"), str(tmp_path / "in.txt")]) == 0
    assert capsys.readouterr().out.count("\n") == 1


# --- bad input --------------------------------------------------------------------------------
def test_a_missing_wav_names_the_table_line_and_exits_2(tmp_path, capsys):
    (tmp_path / "t.tsv").write_text("audio\ttext\nnone.wav\tcat\n")
    cfg = config(tmp_path / "t.tsv")
    with pytest.raises(DataError, match=r"t.tsv, line 2: audio file not found: .*none.wav"):
        train_run(cfg)
    (tmp_path / "c.yaml").write_text(
        f"task: transcription_attention\ndata: {{train: {tmp_path / 't.tsv'}}}\n"
    )
    assert main(["train", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "line 2: audio file not found" in err and "Traceback" not in err
    assert err.count("\n") == 1


def test_an_empty_transcript_is_one_clear_line(tmp_path):
    cfg = config(write_npz(tmp_path / "t.npz", ["ab", "  ", *words(10, 1)]))
    with pytest.raises(DataError, match=r"t.npz, utterance 1: empty transcript") as e:
        train_run(cfg)
    assert "\n" not in str(e.value)


def test_bad_predict_inputs_are_one_line_and_exit_code_2(tmp_path, capsys):
    train_run(config(write_npz(tmp_path / "train.npz", words(30, 5))), tmp_path / "run")
    run = load_run(tmp_path / "run")
    with pytest.raises(ValueError, match=r"frames must be \(T >= 1, 6\) like the training data's"):
        list(run.predict([np.ones((3, 4))]))
    with pytest.raises(ValueError, match="an empty sequence of frames"):
        list(run.predict([np.zeros((0, 6))]))
    with pytest.raises(ValueError, match=r"this run was trained on \.npz frames, not audio"):
        list(run.predict(["clip.wav"]))
    (tmp_path / "in.txt").write_text("[[1, 2, 3]]\n")
    assert main(["predict", str(tmp_path / "run"), str(tmp_path / "in.txt"), "--beam", "0"]) == 2
    assert main(["predict", str(tmp_path / "run"), str(tmp_path / "in.txt")]) == 2
    err = capsys.readouterr().err
    assert "beam_size" in err and "frames must be (T >= 1, 6)" in err
    assert "Traceback" not in err and err.count("\n") == 2


@pytest.mark.slow
def test_learns_to_transcribe_unheard_words(tmp_path):
    """Held-out transcripts (never in training) of the synthetic frames, decoded greedily:
    CER < 0.1 (measured 0.049; the empty transcript scores 1)."""
    cfg = run_config({
        "task": "transcription_attention",
        "data": {"train": str(write_npz(tmp_path / "train.npz", words(400, 7))),
                 "batch_size": 16},
        "model": {"encoder": {"kind": "lstm", "hidden_size": 32, "bidirectional": True},
                  "decoder_hidden_size": 32, "target_embedding_dim": 16, "max_length": 10},
        "train": {"epochs": 25, "metrics": ["cer"], "monitor": "val_cer", "mode": "min",
                  "optimizer": {"name": "adam", "lr": 0.01}, "progress": False},
    })  # fmt: skip
    run = train_run(cfg)
    held_out = {u.text for u in run.task.splits.test}
    assert not held_out & {u.text for u in run.task.splits.train}
    assert run.evaluate("test")["cer"] < 0.1
