"""Line-by-line reading of text files (plain or gzip) with located errors."""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator

from nlpseq.errors import DataError


def iter_lines(path, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """Yields (1-based line number, line without its line ending) from a file.

    Lines are decoded one by one from bytes, so a bad byte is reported with the
    line that holds it instead of failing the whole file. `.gz` files are
    decompressed on the fly. A UTF-8 byte-order mark on the first line is dropped.

    Args:
        path: the file to read.
        encoding: the text encoding.

    Raises:
        DataError: the file is missing, unreadable, not valid gzip, or a line
            cannot be decoded.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataError(path, None, "file not found")
    if os.path.isdir(path):
        raise DataError(path, None, "is a directory, not a file")
    opener = gzip.open if path.endswith(".gz") else open
    lineno = 0
    try:
        with opener(path, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                try:
                    text = raw.decode(encoding)
                except UnicodeDecodeError as e:
                    name = "UTF-8" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
                    raise DataError(
                        path, lineno, f"invalid {name} (byte 0x{raw[e.start]:02x} at column {e.start + 1})"
                    ) from None
                if lineno == 1 and text.startswith("\ufeff"):
                    text = text[1:]
                yield lineno, text.rstrip("\r\n")
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise DataError(path, lineno + 1 if lineno else None, f"not a valid gzip file ({e})") from None
    except PermissionError:
        raise DataError(path, None, "permission denied") from None
    except LookupError:
        raise DataError(path, None, f"unknown encoding {encoding!r}") from None
