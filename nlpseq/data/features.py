"""Word-level input features of the tagger, computed the same way in Python and in-graph.

`TaggingFeatures` owns the vocabularies (words, characters, tags) and turns a
list of words into the integer inputs of `nlpseq.models.SequenceTagger`:

- `words`  (T,)   word ids (0 = padding, 1 = unknown),
- `chars`  (T, C) character ids of each word, when character features are on,
- `casing` (T,)   a casing class per word (see `casing_class`), when on,
- `pieces` (P,) SentencePiece ids of the words, and `piece_words` (P,) the
  1-based index of the word each piece belongs to (0 is padding), when
  subword features are on,
- `lm_pieces` and `lm_piece_words`, the same with the pieces of the language
  models of `features.lm` (contextual features).

The Python path (`encode`) feeds training; the TensorFlow path (`tf_encode`)
runs inside the exported SavedModel, so serving needs no Python preprocessing.
A test checks the two agree.
"""

import json
from pathlib import Path

import numpy as np

from nlpseq import atomic_files
from nlpseq.errors import ModelDirError
from nlpseq.tokenizers import CharVocabulary, SentencePieceTokenizer, Vocabulary

# Casing classes. 0 is padding; the order of the checks below is the definition.
CASING_CLASSES = ("<pad>", "numeric", "has_digit", "all_upper", "init_upper", "lower", "mixed", "other")
NUM_CASING_CLASSES = len(CASING_CLASSES)

# The same definitions as RE2 patterns for the graph (RE2 has Unicode classes;
# Python's `re` has not, so Python uses str methods with the same meaning).
_TF_CASING_PATTERNS = (
    (1, r"[\p{Nd}.,:/\-]*\p{Nd}[\p{Nd}.,:/\-]*"),  # numeric: digits and number punctuation only
    (2, r".*\p{Nd}.*"),  # has a digit
    (3, r"[^\p{Ll}]*\p{Lu}[^\p{Ll}]*"),  # upper-case letters, no lower-case one
    (4, r"\p{Lu}.*\p{Ll}.*"),  # upper-case first, lower-case later
    (5, r"[^\p{Lu}]*\p{Ll}[^\p{Lu}]*"),  # lower-case letters, no upper-case one
    (6, r".*\p{Lu}.*"),  # any other mix with an upper-case letter
)
_NUMBER_PUNCT = set(".,:/-")


def casing_class(word):
    """Returns the casing class id (1-7) of a word; see `CASING_CLASSES`.

    Args:
        word: a non-empty string.

    Returns:
        An int in 1..7.
    """
    has_digit = any(c.isdecimal() for c in word)
    if has_digit and all(c.isdecimal() or c in _NUMBER_PUNCT for c in word):
        return 1
    if has_digit:
        return 2
    has_upper = any(c.isupper() for c in word)
    has_lower = any(c.islower() for c in word)
    if has_upper and not has_lower:
        return 3
    if word[0].isupper() and has_lower:
        return 4
    if has_lower and not has_upper:
        return 5
    if has_upper:
        return 6
    return 7


def tf_casing_class(words):
    """In-graph `casing_class` over a string tensor of any shape (empty strings give 0)."""
    import tensorflow as tf

    result = tf.where(tf.equal(words, ""), 0, 7)
    # Apply from the last rule to the first so the first matching rule wins.
    for class_id, pattern in reversed(_TF_CASING_PATTERNS):
        result = tf.where(tf.strings.regex_full_match(words, pattern), class_id, result)
    return tf.where(tf.equal(words, ""), 0, result)


# Private-use code points (not expected in real text) that mark a word's first and last
# character when `char_boundaries` is on.
WORD_BEGIN, WORD_END = "\ue000", "\ue001"


def _encode_pieces(tokenizer, words):
    """`(pieces, piece_words)` int32 arrays of a sentence; piece_words is 1-based."""
    pieces, word_index = tokenizer.encode_words(words)
    return np.asarray(pieces, dtype=np.int32), np.asarray(word_index, dtype=np.int32) + 1


def _tf_encode_pieces(table, tokens):
    """In-graph `_encode_pieces` over a padded (B, T) batch of words: two (B, P) tensors."""
    import tensorflow as tf

    pieces = table.tokenize(tokens)  # (B, T, None); padding words give none
    flat = pieces.merge_dims(1, 2)
    # Row b*T + t of the flattened words is word t of sentence b.
    word_of_piece = tf.cast(pieces.values.value_rowids() % tf.cast(tf.shape(tokens)[1], tf.int64), tf.int32)
    return flat.to_tensor(default_value=0), flat.with_flat_values(word_of_piece + 1).to_tensor(default_value=0)


