"""Word and character vocabularies: build order, normalization, persistence, TF lookups."""

import json

import pytest

from nlpseq.errors import ConfigError, InputError, ModelDirError
from nlpseq.tokenizers import CharVocabulary, Vocabulary

CORPUS = [["the", "cat", "sat"], ["The", "dog", "sat"], ["the", "Cat", "ran", "2024"], ["a", "dog", "in", "1999"]]
MIXED = ["The", "THE", "cat", "İstanbul", "ΟΔΟΣ", "Müller", "MÜLLER", "ÉCOLE", "école"]
MIXED += ["2024", "1999", "x7y", "unseen", "Ünseen", ""]


def test_build_order_and_specials():
    v = Vocabulary.build(CORPUS, specials=("<s>", "</s>"))
    # dog/sat/the occur twice (ties by string); the rest once, so in string order ('The' != 'the')
    assert v.tokens[:4] == ["<pad>", "<unk>", "<s>", "</s>"]
    assert v.tokens[4:7] == ["dog", "sat", "the"]
    assert v.tokens[7:] == sorted(v.tokens[7:])
    assert v.pad_id == 0 and v.unk_id == 1
    assert v.token_to_id("<s>") == 2


def test_normalization_lowercase_digits():
    v = Vocabulary.build(CORPUS, lowercase=True, normalize_digits=True)
    assert v.normalize("Ab12") == "ab00"
    assert v.tokens[2] == "the"  # 'the' x3 after lowercasing
    assert "0000" in v and "2024" not in v.tokens and "THE" in v
    assert v.encode(["THE", "5555", "zebra"]) == [v.token_to_id("the"), v.token_to_id("0000"), 1]
    assert v.decode(v.encode(["Cat"])) == ["cat"]


def test_min_freq_and_max_size():
    v = Vocabulary.build(CORPUS, min_freq=2)
    assert set(v.tokens[2:]) == {"dog", "sat", "the"}
    v = Vocabulary.build(CORPUS, max_size=5, specials=("<s>",))
    assert len(v) == 5 and v.tokens == ["<pad>", "<unk>", "<s>", "dog", "sat"]
    with pytest.raises(ConfigError):
        Vocabulary.build(CORPUS, max_size=2, specials=("<s>",))
    with pytest.raises(ConfigError):
        Vocabulary.build(CORPUS, min_freq=0)
    with pytest.raises(ConfigError):
        Vocabulary.build(CORPUS, lowercase=True, specials=("<S>",))
    with pytest.raises(ConfigError):
        Vocabulary.build(CORPUS, specials=("<unk>",))


def test_build_rejects_strings_as_sequences():
    with pytest.raises(InputError):
        Vocabulary.build(["not", "lists"])


def test_lookup_api_and_extend():
    v = Vocabulary.build(CORPUS, lowercase=True)
    n = len(v)
    assert v.extend(["Zebra", "zebra", "the", "Yak"]) == 2
    assert len(v) == n + 2 and v.tokens[-2:] == ["zebra", "yak"]
    assert v.token_to_id("ZEBRA") == n and v.id_to_token(n + 1) == "yak"
    with pytest.raises(InputError):
        v.id_to_token(len(v))
    with pytest.raises(InputError):
        v.decode([0, 999])


def test_save_load_roundtrip(tmp_path):
    v = Vocabulary.build(CORPUS, lowercase=True, normalize_digits=True, specials=("<s>",))
    v.extend(["ñandú", ""])
    v.save(tmp_path / "assets", "words")
    lines = (tmp_path / "assets" / "words.vocab.txt").read_text(encoding="utf-8").split("\n")
    assert lines[:3] == ["<pad>", "<unk>", "<s>"]
    meta = json.loads((tmp_path / "assets" / "words.vocab.json").read_text())
    assert meta["lowercase"] is True and meta["specials"] == ["<s>"]
    w = Vocabulary.load(tmp_path / "assets", "words")
    assert w == v and w.tokens == v.tokens
    assert w.encode(MIXED) == v.encode(MIXED)
    assert not [p for p in (tmp_path / "assets").iterdir() if ".tmp" in p.name]


