"""The music model, its loss and metrics against NumPy, the baselines, frame-by-frame
generation (streams equal to recomputing the past), and the piece as MIDI, WAV and PNG."""

import math
import wave

import numpy as np
import pytest
import torch

from seqlab.data import Batch
from seqlab.data.errors import DataError
from seqlab.data.music import check_roll, piano_roll, read_rolls_npz, save_rolls_npz
from seqlab.diagnostics.piano_roll import note_name, plot_piano_roll
from seqlab.models import EncoderConfig, MusicModel, MusicModelConfig, limit_notes
from seqlab.music import (
    KeyFrequency,
    RepeatLast,
    read_midi,
    synthesize,
    write_midi,
    write_piece,
    write_wav,
)
from seqlab.train.metrics import FrameAccuracy, FrequencyNLL, RepeatNLL, frame_nll, make_metric

K = 88


def np_frame_nll(logits, targets, lengths):
    """Independent reference: sum over keys of the Bernoulli NLL, pooled mean over the
    real frames of every row."""
    p = 1.0 / (1.0 + np.exp(-logits))
    terms = -(targets * np.log(p) + (1 - targets) * np.log(1 - p)).sum(-1)  # (B, T)
    total = sum(terms[b, :n].sum() for b, n in enumerate(lengths))
    return total / sum(lengths)


def random_rolls(n, seed=0, lo=8, hi=20):
    rng = np.random.default_rng(seed)
    rolls = []
    for _ in range(n):
        T = int(rng.integers(lo, hi))
        r = np.zeros((T, K), np.float32)
        for t in range(T):
            r[t, rng.choice(np.arange(30, 60), size=int(rng.integers(0, 5)), replace=False)] = 1
        rolls.append(r)
    return rolls


def model(kind="lstm", dtype=torch.float32, **enc):
    enc = {"hidden_size": 12, **enc}
    m = MusicModel(MusicModelConfig(keys=K, encoder=EncoderConfig(kind=kind, **enc)))
    return m.to(dtype)


def padded_batch(rolls, dtype=torch.float32):
    from seqlab.tasks.music import collate_rolls

    b = collate_rolls(rolls)
    return Batch(b.inputs.to(dtype), targets=b.targets.to(dtype), lengths=b.lengths)


# --- the loss and the metric ---------------------------------------------------------


def test_loss_is_the_per_frame_nll_of_numpy_in_float64_with_gradients():
    torch.manual_seed(1)
    rolls = random_rolls(3)
    batch = padded_batch(rolls, torch.float64)
    m = model("gru", torch.float64)
    out = m(batch)
    lengths = batch.lengths.tolist()
    ref = np_frame_nll(out.prediction.detach().numpy(), batch.targets.numpy(), lengths)
    assert abs(out.loss.item() - ref) < 1e-10
    assert int(out.weight) == sum(lengths)
    # d loss / d logit = (sigmoid(l) - y) / N at real frames, 0 at padding
    logits = out.prediction.detach().clone().requires_grad_(True)
    from seqlab.models.music import frame_nll_terms

    mask = batch.mask()
    loss = frame_nll_terms(logits, batch.targets)[mask].sum() / mask.sum()
    loss.backward()
    p = 1 / (1 + np.exp(-logits.detach().numpy()))
    expected = (p - batch.targets.numpy()) / sum(lengths) * mask.numpy()[..., None]
    np.testing.assert_allclose(logits.grad.numpy(), expected, atol=1e-12)


def test_loss_float32_and_the_metric_agree_with_numpy():
    rolls = random_rolls(4, seed=2)
    batch = padded_batch(rolls)
    m = model("tcn", num_layers=2)
    out = m(batch)
    lengths = batch.lengths.tolist()
    ref = np_frame_nll(out.prediction.detach().double().numpy(), batch.targets.numpy(), lengths)
    assert abs(out.loss.item() - ref) < 1e-5 * ref
    # accumulated over two batches == pooled over all frames (not a mean of means)
    metric = make_metric("frame_nll")
    for part in (rolls[:1], rolls[1:]):
        b = padded_batch(part)
        metric.update(m(b).prediction, b)
    assert abs(metric.value() - ref) < 1e-5 * ref
    assert abs(frame_nll(out.prediction, batch.targets, batch.lengths) - ref) < 1e-5 * ref


def test_frame_accuracy_counts_true_positives_over_the_union():
    y = torch.zeros(1, 2, K)
    y[0, 0, [1, 2]] = 1
    logits = torch.full((1, 2, K), -5.0)
    logits[0, 0, [2, 3]] = 5.0  # TP = 1 (key 2), FP = 1 (key 3), FN = 1 (key 1)
    acc = FrameAccuracy()
    acc.update(logits, Batch(y, targets=y))
    assert acc.value() == pytest.approx(1 / 3)


