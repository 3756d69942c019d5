"""Parallel corpora: two line-aligned files (plain or gzip), line i of one translating line i of the other."""

from __future__ import annotations

import os

from nlpseq.checks import is_whole_number
from nlpseq.errors import DataError, InputError
from nlpseq.readers._lines import iter_lines


def read_parallel(source_path, target_path, encoding: str = "utf-8") -> list[tuple[str, str]]:
    """Reads aligned sentence pairs from a source-language and a target-language file.

    Every line of both files must hold a sentence: a blank line or a file
    shorter than the other means the alignment is broken, and the pairs after
    it would be silently wrong, so both are errors rather than skipped.

    Args:
        source_path: the source-language file (one sentence per line, `.gz` allowed).
        target_path: the target-language file, aligned line by line with the source.
        encoding: the text encoding of both files.

    Returns:
        list of `(source, target)` pairs, stripped of surrounding whitespace.

    Raises:
        DataError: a missing, unreadable or undecodable file, a file with no
            lines, a blank line in either file, or files of different lengths;
            the message names the file and line.
    """
    sources = _read_lines(source_path, encoding)
    targets = _read_lines(target_path, encoding)
    pairs = []
    for lineno, (source, target) in enumerate(zip(sources, targets), 1):
        _check_not_blank(source_path, target_path, lineno, source, target)
        pairs.append((source.strip(), target.strip()))
    _check_same_length(source_path, len(sources), target_path, len(targets))
    return pairs


def filter_pairs_by_length(pairs, max_source_length, max_target_length, length=lambda text: len(text.split())):
    """Drops the pairs whose source or target is longer than a limit.

    Args:
        pairs: list of `(source, target)` strings.
        max_source_length: the longest source kept, in units of `length`; None for no limit.
        max_target_length: the longest target kept; None for no limit.
        length: the length of one text (default: whitespace words; training
            passes a subword count so the limit matches what the model sees).

    Returns:
        `(kept_pairs, dropped_count)`, the kept pairs in their original order.

    Raises:
        InputError: a limit that is not None or a positive integer.
    """
    _check_limit("max_source_length", max_source_length)
    _check_limit("max_target_length", max_target_length)
    kept = [
        (source, target) for source, target in pairs
        if _fits(length(source), max_source_length) and _fits(length(target), max_target_length)
    ]
    return kept, len(pairs) - len(kept)


def _read_lines(path, encoding):
    lines = [text for _, text in iter_lines(path, encoding)]
    if not lines:
        raise DataError(path, None, "no lines found (expected one sentence per line)")
    return lines


def _check_not_blank(source_path, target_path, lineno, source, target):
    for path, text in ((source_path, source), (target_path, target)):
        if not text.strip():
            raise DataError(path, lineno, "empty line (every line must hold one sentence of a pair)")


def _check_same_length(source_path, n_source, target_path, n_target):
    if n_source == n_target:
        return
    shorter, n_short, longer, n_long = (
        (source_path, n_source, target_path, n_target) if n_source < n_target
        else (target_path, n_target, source_path, n_source)
    )
    # The location is where the shorter file runs out: the first line with no partner.
    raise DataError(
        shorter, n_short + 1,
        f"no line here, but {_name(longer)} has {n_long:,} lines ({_name(shorter)} has {n_short:,})",
    )


def _name(path):
    # The located prefix already gives the full path; the message body stays short.
    return os.path.basename(os.fspath(path))


def _check_limit(name, value):
    if value is not None and not is_whole_number(value):
        raise InputError(f"{name} must be None or a positive integer, got {value!r}")


def _fits(n, limit):
    return limit is None or n <= limit
