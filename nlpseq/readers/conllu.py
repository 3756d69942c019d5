"""CoNLL-U files (Universal Dependencies): word-level POS tags."""

from __future__ import annotations

from nlpseq import atomic_files
from nlpseq.errors import ConfigError, DataError
from nlpseq.readers._lines import iter_lines
from nlpseq.readers.sentence import Sentence

_TAG_FIELDS = {"upos": 3, "xpos": 4}


def read_conllu(path, *, tag_field="upos", encoding="utf-8"):
    """Reads a CoNLL-U file into sentences of syntactic words and their POS tags.

    `#` comment lines are skipped, and so are multiword-token ranges (`3-4`, the
    surface form of "don't") and empty nodes (`8.1`), so the words are the
    syntactic words that carry UPOS/XPOS tags.

    Args:
        path: the file (`.gz` files are decompressed).
        tag_field: "upos" or "xpos".
        encoding: the text encoding.

    Returns:
        A list of `Sentence`, each with the line of its first word.

    Raises:
        ConfigError: `tag_field` is not "upos" or "xpos".
        DataError: the file is missing or empty, a line cannot be decoded, or a
            word line does not have 10 tab-separated columns.

    Example:
        >>> sents = nlpseq.readers.read_conllu("en_ewt-ud-train.conllu")
        >>> sents[0].tags[:3]
        ('PROPN', 'PUNCT', 'PROPN')
    """
    if tag_field not in _TAG_FIELDS:
        raise ConfigError(f"tag_field must be 'upos' or 'xpos', not {tag_field!r}")
    tag_idx = _TAG_FIELDS[tag_field]
    sentences = []
    words, tags, first = [], [], 0
    for lineno, text in iter_lines(path, encoding):
        if not text.strip():
            if words:
                sentences.append(Sentence(words, tags, first))
            words, tags = [], []
            continue
        if text.startswith("#"):
            continue
        fields = text.split("\t")
        if len(fields) != 10:
            raise DataError(path, lineno, f"expected 10 tab-separated columns, found {len(fields)}")
        token_id = fields[0]
        if "-" in token_id or "." in token_id:
            continue
        if not token_id.isdigit():
            raise DataError(path, lineno, f"invalid word ID {token_id!r}")
        if not words:
            first = lineno
        words.append(fields[1])
        tags.append(fields[tag_idx])
    if words:
        sentences.append(Sentence(words, tags, first))
    if not sentences:
        raise DataError(path, None, "no sentences found")
    return sentences


def write_conllu(path, sentences, xpos=None):
    """Writes tagged sentences as CoNLL-U: the tag in the UPOS column, `_` in the unused ones.

    The file is written to a temporary name and renamed, as `write_conll` does.

    Args:
        path: the output file.
        sentences: (words, upos_tags) pairs.
        xpos: optional XPOS tag lists, one per sentence, for the XPOS column.
    """
    lines = []
    for k, (words, tags) in enumerate(sentences):
        extra = xpos[k] if xpos is not None else ["_"] * len(words)
        lines += [f"{i}\t{w}\t_\t{u}\t{x}\t_\t_\t_\t_\t_\n" for i, (w, u, x) in enumerate(zip(words, tags, extra), 1)]
        lines.append("\n")
    atomic_files.write_text(path, "".join(lines))