# --- the baselines --------------------------------------------------------------------


def test_baselines_fit_and_score_as_numpy_computes_them():
    train, test = random_rolls(5, seed=3), random_rolls(3, seed=4)
    freq, rep = KeyFrequency.fit(train), RepeatLast.fit(train)
    y = np.concatenate([r[1:] for r in train])
    np.testing.assert_allclose(freq.probs, (y.sum(0) + 1) / (len(y) + 2))
    flips = sum(np.abs(np.diff(r, axis=0)).sum() for r in train)
    assert rep.eps == pytest.approx(flips / sum(r[1:].size for r in train))
    batch = padded_batch(test)
    lengths = batch.lengths.tolist()
    x, t = batch.inputs.numpy().astype(np.float64), batch.targets.numpy().astype(np.float64)
    p_freq = np.broadcast_to(freq.probs, t.shape)
    p_rep = np.where(x > 0, 1 - rep.eps, rep.eps)
    for metric, p in ((FrequencyNLL(freq.to_list()), p_freq), (RepeatNLL(rep.eps), p_rep)):
        metric.update(torch.zeros_like(batch.targets), batch)
        logits = np.log(p) - np.log1p(-p)
        assert metric.value() == pytest.approx(np_frame_nll(logits, t, lengths), rel=1e-10)


def test_a_model_that_repeats_the_frame_learns_below_both_baselines():
    """Pieces that hold each chord for two frames: an LSTM learns when chords change."""
    rng = np.random.default_rng(5)
    rolls = []
    for _ in range(16):
        chords = [rng.choice(np.arange(40, 52), 3, replace=False) for _ in range(6)]
        r = np.zeros((12, K), np.float32)
        for i, c in enumerate(chords):
            r[2 * i : 2 * i + 2, c] = 1
        rolls.append(r)
    batch = padded_batch(rolls)
    torch.manual_seed(0)
    m = model("lstm", hidden_size=32)
    opt = torch.optim.Adam(m.parameters(), lr=0.02)
    for _ in range(150):
        opt.zero_grad()
        loss = m(batch).loss
        loss.backward()
        opt.step()
    freq = FrequencyNLL(KeyFrequency.fit(rolls).to_list())
    rep = RepeatNLL(RepeatLast.fit(rolls).eps)
    for b in (freq, rep):
        b.update(batch.targets, batch)
    assert loss.item() < 0.8 * min(freq.value(), rep.value())


# --- generation -----------------------------------------------------------------------


def reference_generate(m, prime, length, seed, temperature=1.0, min_notes=0, max_notes=None):
    """Recompute the whole sequence every step (no carried state, no stream)."""
    g = torch.Generator().manual_seed(seed)
    seq, out = prime.unsqueeze(0).to(m.head.weight.dtype), []
    m.eval()
    with torch.no_grad():
        for _ in range(length):
            logits = m(Batch(seq)).prediction[:, -1]
            probs = torch.sigmoid(logits / temperature)
            frame = limit_notes(torch.bernoulli(probs, generator=g), probs, min_notes, max_notes)
            out.append(frame)
            seq = torch.cat([seq, frame.unsqueeze(1)], 1)
    return torch.cat(out)


@pytest.mark.parametrize(
    "kind, enc",
    [("lstm", {}), ("gru", {"num_layers": 2}), ("rnn", {}), ("tcn", {"num_layers": 3}),
     ("wavenet", {"num_layers": 3}), ("lstm", {"peephole": True, "layer_norm": True})],
    ids=["lstm", "gru2", "rnn", "tcn", "wavenet", "lstm-peephole-ln"],
)  # fmt: skip
def test_generation_carries_state_equal_to_recomputing_the_past(kind, enc):
    """float64, so the two paths' probabilities agree to ~1e-15 and no Bernoulli draw can
    fall between them (the streams' float32 paths are tested in test_tcn/test_wavenet)."""
    torch.manual_seed(0)
    m = model(kind, torch.float64, **enc)
    with torch.no_grad():
        m.head.bias.fill_(-1.5)  # a few notes a frame
    prime = torch.from_numpy(random_rolls(1, seed=6, lo=5, hi=6)[0]).double()
    got = m.generate(prime, 10, seed=3, max_notes=5)
    want = reference_generate(m, prime, 10, seed=3, max_notes=5)
    assert got.shape == (10, K)
    assert torch.equal(got, want)


def test_generation_from_silence_is_seeded_and_leaves_the_global_rng_alone():
    m = model("gru")
    state = torch.get_rng_state()
    a = m.generate(None, 8, seed=1)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a, m.generate(None, 8, seed=1))
    assert not torch.equal(a, m.generate(None, 8, seed=2))


