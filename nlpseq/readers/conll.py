"""CoNLL column files: one token per line, columns split on whitespace.

CoNLL-2003 (`word POS chunk NER`) and CoNLL-2000 (`word POS chunk`) are read as
they are: a blank line ends a sentence and `-DOCSTART-` lines separate documents.
"""

from __future__ import annotations

import os

from nlpseq import atomic_files
from nlpseq.errors import DataError, InputError
from nlpseq.readers._lines import iter_lines
from nlpseq.readers.schemes import _split_tag, normalize_scheme
from nlpseq.readers.sentence import Sentence

_DOCSTART = "-DOCSTART-"


def _column_index(column: int, n_columns: int, what: str, path, lineno: int) -> int:
    if not isinstance(column, int) or not -n_columns <= column < n_columns:
        raise DataError(
            path, lineno, f"{what} {column} is out of range for a file with {n_columns} columns"
        )
    return column % n_columns


def _blocks(path, encoding: str, check_columns: bool):
    """Yields (first line number, [(line number, fields), ...], document) per sentence;
    `document` counts the `-DOCSTART-` lines before the sentence."""
    n_columns = None
    block, first, document = [], 0, 0
    for lineno, text in iter_lines(path, encoding):
        fields = text.split()
        if not fields or fields[0] == _DOCSTART:
            # A document boundary ends a sentence just as a blank line does.
            if block:
                yield first, block, document
            block = []
            document += bool(fields)
            continue
        if check_columns:
            if n_columns is None:
                n_columns = len(fields)
            elif len(fields) != n_columns:
                raise DataError(
                    path, lineno, f"expected {n_columns} columns, found {len(fields)}"
                )
        if not block:
            first = lineno
        block.append((lineno, fields))
    if block:
        yield first, block, document


def read_conll(path, *, word_column=0, tag_column=-1, scheme=None, encoding="utf-8"):
    """Reads a CoNLL column file into sentences.

    Args:
        path: the file (`.gz` files are decompressed).
        word_column: the column of the words (negative counts from the end).
        tag_column: the column of the tags (default: the last), or None to read
            words only.
        scheme: "IOB1", "BIO" (or "IOB2") or "IOBES" to check every tag against
            that entity scheme; None (e.g. for POS tags) checks nothing.
        encoding: the text encoding.

    Returns:
        A list of `Sentence`, each with the line of its first token.

    Raises:
        DataError: the file is missing or empty, a line cannot be decoded, lines
            have different numbers of columns, a column is out of range, or a tag
            is not valid in `scheme`; the message names the file and line.

    Example:
        >>> sents = nlpseq.readers.read_conll("eng.train", scheme="IOB1")
        >>> sents[0].words[:2], sents[0].tags[:2]
        (('EU', 'rejects'), ('I-ORG', 'O'))
    """
    scheme = normalize_scheme(scheme) if scheme is not None else None
    sentences = []
    word_idx = tag_idx = None
    for first, block, _ in _blocks(path, encoding, check_columns=True):
        if word_idx is None:
            n = len(block[0][1])
            word_idx = _column_index(word_column, n, "word column", path, first)
            if tag_column is not None:
                tag_idx = _column_index(tag_column, n, "tag column", path, first)
        words = tuple(fields[word_idx] for _, fields in block)
        tags = None
        if tag_idx is not None:
            tags = tuple(fields[tag_idx] for _, fields in block)
            if scheme is not None:
                for (lineno, _), tag in zip(block, tags):
                    try:
                        _split_tag(tag, scheme)
                    except ValueError as e:
                        raise DataError(path, lineno, str(e)) from None
        sentences.append(Sentence(words, tags, first))
    if not sentences:
        raise DataError(path, None, "no sentences found")
    return sentences


def document_ids(path, *, encoding="utf-8"):
    """The document of each sentence of a CoNLL file, by the file's `-DOCSTART-` lines.

    The sentences are counted as `read_conll` and `read_tokens_file` read them, so the
    result lines up with theirs.

    Args:
        path: the file (`.gz` files are decompressed).
        encoding: the text encoding.

    Returns:
        list of ints, one per sentence: how many `-DOCSTART-` lines come before it, so a
        file without them is one document (0).
    """
    return [document for _, _, document in _blocks(path, encoding, check_columns=False)]


def read_tokens_file(path, *, encoding="utf-8"):
    """Reads tokens to tag from a CoNLL-like file: first column, blank line between sentences.

    Extra columns (e.g. gold tags) are ignored and may vary from line to line.

    Args:
        path: the file (`.gz` files are decompressed).
        encoding: the text encoding.

    Returns:
        A list of sentences, each a list of tokens.

    Raises:
        DataError: the file is missing, has no tokens, or a line cannot be decoded.
    """
    sentences = [[fields[0] for _, fields in block] for _, block, _ in _blocks(path, encoding, False)]
    if not sentences:
        raise DataError(path, None, "no sentences found")
    return sentences


def write_conll(path, sentences, tag_sep="\t"):
    """Writes sentences as `token<TAB>tag` lines with a blank line after each sentence.

    The file is written to a temporary name and renamed, so a reader never sees a
    half-written file.

    Args:
        path: the output file.
        sentences: `Sentence` objects, or (words, tags) pairs; tags may be None
            to write tokens only.
        tag_sep: the separator between token and tag.

    Raises:
        InputError: a token or tag is empty or contains whitespace (it could not
            be read back), or words and tags differ in length.
    """
    path = os.fspath(path)
    lines = []
    for i, sent in enumerate(sentences):
        if isinstance(sent, Sentence):
            words, tags = sent.words, sent.tags
        else:
            words, tags = sent
        if tags is not None and len(tags) != len(words):
            raise InputError(f"sentence {i}: {len(words)} words but {len(tags)} tags")
        for j, word in enumerate(words):
            cells = [word] if tags is None else [word, tags[j]]
            for cell in cells:
                if cell.split() != [cell]:
                    raise InputError(
                        f"sentence {i}, token {j}: {cell!r} is empty or contains whitespace"
                    )
            lines.append(tag_sep.join(cells))
        if words:
            lines.append("")
    atomic_files.write_text(path, "\n".join(lines) + ("\n" if lines else ""))
