"""SentencePiece subword tokenizer: train in memory, save as an asset, align pieces to words.

TensorFlow and tensorflow_text are imported only inside `SentencePieceTokenizer.tf_tokenizer`.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from nlpseq import atomic_files
from nlpseq.errors import ConfigError, InputError, ModelDirError

_MODEL_TYPES = ("unigram", "bpe", "char")


def _spm():
    import sentencepiece

    return sentencepiece


class SentencePieceTokenizer:
    """A trained SentencePiece model with encode/decode, offsets and word alignment.

    Ids: pad 0, unk 1, bos 2, eos 3 by default (see `train`).

    Args:
        model_proto: the serialized SentencePiece model (bytes).

    Example:
        >>> from nlpseq.tokenizers import SentencePieceTokenizer
        >>> spm = SentencePieceTokenizer.train(texts, vocab_size=200, model_type="bpe")  # doctest: +SKIP
        >>> ids, word_index = spm.encode_words(["Hello", "world"])  # doctest: +SKIP
        >>> spm.decode(spm.encode("Hello world"))  # doctest: +SKIP
        'Hello world'
    """

    def __init__(self, model_proto: bytes):
        self._proto = bytes(model_proto)
        self._sp = _spm().SentencePieceProcessor(model_proto=self._proto)

    # --- training and persistence ------------------------------------------------------
    @classmethod
    def train(
        cls,
        texts,
        *,
        vocab_size,
        model_type="unigram",
        character_coverage=1.0,
        seed=0,
        user_defined_symbols=(),
        pad_id=0,
        unk_id=1,
        bos_id=2,
        eos_id=3,
        num_threads=1,
    ) -> SentencePieceTokenizer:
        """Train a model in memory from an iterable of strings.

        The vocabulary size is a hard limit: when the data cannot fill ``vocab_size``
        pieces, a `ConfigError` says the largest size that works (we prefer a clear error
        to silently getting a smaller vocabulary than the config says). For
        ``model_type="char"`` it is an upper limit instead: the vocabulary is every
        character of the data (the rarest ones are cut when there are more).

        Args:
            texts: an iterable of strings (sentences or lines).
            vocab_size: number of pieces, special ones included.
            model_type: ``"unigram"``, ``"bpe"`` or ``"char"`` (one piece per
                character, plus ``"▁"`` for each word start: a character LM).
            character_coverage: share of characters covered (1.0 for small alphabets,
                0.9995 is the usual value for CJK).
            seed: seed of SentencePiece's random generator (training is deterministic
                for a given seed, data and ``num_threads``).
            user_defined_symbols: pieces always kept whole (e.g. ``"<sep>"``).
            pad_id, unk_id, bos_id, eos_id: ids of the special pieces ``<pad>``,
                ``<unk>``, ``<s>``, ``</s>`` (-1 disables one; unk cannot be disabled).
            num_threads: training threads; 1 keeps the result reproducible.

        Returns:
            A new `SentencePieceTokenizer`.
        """
        if model_type not in _MODEL_TYPES:
            raise ConfigError(f"model_type must be one of {_MODEL_TYPES}, got {model_type!r}")
        if int(vocab_size) < 4:
            raise ConfigError(f"vocab_size must be >= 4, got {vocab_size}")
        spm = _spm()
        count = 0

        def sentences():
            nonlocal count
            for text in texts:
                if not isinstance(text, str):
                    raise InputError(f"SentencePiece training expects str texts, got {type(text).__name__}")
                count += 1
                yield text

        spm.set_random_generator_seed(int(seed))
        buffer = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=sentences(),
                model_writer=buffer,
                vocab_size=int(vocab_size),
                model_type=model_type,
                character_coverage=float(character_coverage),
                user_defined_symbols=list(user_defined_symbols),
                pad_id=pad_id,
                unk_id=unk_id,
                bos_id=bos_id,
                eos_id=eos_id,
                pad_piece="<pad>",
                unk_piece="<unk>",
                bos_piece="<s>",
                eos_piece="</s>",
                num_threads=int(num_threads),
                minloglevel=2,
            )
        except RuntimeError as e:
            message = str(e)
            if count == 0:
                raise InputError("SentencePiece training got no texts") from None
            if "Vocabulary size too high" in message:
                hint = message[message.index("Vocabulary size too high") :]
                raise ConfigError(f"sentencepiece vocab_size too large for this data: {hint}") from None
            raise ConfigError(f"sentencepiece training failed: {message}") from None
        return cls(buffer.getvalue())

    @property
    def serialized_model(self) -> bytes:
        """The model as bytes (what `save` writes and `tf_tokenizer` consumes)."""
        return self._proto

    def save(self, directory, name: str) -> None:
        """Write ``<name>.spm.model`` into directory (created if missing), atomically."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{name}.spm.model"
        atomic_files.write_bytes(path, self._proto)

    @classmethod
    def load(cls, directory, name: str) -> SentencePieceTokenizer:
        """Read ``<name>.spm.model``; raises `ModelDirError` naming a missing or corrupt file."""
        path = Path(directory) / f"{name}.spm.model"
        try:
            proto = path.read_bytes()
        except FileNotFoundError:
            raise ModelDirError(f"{path}: SentencePiece model file is missing") from None
        except OSError as e:
            raise ModelDirError(f"{path}: cannot read SentencePiece model: {e}") from None
        try:
            return cls(proto)
        except (RuntimeError, OSError) as e:
            raise ModelDirError(f"{path}: corrupt SentencePiece model: {e}") from None

    # --- vocabulary ----------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return self._sp.get_piece_size()

    def __len__(self) -> int:
        return self.vocab_size

    @property
    def pad_id(self) -> int:
        return self._sp.pad_id()

    @property
    def unk_id(self) -> int:
        return self._sp.unk_id()

    @property
    def bos_id(self) -> int:
        return self._sp.bos_id()

    @property
    def eos_id(self) -> int:
        return self._sp.eos_id()

    def id_to_piece(self, i: int) -> str:
        if not 0 <= int(i) < self.vocab_size:
            raise InputError(f"id {i} out of range for a SentencePiece vocabulary of size {self.vocab_size}")
        return self._sp.id_to_piece(int(i))

    def piece_to_id(self, piece: str) -> int:
        """Id of a piece (the unknown id when it is not in the vocabulary)."""
        return self._sp.piece_to_id(piece)

    # --- encoding ------------------------------------------------------------------------
    def encode(self, text: str, *, add_bos=False, add_eos=False) -> list[int]:
        """Piece ids of text."""
        _check_str(text)
        return self._sp.encode(text, add_bos=add_bos, add_eos=add_eos)

    def decode(self, ids) -> str:
        """Text of piece ids (pad, bos and eos decode to nothing)."""
        ids = [int(i) for i in ids]
        for i in ids:
            if not 0 <= i < self.vocab_size:
                raise InputError(f"id {i} out of range for a SentencePiece vocabulary of size {self.vocab_size}")
        return self._sp.decode(ids)

    def encode_with_offsets(self, text: str):
        """Piece ids of text with each piece's character span in text.

        A span leaves out the whitespace that the piece's ``▁`` stands for, so for
        text that SentencePiece's normalization leaves unchanged,
        ``text[start:end] == piece.replace("▁", "")``; for an unknown piece the span
        is the original text it covers. A piece that is only ``▁`` gets an empty span
        at the start of the next word.

        Args:
            text: the text.

        Returns:
            ``(ids, offsets)``: a list of ids and a list of ``(start, end)`` Python
            character offsets, end exclusive.
        """
        _check_str(text)
        proto = self._sp.encode(text, return_type="proto")
        # SentencePiece reports UTF-8 byte offsets into the original text.
        byte_to_char = np.zeros(len(text.encode("utf-8")) + 1, dtype=np.int64)
        pos = 0
        for ci, ch in enumerate(text):
            n = len(ch.encode("utf-8"))
            byte_to_char[pos : pos + n] = ci
            pos += n
        byte_to_char[pos] = len(text)
        ids, offsets = [], []
        for p in proto.pieces:
            start, end = int(byte_to_char[p.begin]), int(byte_to_char[p.end])
            while start < end and text[start].isspace():
                start += 1
            ids.append(p.id)
            offsets.append((start, end))
        return ids, offsets

    def encode_words(self, words):
        """Pieces of each word, in order, and the word each piece came from.

        Each word is encoded on its own, so the piece -> word alignment is exact. A
        word that yields no piece (e.g. empty) gets one unknown piece, so every word
        owns at least one piece.

        Args:
            words: a list of words.

        Returns:
            ``(ids, word_index)``: two lists of equal length.
        """
        ids, word_index = [], []
        for w, pieces in enumerate(self._sp.encode([_check_str(word) for word in words])):
            pieces = pieces or [self.unk_id]
            ids.extend(pieces)
            word_index.extend([w] * len(pieces))
        return ids, word_index

    def tf_tokenizer(self, **kwargs):
        """A ``tensorflow_text.SentencepieceTokenizer`` for this model, for in-graph use.

        A SavedModel holding it needs ``import tensorflow_text`` before
        ``tf.saved_model.load``.

        The op gets a name derived from the model's bytes. The SentencePiece
        kernel shares its model resource by node name, so two different models
        created under the default name (a translator's source and target) come
        back from a reloaded SavedModel as one: the first model (tensorflow/text
        issue #1304). Equal models may share; different ones never do.

        Args:
            **kwargs: passed on (e.g. ``add_bos=True``, ``out_type=tf.string``);
                ``out_type`` defaults to int32.

        Returns:
            a ``tensorflow_text.SentencepieceTokenizer``.
        """
        import hashlib

        import tensorflow as tf
        import tensorflow_text

        kwargs.setdefault("out_type", tf.int32)
        kwargs.setdefault("name", "sentencepiece_" + hashlib.sha1(self._proto).hexdigest()[:16])
        return tensorflow_text.SentencepieceTokenizer(model=self._proto, **kwargs)