def test_a_low_temperature_takes_every_key_above_one_half():
    torch.manual_seed(0)
    m = model("lstm")
    with torch.no_grad():
        m.head.bias.normal_(0.0, 3.0)
    got = m.generate(None, 1, temperature=1e-4, seed=0)
    m.eval()
    logits = m(Batch(torch.zeros(1, 1, K))).prediction[0, -1]
    assert torch.equal(got[0], (logits > 0).float())


def test_min_and_max_notes_bound_every_frame():
    m = model("gru")
    with torch.no_grad():
        m.head.bias.fill_(0.0)  # about 44 keys on a frame, unbounded
    frames = m.generate(None, 20, seed=0, max_notes=4)
    assert frames.sum(1).max() <= 4 and frames.sum(1).min() == 4
    with torch.no_grad():
        m.head.bias.fill_(-8.0)  # almost never a key
    frames = m.generate(None, 20, seed=0, min_notes=3, max_notes=4)
    assert frames.sum(1).min() >= 3


def test_limit_notes_keeps_the_most_probable():
    probs = torch.tensor([[0.9, 0.2, 0.8, 0.7, 0.1]])
    frame = torch.tensor([[1.0, 1.0, 1.0, 0.0, 0.0]])
    assert limit_notes(frame, probs, max_notes=2).tolist() == [[1.0, 0.0, 1.0, 0.0, 0.0]]
    assert limit_notes(frame, probs, min_notes=4).tolist() == [[1.0, 1.0, 1.0, 1.0, 0.0]]
    assert torch.equal(limit_notes(frame, probs, 1, 3), frame)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"temperature": 0.0}, r"temperature must be a number > 0\.0, got 0\.0"),
     ({"temperature": -1.0}, "temperature must be"),
     ({"length": 0}, "length must be"),
     ({"min_notes": 5, "max_notes": 3}, "max_notes must be"),
     ({"prime": torch.zeros(0, K)}, r"prime must be a piano roll \(T >= 1 frames, 88 keys\), got shape \(0, 88\)"),
     ({"prime": torch.zeros(4, 80)}, r"88 keys\), got shape \(4, 80\)")],
)  # fmt: skip
def test_generate_refuses_bad_arguments_by_name(kwargs, message):
    args = {"prime": None, "length": 4, **kwargs}
    with pytest.raises(ValueError, match=message):
        model("gru").generate(**args)


def test_the_model_refuses_a_roll_with_the_wrong_number_of_keys():
    m = model("gru")
    with pytest.raises(
        ValueError, match=r"batch\.inputs must be float piano-roll frames \(B, T, 88 keys\)"
    ):
        m(Batch(torch.zeros(1, 4, 12)))
    with pytest.raises(ValueError, match="targets must be 0/1"):
        m(Batch(torch.zeros(1, 4, K), targets=torch.full((1, 4, K), 0.5)))


# --- rolls, MIDI, WAV, PNG ----------------------------------------------------------


@pytest.mark.parametrize(
    "roll, message",
    [(np.zeros((0, 88)), "the piece is empty: a piano roll needs at least one frame"),
     (np.zeros((4, 12)), r"must be a \(T, 88\) piano roll \(88 keys, MIDI 21\.\.108\), got shape \(4, 12\)"),
     (np.zeros(88), r"got shape \(88,\)"),
     (np.full((2, 88), 0.3), "0 \\(key off\\) and 1 \\(key on\\) only, got 0.3")],
)  # fmt: skip
def test_check_roll_names_the_problem(roll, message):
    with pytest.raises(ValueError, match=message):
        check_roll(roll, "the piece")


def test_generated_notes_come_back_from_the_midi_file(tmp_path):
    torch.manual_seed(0)
    m = model("lstm")
    with torch.no_grad():
        m.head.bias.fill_(-2.0)
    roll = m.generate(None, 32, seed=0, min_notes=1, max_notes=4).numpy()
    path = tmp_path / "piece.mid"
    write_midi(roll, path, step=0.5, tempo=90)
    import mido

    midi = mido.MidiFile(path)  # a standard file another reader opens
    assert midi.ticks_per_beat == 480 and round(mido.tempo2bpm(midi.tracks[0][0].tempo)) == 90
    notes = read_midi(path)
    back = piano_roll(notes, step=0.5)
    assert np.array_equal(back, roll[: len(back)]) and not roll[len(back) :].any()
    # every note is one unbroken run of a key in the roll
    assert len(notes) == int((np.diff(np.pad(roll, ((1, 0), (0, 0))), axis=0) == 1).sum())


