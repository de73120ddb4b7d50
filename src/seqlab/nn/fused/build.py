"""Build this package's C sources into shared libraries, once per machine, and load them.

The native steps (:mod:`seqlab.nn.fused.conv_steps`) need a C compiler the first time
they run on a machine: ``$CC``, else ``cc``. The library lands in a cache folder
(``$SEQLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/seqlab``, else ``~/.cache/seqlab``) under a
name that hashes the source and the compile command, so an edited source or another
compiler builds anew and an unchanged one is reused. It is compiled to a temporary file
and renamed into place, so processes that build at once never load half a library.

Without a compiler (or with ``SEQLAB_NATIVE=0``) :func:`load_library` raises
:class:`NativeUnavailable`, which says why, and the callers run their PyTorch paths.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["NativeUnavailable", "cache_dir", "compile_library", "load_library"]

log = logging.getLogger(__name__)

# -O3 lets gcc and clang vectorize the inner loops; no -ffast-math, so every sum is the
# plain IEEE one and a float64 step matches the PyTorch step to rounding.
FLAGS = ("-O3", "-std=c11", "-shared", "-fPIC")
COMPILE_TIMEOUT_S = 300


class NativeUnavailable(RuntimeError):
    """No native library here: the message says why (no compiler, a failed build, ...)."""


def cache_dir() -> Path:
    """Where built libraries are kept (the module docstring)."""
    if folder := os.environ.get("SEQLAB_CACHE_DIR"):
        return Path(folder)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "seqlab"


def compile_library(
    source: Path, defines: dict[str, str], folder: Path, compiler: str, flags: tuple[str, ...] = ()
) -> Path:
    """Compile ``source`` with ``-Dkey=value`` for each of ``defines`` (and ``flags``) into
    ``folder``.

    Returns the library's path; an existing library built from the same source and
    command is returned as is. Raises :class:`NativeUnavailable` when the compiler is
    missing or fails (its messages included).
    """
    cc = shutil.which(compiler)
    if cc is None:
        raise NativeUnavailable(f"no C compiler {compiler!r} on PATH (set $CC to use another)")
    try:
        code = source.read_bytes()
    except OSError as e:
        raise NativeUnavailable(f"cannot read {source}: {e.strerror}") from None
    args = [*FLAGS, *flags, *(f"-D{k}={v}" for k, v in sorted(defines.items()))]
    where = f"{sys.platform}-{platform.machine()}"
    key = hashlib.sha256(b"\0".join([code, *map(str.encode, [cc, where, *args])])).hexdigest()[:16]
    target = folder / f"{source.stem}-{'-'.join(sorted(defines.values()))}-{key}.so"
    if target.exists():
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.stem}-", suffix=".so")
        os.close(fd)
    except OSError as e:
        raise NativeUnavailable(f"cannot write to the cache folder {folder}: {e}") from None
    try:
        done = subprocess.run(
            [cc, *args, "-o", tmp, str(source), "-lm"],
            capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S,
        )  # fmt: skip
        if done.returncode != 0:
            message = (done.stderr or done.stdout).strip().splitlines()[-20:]
            raise NativeUnavailable(f"{compiler} failed on {source}:\n" + "\n".join(message))
        os.replace(tmp, target)
    except subprocess.TimeoutExpired:
        raise NativeUnavailable(f"{compiler} took over {COMPILE_TIMEOUT_S} s on {source}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


_loaded: dict[tuple, ctypes.CDLL | NativeUnavailable] = {}


def load_library(
    source_name: str, defines: dict[str, str], optional_flags: tuple[str, ...] = ()
) -> ctypes.CDLL:
    """The library built from this package's ``source_name`` with ``defines``.

    Built on first use (see the module docstring) and loaded once per process; a failure
    is remembered too, logged once, and raised as :class:`NativeUnavailable` each call.
    ``optional_flags`` (``-fopenmp``) are tried first; where the compiler refuses them the
    source is built without (it must compile both ways), and one log line says so.
    """
    key = (source_name, tuple(sorted(defines.items())), optional_flags)
    if key not in _loaded:
        source = Path(__file__).with_name(source_name)
        _loaded[key] = _build_and_load(source, defines, optional_flags)
        if isinstance(_loaded[key], NativeUnavailable):
            log.warning("seqlab runs the PyTorch path instead of %s: %s", source_name, _loaded[key])
    found = _loaded[key]
    if isinstance(found, NativeUnavailable):
        raise found
    return found


def _build_and_load(
    source: Path, defines: dict[str, str], optional_flags: tuple[str, ...] = ()
) -> ctypes.CDLL | NativeUnavailable:
    if os.environ.get("SEQLAB_NATIVE", "1") == "0":
        return NativeUnavailable("SEQLAB_NATIVE=0 turns native steps off")
    compiler = os.environ.get("CC") or "cc"
    if optional_flags and shutil.which(compiler) is not None:
        found = _build_and_load_with(source, defines, compiler, optional_flags)
        if not isinstance(found, NativeUnavailable):
            return found
        log.warning("seqlab builds %s without %s: %s", source.name, " ".join(optional_flags), found)
    return _build_and_load_with(source, defines, compiler, ())


def _build_and_load_with(
    source: Path, defines: dict[str, str], compiler: str, flags: tuple[str, ...]
) -> ctypes.CDLL | NativeUnavailable:
    build = (source, defines, cache_dir(), compiler, flags)
    try:
        path = compile_library(*build)
        try:
            return ctypes.CDLL(str(path))
        except OSError:  # a damaged library in the cache: build it once more
            path.unlink(missing_ok=True)
            return ctypes.CDLL(str(compile_library(*build)))
    except NativeUnavailable as e:
        return e
    except OSError as e:
        return NativeUnavailable(f"cannot load the library built from {source}: {e}")
