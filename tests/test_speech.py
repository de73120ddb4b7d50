"""Speech data: the mel scale and filterbank against an independent NumPy construction
(and librosa where installed), the STFT power against NumPy's FFT over explicit frames,
WAV reading and writing, and espeak-ng synthesis (skipped, with the reason, without it)."""

import math
import wave

import numpy as np
import pytest
import torch

from seqlab.data import DataError, MissingPackageError, load, speech
from seqlab.data.speech import (
    LogMel,
    LogMelConfig,
    hz_to_mel,
    mel_filterbank,
    mel_to_hz,
    read_wav,
    spoken_words,
    trim_silence,
    write_wav,
)

needs_espeak = pytest.mark.skipif(
    not speech.espeak_available(), reason=f"espeak-ng is not installed: {speech.ESPEAK_INSTALL}"
)


# --- an independent reference: one filter at a time, one bin at a time ------------------
def np_hz_to_mel(f, htk):
    if htk:
        return 2595.0 * math.log10(1.0 + f / 700.0)
    return f / (200.0 / 3) if f < 1000 else 15.0 + math.log(f / 1000.0) * 27.0 / math.log(6.4)


def np_mel_to_hz(m, htk):
    if htk:
        return 700.0 * (10 ** (m / 2595.0) - 1.0)
    return m * 200.0 / 3 if m < 15 else 1000.0 * math.exp((m - 15.0) * math.log(6.4) / 27.0)


