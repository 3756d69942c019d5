"""Readers for tagged and plain corpora (CoNLL, CoNLL-U) and tag-scheme tools.

The readers need no TensorFlow; every problem in a file is a `DataError` that
names the file and line.
"""

from nlpseq.readers.conll import document_ids, read_conll, read_tokens_file, write_conll
from nlpseq.readers.conllu import read_conllu, write_conllu
from nlpseq.readers.parallel import filter_pairs_by_length, read_parallel
from nlpseq.readers.schemes import (
    SCHEMES,
    convert_tags,
    normalize_scheme,
    spans_to_tags,
    tags_to_spans,
    validate_tag,
)
from nlpseq.readers.sentence import Sentence

__all__ = [
    "Sentence",
    "read_conll",
    "write_conll",
    "read_tokens_file",
    "document_ids",
    "read_conllu",
    "write_conllu",
    "read_parallel",
    "filter_pairs_by_length",
    "SCHEMES",
    "normalize_scheme",
    "validate_tag",
    "convert_tags",
    "tags_to_spans",
    "spans_to_tags",
]