def test_a_held_note_is_one_note_and_rolls_round_trip_through_npz(tmp_path):
    roll = np.zeros((6, K), np.float32)
    roll[0:4, 60 - 21] = 1  # C4 held for 4 frames
    roll[4:6, [64 - 21, 67 - 21]] = 1
    write_midi(roll, tmp_path / "a.mid", step=1.0)
    assert read_midi(tmp_path / "a.mid") == [(0.0, 4.0, 60), (4.0, 2.0, 64), (4.0, 2.0, 67)]
    save_rolls_npz(tmp_path / "r.npz", [roll, roll[:3]])
    got = read_rolls_npz(tmp_path / "r.npz")
    assert len(got) == 2 and np.array_equal(got[0], roll) and np.array_equal(got[1], roll[:3])


def test_midi_and_npz_errors_name_the_file(tmp_path):
    with pytest.raises(
        DataError, match=r"nowhere.*cannot write the MIDI file: folder .*nowhere does not exist"
    ):
        write_midi(np.zeros((2, K)), tmp_path / "nowhere" / "a.mid")
    with pytest.raises(DataError, match="the MIDI file path is a directory"):
        write_midi(np.zeros((2, K)), tmp_path)
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi at all")
    with pytest.raises(DataError, match=r"bad\.mid: not a readable MIDI file"):
        read_midi(bad)
    np.savez(tmp_path / "other.npz", y=np.zeros(3))
    with pytest.raises(DataError, match=r"other\.npz: expected arrays 'x'"):
        read_rolls_npz(tmp_path / "other.npz")


def test_the_wav_plays_the_notes_at_their_pitch(tmp_path):
    roll = np.zeros((2, K), np.float32)
    roll[:, 69 - 21] = 1  # A4 = 440 Hz for two beats
    x = synthesize(roll, step=1.0, tempo=120.0, sample_rate=16000)
    assert len(x) == 16000 and np.abs(x).max() == pytest.approx(0.8, abs=1e-6)
    spectrum = np.abs(np.fft.rfft(x))
    assert np.argmax(spectrum) * 16000 / len(x) == pytest.approx(440.0, abs=1.5)
    write_wav(x, tmp_path / "a.wav", 16000)
    with wave.open(str(tmp_path / "a.wav")) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (
            1,
            2,
            16000,
            16000,
        )
    assert not synthesize(np.zeros((3, K)), sample_rate=8000).any()  # silence is silent


def test_the_piano_roll_png_and_the_piece_paths(tmp_path):
    pytest.importorskip("matplotlib")
    assert [note_name(m) for m in (21, 60, 69, 108)] == ["A0", "C4", "A4", "C8"]
    roll = np.zeros((8, K), np.float32)
    roll[:, [48 - 21, 60 - 21]] = 1
    path = plot_piano_roll(roll, tmp_path / "r.png", prime_frames=2)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    written = write_piece(roll, tmp_path / "p.mid", prime_frames=2)
    assert {k: v.name for k, v in written.items()} == {
        "midi": "p.mid",
        "png": "p.png",
        "wav": "p.wav",
    }
    assert all(v.stat().st_size > 0 for v in written.values())
    assert oct(written["midi"].stat().st_mode & 0o077) != "0o0"  # not private: a piece to share


def test_nll_of_a_uniform_guess_is_keys_times_ln2():
    y = torch.zeros(2, 3, K)
    assert frame_nll(torch.zeros(2, 3, K), y) == pytest.approx(K * math.log(2))


def test_a_full_parse_of_the_chorales_is_cached(tmp_path, monkeypatch):
    music21 = pytest.importorskip("music21")
    from music21 import note, stream

    from seqlab.data import music as music_data

    def score(pitch):
        part = stream.Part()
        part.append(note.Note(pitch, quarterLength=2.0))
        part.append(note.Note("G4", quarterLength=1.0))
        return stream.Score([part])

    calls = []

    def fake_iterator():
        calls.append(1)
        return iter([score("C4"), score("E4"), score("A3")])

    monkeypatch.setenv("SEQLAB_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(music21.corpus.chorales, "Iterator", fake_iterator)
    first = music_data.bach_chorales()
    assert len(first) == 3 and first[0].shape == (3, K) and first[0][:2, 60 - 21].all()
    assert len(list((tmp_path / "music").glob("bach_chorales-*step1.npz"))) == 1
    again = music_data.bach_chorales(limit=2)  # read from the cache: no parse
    assert len(calls) == 1 and len(again) == 2 and np.array_equal(again[1], first[1])
    music_data.bach_chorales(cache=False)
    assert len(calls) == 2
    assert music_data.bach_chorales(step=0.5)[0].shape == (6, K) and len(calls) == 3
