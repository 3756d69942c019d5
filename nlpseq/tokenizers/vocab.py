"""Word and character vocabularies: build from a corpus, encode, save as model assets.

Both kinds share the layout: id 0 is padding (``<pad>``), id 1 the unknown entry
(``<unk>``), then any extra special tokens, then corpus entries by descending frequency
(ties broken by the string itself, so a build is deterministic). TensorFlow is imported
only inside the ``tf_*`` helpers, so this module imports without it.
"""

from __future__ import annotations

import collections
import json
import re
from pathlib import Path

from nlpseq import atomic_files
from nlpseq.errors import ConfigError, InputError, ModelDirError

PAD = "<pad>"
UNK = "<unk>"
PAD_ID = 0
UNK_ID = 1

_FORMAT_VERSION = 1
_DIGITS = re.compile("[0-9]")


def _ranked(counter: collections.Counter, min_freq: int) -> list[str]:
    if min_freq < 1:
        raise ConfigError(f"min_freq must be >= 1, got {min_freq}")
    kept = [(tok, n) for tok, n in counter.items() if n >= min_freq]
    kept.sort(key=lambda item: (-item[1], item[0]))
    return [tok for tok, _ in kept]


class _Table:
    """Shared id table, persistence and TF lookup for the two vocabulary kinds."""

    _kind = ""

    def __init__(self, tokens, options):
        self._tokens = list(tokens)
        self._ids = {tok: i for i, tok in enumerate(self._tokens)}
        if len(self._ids) != len(self._tokens):
            raise ConfigError("vocabulary entries must be unique")
        if self._tokens[:2] != [PAD, UNK]:
            raise ConfigError(f"vocabulary must start with {PAD!r}, {UNK!r}")
        self._options = dict(options)

    # --- lookups -----------------------------------------------------------------------
    def normalize(self, token: str) -> str:
        """Return token as it is stored (no change unless a subclass normalizes)."""
        return token

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, token) -> bool:
        return isinstance(token, str) and self.normalize(token) in self._ids

    def __eq__(self, other):
        return type(self) is type(other) and self._tokens == other._tokens and self._options == other._options

    def __repr__(self):
        return f"{type(self).__name__}(size={len(self)}, {self._options})"

    @property
    def tokens(self) -> list[str]:
        """All entries in id order (a copy)."""
        return list(self._tokens)

    @property
    def pad_id(self) -> int:
        return PAD_ID

    @property
    def unk_id(self) -> int:
        return UNK_ID

    def token_to_id(self, token: str) -> int:
        """Id of the normalized token, or the unknown id 1."""
        return self._ids.get(self.normalize(token), UNK_ID)

    def id_to_token(self, i: int) -> str:
        """Entry with id i; raises `InputError` when i is out of range."""
        if not 0 <= int(i) < len(self._tokens):
            raise InputError(f"id {i} out of range for a vocabulary of size {len(self._tokens)}")
        return self._tokens[int(i)]

    # --- persistence -------------------------------------------------------------------
    def save(self, directory, name: str) -> None:
        """Write ``<name>.vocab.txt`` (one entry per line, id order) and ``<name>.vocab.json``.

        Args:
            directory: the folder (created if missing).
            name: the file stem, e.g. ``"words"``.
        """
        for tok in self._tokens:
            if "\n" in tok:
                raise InputError(f"cannot save vocabulary entry {tok!r}: it holds a line break")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {"kind": self._kind, "format_version": _FORMAT_VERSION, "size": len(self._tokens), **self._options}
        atomic_files.write_text(directory / f"{name}.vocab.txt", "".join(tok + "\n" for tok in self._tokens))
        atomic_files.write_text(directory / f"{name}.vocab.json", json.dumps(meta, indent=2, ensure_ascii=False) + "\n")

    @classmethod
    def _read(cls, directory, name):
        directory = Path(directory)
        txt_path = directory / f"{name}.vocab.txt"
        json_path = directory / f"{name}.vocab.json"
        try:
            meta = json.loads(json_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelDirError(f"{json_path}: vocabulary options file is missing") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ModelDirError(f"{json_path}: cannot read vocabulary options: {e}") from None
        if not isinstance(meta, dict) or meta.get("kind") != cls._kind:
            raise ModelDirError(f"{json_path}: not a {cls._kind} vocabulary")
        try:
            with open(txt_path, encoding="utf-8", newline="") as f:
                text = f.read()
        except FileNotFoundError:
            raise ModelDirError(f"{txt_path}: vocabulary file is missing") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ModelDirError(f"{txt_path}: cannot read vocabulary: {e}") from None
        if not text.endswith("\n"):
            raise ModelDirError(f"{txt_path}: truncated vocabulary file (no final newline)")
        tokens = text[:-1].split("\n")
        if len(tokens) != meta.get("size"):
            raise ModelDirError(f"{txt_path}: has {len(tokens)} entries, {json_path.name} says {meta.get('size')}")
        if tokens[:2] != [PAD, UNK] or len(set(tokens)) != len(tokens):
            raise ModelDirError(f"{txt_path}: corrupt vocabulary (bad special entries or duplicates)")
        return tokens, meta

    # --- TensorFlow helpers ------------------------------------------------------------
    def tf_lookup_table(self):
        """A ``tf.lookup.StaticHashTable`` from entry (string) to id (int64), default 1.

        Keys are the stored (normalized) entries: normalize inputs first.
        """
        import tensorflow as tf

        init = tf.lookup.KeyValueTensorInitializer(
            keys=tf.constant(self._tokens, dtype=tf.string),
            values=tf.range(len(self._tokens), dtype=tf.int64),
        )
        return tf.lookup.StaticHashTable(init, default_value=UNK_ID)


class Vocabulary(_Table):
    """A word vocabulary: token <-> id, with optional lowercasing and digit folding.

    Args:
        tokens: all entries in id order, starting with ``<pad>``, ``<unk>``.
        lowercase: lowercase tokens on build and lookup.
        normalize_digits: replace every ASCII digit by ``0`` on build and lookup.
        specials: the extra special entries that follow ``<unk>``.

    Example:
        >>> from nlpseq.tokenizers import Vocabulary
        >>> v = Vocabulary.build([["The", "cat"], ["the", "dog"]], lowercase=True, specials=("<s>",))
        >>> v.tokens
        ['<pad>', '<unk>', '<s>', 'the', 'cat', 'dog']
        >>> v.encode(["THE", "bird"])
        [3, 1]
    """

    _kind = "words"

    def __init__(self, tokens, *, lowercase=False, normalize_digits=False, specials=()):
        super().__init__(
            tokens,
            {"lowercase": bool(lowercase), "normalize_digits": bool(normalize_digits), "specials": list(specials)},
        )
        self.lowercase = bool(lowercase)
        self.normalize_digits = bool(normalize_digits)
        self.specials = tuple(specials)

    @classmethod
    def build(cls, sequences, *, min_freq=1, max_size=None, lowercase=False, normalize_digits=False, specials=()):
        """Count tokens and keep the frequent ones.

        Args:
            sequences: an iterable of token lists.
            min_freq: keep tokens seen at least this often.
            max_size: the most entries in all, specials included (None: no limit).
            lowercase: see the class.
            normalize_digits: see the class.
            specials: extra special entries placed after ``<pad>``, ``<unk>``, e.g.
                ``("<s>", "</s>")``; they must be unchanged by normalization.

        Returns:
            A new `Vocabulary`.
        """
        specials = tuple(specials)
        vocab = cls([PAD, UNK], lowercase=lowercase, normalize_digits=normalize_digits)
        reserved = [PAD, UNK, *specials]
        if len(set(reserved)) != len(reserved):
            raise ConfigError(f"specials {list(specials)} repeat each other or {PAD!r}/{UNK!r}")
        for sp in specials:
            if vocab.normalize(sp) != sp:
                raise ConfigError(f"special token {sp!r} is changed by normalization; lookups would miss it")
        if max_size is not None and max_size < len(reserved):
            raise ConfigError(f"max_size {max_size} is smaller than the {len(reserved)} special entries")
        counts = collections.Counter()
        for seq in sequences:
            if isinstance(seq, str):
                raise InputError("Vocabulary.build expects token lists, got a str (wrap it in a list?)")
            counts.update(vocab.normalize(tok) for tok in seq)
        ranked = [tok for tok in _ranked(counts, min_freq) if tok not in reserved]
        if max_size is not None:
            ranked = ranked[: max_size - len(reserved)]
        return cls(reserved + ranked, lowercase=lowercase, normalize_digits=normalize_digits, specials=specials)

    def normalize(self, token: str) -> str:
        """Apply the configured lowercasing and digit folding (``"Ab12"`` -> ``"ab00"``)."""
        if self.lowercase:
            token = token.lower()
        if self.normalize_digits:
            token = _DIGITS.sub("0", token)
        return token

    def encode(self, tokens) -> list[int]:
        """Ids of the tokens (normalized first); unknown tokens get id 1."""
        ids = self._ids
        return [ids.get(self.normalize(tok), UNK_ID) for tok in tokens]

    def decode(self, ids) -> list[str]:
        """Entries for the ids; raises `InputError` on an id out of range."""
        return [self.id_to_token(i) for i in ids]

    def extend(self, tokens) -> int:
        """Append the normalized tokens not yet present (e.g. words with pretrained vectors).

        Returns:
            How many entries were added.
        """
        added = 0
        for tok in tokens:
            tok = self.normalize(tok)
            if tok not in self._ids:
                self._ids[tok] = len(self._tokens)
                self._tokens.append(tok)
                added += 1
        return added

    @classmethod
    def load(cls, directory, name: str) -> Vocabulary:
        """Read a vocabulary written by `save`; raises `ModelDirError` naming a bad file."""
        tokens, meta = cls._read(directory, name)
        try:
            vocab = cls(
                tokens,
                lowercase=meta["lowercase"],
                normalize_digits=meta["normalize_digits"],
                specials=meta["specials"],
            )
        except (KeyError, TypeError, ConfigError) as e:
            raise ModelDirError(f"{Path(directory) / f'{name}.vocab.json'}: bad vocabulary options: {e}") from None
        if tokens[2 : 2 + len(vocab.specials)] != list(vocab.specials):
            raise ModelDirError(f"{Path(directory) / f'{name}.vocab.txt'}: special entries do not match the options")
        return vocab

    # --- TensorFlow helpers ------------------------------------------------------------
    def tf_normalize(self, strings):
        """Normalize a string tensor (dense or ragged) in-graph exactly like `normalize`."""
        import tensorflow as tf

        def norm(s):
            if self.lowercase:
                s = tf.strings.lower(s, encoding="utf-8")
            if self.normalize_digits:
                s = tf.strings.regex_replace(s, "[0-9]", "0")
            return s

        if isinstance(strings, tf.RaggedTensor):
            return tf.ragged.map_flat_values(norm, strings)
        return norm(tf.convert_to_tensor(strings, dtype=tf.string))

    def tf_encode(self, strings, table=None):
        """Ids (int64) of a string tensor, dense or ragged, in-graph.

        Args:
            strings: tokens, any shape.
            table: a table from `tf_lookup_table` to reuse (build it once, outside a
                ``tf.data`` map function); None builds one.
        """
        import tensorflow as tf

        table = self.tf_lookup_table() if table is None else table
        strings = self.tf_normalize(strings)
        if isinstance(strings, tf.RaggedTensor):
            return tf.ragged.map_flat_values(table.lookup, strings)
        return table.lookup(strings)


class CharVocabulary(_Table):
    """A character vocabulary (Unicode code points) for character-level word features.

    Example:
        >>> from nlpseq.tokenizers import CharVocabulary
        >>> cv = CharVocabulary.build(["abba", "cab"])
        >>> cv.tokens
        ['<pad>', '<unk>', 'a', 'b', 'c']
        >>> cv.encode_words(["cab", "xa"], max_word_len=2)
        [[4, 2], [1, 2]]
    """

    _kind = "chars"

    def __init__(self, tokens):
        super().__init__(tokens, {})

    @classmethod
    def build(cls, words, min_freq=1, max_size=None):
        """Count the characters of words and keep the frequent ones.

        Args:
            words: an iterable of words (strings).
            min_freq: keep characters seen at least this often.
            max_size: the most entries in all, pad and unknown included.

        Returns:
            A new `CharVocabulary`.
        """
        if max_size is not None and max_size < 2:
            raise ConfigError(f"max_size must be >= 2, got {max_size}")
        counts = collections.Counter()
        for word in words:
            if not isinstance(word, str):
                raise InputError(f"CharVocabulary.build expects words (str), got {type(word).__name__}")
            counts.update(word)
        ranked = [c for c in _ranked(counts, min_freq) if c not in (PAD, UNK)]
        if max_size is not None:
            ranked = ranked[: max_size - 2]
        return cls([PAD, UNK] + ranked)

    def encode_words(self, words, max_word_len=None) -> list[list[int]]:
        """Character ids of each word, cut to the first ``max_word_len`` characters.

        Args:
            words: a list of words.
            max_word_len: the most characters kept per word (None: all).

        Returns:
            One list of ids per word (not padded).
        """
        ids = self._ids
        return [[ids.get(c, UNK_ID) for c in word[:max_word_len]] for word in words]

    @classmethod
    def load(cls, directory, name: str) -> CharVocabulary:
        """Read a character vocabulary written by `save`; raises `ModelDirError` naming a bad file."""
        tokens, _ = cls._read(directory, name)
        return cls(tokens)

    def tf_encode_words(self, words, max_word_len=None, table=None):
        """Character ids of a batch of word sequences, in-graph.

        Args:
            words: a string tensor ``(B, T)``, dense (padding words are ``""``) or ragged.
            max_word_len: characters kept per word, and the size of the last axis
                (None: the longest word in the batch).
            table: a table from `tf_lookup_table` to reuse; None builds one.

        Returns:
            An int64 tensor ``(B, T, C)`` padded with 0 (T: the longest sequence when
            `words` is ragged).
        """
        import tensorflow as tf

        table = self.tf_lookup_table() if table is None else table
        if not isinstance(words, tf.RaggedTensor):
            words = tf.convert_to_tensor(words, dtype=tf.string)
        chars = tf.strings.unicode_split(words, "UTF-8")  # (B, T, None) ragged
        ids = tf.ragged.map_flat_values(table.lookup, chars)
        if max_word_len is not None:
            ids = ids[:, :, :max_word_len]
            return ids.to_tensor(default_value=0, shape=[None, None, max_word_len])
        return ids.to_tensor(default_value=0)
