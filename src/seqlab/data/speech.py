"""Speech without a download: words and short phrases spoken by Debian's espeak-ng, read as
WAV, and turned into log-mel frames with ``torch.stft`` and a mel filterbank.

No speech corpus can be had offline here, and no torchaudio build matches torch 2.13, so
seqlab makes its own: :func:`spoken_words` synthesizes a word list (or the built-in
:data:`WORDS`) with several voices and speaking rates (``espeak-ng -v VOICE -s WPM``),
trims the silence around each clip and keeps the WAVs in a cache folder
(``$SEQLAB_CACHE_DIR/speech``, else ``~/.cache/seqlab/speech``), so a second load reads
files only. Without espeak-ng the loader raises :class:`MissingPackageError` with the
install command (``apt-get install espeak-ng``; ``make speech-data`` installs it and
fills the cache).

Held-out words are never heard in training: each word belongs to one of ``folds``
groups (a seeded shuffle of the word list), a phrase is made of words of one fold, and
every utterance carries its fold as ``group``, which the transcription task splits by.

Features (:class:`LogMel`): the power spectrogram ``|STFT|^2`` of Hann-windowed frames
(``win_ms`` long, every ``hop_ms``), weighted by triangular mel filters
(:func:`mel_filterbank`, the HTK or the Slaney mel scale, as librosa and torchaudio build
them), then ``log(max(mel, floor))``. Window and hop are given in milliseconds and the
filters in hertz, so clips of any sample rate above ``2 * f_max`` give comparable frames.

>>> fb = mel_filterbank(n_mels=4, n_fft=16, sample_rate=8000, f_max=4000)
>>> tuple(fb.shape)  # (n_fft // 2 + 1, n_mels)
(9, 4)
>>> import torch
>>> LogMel(LogMelConfig(n_mels=8), sample_rate=16000)(torch.zeros(1600)).shape
torch.Size([11, 8])
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..checks import check_choice, check_float, check_int
from .errors import DataError, MissingPackageError

__all__ = [
    "ESPEAK_INSTALL",
    "SPEEDS",
    "VOICES",
    "WORDS",
    "LogMel",
    "LogMelConfig",
    "SpokenUtterances",
    "espeak_available",
    "hz_to_mel",
    "mel_filterbank",
    "mel_to_hz",
    "read_wav",
    "spoken_words",
    "synthesize",
    "trim_silence",
    "write_wav",
]

ESPEAK_INSTALL = "apt-get install espeak-ng (or make speech-data)"

# Common English words, a-z only: nouns, verbs, adjectives, numbers, days, months, colours.
WORDS: tuple[str, ...] = tuple(
    dict.fromkeys(
        """
    one two three four five six seven eight nine ten eleven twelve twenty thirty forty
    fifty sixty seventy eighty ninety hundred thousand million first second third
    monday tuesday wednesday thursday friday saturday sunday january february march
    april may june july august september october november december spring summer autumn
    winter morning evening night today tomorrow yesterday week month year hour minute
    red green blue yellow orange purple black white brown pink grey silver gold
    cat dog horse cow sheep pig goat chicken duck goose rabbit mouse rat lion tiger bear
    wolf fox deer monkey elephant zebra giraffe camel snake frog fish shark whale
    dolphin bird eagle owl parrot spider bee ant butterfly
    apple banana cherry grape lemon melon peach pear plum potato tomato carrot onion
    garlic pepper bean corn rice bread butter cheese milk cream sugar salt honey egg
    meat soup salad cake cookie pizza pasta coffee tea water juice wine beer
    head face eye ear nose mouth tooth tongue neck shoulder arm elbow hand finger thumb
    chest heart stomach back leg knee foot toe skin bone blood hair
    house home room kitchen bedroom bathroom garden garage door window wall floor roof
    table chair desk bed sofa lamp clock mirror picture carpet curtain shelf box bag
    bottle glass cup plate bowl fork knife spoon pan pot oven fridge phone computer
    paper pencil pen book letter card ticket key coin money wallet watch ring
    car bus train plane ship boat bicycle truck taxi road street bridge station airport
    city town village country river lake sea ocean beach island mountain hill valley
    forest tree flower grass leaf rock stone sand snow rain wind cloud storm sun moon
    star sky fire ice light shadow
    school teacher student class lesson doctor nurse farmer driver pilot singer
    painter writer police soldier king queen prince princess child baby mother father
    sister brother friend family people man woman boy girl
    music song dance game sport football tennis movie story news market shop bank
    hospital church library museum office factory hotel restaurant park zoo
    run walk jump swim fly sing read write speak listen look watch open close push
    pull carry throw catch give take make build break fix cook clean wash drink eat
    sleep wake sit stand begin finish help learn teach play work buy sell pay send
    think know remember forget love like want need find lose win
    big small long short tall high low fast slow hot cold warm cool new old young good
    bad happy sad angry tired hungry quiet loud soft hard heavy light dark bright clean
    dirty rich poor strong weak easy difficult early late empty full open simple
    always never often sometimes again almost very really together
    north south east west left right middle inside outside above below under over
    yes no please thanks hello goodbye sorry maybe
    """.split()  # noqa: SIM905
    )
)

# Voices and speaking rates (words per minute) of the default renditions: 4 x 2 per text.
VOICES: tuple[str, ...] = ("en-us", "en-gb", "en-gb-scotland", "en-us+f3")
SPEEDS: tuple[int, ...] = (140, 200)


# ----------------------------------------------------------------------------- WAV files


def read_wav(path: str | PathLike) -> tuple[np.ndarray, int]:
    """A PCM WAV file as ``(samples (N,) float32 in [-1, 1], sample_rate)``; channels are
    averaged. 8-bit (unsigned), 16- and 32-bit (signed) PCM; anything else is a
    :class:`DataError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found" if not path.exists() else "is not a file", path=path)
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as e:
        raise DataError(
            f"not a PCM WAV file ({e}); convert it, e.g. sox in.wav -e signed -b 16 out.wav", path
        ) from None
    kinds = {1: (np.uint8, 128.0, 128.0), 2: ("<i2", 0.0, 32768.0), 4: ("<i4", 0.0, 2.0**31)}
    if width not in kinds:
        raise DataError(f"{8 * width}-bit samples; expected 8-, 16- or 32-bit PCM", path=path)
    dtype, offset, scale = kinds[width]
    samples = (np.frombuffer(raw, dtype=dtype).astype(np.float32) - offset) / scale
    samples = samples[: len(samples) // channels * channels].reshape(-1, channels).mean(1)
    if len(samples) == 0:
        raise DataError("holds no samples (an empty recording)", path=path)
    return samples.astype(np.float32), rate


def write_wav(path: str | PathLike, samples: np.ndarray, sample_rate: int) -> None:
    """Mono 16-bit PCM, written to a temporary file and renamed (never half a file)."""
    path = Path(path)
    pcm = (np.clip(np.asarray(samples, dtype=np.float64), -1.0, 1.0 - 2**-15) * 32768.0).round()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with wave.open(tmp, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(int(sample_rate))
            w.writeframes(pcm.astype("<i2").tobytes())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def trim_silence(samples: np.ndarray, sample_rate: int, threshold: float = 0.02,
                 margin_ms: float = 20.0) -> np.ndarray:  # fmt: skip
    """``samples`` from the first to the last one louder than ``threshold`` times the
    peak, with ``margin_ms`` kept on each side (espeak-ng pads its clips with ~0.3 s of
    silence, frames a model would spend nothing on)."""
    loud = np.nonzero(np.abs(samples) > threshold * np.abs(samples).max(initial=0.0))[0]
    if len(loud) == 0:
        return samples
    margin = int(margin_ms * sample_rate / 1000)
    return samples[max(0, loud[0] - margin) : loud[-1] + 1 + margin]


# ----------------------------------------------------------------------------- mel features


def hz_to_mel(f: Tensor | float, scale: str = "slaney") -> Tensor:
    """Hertz to mels. ``htk``: ``2595 log10(1 + f / 700)`` (Young et al., the HTK Book);
    ``slaney``: linear below 1 kHz (``3 f / 200``), logarithmic above, ``15 + 27
    ln(f / 1000) / ln 6.4`` (Slaney's Auditory Toolbox; librosa's default)."""
    check_choice("scale", scale, ("htk", "slaney"))
    f = torch.as_tensor(f, dtype=torch.float64)
    if scale == "htk":
        return 2595.0 * torch.log10(1.0 + f / 700.0)
    linear = 3.0 * f / 200.0
    log_part = 15.0 + torch.log(f.clamp(min=1e-10) / 1000.0) / (math.log(6.4) / 27.0)
    return torch.where(f >= 1000.0, log_part, linear)


def mel_to_hz(m: Tensor | float, scale: str = "slaney") -> Tensor:
    """The inverse of :func:`hz_to_mel`."""
    check_choice("scale", scale, ("htk", "slaney"))
    m = torch.as_tensor(m, dtype=torch.float64)
    if scale == "htk":
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    return torch.where(m >= 15.0, 1000.0 * torch.exp((m - 15.0) * math.log(6.4) / 27.0),
                       200.0 * m / 3.0)  # fmt: skip


def mel_filterbank(
    n_mels: int,
    n_fft: int,
    sample_rate: int,
    f_min: float = 0.0,
    f_max: float | None = None,
    scale: str = "slaney",
    norm: str | None = "slaney",
) -> Tensor:
    """Triangular mel filters, ``(n_fft // 2 + 1, n_mels)`` float64: spectrogram @ filters.

    ``n_mels + 2`` points equally spaced in mels from ``f_min`` to ``f_max`` (default
    ``sample_rate / 2``); filter ``m`` rises linearly in hertz from point ``m`` to
    ``m + 1`` and falls to ``m + 2``, evaluated at the FFT bin frequencies ``k *
    sample_rate / n_fft``. ``norm="slaney"`` scales each by ``2 / (f_{m+2} - f_m)``
    (equal area); ``None`` keeps peaks of 1 (HTK)."""
    check_int("n_mels", n_mels, min=1)
    check_int("n_fft", n_fft, min=2)
    check_int("sample_rate", sample_rate, min=1)
    f_max = sample_rate / 2 if f_max is None else f_max
    check_float("f_min", f_min, min=0.0)
    check_float("f_max", f_max, min=0.0, max=sample_rate / 2)
    if f_max <= f_min:
        raise ValueError(f"f_max must be above f_min, got f_min={f_min}, f_max={f_max}")
    if norm not in (None, "slaney"):
        raise ValueError(f"norm must be None or 'slaney', got {norm!r}")
    bins = torch.arange(n_fft // 2 + 1, dtype=torch.float64) * sample_rate / n_fft  # (F,)
    lo, hi = hz_to_mel(f_min, scale), hz_to_mel(f_max, scale)
    points = mel_to_hz(torch.linspace(float(lo), float(hi), n_mels + 2, dtype=torch.float64),
                       scale)  # (M + 2,) hertz  # fmt: skip
    width = points.diff()  # (M + 1,)
    rise = (bins[:, None] - points[None, :-2]) / width[None, :-1]  # (F, M)
    fall = (points[None, 2:] - bins[:, None]) / width[None, 1:]  # (F, M)
    filters = torch.minimum(rise, fall).clamp(min=0.0)
    if norm == "slaney":
        filters = filters * (2.0 / (points[2:] - points[:-2]))[None, :]
    return filters


@dataclass
class LogMelConfig:
    """Log-mel frames: ``n_mels`` filters between ``f_min`` and ``f_max`` Hz on the
    ``scale`` mel scale (``norm`` as :func:`mel_filterbank`), Hann windows of ``win_ms``
    every ``hop_ms`` (the FFT size is the next power of two), ``log(max(mel, floor))``.
    ``f_max`` must be at most half the sample rate of the audio it reads."""

    n_mels: int = 40
    win_ms: float = 25.0
    hop_ms: float = 10.0
    f_min: float = 0.0
    f_max: float = 8000.0
    scale: str = "slaney"
    norm: str | None = "slaney"
    floor: float = 1e-10

    def __post_init__(self) -> None:
        check_int("n_mels", self.n_mels, min=1)
        check_float("win_ms", self.win_ms, min=1.0)
        check_float("hop_ms", self.hop_ms, min=0.1)
        check_float("f_min", self.f_min, min=0.0)
        check_float("f_max", self.f_max, min=1.0)
        check_float("floor", self.floor, min=0.0, min_open=True)
        check_choice("scale", self.scale, ("htk", "slaney"))
        if self.norm not in (None, "slaney"):
            raise ValueError(f"norm must be null or 'slaney', got {self.norm!r}")
        if self.f_max <= self.f_min:
            raise ValueError(f"f_max must be above f_min, got {self.f_min}, {self.f_max}")


class LogMel:
    """``LogMel(config, sample_rate)(samples (N,)) -> (T, n_mels)`` float32 frames, ``T =
    1 + N // hop`` (frames centred on ``t * hop``, the clip reflected at its ends)."""

    def __init__(self, config: LogMelConfig, sample_rate: int):
        c = self.config = config
        check_int("sample_rate", sample_rate, min=1)
        if c.f_max > sample_rate / 2:
            raise ValueError(
                f"audio at {sample_rate} Hz has no frequencies above {sample_rate / 2:g} Hz but "
                f"the features reach f_max={c.f_max:g}: resample it (sox in.wav -r "
                f"{int(2 * c.f_max)} out.wav) or lower f_max"
            )
        self.sample_rate = sample_rate
        self.win_length = max(2, round(c.win_ms * sample_rate / 1000))
        self.hop_length = max(1, round(c.hop_ms * sample_rate / 1000))
        self.n_fft = 1 << (self.win_length - 1).bit_length()
        self.window = torch.hann_window(self.win_length, dtype=torch.float64)  # periodic
        self.filters = mel_filterbank(
            c.n_mels, self.n_fft, sample_rate, c.f_min, c.f_max, c.scale, c.norm
        )  # (F, M)

    def power(self, samples: Tensor) -> Tensor:
        """``|STFT|^2``, (T, n_fft // 2 + 1) float64."""
        x = torch.as_tensor(samples, dtype=torch.float64)
        if x.dim() != 1 or len(x) == 0:
            raise ValueError(f"samples must be a non-empty (N,) signal, got {tuple(x.shape)}")
        if len(x) <= self.n_fft // 2:  # reflection needs more than half a frame each side
            x = torch.nn.functional.pad(x, (0, self.n_fft // 2 + 1 - len(x)))
        spec = torch.stft(x, self.n_fft, self.hop_length, self.win_length, self.window,
                          center=True, pad_mode="reflect", return_complex=True)  # fmt: skip
        return spec.abs().square().T  # (T, F)

    def __call__(self, samples: Tensor | np.ndarray) -> Tensor:
        mel = self.power(samples) @ self.filters  # (T, M)
        return mel.clamp(min=self.config.floor).log().float()


# ----------------------------------------------------------------------------- espeak-ng


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def _espeak() -> str:
    path = shutil.which("espeak-ng")
    if path is None:
        raise MissingPackageError(f"dataset 'spoken_words' needs espeak-ng: {ESPEAK_INSTALL}")
    return path


def _espeak_version(exe: str) -> str:
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.split("Data at")[0].strip().replace("eSpeak NG text-to-speech:", "").strip()


def cache_folder(cache: str | PathLike | None = None) -> Path:
    """Where synthesized clips are kept: ``cache``, else ``$SEQLAB_CACHE_DIR/speech``,
    else ``$XDG_CACHE_HOME/seqlab/speech`` or ``~/.cache/seqlab/speech``."""
    if cache is not None:
        return Path(cache)
    if folder := os.environ.get("SEQLAB_CACHE_DIR"):
        return Path(folder) / "speech"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "seqlab" / "speech"


def synthesize(text: str, voice: str, speed: int, folder: str | PathLike,
               exe: str | None = None, version: str = "") -> Path:  # fmt: skip
    """``text`` spoken by espeak-ng (``voice``, ``speed`` words per minute), silence
    trimmed, as a 16-bit WAV in ``folder`` named by a hash of all four (and the espeak
    version): made once, read afterwards."""
    exe = exe or _espeak()
    key = hashlib.sha1(f"{version}|{voice}|{speed}|{text}".encode()).hexdigest()[:16]
    path = Path(folder) / f"{voice.replace('+', '_')}-{speed}-{key}.wav"
    if path.is_file():
        return path
    Path(folder).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        raw = Path(tmp) / "raw.wav"
        done = subprocess.run(
            [exe, "-v", voice, "-s", str(speed), "-w", str(raw), "--stdin"],
            input=text, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0 or not raw.is_file():
            why = (done.stderr or done.stdout).strip().splitlines()
            raise DataError(
                f"espeak-ng failed on {text!r} with voice {voice!r} at {speed} wpm: "
                f"{why[0] if why else f'exit code {done.returncode}'} (espeak-ng --voices lists "
                "the voices)"
            )
        samples, rate = read_wav(raw)
        write_wav(path, trim_silence(samples, rate), rate)
    return path


@dataclass
class SpokenUtterances:
    """Audio clips with their transcripts: ``paths`` (WAV files), ``texts`` and
    ``groups`` (no group is split between training and held-out data)."""

    paths: list[Path]
    texts: list[str]
    groups: list[str]

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[Path, str, str]:
        return self.paths[i], self.texts[i], self.groups[i]


def _check_words(words: Sequence[str]) -> list[str]:
    if isinstance(words, str) or not isinstance(words, Sequence):
        raise ValueError(f"words must be a list of words, got {words!r:.60}")
    out = []
    for w in words:
        if not isinstance(w, str) or not w.strip() or not w.isprintable():
            raise ValueError(f"each word must be printable, non-empty text, got {w!r}")
        out.append(" ".join(w.split()))
    if len(set(out)) < 2:
        raise ValueError(f"words must hold at least 2 different words, got {len(set(out))}")
    return list(dict.fromkeys(out))


def spoken_words(
    n_words: int | None = None,
    words: list[str] | None = None,
    voices: list[str] | tuple[str, ...] = VOICES,
    speeds: list[int] | tuple[int, ...] = SPEEDS,
    n_phrases: int | None = None,
    folds: int = 20,
    seed: int = 0,
    cache: str | None = None,
) -> SpokenUtterances:
    """Words (``words``, default :data:`WORDS`; ``n_words`` of them, a seeded sample) and
    ``n_phrases`` two- or three-word phrases (default: a quarter as many as words), each
    spoken in every one of ``voices`` at every one of ``speeds``.

    Every word is in one of ``folds`` groups (a seeded shuffle dealt round), a phrase's
    words in one group, and each utterance's ``group`` is its fold's name (``fold-3``),
    so splitting by group holds whole words out."""
    check_int("n_words", n_words, min=2, none=True)
    check_int("n_phrases", n_phrases, min=0, none=True)
    check_int("folds", folds, min=2)
    check_int("seed", seed, min=0)
    vocabulary = _check_words(WORDS if words is None else words)
    if isinstance(voices, str) or not voices or not all(isinstance(v, str) for v in voices):
        raise ValueError(
            f"voices must be a non-empty list of espeak-ng voice names, got {voices!r}"
        )
    for s in speeds if not isinstance(speeds, str | int) else [speeds]:
        check_int("speeds", s, min=80, max=450)
    if isinstance(speeds, str | int) or not speeds:
        raise ValueError(f"speeds must be a non-empty list of words per minute, got {speeds!r}")
    exe = _espeak()
    rng = random.Random(seed)
    rng.shuffle(vocabulary)
    if n_words is not None:
        vocabulary = vocabulary[:n_words]
    by_fold: list[list[str]] = [vocabulary[k::folds] for k in range(folds)]
    texts = [(w, k) for k, fold in enumerate(by_fold) for w in fold]
    n_phrases = len(vocabulary) // 4 if n_phrases is None else n_phrases
    filled = [k for k, fold in enumerate(by_fold) if len(fold) >= 2]
    for i in range(n_phrases if filled else 0):
        k = filled[i % len(filled)]
        size = min(len(by_fold[k]), rng.choice((2, 2, 3)))
        texts.append((" ".join(rng.sample(by_fold[k], size)), k))
    texts = list(dict.fromkeys(texts))  # a phrase drawn twice is spoken once
    folder = cache_folder(cache)
    version = _espeak_version(exe)
    jobs = [(t, k, v, s) for t, k in texts for v in voices for s in speeds]
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        paths = list(pool.map(lambda j: synthesize(j[0], j[2], j[3], folder, exe, version), jobs))
    return SpokenUtterances(paths, [t for t, *_ in jobs], [f"fold-{k}" for _, k, *_ in jobs])
