"""Writing files so that a crash or a full disk never leaves half a file behind.

Every file nlpseq writes in place (vocabularies, configs, checkpoints, data and output files) goes through
here: the content is written to a temporary name beside the target and renamed over it only once complete,
so the target holds either its old content or the whole new one. A model directory is built whole in a
temporary directory and renamed instead (`nlpseq.export.model_dir.replace_dir`).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path`; renames it to `path` if the block succeeds.

    The temporary file is removed when the block raises, so no `.tmp-*` litter is left either.

    Args:
        path: the file to (re)write; its folder must exist.

    Returns:
        A context manager yielding the temporary `Path` to write to. Its name keeps `path`'s suffix
        (Keras insists on `.weights.h5`, numpy on `.npz`).
    """
    path = Path(path)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path, text: str) -> None:
    """Writes `text` to `path` as UTF-8, atomically, with its line endings as given.

    Args:
        path: the file to (re)write.
        text: the whole content.
    """
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)


def write_bytes(path, data: bytes) -> None:
    """Writes `data` to `path`, atomically.

    Args:
        path: the file to (re)write.
        data: the whole content.
    """
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