def np_filterbank(n_mels, n_fft, sr, fmin, fmax, htk, slaney_norm):
    lo, hi = np_hz_to_mel(fmin, htk), np_hz_to_mel(fmax, htk)
    edges = [np_mel_to_hz(lo + (hi - lo) * i / (n_mels + 1), htk) for i in range(n_mels + 2)]
    out = np.zeros((n_fft // 2 + 1, n_mels))
    for m in range(n_mels):
        left, centre, right = edges[m], edges[m + 1], edges[m + 2]
        for k in range(n_fft // 2 + 1):
            f = k * sr / n_fft
            if left < f <= centre:
                out[k, m] = (f - left) / (centre - left)
            elif centre < f < right:
                out[k, m] = (right - f) / (right - centre)
        if slaney_norm:
            out[:, m] *= 2.0 / (right - left)
    return out


@pytest.mark.parametrize("scale", ["htk", "slaney"])
@pytest.mark.parametrize("norm", [None, "slaney"])
@pytest.mark.parametrize(
    ("n_mels", "n_fft", "sr", "fmin", "fmax"),
    [(40, 1024, 22050, 0.0, 8000.0), (23, 400, 16000, 60.0, 7600.0), (8, 64, 8000, 0.0, 4000.0)],
)
def test_filterbank_matches_a_bin_by_bin_numpy_construction(
    scale, norm, n_mels, n_fft, sr, fmin, fmax
):
    got = mel_filterbank(n_mels, n_fft, sr, fmin, fmax, scale, norm).numpy()
    want = np_filterbank(n_mels, n_fft, sr, fmin, fmax, scale == "htk", norm == "slaney")
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10 * max(1.0, want.max()))


@pytest.mark.parametrize("scale", ["htk", "slaney"])
def test_mel_scale_values_and_round_trip(scale):
    f = torch.tensor([0.0, 200.0, 999.0, 1000.0, 4000.0, 11025.0], dtype=torch.float64)
    m = hz_to_mel(f, scale)
    assert m.tolist() == pytest.approx(
        [np_hz_to_mel(v, scale == "htk") for v in f.tolist()], abs=1e-12
    )
    assert mel_to_hz(m, scale).tolist() == pytest.approx(f.tolist(), abs=1e-9)
    assert float(hz_to_mel(1000.0, "slaney")) == pytest.approx(15.0)
    assert float(hz_to_mel(700.0, "htk")) == pytest.approx(2595.0 * math.log10(2.0))


def np_power(x, n_fft, hop, win_length):
    """|rfft|^2 of explicit frames: reflect padding by n_fft // 2, a periodic Hann window
    of win_length centred in n_fft."""
    n = np.arange(win_length)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / win_length)
    left = (n_fft - win_length) // 2
    full = np.zeros(n_fft)
    full[left : left + win_length] = window
    padded = np.pad(x, n_fft // 2, mode="reflect")
    frames = [padded[t * hop : t * hop + n_fft] * full for t in range(1 + len(x) // hop)]
    return np.abs(np.fft.rfft(np.array(frames), axis=1)) ** 2


@pytest.mark.parametrize("sr", [16000, 22050])
def test_log_mel_is_the_log_of_filtered_stft_power(sr):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(sr // 5) * 0.1  # 0.2 s
    lm = LogMel(LogMelConfig(n_mels=20, f_max=7000.0), sr)
    assert (lm.win_length, lm.hop_length) == (round(0.025 * sr), round(0.010 * sr))
    power = np_power(x, lm.n_fft, lm.hop_length, lm.win_length)
    np.testing.assert_allclose(lm.power(torch.from_numpy(x)).numpy(), power, rtol=1e-10, atol=1e-12)
    fb = np_filterbank(20, lm.n_fft, sr, 0.0, 7000.0, False, True)
    want = np.log(np.maximum(power @ fb, 1e-10))
    np.testing.assert_allclose(lm(x).numpy(), want, rtol=1e-5, atol=1e-5)  # float32 out
    assert lm(x).shape == (1 + len(x) // lm.hop_length, 20)


def test_against_librosa_where_installed():
    librosa = pytest.importorskip(
        "librosa", reason="librosa is not installed (pip install librosa)"
    )
    for htk, norm in [(False, "slaney"), (True, None)]:
        want = librosa.filters.mel(
            sr=22050,
            n_fft=1024,
            n_mels=40,
            fmin=30.0,
            fmax=8000.0,
            htk=htk,
            norm=norm,
            dtype=np.float64,
        ).T
        got = mel_filterbank(
            40, 1024, 22050, 30.0, 8000.0, "htk" if htk else "slaney", norm
        ).numpy()
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    x = np.random.default_rng(1).standard_normal(8000) * 0.1
    lm = LogMel(LogMelConfig(n_mels=40), 22050)
    ref = librosa.feature.melspectrogram(
        y=x, sr=22050, n_fft=lm.n_fft, hop_length=lm.hop_length, win_length=lm.win_length, window="hann",
        center=True, pad_mode="reflect", power=2.0, n_mels=40, fmin=0.0, fmax=8000.0, htk=False, norm="slaney",
    ).T  # fmt: skip
    np.testing.assert_allclose(lm(x).numpy(), np.log(np.maximum(ref, 1e-10)), atol=1e-5)


def test_a_clip_shorter_than_half_a_window_still_gives_frames():
    frames = LogMel(LogMelConfig(n_mels=8), 16000)(torch.ones(10))  # zero-padded to reflect
    assert frames.shape[0] >= 1 and frames.shape[1] == 8 and torch.isfinite(frames).all()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: LogMel(LogMelConfig(f_max=8000.0), 8000),
            "audio at 8000 Hz has no frequencies above 4000 Hz but the features reach f_max=8000",
        ),
        (lambda: LogMelConfig(scale="bark"), "scale must be one of"),
        (lambda: LogMelConfig(f_min=9000.0), "f_max must be above f_min"),
        (lambda: mel_filterbank(0, 64, 8000), "n_mels must be a positive int"),
        (
            lambda: LogMel(LogMelConfig(n_mels=4), 16000)(torch.zeros(0)),
            r"samples must be a non-empty \(N,\) signal",
        ),
    ],
)
def test_bad_feature_settings_are_one_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- WAV --------------------------------------------------------------------------------
def test_wav_round_trip_and_formats(tmp_path):
    x = np.sin(np.linspace(0, 40, 1000)) * 0.5
    write_wav(tmp_path / "a.wav", x, 16000)
    y, sr = read_wav(tmp_path / "a.wav")
    assert sr == 16000 and y.dtype == np.float32
    np.testing.assert_allclose(y, x, atol=2**-15)
    with wave.open(str(tmp_path / "stereo8.wav"), "wb") as w:  # 8-bit unsigned, two channels
        w.setnchannels(2)
        w.setsampwidth(1)
        w.setframerate(8000)
        w.writeframes(bytes([128 + 64, 128, 128 - 64, 128]))
    y, sr = read_wav(tmp_path / "stereo8.wav")
    assert sr == 8000 and y.tolist() == [0.25, -0.25]


def test_bad_wav_files_are_one_clear_error(tmp_path):
    (tmp_path / "x.wav").write_bytes(b"not a wav at all")
    with pytest.raises(DataError, match=r"x.wav: not a PCM WAV file"):
        read_wav(tmp_path / "x.wav")
    with pytest.raises(DataError, match="file not found"):
        read_wav(tmp_path / "none.wav")
    with wave.open(str(tmp_path / "empty.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
    with pytest.raises(DataError, match=r"empty.wav: holds no samples"):
        read_wav(tmp_path / "empty.wav")


def test_trim_silence_keeps_the_sound_and_a_margin():
    x = np.zeros(1000)
    x[400:500] = 0.5
    y = trim_silence(x, 1000, margin_ms=10)
    assert len(y) == 100 + 2 * 10 and y.max() == 0.5
    assert len(trim_silence(np.zeros(5), 1000)) == 5  # all silence: kept as is


# --- espeak-ng ----------------------------------------------------------------------------
def test_without_espeak_the_loader_says_what_to_install(monkeypatch):
    monkeypatch.setattr(speech.shutil, "which", lambda name: None)
    with pytest.raises(
        MissingPackageError,
        match="dataset 'spoken_words' needs espeak-ng: apt-get install espeak-ng",
    ):
        load("spoken_words", n_words=4)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"words": "cat dog"}, "words must be a list of words"),
        ({"words": ["cat", ""]}, "each word must be printable, non-empty text"),
        ({"voices": []}, "voices must be a non-empty list"),
        ({"speeds": [20]}, r"speeds must be an int in \[80, 450\]"),
        ({"folds": 1}, "folds must be an int >= 2"),
    ],
)
def test_bad_options_are_one_clear_error(options, message):
    with pytest.raises(ValueError, match=message):
        spoken_words(**options)


@needs_espeak
def test_spoken_words_are_synthesized_once_split_into_folds_and_cached(tmp_path):
    words = ["cat", "dog", "sun", "moon", "tree", "river"]
    kwargs = dict(
        words=words,
        voices=["en-us", "en-gb"],
        speeds=[160],
        n_phrases=2,
        folds=3,
        cache=str(tmp_path),
    )
    u = spoken_words(**kwargs)
    texts = set(u.texts)
    assert set(words) <= texts and len(texts) == len(words) + 2
    assert len(u) == 2 * len(texts)
    fold_of = {t: g for t, g in zip(u.texts, u.groups, strict=True)}
    for text, group in zip(u.texts, u.groups, strict=True):
        assert all(fold_of[w] == group for w in text.split())  # a phrase's words: one fold
    assert len({fold_of[w] for w in words}) == 3
    samples, rate = read_wav(u.paths[0])
    assert rate == 22050 and 0.1 < len(samples) / rate < 2.0
    assert abs(samples[0]) < 0.05  # trimmed to the sound, not cut inside it
    made = sorted(p.name for p in tmp_path.iterdir())
    again = spoken_words(**kwargs)
    assert again.paths == u.paths and sorted(p.name for p in tmp_path.iterdir()) == made


@needs_espeak
def test_an_unknown_voice_is_one_clear_error(tmp_path):
    with pytest.raises(DataError, match="espeak-ng failed on 'cat' with voice 'xx-nobody'"):
        spoken_words(words=["cat", "dog"], voices=["xx-nobody"], speeds=[160], cache=str(tmp_path))
