"""Pretrained word vectors in the word2vec text format (`N D` header, then `word v1 .. vD`)."""

import gzip
from pathlib import Path

import numpy as np

from nlpseq.errors import DataError


def read_word_vectors(path, max_words=None):
    """Reads word vectors, keeping the file's order (frequency order for word2vec/gensim).

    Args:
        path: a `.txt` or `.txt.gz` file in word2vec text format.
        max_words: read at most this many vectors.

    Returns:
        (words, matrix): a list of strings and a float32 array (len(words), D).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, None, "word vector file not found")
    opener = gzip.open if path.suffix == ".gz" else open
    words, rows = [], []
    with opener(path, "rt", encoding="utf-8") as handle:
        header = handle.readline().split()
        if len(header) != 2 or not all(h.isdigit() for h in header):
            raise DataError(path, 1, "expected a word2vec header 'COUNT DIM'")
        dim = int(header[1])
        for line_no, line in enumerate(handle, start=2):
            if max_words is not None and len(words) >= max_words:
                break
            parts = line.rstrip("\n").split(" ")
            if len(parts) != dim + 1:
                raise DataError(path, line_no, f"expected a word and {dim} numbers, found {len(parts) - 1} fields")
            try:
                rows.append(np.asarray(parts[1:], dtype=np.float32))
            except ValueError:
                raise DataError(path, line_no, "vector has a value that is not a number") from None
            words.append(parts[0])
    return words, (np.stack(rows) if rows else np.zeros((0, dim), np.float32))


def embedding_matrix(vocab, words, vectors, dim, seed=0):
    """Builds an embedding matrix for `vocab` from pretrained vectors.

    Words without a vector get a uniform random vector in ±sqrt(3/dim) (the
    range of unit-variance uniform noise); padding gets zeros.

    Args:
        vocab: a `Vocabulary` (its normalization is applied to `words`).
        words: the pretrained words.
        vectors: float array (len(words), dim).
        dim: the embedding size (must equal the vectors' width).
        seed: seed of the random rows.

    Returns:
        (matrix, found): float32 (len(vocab), dim) and the number of vocabulary
        entries that received a pretrained vector.
    """
    if vectors.shape[1] != dim:
        raise DataError("word vectors", None, f"vectors have {vectors.shape[1]} dimensions, config says {dim}")
    rng = np.random.default_rng(seed)
    scale = np.sqrt(3.0 / dim)
    matrix = rng.uniform(-scale, scale, size=(len(vocab), dim)).astype(np.float32)
    matrix[0] = 0.0
    seen = set()
    for word, vector in zip(words, vectors):
        token = vocab.normalize(word)
        if token in vocab and token not in seen:
            seen.add(token)
            matrix[vocab.token_to_id(token)] = vector
    return matrix, len(seen)
