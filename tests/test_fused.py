"""seqlab.nn.fused: the native stream steps equal the PyTorch ones; building and falling back."""

import ctypes
import logging

import pytest
import torch

from seqlab.nn import TCN, WaveNet
from seqlab.nn.fused import NativeUnavailable, build, conv_steps
from stream_paths import needs_c_compiler


def run(stream, x):
    return torch.stack([stream.step(x[:, t]) for t in range(x.size(1))], dim=1)


def both_paths(net, batch_size):
    native, plain = net.stream(batch_size, native=True), net.stream(batch_size, native=False)
    assert native.native and not plain.native
    return native, plain


def assert_paths_agree(net, batch, dtype, tol):
    """Both paths, past two periods of the ring buffers (every refresh phase runs), equal
    each other and the full forward; then the native path again after ``reset``."""
    native, plain = both_paths(net, batch)
    x = torch.randn(batch, 2 * native._taps.period + 5, net.input_size, dtype=dtype)
    got, want = run(native, x), run(plain, x)
    torch.testing.assert_close(got, want, rtol=tol, atol=tol)
    with torch.no_grad():
        torch.testing.assert_close(got, net(x), rtol=tol, atol=tol)
    native.reset()  # a new sequence from zeros again
    torch.testing.assert_close(run(native, x[:, :7]), want[:, :7], rtol=tol, atol=tol)


def seeded(cls, *args, dtype, **kwargs):
    torch.manual_seed(0)
    return cls(*args, **kwargs).to(dtype).eval()


# --- the native steps equal the PyTorch steps -----------------------------------------------
@pytest.mark.parametrize(
    "dtype, tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)], ids=["float64", "float32"]
)
@pytest.mark.parametrize(
    "input_size, channels, kernel_size, batch",
    [
        (3, [8, 8, 8], 2, 1),  # a 1x1 residual in the first block only
        (4, [4, 7, 5, 5], 3, 3),  # channel changes: 1x1 residuals in three blocks
        (6, [6, 6], 7, 2),  # identity residuals only, the first one on a raw input
    ],
)
@needs_c_compiler
def test_tcn_native_step_equals_pytorch_step(input_size, channels, kernel_size, batch, dtype, tol):
    tcn = seeded(TCN, input_size, channels, kernel_size=kernel_size, dtype=dtype)
    assert_paths_agree(tcn, batch, dtype, tol)


@pytest.mark.parametrize(
    "dtype, tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)], ids=["float64", "float32"]
)
@pytest.mark.parametrize(
    "input_size, R, S, kernel_size, cycles, layers, batch",
    [(1, 8, 12, 2, 2, 4, 1), (3, 5, 4, 3, 1, 3, 3), (2, 4, 6, 2, 1, 1, 2)],
)
@needs_c_compiler
def test_wavenet_native_step_equals_pytorch_step(
    input_size, R, S, kernel_size, cycles, layers, batch, dtype, tol
):
    net = seeded(WaveNet, input_size, R, S, kernel_size, cycles, layers, dtype=dtype)
    assert_paths_agree(net, batch, dtype, tol)


@needs_c_compiler
def test_native_step_takes_any_input_layout_and_dtype_and_returns_a_new_plain_tensor():
    tcn = seeded(TCN, 3, [5, 5], kernel_size=3, dtype=torch.float32)
    native, plain = both_paths(tcn, 2)
    x = torch.randn(3, 2, 10, dtype=torch.float64).transpose(0, 2)  # (10, 2, 3): not contiguous
    first = native.step(x[0])
    assert first.dtype == torch.float32 and not first.is_inference()
    assert not first.requires_grad
    outs = [first] + [native.step(x[t]) for t in range(1, 10)]
    assert len({o.data_ptr() for o in outs}) == 10  # each step's output is its own tensor
    want = [plain.step(x[t].float()) for t in range(10)]
    torch.testing.assert_close(torch.stack(outs), torch.stack(want), rtol=1e-5, atol=1e-5)


