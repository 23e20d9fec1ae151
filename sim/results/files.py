"""Files of results: every output is written to a temporary file and renamed into place,
and its SHA-256 is known as it is written; a damaged file read back is named in a
:class:`FolderError`, in one line."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


class FolderError(ValueError):
    """A run or sweep folder whose files are damaged; ``str()`` names the file."""


SHA256 = re.compile(r"[0-9a-f]{64}")  # a checksum as recorded: 64 lowercase hex digits


def sha256_file(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, as 64 lowercase hex digits."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_sha256(path: Path, expected: str, recorded_in: str) -> None:
    """:class:`FolderError` unless ``path`` (read whole and well-formed already) still has
    the SHA-256 recorded for it in ``recorded_in``: a byte changed after it was written."""
    actual = sha256_file(path)
    if actual != expected:
        raise FolderError(f"{path}: checksum mismatch (its SHA-256 is {actual[:12]}…, {recorded_in} "
                          f"records {expected[:12]}…): the file changed after it was written")


def one_line(exc: BaseException) -> str:
    """An exception's text on one line: a library's message may span several."""
    return " ".join(str(exc).split()) or type(exc).__name__


def ends_a_line(path: Path) -> bool:
    """Does the file end with a line break (or not exist, which pandas reports)?"""
    try:
        with path.open("rb") as f:
            if f.seek(0, os.SEEK_END) == 0:
                return True  # empty: pandas names it unreadable
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"
    except FileNotFoundError:
        return True


def _umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (not thread-safe, but brief)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[str], Any],
                 record: Callable[[str], Any] | None = None) -> str:
    """Write through a temporary file in the same folder, then rename over ``path``; return
    the SHA-256 of the bytes written (read back from the temporary file, before the rename).

    ``record``, if given, is called with that SHA-256 before the rename: what it records
    exists before the file does. The file gets the mode a plain ``open()`` would give it
    (``0o666 & ~umask``), not the 0600 of a temporary file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.close(fd)
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # the writer may have replaced the file: chmod by name
        digest = sha256_file(tmp)
        if record is not None:
            record(digest)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest
