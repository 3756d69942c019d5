"""Split raw text into words, with the same rules in Python and in a TensorFlow graph.

The rules (few on purpose, so the two implementations stay identical):

1. **Whitespace** separates words. Whitespace is every Unicode space separator
   (category Z: the ASCII space, NBSP, the en/em spaces, ideographic space, line and
   paragraph separators...), every control character (category Cc: tab, newline,
   carriage return, NUL...), and the invisible U+200B (zero-width space), U+2060 (word
   joiner) and U+FEFF (byte-order mark). The list is spelled out code point by code
   point in ``_WHITESPACE_CHARS`` so both regex engines see the same set.
2. A **word character** is a letter, number or mark (Unicode categories L, N, M) or
   the underscore. Every other non-whitespace character (punctuation, symbols,
   emoji, format characters such as the soft hyphen) is **punctuation**.
3. In each whitespace-separated chunk, the *core* runs from the first to the last word
   character and stays one token, whatever punctuation it holds inside
   (``U.S``, ``3.5``, ``1,000``, ``don't``, ``e-mail``, ``Jean-Pierre``). Each
   punctuation character before or after the core becomes a token of its own:
   ``"(Reuters)"`` -> ``( Reuters )``, ``"Hello!!"`` -> ``Hello ! !``, a chunk
   with no word character is split into single characters (``"..."`` -> ``. . .``).

Consequences worth knowing:

- A trailing abbreviation dot is split off: ``"U.S."`` -> ``U.S .`` (the tokenizer
  cannot tell an abbreviation from the end of a sentence).
- Leading/trailing apostrophes split too: ``'s`` -> ``' s``; ``John's`` stays whole.
- Scripts written without spaces (Chinese, Japanese, Thai) are not segmented: a run
  of ideographs is one token, only its edge punctuation (``。``) is split off.
- Emoji are symbols, so they split off word edges, and a multi-code-point emoji
  (ZWJ sequences, flags) becomes one token per code point.
- Python classifies characters with ``unicodedata`` (Unicode 14.0 on Python 3.11)
  and TensorFlow with RE2's own tables; a code point assigned in a later Unicode
  version may be classified differently by the two.

Example:
    >>> from nlpseq.tokenizers import tokenize
    >>> tokenize("Hello, world! (Reuters) U.S. prices rose 3.5%.")
    ['Hello', ',', 'world', '!', '(', 'Reuters', ')', 'U.S', '.', 'prices', 'rose', '3.5', '%', '.']
"""

from __future__ import annotations

import functools
import re
import unicodedata

from nlpseq.errors import InputError

# Category Z (as of Unicode 14; no space separator has been added since 2004), category Cc,
# and three invisible characters that people paste as spaces.
_WHITESPACE_CHARS = (
    [chr(c) for c in range(0x00, 0x20)]
    + [chr(c) for c in range(0x7F, 0xA0)]
    + ["\u0020", "\u00a0", "\u1680"]
    + [chr(c) for c in range(0x2000, 0x200B)]
    + ["\u2028", "\u2029", "\u202f", "\u205f", "\u3000"]
    + ["\u200b", "\u2060", "\ufeff"]
)
_WHITESPACE = frozenset(_WHITESPACE_CHARS)


def _char_class(chars, *, escape):
    """Spell a set of characters as the body of a regex character class."""
    return "".join(escape(c) for c in chars)


# --- patterns, one per engine, kept side by side -------------------------------------------
# Python `re`: used only to find whitespace-free chunks; word characters are classified with
# unicodedata because Python's `\w` leaves out combining marks (category M).
_PY_WS_CLASS = _char_class(
    _WHITESPACE_CHARS, escape=lambda c: f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"
)
_PY_CHUNK = re.compile(f"[^{_PY_WS_CLASS}]+")

# RE2 (TensorFlow): RE2's `\w` and `\s` are ASCII-only, so word characters are `\pL\pN\pM_`.
_RE2_WS_CLASS = _char_class(_WHITESPACE_CHARS, escape=lambda c: f"\\x{{{ord(c):04X}}}")
_RE2_WHITESPACE_RUN = f"[{_RE2_WS_CLASS}]+"
_RE2_WORD = r"[\pL\pN\pM_]"
# After whitespace is folded into " ", a token is either a core (word char, then anything
# non-space ending in a word char; greedy, so it reaches the chunk's last word char) or a
# single punctuation character. Leftmost-first matching never starts inside a core.
_RE2_TOKEN = f"({_RE2_WORD}(?:[^ ]*{_RE2_WORD})?|[^ ])"


@functools.lru_cache(maxsize=65536)
def _is_word_char(char: str) -> bool:
    return char == "_" or unicodedata.category(char)[0] in "LNM"


def tokenize_with_offsets(text: str) -> list[tuple[str, int, int]]:
    """Split text into words and give each word's character span.

    Args:
        text: the raw text.

    Returns:
        A list of ``(word, start, end)`` with ``text[start:end] == word`` (Python
        character offsets, ``end`` exclusive), in text order.

    Example:
        >>> from nlpseq.tokenizers import tokenize_with_offsets
        >>> tokenize_with_offsets("(Hi) you.")
        [('(', 0, 1), ('Hi', 1, 3), (')', 3, 4), ('you', 5, 8), ('.', 8, 9)]
    """
    if not isinstance(text, str):
        raise InputError(f"tokenize expects a str, got {type(text).__name__}")
    out = []
    for match in _PY_CHUNK.finditer(text):
        start, end = match.span()
        first = start
        while first < end and not _is_word_char(text[first]):
            first += 1
        if first == end:  # no word character: every character is its own token
            out.extend((text[i], i, i + 1) for i in range(start, end))
            continue
        last = end
        while not _is_word_char(text[last - 1]):
            last -= 1
        out.extend((text[i], i, i + 1) for i in range(start, first))
        out.append((text[first:last], first, last))
        out.extend((text[i], i, i + 1) for i in range(last, end))
    return out


def tokenize(text: str) -> list[str]:
    """Split text into words by the module's rules.

    Args:
        text: the raw text.

    Returns:
        The list of words (strings, never empty ones).

    Example:
        >>> from nlpseq.tokenizers import tokenize
        >>> tokenize("Jean-Pierre paid $1,000.")
        ['Jean-Pierre', 'paid', '$', '1,000', '.']
    """
    return [word for word, _, _ in tokenize_with_offsets(text)]


def tf_tokenize(texts):
    """Split a batch of texts into words inside a TensorFlow graph.

    Gives exactly the tokens of `tokenize` for each text (see the module docstring
    for the Unicode-version caveat). Offsets are not produced; recover them with
    `align_offsets` on the Python side.

    Args:
        texts: a string tensor of shape ``(B,)`` (UTF-8).

    Returns:
        A string ``tf.RaggedTensor`` of shape ``(B, None)``.

    Example:
        >>> import tensorflow as tf
        >>> from nlpseq.tokenizers.words import tf_tokenize
        >>> tf_tokenize(tf.constant(["Hello, world!"])).to_list()
        [[b'Hello', b',', b'world', b'!']]
    """
    import tensorflow as tf

    texts = tf.convert_to_tensor(texts, dtype=tf.string)
    spaced = tf.strings.regex_replace(texts, _RE2_WHITESPACE_RUN, " ")
    spaced = tf.strings.regex_replace(spaced, _RE2_TOKEN, " \\1 ")
    # With sep=None, split drops empty pieces; only ASCII spaces remain at this point.
    return tf.strings.split(spaced)


def align_offsets(text: str, words) -> list[tuple[int, int]]:
    """Find the character span of each word in text, searching left to right.

    Used after in-graph tokenization, which returns words without offsets.

    Args:
        text: the text the words came from.
        words: the words, in text order (``str`` or UTF-8 ``bytes``).

    Returns:
        A list of ``(start, end)`` with ``text[start:end] == word``.

    Raises:
        InputError: a word does not occur in the text after the previous word.

    Example:
        >>> from nlpseq.tokenizers import align_offsets
        >>> align_offsets("a b a", ["a", "a"])
        [(0, 1), (4, 5)]
    """
    spans = []
    pos = 0
    for i, word in enumerate(words):
        if isinstance(word, bytes):
            word = word.decode("utf-8")
        start = text.find(word, pos)
        if start < 0 or word == "":
            raise InputError(f"word {i} {word!r} not found in the text after character {pos}")
        end = start + len(word)
        spans.append((start, end))
        pos = end
    return spans
