"""Bible verse pairs from SWORD "zText" modules (Debian ``sword-text-*``), e.g. King James
-> World English Bible: archaic to modern English for encoder-decoder models.

A zText module keeps each testament (``ot``, ``nt``) in three files:

* ``.bzs`` block index: per block, little-endian uint32 (offset in .bzz, compressed size,
  uncompressed size);
* ``.bzv`` verse index: per entry, uint32 block, uint32 offset in the uncompressed block,
  uint16 size (entries: module and testament headers, then per book a heading entry,
  per chapter a heading entry and its verses);
* ``.bzz``: the zlib-compressed blocks of OSIS-marked-up text.

The two modules may use different versifications (KJV vs NRSVA), so verses are keyed by
the OSIS chapter id in the chapter heading (``<chapter sID="Matt.1"/>``) and their
position after it, and paired by key: verses present in both, non-empty after the markup
is stripped (footnotes dropped).
"""

from __future__ import annotations

import html
import re
import struct
import zlib
from os import PathLike
from pathlib import Path

from .containers import TextPairs
from .errors import DataError, MissingPackageError
from .files import given_root

SWORD_ROOT = "/usr/share/sword/modules/texts/ztext"
SWORD_INSTALL = "apt-get install sword-text-kjv sword-text-web"

_CHAPTER = re.compile(r'<chapter\b[^>]*\bsID="([^"]+)"')
_BOOK = re.compile(r'<div\b[^>]*\btype="book"[^>]*>')
_NOTE = re.compile(r"<note\b.*?</note>", re.S)
_INLINE = re.compile(r"</?(?:w|transChange|seg|q|hi|foreign|divineName|name|rdg)\b[^>]*>")
_TAG = re.compile(r"<[^>]*>")
_SPACE_BEFORE_PUNCT = re.compile(r" +([,.;:!?’”)])")


def read_ztext(folder: str | PathLike, testament: str) -> list[str]:
    """All entries of one testament (``"ot"`` or ``"nt"``) of a zText module, as markup."""
    folder = Path(folder)
    paths = [folder / f"{testament}.{ext}" for ext in ("bzs", "bzv", "bzz")]
    try:
        bzs, bzv, bzz = (p.read_bytes() for p in paths)
    except FileNotFoundError as e:
        raise DataError("file not found", path=e.filename) from None
    if len(bzs) % 12 or len(bzv) % 10:
        raise DataError("index size is not a whole number of entries", path=paths[0].parent)
    blocks = [struct.unpack_from("<III", bzs, i) for i in range(0, len(bzs), 12)]
    cache: dict[int, bytes] = {}
    entries = []
    for i in range(0, len(bzv), 10):
        block, offset, size = struct.unpack_from("<IIH", bzv, i)
        if size == 0:
            entries.append("")
            continue
        if block >= len(blocks):
            raise DataError(f"entry {i // 10} points to block {block} of {len(blocks)}", paths[1])
        if block not in cache:
            start, length, _ = blocks[block]
            try:
                cache[block] = zlib.decompress(bzz[start : start + length])
            except zlib.error as e:
                raise DataError(f"block {block} is not zlib data ({e})", path=paths[2]) from None
        if offset + size > len(cache[block]):
            raise DataError(
                f"entry {i // 10} reaches byte {offset + size} of block {block}, which has "
                f"{len(cache[block])}",
                path=paths[1],
            )
        try:
            entries.append(cache[block][offset : offset + size].decode("utf-8"))
        except UnicodeDecodeError:
            raise DataError(f"entry {i // 10} is not UTF-8", path=paths[2]) from None
    return entries


def strip_osis(markup: str) -> str:
    """Plain text of a verse: footnotes dropped, tags removed, spaces normalised."""
    text = _NOTE.sub(" ", markup)
    text = _INLINE.sub("", text)
    text = _TAG.sub(" ", text)
    text = html.unescape(text).replace("¶", " ")
    return _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(text.split()))


def module_verses(folder: str | PathLike) -> dict[tuple[str, int], str]:
    """``{(chapter osisID, verse number): text}`` over the testaments the module has."""
    folder = Path(folder)
    verses: dict[tuple[str, int], str] = {}
    testaments = [t for t in ("ot", "nt") if (folder / f"{t}.bzv").exists()]
    if not testaments:
        raise DataError("no ot.bzv or nt.bzv: not a zText module", path=folder)
    for testament in testaments:
        chapter, verse = None, 0
        for entry in read_ztext(folder, testament):
            starts = _CHAPTER.findall(entry)
            if starts:
                chapter, verse = starts[-1], 0
                continue
            if any(" sID=" in tag for tag in _BOOK.findall(entry)):
                chapter = None  # a book heading entry, not a verse
                continue
            if chapter is None:
                continue
            verse += 1
            for tag in _BOOK.finditer(entry):
                if " eID=" in tag.group():  # the book ends here; what follows is no verse
                    entry = entry[: tag.start()]
                    break
            text = strip_osis(entry)
            if text:
                verses[(chapter, verse)] = text
    return verses


def kjv_web_pairs(
    root: str | PathLike | None = None,
    source: str = "engKJV2006eb",
    target: str = "engWEB2015eb",
) -> TextPairs:
    """(source verse, target verse) pairs in canonical order, by default King James ->
    World English Bible: 31,095 pairs, each with its book's OSIS name (``"Gen"`` ...
    ``"Rev"``) in ``groups``. ``root`` holds the module folders."""
    for name, value in (("source", source), ("target", target)):
        if not isinstance(value, str) or not value or Path(value).name != value:
            raise ValueError(f"{name} must be a module folder name, got {value!r}")
    if root is not None:
        folder = given_root(root, "bible_kjv_web", f"the zText module folders {source}/, {target}/")
        for module in (source, target):
            if not (folder / module).is_dir():
                raise DataError(
                    f"root={str(root)!r} for dataset 'bible_kjv_web' has no module folder "
                    f"{module!r}; its folders are {sorted(p.name for p in folder.iterdir())}"
                )
    else:
        folder = Path(SWORD_ROOT)
        for module in (source, target):
            if not (folder / module).is_dir():
                raise MissingPackageError(
                    f"dataset 'bible_kjv_web' needs: {SWORD_INSTALL} (module {module} not in "
                    f"{folder})"
                )
    a, b = module_verses(folder / source), module_verses(folder / target)
    keys = [key for key in a if key in b]
    if not keys:
        raise DataError(f"modules {source} and {target} share no verses", path=folder)
    books = [chapter.split(".")[0] for chapter, _ in keys]  # "Matt.1" -> "Matt"
    return TextPairs([(a[key], b[key]) for key in keys], books)