# --- which path a stream takes --------------------------------------------------------------
@needs_c_compiler
def test_default_is_native_up_to_the_batch_limit_and_native_true_is_honoured_past_it():
    tcn = seeded(TCN, 2, [4], kernel_size=2, dtype=torch.float32)
    limit = conv_steps.AUTO_MAX_BATCH
    assert tcn.stream(limit).native
    assert not tcn.stream(limit + 1).native
    big = tcn.stream(limit + 1, native=True)
    assert big.native
    x = torch.randn(limit + 1, 6, 2)
    with torch.no_grad():
        torch.testing.assert_close(run(big, x), tcn(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_other_dtypes_run_the_pytorch_path_and_native_true_says_why(dtype):
    tcn = seeded(TCN, 2, [4], kernel_size=2, dtype=dtype)
    assert not tcn.stream(1).native
    with pytest.raises(
        RuntimeError, match=f"native=True, but native steps take float32 or float64, not {dtype}"
    ):
        tcn.stream(1, native=True)
    net = seeded(WaveNet, 2, 4, 4, 2, 1, 2, dtype=dtype)
    assert not net.stream(1).native


def test_native_must_be_none_or_a_bool():
    tcn = seeded(TCN, 2, [4], kernel_size=2, dtype=torch.float32)
    with pytest.raises(ValueError, match="native must be None, True or False, got 'yes'"):
        tcn.stream(1, native="yes")


def test_native_library_refuses_other_devices():
    with pytest.raises(RuntimeError, match="native steps run on the CPU, this stream is on meta"):
        conv_steps.native_library(torch.float32, torch.device("meta"), 1, native=True)
    assert conv_steps.native_library(torch.float32, torch.device("meta"), 1, native=None) is None


@pytest.fixture
def fresh_loader(monkeypatch, tmp_path):
    """An empty per-process library table and cache folder: the next load builds anew."""
    monkeypatch.setattr(build, "_loaded", {})
    monkeypatch.setenv("SEQLAB_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_seqlab_native_0_turns_the_native_step_off(fresh_loader, monkeypatch, caplog):
    monkeypatch.setenv("SEQLAB_NATIVE", "0")
    tcn = seeded(TCN, 2, [4], kernel_size=2, dtype=torch.float32)
    with caplog.at_level(logging.WARNING, logger="seqlab.nn.fused.build"):
        assert not tcn.stream(1).native
        assert not tcn.stream(1).native
    # said once per process, not once per stream
    assert [r.getMessage() for r in caplog.records] == [
        "seqlab runs the PyTorch path instead of conv_steps.c: SEQLAB_NATIVE=0 turns native steps off"
    ]
    with pytest.raises(RuntimeError, match="native=True, but SEQLAB_NATIVE=0"):
        tcn.stream(1, native=True)
    assert not fresh_loader.exists()  # nothing was built


def test_a_missing_compiler_falls_back_with_the_reason(fresh_loader, monkeypatch):
    monkeypatch.setenv("CC", "no-such-compiler-here")
    tcn = seeded(TCN, 2, [4], kernel_size=2, dtype=torch.float32)
    stream = tcn.stream(1)
    assert not stream.native
    with torch.no_grad():
        x = torch.randn(1, 5, 2)
        torch.testing.assert_close(run(stream, x), tcn(x), rtol=1e-5, atol=1e-5)
    with pytest.raises(RuntimeError, match="no C compiler 'no-such-compiler-here' on PATH"):
        tcn.stream(1, native=True)


# --- building ---------------------------------------------------------------------------------
SOURCE = "int answer(void) { return REAL; }\n"


def load_answer(path):
    lib = ctypes.CDLL(str(path))
    lib.answer.restype = ctypes.c_int
    return lib.answer()


@needs_c_compiler
def test_compile_library_builds_once_and_reuses_the_build(tmp_path):
    source = tmp_path / "answer.c"
    source.write_text(SOURCE)
    folder = tmp_path / "cache" / "deep"  # made on demand
    first = build.compile_library(source, {"REAL": "42"}, folder, "cc")
    assert load_answer(first) == 42
    mtime = first.stat().st_mtime_ns
    assert build.compile_library(source, {"REAL": "42"}, folder, "cc") == first
    assert first.stat().st_mtime_ns == mtime  # not built again
    # other defines or an edited source: another library
    other = build.compile_library(source, {"REAL": "7"}, folder, "cc")
    assert other != first and load_answer(other) == 7
    source.write_text(SOURCE.replace("return", "return 1 +"))
    edited = build.compile_library(source, {"REAL": "42"}, folder, "cc")
    assert edited not in (first, other) and load_answer(edited) == 43
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []  # no temp files


@needs_c_compiler
def test_compile_errors_name_the_source_and_leave_nothing_behind(tmp_path):
    source = tmp_path / "broken.c"
    source.write_text("int broken(void) { return undefined_name; }\n")
    with pytest.raises(
        NativeUnavailable, match=r"cc failed on .*broken\.c:\n(.|\n)*undefined_name"
    ):
        build.compile_library(source, {"REAL": "float"}, tmp_path / "cache", "cc")
    assert list((tmp_path / "cache").iterdir()) == []
    with pytest.raises(NativeUnavailable, match=r"cannot read .*missing\.c"):
        build.compile_library(tmp_path / "missing.c", {}, tmp_path / "cache", "cc")


@needs_c_compiler
def test_an_unwritable_cache_folder_is_named(tmp_path):
    source = tmp_path / "answer.c"
    source.write_text(SOURCE)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(NativeUnavailable, match=r"cannot write to the cache folder .*file/cache"):
        build.compile_library(source, {"REAL": "1"}, blocker / "cache", "cc")


@needs_c_compiler
def test_a_damaged_cached_library_is_built_again(fresh_loader, monkeypatch):
    monkeypatch.delenv("CC", raising=False)  # the loader's compiler is then "cc", as here
    defines = {"REAL": "float"}
    source = build.Path(build.__file__).with_name("conv_steps.c")
    path = build.compile_library(source, defines, fresh_loader, "cc")
    path.write_bytes(b"not a shared library")  # e.g. a disk that filled up under another tool
    lib = build.load_library("conv_steps.c", defines)
    assert hasattr(lib, "tcn_step") and path.stat().st_size > 1000


def test_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SEQLAB_CACHE_DIR", str(tmp_path / "here"))
    assert build.cache_dir() == tmp_path / "here"
    monkeypatch.delenv("SEQLAB_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert build.cache_dir() == tmp_path / "xdg" / "seqlab"
