"""Small file helpers shared by every writer: atomic writes, hashing, JSON conversion.

A file is written to a temporary name in its own folder and moved into place with
:func:`os.replace` (atomic on POSIX), so a reader never sees half a file and a failure leaves
the previous file intact.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

#: Suffixes read as vector layers (GDAL) rather than tables.
VECTOR_SUFFIXES: frozenset[str] = frozenset({".gpkg", ".geojson", ".json", ".shp", ".fgb", ".gml", ".kml", ".zip"})


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` when the block succeeds.

    Parameters
    ----------
    path : path-like
        Final file. Its folder is created when missing.
    suffix : str, optional
        Suffix of the temporary name (default: ``path``'s suffix, which GDAL drivers need).

    Yields
    ------
    Path
        A path that does not exist yet; the block creates it. Removed when the block fails.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=suffix or path.suffix)
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()  # writers (GDAL) want to create the file themselves
    try:
        yield tmp
        if tmp.exists():
            os.chmod(tmp, 0o666 & ~umask())  # mkstemp creates 0600; follow the user's umask
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def umask() -> int:
    """The process umask (read without changing it for longer than one call)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's content, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def json_default(o: object) -> object:
    """``default=`` for :func:`json.dumps`: numpy scalars and arrays, paths, sets; non-finite → ``None``."""
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        f = float(o)
        return f if math.isfinite(f) else None
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, (set, tuple)):
        return list(o)
    return str(o)


def one_line(exc: BaseException, limit: int = 150) -> str:
    """An exception's message on one line, cut to ``limit`` characters (for typed errors)."""
    return " ".join(str(exc).split())[:limit]