def _check_str(text):
    if not isinstance(text, str):
        raise InputError(f"expected a str, got {type(text).__name__}")
    return text


def pool_to_words(piece_vectors, word_index, num_words, mode="first"):
    """Pool subword vectors into word vectors (the NumPy reference for the Keras layer).

    Args:
        piece_vectors: array ``(P, D)``, one vector per piece.
        word_index: ``(P,)`` ints, the word of each piece (from `encode_words`);
            negative entries mark padding pieces and are ignored.
        num_words: the number of words W.
        mode: ``"first"`` (the word's first piece) or ``"mean"`` (the mean of its pieces).

    Returns:
        Array ``(W, D)``; a word with no piece gets zeros.

    Example:
        >>> import numpy as np
        >>> from nlpseq.tokenizers.sentencepiece import pool_to_words
        >>> pool_to_words(np.array([[1.0], [3.0], [5.0]]), [0, 0, 1], 2, mode="mean").tolist()
        [[2.0], [5.0]]
    """
    vectors = np.asarray(piece_vectors)
    index = np.asarray(word_index, dtype=np.int64)
    if vectors.ndim != 2 or index.shape != (vectors.shape[0],):
        raise InputError(f"expected piece_vectors (P, D) and word_index (P,), got {vectors.shape} and {index.shape}")
    if mode not in ("first", "mean"):
        raise InputError(f"mode must be 'first' or 'mean', got {mode!r}")
    if index.size and index.max() >= num_words:
        raise InputError(f"word_index holds {index.max()} but num_words is {num_words}")
    out = np.zeros((num_words, vectors.shape[1]), dtype=np.result_type(vectors.dtype, np.float32))
    keep = index >= 0
    vectors, index = vectors[keep], index[keep]
    if mode == "first":
        words, first = np.unique(index, return_index=True)
        out[words] = vectors[first]
    else:
        counts = np.bincount(index, minlength=num_words)
        np.add.at(out, index, vectors)
        out /= np.maximum(counts, 1)[:, None]
    return out