def test_save_rejects_line_breaks(tmp_path):
    v = Vocabulary.build([["a\nb"]])
    with pytest.raises(InputError):
        v.save(tmp_path, "words")


@pytest.mark.parametrize("damage", ["missing_txt", "missing_json", "bad_json", "truncated", "wrong_size", "wrong_kind"])
def test_load_errors_name_the_file(tmp_path, damage):
    Vocabulary.build(CORPUS).save(tmp_path, "words")
    txt, js = tmp_path / "words.vocab.txt", tmp_path / "words.vocab.json"
    if damage == "missing_txt":
        txt.unlink()
        bad = txt
    elif damage == "missing_json":
        js.unlink()
        bad = js
    elif damage == "bad_json":
        js.write_text("{not json")
        bad = js
    elif damage == "truncated":
        txt.write_text(txt.read_text()[:-3])
        bad = txt
    elif damage == "wrong_size":
        txt.write_text(txt.read_text() + "extra\n")
        bad = txt
    else:
        CharVocabulary.build(["ab"]).save(tmp_path, "words")
        bad = js
    with pytest.raises(ModelDirError, match=bad.name):
        Vocabulary.load(tmp_path, "words")


def test_char_vocabulary(tmp_path):
    cv = CharVocabulary.build(["abba", "cab", "Ü"])
    assert cv.tokens == ["<pad>", "<unk>", "a", "b", "c", "Ü"]
    assert cv.encode_words(["cab", "xÜ", ""]) == [[4, 2, 3], [1, 5], []]
    assert cv.encode_words(["abcabc"], max_word_len=4) == [[2, 3, 4, 2]]
    assert CharVocabulary.build(["aab", "b", "c"], min_freq=2).tokens == ["<pad>", "<unk>", "a", "b"]
    cv.save(tmp_path, "chars")
    assert CharVocabulary.load(tmp_path, "chars") == cv
    with pytest.raises(ModelDirError, match="chars.vocab.json"):
        Vocabulary.load(tmp_path, "chars")  # a char vocabulary is not a word vocabulary


def test_tf_normalize_and_lookup_agree_with_python():
    tf = pytest.importorskip("tensorflow")
    for lowercase in (False, True):
        for digits in (False, True):
            corpus = [MIXED[:-3], ["müller", "école", "0000", "x0y"]]
            v = Vocabulary.build(corpus, lowercase=lowercase, normalize_digits=digits)
            normed = [s.decode("utf-8") for s in v.tf_normalize(tf.constant(MIXED)).numpy()]
            assert normed == [v.normalize(t) for t in MIXED]
            table = v.tf_lookup_table()
            ids = table.lookup(v.tf_normalize(tf.constant(MIXED))).numpy().tolist()
            assert ids == v.encode(MIXED)
            ragged = tf.ragged.constant([MIXED[:4], MIXED[4:]])
            assert v.tf_encode(ragged, table=table).to_list() == [v.encode(MIXED[:4]), v.encode(MIXED[4:])]
    assert v.tf_encode(tf.constant(["unseen"])).dtype == tf.int64


def test_tf_encode_words_matches_python():
    tf = pytest.importorskip("tensorflow")
    cv = CharVocabulary.build(["Müller", "abc", "école"])
    batch = [["Müller", "abcde", "z"], ["école", "", ""]]
    dense = cv.tf_encode_words(tf.constant(batch), max_word_len=4).numpy()
    assert dense.shape == (2, 3, 4)
    for b, row in enumerate(batch):
        for t, word in enumerate(row):
            ids = cv.encode_words([word], max_word_len=4)[0]
            assert dense[b, t].tolist() == ids + [0] * (4 - len(ids))
    ragged = tf.ragged.constant([["Müller", "abcde", "z"], ["école"]])
    out = cv.tf_encode_words(ragged).numpy()
    assert out.shape == (2, 3, 6)
    assert out[1, 0].tolist() == cv.encode_words(["école"])[0] + [0]
    assert out[1, 1].tolist() == [0] * 6
