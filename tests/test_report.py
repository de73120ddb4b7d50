"""``seqlab report RUN_DIR``: one self-contained HTML page; parsed here, every image decoded."""

import base64
import io
import shutil
from html.parser import HTMLParser

import pytest
import yaml

from seqlab.cli import main
from seqlab.diagnostics import plots_available

pytestmark = pytest.mark.skipif(not plots_available(), reason="plots need matplotlib")


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.tags, self.text, self.links = [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "img":
            self.images.append(attrs["src"])
        for key in ("href", "src"):
            if key in attrs and not attrs[key].startswith("data:"):
                self.links.append(attrs[key])

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    config = {
        "task": "classification",
        "data": {"dataset": "adding_problem", "options": {"n": 96, "length": 12},
                 "batch_size": 16},
        "model": {"encoder": {"kind": "gru", "hidden_size": 6}},
        "train": {"epochs": 2, "max_steps": 4, "progress": False, "metrics": ["mae"],
                  "clip": {"norm": 1.0}},
    }  # fmt: skip
    (tmp / "c.yaml").write_text(yaml.safe_dump(config))
    out = tmp / "run"
    assert main(["train", str(tmp / "c.yaml"), "--out", str(out)]) == 0
    return out


def _parse(path):
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _decode_all(page):
    from matplotlib.image import imread

    for src in page.images:
        head, data = src.split(",", 1)
        assert head == "data:image/png;base64"
        image = imread(io.BytesIO(base64.b64decode(data, validate=True)), format="png")
        assert image.shape[0] > 100 and image.shape[1] > 100


def test_the_report_is_one_self_contained_page(run_dir, capsys):
    assert main(["report", str(run_dir)]) == 0
    assert "report.html" in capsys.readouterr().out
    page = _parse(run_dir / "report.html")
    assert len(page.images) == len(list((run_dir / "plots").glob("*.png"))) >= 4
    _decode_all(page)
    assert page.links == [] and "script" not in page.tags  # nothing to fetch or run
    text = "".join(page.text)
    for expected in ("Final metrics", "val_mae", "By epoch", "task: classification", "gru"):
        assert expected in text, expected
    assert page.tags.count("table") >= 3


def test_plots_missing_are_drawn_from_the_csvs(run_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    shutil.rmtree(copy / "plots")
    out = tmp_path / "r.html"
    assert main(["report", str(copy), "--out", str(out)]) == 0
    page = _parse(out)
    assert {"loss", "lr", "grad_norm"} <= {p.stem for p in (copy / "plots").glob("*.png")}
    _decode_all(page)


@pytest.mark.parametrize(
    "remove,message",
    [
        (["summary.json"], "no summary.json (the final metrics)"),
        (["config.yaml"], "no config.yaml"),
        (["plots", "epochs.csv"], "no pictures in plots/ and no epochs.csv"),
    ],
)
def test_a_run_directory_lacking_what_a_report_needs(run_dir, tmp_path, capsys, remove, message):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    for name in remove:
        target = copy / name
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    assert main(["report", str(copy)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_not_a_directory(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "not a directory" in capsys.readouterr().err
