"""Checkpoints under faults and bad files: a save killed at any step, twice in a row,
leaves a loadable checkpoint; stale temporaries are cleaned; a manifest that does not
cover every file is refused; a state file that would run code is refused."""

import json
import os
import shutil
import warnings

import pytest
import torch
from torch import nn

import seqlab.train.checkpoint as ck
from seqlab.train import CheckpointError, load_checkpoint, save_checkpoint


@pytest.fixture(autouse=True)
def no_fsync(monkeypatch):
    """fsync only matters on power loss, which a test cannot cause; the order of the
    operations is what is tested, and a thousand real flushes take seconds."""
    monkeypatch.setattr(ck, "_fsync", lambda path: None)


class Killed(BaseException):
    """The process died: nothing after it runs (not even ``except``/``finally`` cleanup
    that touches the disk, since every later file operation raises this too)."""


def _truncate(path):
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size // 2)


def _remove_one_file(path):
    for root, _, files in os.walk(path):
        if files:
            os.remove(os.path.join(root, files[0]))
            return


class Crash:
    """Kill ``save_checkpoint`` at its ``at``-th file operation (1-based): a write is left
    half-written, a tree removal half-done, a rename or fsync not done."""

    def __init__(self, monkeypatch, at):
        self.at, self.count, self.dead = at, 0, False
        real_save = torch.save
        self._patch(monkeypatch, "_rename", ck._rename)
        self._patch(monkeypatch, "_fsync", ck._fsync)
        self._patch(monkeypatch, "_remove_tree", ck._remove_tree, lambda a: _remove_one_file(a[0]))
        self._patch(monkeypatch, "_write_json", ck._write_json, lambda a: _truncate(a[0]), True)
        self._patch(monkeypatch, "save_model", ck.save_model, lambda a: _truncate(a[1]), True)
        monkeypatch.setattr(
            ck.torch, "save", self._wrap(real_save, lambda a: _truncate(a[1]), True)
        )

    def _patch(self, monkeypatch, name, real, partial=None, run_first=False):
        monkeypatch.setattr(ck, name, self._wrap(real, partial, run_first))

    def _wrap(self, real, partial, run_first):
        def op(*args, **kwargs):
            if self.dead:
                raise Killed
            self.count += 1
            if self.count == self.at:
                self.dead = True
                if run_first:
                    real(*args, **kwargs)
                if partial is not None:
                    partial(args)
                raise Killed
            return real(*args, **kwargs)

        return op


def save(path, epoch, monkeypatch=None, at=None):
    """Save a checkpoint tagged ``epoch``; with ``at``, killed at that operation. Returns
    whether the save ran to its end."""
    model = nn.Linear(3, 2)
    with torch.no_grad():
        model.weight.fill_(epoch)
    if at is None:
        save_checkpoint(path, model, metrics={"epoch": epoch}, state={"epoch": epoch})
        return True
    with monkeypatch.context() as m:
        crash = Crash(m, at)
        try:
            save_checkpoint(path, model, metrics={"epoch": epoch}, state={"epoch": epoch})
        except Killed:
            return False
    assert crash.count < at
    return True


def copy(src, dst):
    shutil.copytree(src, dst, symlinks=True)


