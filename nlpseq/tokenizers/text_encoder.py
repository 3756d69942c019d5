"""Text <-> token ids for generative models: a word vocabulary or a SentencePiece model.

Language models and seq2seq models read and write running text, not tagged
words, so they share this one interface over the two kinds of vocabulary:

- ``word``: whitespace-separated tokens (the corpus is pre-tokenized, as PTB
  is), looked up in a `Vocabulary` with the specials ``<s>`` and ``<eos>``;
- ``sentencepiece``: a `SentencePieceTokenizer` trained on the corpus lines
  (its own ``<s>`` and ``</s>`` are the specials).

Both have id 0 as padding and a Python and an in-graph (TensorFlow) path that
agree.
"""

from __future__ import annotations

import json
from pathlib import Path

from nlpseq import atomic_files
from nlpseq.errors import ConfigError, InputError, ModelDirError
from nlpseq.tokenizers.sentencepiece import SentencePieceTokenizer
from nlpseq.tokenizers.vocab import Vocabulary

BOS = "<s>"
EOS = "<eos>"
KINDS = ("word", "sentencepiece")


class TextEncoder:
    """Encodes lines of text to ids and decodes ids back to text.

    Build one with `build`, or load one saved with `save`.

    Args:
        vocab: a word `Vocabulary` (kind ``word``), or None.
        sentencepiece: a `SentencePieceTokenizer` (kind ``sentencepiece``), or None.

    Example:
        >>> enc = TextEncoder.build(["the cat sat", "the dog"], kind="word")
        >>> enc.encode("the cat ran")
        [4, 5, 1]
        >>> enc.decode([4, 5, enc.eos_id, 4])
        'the cat'
    """

    def __init__(self, vocab=None, sentencepiece=None):
        if (vocab is None) == (sentencepiece is None):
            raise ConfigError("TextEncoder needs exactly one of a vocabulary or a SentencePiece model")
        self.vocab = vocab
        self.sentencepiece = sentencepiece
        self.kind = "word" if vocab is not None else "sentencepiece"

    @classmethod
    def build(cls, lines, *, kind="word", min_freq=1, max_size=None, lowercase=False,
              vocab_size=8000, model_type="unigram", seed=0):
        """Builds the vocabulary from training lines.

        Args:
            lines: a list of strings (one sentence each).
            kind: ``word`` or ``sentencepiece``.
            min_freq, max_size, lowercase: word vocabulary options.
            vocab_size, model_type, seed: SentencePiece options.

        Returns:
            A new `TextEncoder`.
        """
        if kind == "word":
            vocab = Vocabulary.build((line.split() for line in lines), min_freq=min_freq, max_size=max_size,
                                     lowercase=lowercase, specials=(BOS, EOS))
            return cls(vocab=vocab)
        if kind == "sentencepiece":
            return cls(sentencepiece=SentencePieceTokenizer.train(
                lines, vocab_size=vocab_size, model_type=model_type, seed=seed))
        raise ConfigError(f"unknown tokenizer kind {kind!r} (choose {' or '.join(KINDS)})")

    # --- ids ------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return len(self.vocab) if self.vocab is not None else self.sentencepiece.vocab_size

    @property
    def pad_id(self) -> int:
        return 0

    @property
    def unk_id(self) -> int:
        return self.vocab.unk_id if self.vocab is not None else self.sentencepiece.unk_id

    @property
    def bos_id(self) -> int:
        return self.vocab.token_to_id(BOS) if self.vocab is not None else self.sentencepiece.bos_id

    @property
    def eos_id(self) -> int:
        return self.vocab.token_to_id(EOS) if self.vocab is not None else self.sentencepiece.eos_id

    def id_to_token(self, i: int) -> str:
        return self.vocab.id_to_token(i) if self.vocab is not None else self.sentencepiece.id_to_piece(i)

    # --- Python path ------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        """Ids of one line of text (no end-of-sentence id added)."""
        if not isinstance(text, str):
            raise InputError(f"expected a str, got {type(text).__name__}")
        if self.vocab is not None:
            return self.vocab.encode(text.split())
        return self.sentencepiece.encode(text) if text.strip() else []

    def decode(self, ids) -> str:
        """Text of ids, stopping at the first end-of-sentence id; padding and ``<s>`` are skipped."""
        kept = []
        for i in ids:
            i = int(i)
            if i == self.eos_id:
                break
            if i not in (self.pad_id, self.bos_id):
                kept.append(i)
        if self.vocab is not None:
            return " ".join(self.vocab.decode(kept))
        return self.sentencepiece.decode(kept)

    @staticmethod
    def count_words(text: str) -> int:
        """Whitespace words of a line: the unit of word-level perplexity."""
        return len(text.split())

    # --- in-graph path ------------------------------------------------------------------
    def tf_encode(self, texts):
        """Ids of a (B,) string tensor as an int32 RaggedTensor (B, None), like `encode`."""
        import tensorflow as tf

        texts = tf.convert_to_tensor(texts, dtype=tf.string)
        if self.vocab is not None:
            words = tf.strings.split(texts)
            return tf.cast(self.vocab.tf_encode(words, table=self._tf_table()), tf.int32)
        return tf.cast(self._tf_sentencepiece().tokenize(texts), tf.int32)

    def tf_decode(self, ids):
        """Texts of an int (B, T) tensor of generated ids whose padding is 0, like `decode`."""
        import tensorflow as tf

        ids = tf.convert_to_tensor(ids)
        if self.vocab is not None:
            ragged = tf.RaggedTensor.from_tensor(ids, padding=self.pad_id)
            words = tf.ragged.map_flat_values(lambda i: tf.gather(self._tf_tokens(), i), ragged)
            return tf.strings.reduce_join(words, axis=-1, separator=" ")
        ragged = tf.RaggedTensor.from_tensor(tf.cast(ids, tf.int32), padding=self.pad_id)
        return self._tf_sentencepiece().detokenize(ragged)

    def tf_resources(self):
        """The TensorFlow objects the in-graph path uses (lookup table and token list, or the
        SentencePiece op); a `tf.Module` that exports it must hold them as attributes so they are
        saved with the SavedModel."""
        if self.vocab is not None:
            return [self._tf_table(), self._tf_tokens()]
        return [self._tf_sentencepiece()]

    def _tf_table(self):
        if not hasattr(self, "_table"):
            self._table = self.vocab.tf_lookup_table()
        return self._table

    def _tf_tokens(self):
        import tensorflow as tf

        if not hasattr(self, "_tokens_const"):
            self._tokens_const = tf.constant(self.vocab.tokens)
        return self._tokens_const

    def _tf_sentencepiece(self):
        if not hasattr(self, "_tf_sp"):
            self._tf_sp = self.sentencepiece.tf_tokenizer()
        return self._tf_sp

    # --- persistence ------------------------------------------------------------------
    def save(self, directory, name="text") -> None:
        """Writes `<name>.encoder.json` and the vocabulary or SentencePiece model into `directory`."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if self.vocab is not None:
            self.vocab.save(directory, name)
        else:
            self.sentencepiece.save(directory, name)
        atomic_files.write_text(directory / f"{name}.encoder.json", json.dumps({"kind": self.kind}) + "\n")

    @classmethod
    def load(cls, directory, name="text") -> TextEncoder:
        """Reads an encoder written by `save`; raises `ModelDirError` naming a missing or bad file."""
        path = Path(directory) / f"{name}.encoder.json"
        try:
            kind = json.loads(path.read_text(encoding="utf-8"))["kind"]
        except FileNotFoundError:
            raise ModelDirError(f"{path}: missing") from None
        except (ValueError, KeyError, TypeError):
            raise ModelDirError(f"{path}: not a text encoder description") from None
        if kind == "word":
            return cls(vocab=Vocabulary.load(directory, name))
        if kind == "sentencepiece":
            return cls(sentencepiece=SentencePieceTokenizer.load(directory, name))
        raise ModelDirError(f"{path}: unknown kind {kind!r}")
