"""Word tokenizer: rules, offsets, and Python/TensorFlow agreement."""

import pytest

from nlpseq.errors import InputError
from nlpseq.tokenizers import align_offsets, tokenize, tokenize_with_offsets

CASES = [
    "Hello, world!",
    "(Reuters) - U.S. stocks rose 3.5% to 1,000 points.",
    "I don't use e-mail; Jean-Pierre does.",
    "\"Quoted\" 'single' [brackets] {braces} <angle>",
    "Müller und ÉCOLE à Zürich — naïve café.",
    "d\u0301x cafe\u0301 Cafe\u0301!",  # combining marks are word characters
    "東京は日本の首都です。",
    "Привет, мир! Ελληνικά; العربية؟",
    "नमस्ते दुनिया।",
    "emoji 😀 end😀 👍🏽 👨\u200d👩\u200d👧 flags 🇫🇷!",
    "tabs\tand\nnewlines\r\nand\u00a0nbsp\u2003em\u3000ideo",
    "ctrl\x00chars\x01\x7fhere\x85next",
    "zero\u200bwidth\ufeffbom\u2060joiner",
    "soft\u00adhyphen stays inside",
    "",
    "   \t\n  ",
    "...",
    "?!?! -- ***",
    "__init__ _private snake_case",
    "$5 5$ #hashtag @user http://x.com/a?b=1.",
    "a.b.c. x.",
    "'s John's ''",
    "12:30pm 2024-01-02 +1.5e-3",
    "Ünïcödé—dash…ellipsis",
    "x" * 3 + " " + "y",
]
LONG = " ".join(f"w{i}," if i % 7 == 0 else f"word{i}" for i in range(10_000))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Hello, world!", ["Hello", ",", "world", "!"]),
        ("(Reuters)", ["(", "Reuters", ")"]),
        ("the lamb.", ["the", "lamb", "."]),
        ("U.S 3.5 1,000 don't e-mail Jean-Pierre", ["U.S", "3.5", "1,000", "don't", "e-mail", "Jean-Pierre"]),
        ("U.S.", ["U.S", "."]),  # documented: the abbreviation dot is split off
        ("((x))", ["(", "(", "x", ")", ")"]),
        ("...", [".", ".", "."]),
        ("a\u00a0b\u2003c\x00d\u200be", ["a", "b", "c", "d", "e"]),
        ("d\u0301x", ["d\u0301x"]),
        ("hi😀", ["hi", "😀"]),
        ("", []),
        (" \t\n", []),
    ],
)
def test_rules(text, expected):
    assert tokenize(text) == expected


@pytest.mark.parametrize("text", CASES + [LONG])
def test_offsets_slice_back(text):
    spans = tokenize_with_offsets(text)
    assert [w for w, _, _ in spans] == tokenize(text)
    for word, start, end in spans:
        assert text[start:end] == word
    starts = [s for _, s, _ in spans]
    assert starts == sorted(starts)
    assert align_offsets(text, [w for w, _, _ in spans]) == [(s, e) for _, s, e in spans]


def test_long_text_token_count():
    tokens = tokenize(LONG)
    assert len(tokens) == 10_000 + len(range(0, 10_000, 7))


def test_align_offsets_accepts_bytes_and_reports_missing():
    assert align_offsets("Müller, ok", [b"M\xc3\xbcller", ",", "ok"]) == [(0, 6), (6, 7), (8, 10)]
    with pytest.raises(InputError, match="'zz'"):
        align_offsets("a b", ["a", "zz"])
    with pytest.raises(InputError):
        align_offsets("a b", ["b", "a"])  # search is sequential


def test_tokenize_rejects_non_str():
    with pytest.raises(InputError):
        tokenize(b"bytes")


def test_tf_tokenize_matches_python():
    tf = pytest.importorskip("tensorflow")
    from nlpseq.tokenizers.words import tf_tokenize

    texts = CASES + [LONG]
    ragged = tf_tokenize(tf.constant(texts))
    assert ragged.shape.rank == 2
    for text, row in zip(texts, ragged.to_list()):
        assert [t.decode("utf-8") for t in row] == tokenize(text), text


def test_tf_tokenize_in_tf_function():
    tf = pytest.importorskip("tensorflow")
    from nlpseq.tokenizers.words import tf_tokenize

    fn = tf.function(tf_tokenize, input_signature=[tf.TensorSpec([None], tf.string)])
    out = fn(tf.constant(["(Hi) there.", ""])).to_list()
    assert out == [[b"(", b"Hi", b")", b"there", b"."], []]