def loaded_epoch(path):
    """The epoch of the checkpoint a new process would resume from (weights agree)."""
    model = nn.Linear(3, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # found by design, not by a fallback over a bad one
        ckpt = load_checkpoint(path, model)
    epoch = ckpt.metrics["epoch"]
    assert ckpt.state["epoch"] == epoch and torch.all(model.weight == epoch)
    return epoch


def test_a_save_killed_at_any_step_twice_in_a_row_leaves_a_loadable_checkpoint(
    tmp_path, monkeypatch
):
    """Checkpoint 1 is on disk. Save 2 is killed at step k; a new process loads what is
    there (1 or 2) and resumes; its save 3 is killed at step j; what is loaded then is the
    one it resumed from or 3 — for every k and j. Before, a run resumed from last.old that
    died in its first save had removed last.old: nothing was left."""
    combos = 0
    k = 0
    while True:
        k += 1
        run = tmp_path / f"k{k}"
        path = run / "last"
        save(path, 1)
        first_done = save(path, 2, monkeypatch, at=k)
        first = loaded_epoch(path)
        assert first == (2 if first_done else first) and first in (1, 2)
        j = 0
        while True:
            j += 1
            again = tmp_path / f"k{k}-j{j}"
            copy(run, again)  # the same disk state, for each j
            second_done = save(again / "last", 3, monkeypatch, at=j)
            second = loaded_epoch(again / "last")
            assert second == 3 if second_done else second in (first, 3)
            combos += 1
            # the next clean save cleans every leftover and leaves last/ alone
            save(again / "last", 4)
            assert loaded_epoch(again / "last") == 4
            assert sorted(os.listdir(again)) == ["last"]
            if second_done:
                break
        if first_done:
            break
    assert k >= 15 and combos >= 15 * 15  # every step of both saves was hit


def test_killed_between_the_renames_then_killed_again(tmp_path, monkeypatch):
    """The exact sequence of the bug: last -> last.old done, then killed; the resumed run
    is killed again before its new checkpoint is in place: last.old must still load."""
    path = tmp_path / "last"
    save(path, 1)
    save(path, 2)
    (tmp_path / "last").rename(tmp_path / "last.old")  # killed right after this rename
    assert loaded_epoch(path) == 2
    for at in range(1, 40):
        trial = tmp_path / f"trial{at}"
        copy(tmp_path / "last.old", trial / "last.old")
        done = save(trial / "last", 3, monkeypatch, at=at)
        assert loaded_epoch(trial / "last") in ((3,) if done else (2, 3))
        if done:
            break


def test_stale_temporaries_of_dead_processes_are_cleaned_on_the_next_save(tmp_path):
    path = tmp_path / "last"
    save(path, 1)
    dead = tmp_path / "last.tmp-999999999"  # no such process
    dead.mkdir()
    (dead / "weights.safetensors").write_bytes(b"half")
    (tmp_path / "last.del-999999998").mkdir()
    alive = tmp_path / f"last.tmp-{os.getppid()}"  # a live process (may be saving now)
    alive.mkdir()
    other = tmp_path / "other.tmp-999999999"  # another checkpoint's: not ours to clean
    other.mkdir()
    save(path, 2)
    assert sorted(os.listdir(tmp_path)) == sorted(["last", alive.name, other.name])
    assert loaded_epoch(path) == 2


def test_a_corrupt_last_falls_back_to_a_whole_last_old(tmp_path, monkeypatch):
    path = tmp_path / "last"
    save(path, 2)
    save(tmp_path / "keep", 1)
    (tmp_path / "keep").rename(tmp_path / "last.old")  # as after a kill before its discard
    weights = path / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:-4])
    with pytest.warns(UserWarning, match=r"weights\.safetensors: corrupt.*loading the previous"):
        ckpt = load_checkpoint(path, nn.Linear(3, 2))
    assert ckpt.metrics == {"epoch": 1} and ckpt.path.endswith("last.old")
    # a save now keeps the whole last.old (not the corrupt last) until the new is in place
    for at in range(1, 40):
        trial = tmp_path / f"t{at}"
        copy(path, trial / "last")
        copy(tmp_path / "last.old", trial / "last.old")
        done = save(trial / "last", 3, monkeypatch, at=at)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = load_checkpoint(trial / "last", nn.Linear(3, 2)).metrics["epoch"]
        assert got in ((3,) if done else (1, 3))
        if done:
            break


def test_a_save_never_replaces_what_is_not_a_checkpoint(tmp_path):
    """save_checkpoint("runs") by mistake must not rename the user's folder away."""
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "notes.txt").write_text("mine")
    with pytest.raises(CheckpointError, match="a folder that is not a seqlab checkpoint"):
        save(runs, 1)
    assert (runs / "notes.txt").read_text() == "mine" and sorted(os.listdir(tmp_path)) == ["runs"]
    file = tmp_path / "ck"
    file.write_text("x")
    with pytest.raises(CheckpointError, match="exists and is not a checkpoint directory"):
        save(file, 1)
    (tmp_path / "b.old").mkdir()
    (tmp_path / "b.old" / "data.csv").write_text("1,2")
    with pytest.raises(CheckpointError, match=r"b\.old: a folder that is not"):
        save(tmp_path / "b", 1)
    with pytest.raises(ValueError, match="path must name the checkpoint directory"):
        save_checkpoint("", nn.Linear(1, 1))
    (tmp_path / "empty").mkdir()
    save(tmp_path / "empty", 1)  # an empty folder is fine
    assert loaded_epoch(tmp_path / "empty") == 1


# ----------------------------------------------------------------------------- manifests


def manifest_of(path):
    return json.loads((path / "manifest.json").read_text())