def _marked_words(words, max_word_len):
    """Each word cut to `max_word_len` characters and wrapped in the boundary markers."""
    return [WORD_BEGIN + w[:max_word_len] + WORD_END if w else "" for w in words]


class TaggingFeatures:
    """Vocabularies and feature encoding of a tagger.

    Args:
        words: the word `Vocabulary`.
        tags: the list of tag strings (tag id = list index).
        chars: the `CharVocabulary`, or None to turn character features off.
        max_word_len: characters kept per word (longer words are cut).
        use_casing: whether to compute the casing feature.
        subwords: a `SentencePieceTokenizer`, or None to turn subword features off.
        char_boundaries: wrap each word's characters in begin and end markers
            (`WORD_BEGIN`, `WORD_END`), so character n-grams can tell a
            prefix or suffix from the same letters inside the word.
        lm_pieces: the `SentencePieceTokenizer` of the language models of
            `features.lm`, or None when there are none.

    Example:
        >>> feats = TaggingFeatures.build(sentences, tags=["O", "S-PER"], lowercase=True)
        >>> feats.encode(["EU", "rejects"])["words"]
    """

    def __init__(self, words, tags, chars=None, max_word_len=20, use_casing=True, subwords=None,
                 char_boundaries=False, lm_pieces=None):
        self.words = words
        self.lm_pieces = lm_pieces
        self.subwords = subwords
        self.tags = list(tags)
        self.chars = chars
        self.max_word_len = max_word_len
        self.use_casing = use_casing
        self.char_boundaries = bool(char_boundaries)
        self.tag_to_id = {t: i for i, t in enumerate(self.tags)}

    @classmethod
    def build(cls, word_lists, tags, *, min_freq=1, max_size=None, lowercase=True,
              normalize_digits=True, use_chars=True, max_word_len=20, use_casing=True,
              subword_type=None, subword_vocab_size=4000, char_boundaries=False, lm_pieces=None):
        """Fits the vocabularies on training sentences.

        Args:
            word_lists: iterable of word lists (the training data).
            tags: the tag strings, in id order.
            min_freq, max_size, lowercase, normalize_digits: word vocabulary options.
            use_chars: build a character vocabulary.
            max_word_len: characters kept per word.
            use_casing: compute the casing feature.
            subword_type: None, or `bpe` / `unigram` to train a SentencePiece
                model on the training sentences.
            subword_vocab_size: its vocabulary size.
            char_boundaries: wrap each word's characters in begin/end markers.
            lm_pieces: the language models' `SentencePieceTokenizer`, or None.

        Returns:
            A TaggingFeatures.
        """
        word_lists = [list(w) for w in word_lists]
        words = Vocabulary.build(word_lists, min_freq=min_freq, max_size=max_size,
                                 lowercase=lowercase, normalize_digits=normalize_digits)
        chars = None
        if use_chars:
            char_words = [w for ws in word_lists for w in ws]
            if char_boundaries:  # the markers join the vocabulary like any other character
                char_words = _marked_words(char_words, max_word_len)
            chars = CharVocabulary.build(char_words)
        subwords = None
        if subword_type:
            subwords = SentencePieceTokenizer.train(
                [" ".join(ws) for ws in word_lists], vocab_size=subword_vocab_size, model_type=subword_type
            )
        return cls(words, tags, chars, max_word_len, use_casing, subwords, char_boundaries, lm_pieces)

    def encode(self, words):
        """Encodes one sentence.

        Args:
            words: list of word strings.

        Returns:
            dict of int32 numpy arrays: `words` (T,), and `chars` (T, C) and
            `casing` (T,) when those features are on.
        """
        out = {"words": np.asarray(self.words.encode(words), dtype=np.int32)}
        if self.chars is not None:
            if self.char_boundaries:
                ids = self.chars.encode_words(_marked_words(words, self.max_word_len))
            else:
                ids = self.chars.encode_words(words, max_word_len=self.max_word_len)
            width = max([len(x) for x in ids] + [1])
            chars = np.zeros((len(words), width), dtype=np.int32)
            for i, row in enumerate(ids):
                chars[i, : len(row)] = row
            out["chars"] = chars
        if self.use_casing:
            out["casing"] = np.asarray([casing_class(w) for w in words], dtype=np.int32)
        if self.subwords is not None:
            out["pieces"], out["piece_words"] = _encode_pieces(self.subwords, words)
        if self.lm_pieces is not None:
            out["lm_pieces"], out["lm_piece_words"] = _encode_pieces(self.lm_pieces, words)
        return out

    def encode_tags(self, tags):
        """Maps tag strings to ids (an unknown tag is a KeyError the caller reports)."""
        return np.asarray([self.tag_to_id[t] for t in tags], dtype=np.int32)

    def tf_tables(self):
        """Creates (once) and returns the lookup tables the in-graph path uses.

        Call it outside any `tf.function` and keep the returned tables on the
        module being saved, so the SavedModel tracks them.
        """
        if not hasattr(self, "_tables"):
            self._tables = {"words": self.words.tf_lookup_table()}
            if self.chars is not None:
                self._tables["chars"] = self.chars.tf_lookup_table()
            if self.subwords is not None:
                self._tables["subwords"] = self.subwords.tf_tokenizer()
            if self.lm_pieces is not None:
                self._tables["lm_pieces"] = self.lm_pieces.tf_tokenizer()
        return self._tables

    def tf_encode(self, tokens):
        """In-graph `encode` for a padded batch of words.

        Args:
            tokens: string tensor (B, T), padded with empty strings.

        Returns:
            dict of int32 tensors like `encode`, batched.
        """
        import tensorflow as tf

        tables = self.tf_tables()
        present = tf.not_equal(tokens, "")
        ids = tf.cast(self.words.tf_encode(tokens, table=tables["words"]), tf.int32)
        out = {"words": tf.where(present, ids, 0)}
        if self.chars is not None:
            # Cut to max_word_len, but pad only to the batch's longest word: most
            # batches need far fewer than max_word_len columns.
            if self.char_boundaries:
                cut = tf.strings.substr(tokens, 0, self.max_word_len, unit="UTF8_CHAR")
                marked = tf.where(present, tf.strings.join([WORD_BEGIN, cut, WORD_END]), "")
                chars = self.chars.tf_encode_words(marked, table=tables["chars"])
            else:
                chars = self.chars.tf_encode_words(tokens, table=tables["chars"])[:, :, : self.max_word_len]
            # A batch of only padding words has no character column at all; keep one.
            chars = tf.pad(chars, [[0, 0], [0, 0], [0, tf.maximum(1 - tf.shape(chars)[2], 0)]])
            out["chars"] = tf.cast(chars, tf.int32)
        if self.use_casing:
            out["casing"] = tf.cast(tf_casing_class(tokens), tf.int32)
        if self.subwords is not None:
            out["pieces"], out["piece_words"] = _tf_encode_pieces(tables["subwords"], tokens)
        if self.lm_pieces is not None:
            out["lm_pieces"], out["lm_piece_words"] = _tf_encode_pieces(tables["lm_pieces"], tokens)
        return out

    def save(self, directory):
        """Writes the vocabularies and options into `directory` (created if needed)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.words.save(directory, "words")
        if self.chars is not None:
            self.chars.save(directory, "chars")
        if self.subwords is not None:
            self.subwords.save(directory, "subwords")
        if self.lm_pieces is not None:
            self.lm_pieces.save(directory, "lm_pieces")
        options = {"tags": self.tags, "max_word_len": self.max_word_len, "use_casing": self.use_casing,
                   "use_chars": self.chars is not None, "use_subwords": self.subwords is not None,
                   "char_boundaries": self.char_boundaries, "use_lm_pieces": self.lm_pieces is not None}
        atomic_files.write_text(directory / "features.json", json.dumps(options, indent=1))

    @classmethod
    def load(cls, directory):
        """Reads what `save` wrote; a missing or broken file is a ModelDirError."""
        directory = Path(directory)
        path = directory / "features.json"
        try:
            options = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ModelDirError(f"cannot read {path}: {err}") from None
        words = Vocabulary.load(directory, "words")
        chars = CharVocabulary.load(directory, "chars") if options["use_chars"] else None
        subwords = SentencePieceTokenizer.load(directory, "subwords") if options.get("use_subwords") else None
        lm_pieces = SentencePieceTokenizer.load(directory, "lm_pieces") if options.get("use_lm_pieces") else None
        # Model directories written before char_boundaries existed have none.
        return cls(words, options["tags"], chars, options["max_word_len"], options["use_casing"], subwords,
                   options.get("char_boundaries", False), lm_pieces)