def write_manifest(path, manifest):
    (path / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda m: m.update(files={}), r"does not list \['weights\.safetensors', 'config"),
        (
            lambda m: m.update(files=sorted(m["files"])),
            "'files' must map each file name .* got list",
        ),
        (lambda m: m.update(files=None), "'files' must map .* got NoneType"),
        (lambda m: m.pop("files"), "'files' must map"),
        (lambda m: m["files"].pop("state.pt"), r"does not list \['state\.pt'\]"),
        (lambda m: m["files"].update({"config.json": "abc"}), "'config.json' has 'abc'"),
        (lambda m: m["files"].update({"config.json": 5}), "'config.json' has 5"),
        (lambda m: m["files"].update({"../x.json": "0" * 64}), "'../x.json' is not a file name"),
        (lambda m: m["files"].update({"manifest.json": "0" * 64}), "is not a file name"),
    ],
)
def test_a_manifest_that_does_not_cover_the_checkpoint_is_refused(tmp_path, change, match):
    path = tmp_path / "ck"
    save(path, 1)
    manifest = manifest_of(path)
    change(manifest)
    write_manifest(path, manifest)
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(path, nn.Linear(3, 2))


def test_files_not_in_the_manifest_are_refused(tmp_path):
    path = tmp_path / "ck"
    save(path, 1)
    (path / "vocab.json").write_text('{"tokens": []}')  # an extra nobody hashed
    with pytest.raises(CheckpointError, match=r"\['vocab\.json'\] not covered by manifest\.json"):
        load_checkpoint(path)
    (path / "vocab.json").unlink()
    (path / "sub").mkdir()
    with pytest.raises(CheckpointError, match=r"\['sub'\] not covered"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", r"manifest\.json: not valid JSON \(line 1"),
        ("[1, 2]", "format_version None"),
        (b"\xff\xfe{}", "cannot be read as UTF-8 JSON"),
    ],
)
def test_unreadable_manifests(tmp_path, text, match):
    path = tmp_path / "ck"
    save(path, 1)
    manifest = path / "manifest.json"
    manifest.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(path)


class Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def test_a_state_file_that_would_run_code_is_refused(tmp_path):
    path = tmp_path / "ck"
    save(path, 1)
    marker = tmp_path / "pwned"
    torch.save({"optimizer": Payload(marker)}, path / "state.pt")
    manifest = manifest_of(path)
    manifest["files"]["state.pt"] = ck._sha256(str(path / "state.pt"))  # hashes match
    write_manifest(path, manifest)
    with pytest.raises(CheckpointError, match=r"state\.pt: cannot read the training state"):
        load_checkpoint(path)
    assert not marker.exists()


def test_a_half_written_checkpoint_is_never_under_its_name(tmp_path, monkeypatch):
    """Killed while writing the weights: last/ is the old one, whole; the temporary has
    the pid in its name and goes on the next save."""
    path = tmp_path / "last"
    save(path, 1)
    assert not save(path, 2, monkeypatch, at=1)  # the first write: the weights
    assert sorted(os.listdir(tmp_path)) == ["last", f"last.tmp-{os.getpid()}"]
    assert loaded_epoch(path) == 1
    save(path, 3)
    assert sorted(os.listdir(tmp_path)) == ["last"]


CHILD = """
import sys, torch
from torch import nn
from seqlab.train import load_checkpoint, save_checkpoint
path = sys.argv[1]
model = nn.Linear(64, 64)
try:
    epoch = load_checkpoint(path, model).metrics["epoch"]
except Exception:
    epoch = 0
print("ready", flush=True)
while True:
    epoch += 1
    save_checkpoint(path, model, metrics={"epoch": epoch}, state={"epoch": epoch})
"""


@pytest.mark.slow
def test_real_sigkill_during_saves_again_and_again(tmp_path, no_fsync, monkeypatch):
    """Real processes saving in a loop, each resuming from what the last one left and
    SIGKILLed at a random moment (real fsyncs): a checkpoint always loads."""
    import random
    import signal
    import subprocess
    import sys
    import time

    monkeypatch.undo()  # real fsync here
    path = tmp_path / "last"
    rng = random.Random(0)
    last = 0
    for _ in range(6):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE)
        assert child.stdout.readline().strip() == b"ready"
        while not path.exists():  # the first run's first save
            time.sleep(0.01)
        time.sleep(rng.uniform(0.05, 0.5))
        child.send_signal(signal.SIGKILL)
        child.wait()
        ckpt = load_checkpoint(path, nn.Linear(64, 64))
        assert ckpt.metrics["epoch"] >= last
        last = ckpt.metrics["epoch"]
    assert last > 0
