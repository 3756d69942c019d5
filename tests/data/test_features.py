import numpy as np
import pytest
import tensorflow as tf

from nlpseq.data.features import TaggingFeatures, casing_class, tf_casing_class
from nlpseq.data.pipelines import bucketed_batches, count_bucketed_batches, encoded_dataset

WORDS = ["EU", "rejects", "German", "iPhone", "1,000", "3rd", "U.S", "Müller", "ÉCOLE", "(", "unknownword", "x"]


def test_casing_classes_python_and_graph_agree():
    expected = [3, 5, 4, 6, 1, 2, 3, 4, 3, 7, 5, 5]
    assert [casing_class(w) for w in WORDS] == expected
    graph = tf_casing_class(tf.constant([WORDS + [""]])).numpy()[0].tolist()
    assert graph == expected + [0]


def test_encode_and_tf_encode_agree():
    feats = TaggingFeatures.build([["EU", "rejects", "German", "call"], ["Müller", "1,000"]], ["O", "S-ORG"],
                                  max_word_len=5)
    python = feats.encode(WORDS)
    graph = feats.tf_encode(tf.constant([WORDS, WORDS[:3] + [""] * (len(WORDS) - 3)]))
    np.testing.assert_array_equal(graph["words"].numpy()[0], python["words"])
    np.testing.assert_array_equal(graph["casing"].numpy()[0], python["casing"])
    chars = graph["chars"].numpy()[0]
    np.testing.assert_array_equal(chars, python["chars"])  # same width: the longest word, cut to 5
    assert graph["words"].numpy()[1, 3:].tolist() == [0] * (len(WORDS) - 3)  # padding stays 0
    assert python["words"][WORDS.index("unknownword")] == 1


def test_save_load_round_trip(tmp_path):
    feats = TaggingFeatures.build([["a", "B", "c"]], ["O", "X"], use_casing=False)
    feats.save(tmp_path / "assets")
    back = TaggingFeatures.load(tmp_path / "assets")
    assert back.tags == ["O", "X"] and not back.use_casing
    np.testing.assert_array_equal(back.encode(["B", "zz"])["words"], feats.encode(["B", "zz"])["words"])


def test_bucketed_batches_pad_and_cover_everything():
    feats = TaggingFeatures.build([["w%d" % i for i in range(9)]], ["O"], use_chars=False)
    lengths = [1, 2, 3, 7, 8, 9, 2, 3]
    examples = [feats.encode(["w%d" % i for i in range(n)]) for n in lengths]
    tags = [np.zeros(n, np.int32) for n in lengths]
    ds = bucketed_batches(encoded_dataset(examples, tags), batch_size=3, bucket_width=4, shuffle_seed=1)
    seen = []
    for inputs, target in ds:
        words = inputs["words"].numpy()
        assert words.shape == target.numpy().shape
        row_lengths = (words != 0).sum(axis=1)
        assert row_lengths.max() - row_lengths.min() < 4  # same bucket
        seen += row_lengths.tolist()
    assert sorted(seen) == sorted(lengths)
    assert count_bucketed_batches(lengths, 3, bucket_width=4) == len(list(ds))


def test_epoch_order_is_reproducible_and_changes_with_seed():
    feats = TaggingFeatures.build([["w%d" % i for i in range(30)]], ["O"], use_chars=False)
    examples = [feats.encode(["w%d" % i] * 2) for i in range(30)]
    tags = [np.zeros(2, np.int32)] * 30

    def order(seed):
        ds = bucketed_batches(encoded_dataset(examples, tags), 4, shuffle_seed=seed)
        return [int(x) for inputs, _ in ds for x in inputs["words"].numpy()[:, 0]]

    assert order(5) == order(5)
    assert order(5) != order(6)


def test_unknown_word_dropout_only_hits_singletons():
    feats = TaggingFeatures.build([["a", "b"]], ["O"], use_chars=False, use_casing=False)
    a, b = feats.words.token_to_id("a"), feats.words.token_to_id("b")
    examples = [{"words": np.array([a, b] * 50, np.int32)}] * 4
    tags = [np.zeros(100, np.int32)] * 4
    ds = bucketed_batches(encoded_dataset(examples, tags), 4, unk_replace=0.5, singleton_mask=np.arange(len(feats.words)) == a,
                          shuffle_seed=None, max_length=200)
    words = np.concatenate([inputs["words"].numpy().ravel() for inputs, _ in ds])
    replaced_a = np.mean(words[0::2] == 1)
    assert 0.35 < replaced_a < 0.65  # about half of the singleton 'a' became <unk>
    assert np.all(words[1::2] == b)  # 'b' (not a singleton) untouched


def test_casing_classes_fit_the_casing_embedding():
    from nlpseq.data.features import NUM_CASING_CLASSES as DEFINED
    from nlpseq.layers import NUM_CASING_CLASSES as EMBEDDED

    assert DEFINED == EMBEDDED


def test_subword_features_python_and_graph_agree():
    sentences = [["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."]] * 30
    sentences += [["Peter", "Blackburn", "visited", "Brussels", "yesterday"]] * 30
    feats = TaggingFeatures.build(sentences, ["O"], subword_type="bpe", subword_vocab_size=60)
    words = ["EU", "rejects", "Blackburn", "zzz"]
    python = feats.encode(words)
    assert python["piece_words"].min() == 1 and python["piece_words"].max() == len(words)
    assert sorted(set(python["piece_words"])) == [1, 2, 3, 4]  # every word owns a piece
    graph = feats.tf_encode(tf.constant([words, ["EU", "", "", ""]]))
    pieces, piece_words = graph["pieces"].numpy(), graph["piece_words"].numpy()
    np.testing.assert_array_equal(pieces[0], python["pieces"])
    np.testing.assert_array_equal(piece_words[0], python["piece_words"])
    eu = feats.encode(["EU"])
    n = len(eu["pieces"])
    np.testing.assert_array_equal(pieces[1, :n], eu["pieces"])
    assert pieces[1, n:].tolist() == [0] * (pieces.shape[1] - n)  # padding
    assert piece_words[1, n:].tolist() == [0] * (pieces.shape[1] - n)


def test_subword_model_round_trips_through_save(tmp_path):
    sentences = [["alpha", "beta", "gamma", "delta"]] * 40
    feats = TaggingFeatures.build(sentences, ["O"], subword_type="unigram", subword_vocab_size=16)
    feats.save(tmp_path / "assets")
    assert (tmp_path / "assets" / "subwords.spm.model").is_file()
    back = TaggingFeatures.load(tmp_path / "assets")
    np.testing.assert_array_equal(back.encode(["gamma", "beta"])["pieces"], feats.encode(["gamma", "beta"])["pieces"])


def test_graph_encoding_of_an_all_padding_batch_keeps_one_char_column():
    feats = TaggingFeatures.build([["a", "b"]], ["O"])
    out = feats.tf_encode(tf.constant([[""], [""]]))
    assert out["chars"].shape == (2, 1, 1) and out["words"].numpy().tolist() == [[0], [0]]


def test_char_boundaries_mark_both_ends_in_python_and_graph(tmp_path):
    from nlpseq.data.features import WORD_BEGIN, WORD_END

    feats = TaggingFeatures.build([["walked", "Müller"]], ["O"], max_word_len=4, char_boundaries=True)
    begin, end = feats.chars.encode_words([WORD_BEGIN + WORD_END])[0]
    assert begin > 1 and end > 1 and begin != end  # real entries, not <pad>/<unk>
    python = feats.encode(["walked", "ab"])["chars"]
    walk = feats.chars.encode_words(["walk"])[0]
    # Each word is cut to max_word_len characters first, then wrapped: width max_word_len + 2.
    assert python[0].tolist() == [begin] + walk + [end]
    assert python[1].tolist() == [begin] + feats.chars.encode_words(["ab"])[0] + [end, 0, 0]
    graph = feats.tf_encode(tf.constant([["walked", "ab"], ["Müller", ""]]))["chars"].numpy()
    np.testing.assert_array_equal(graph[0], python)
    np.testing.assert_array_equal(graph[1, 0], feats.encode(["Müller"])["chars"][0])
    assert graph[1, 1].tolist() == [0] * graph.shape[2]  # a padding word stays all padding
    # Without markers the same words give plain, cut ids; the option survives save/load.
    assert TaggingFeatures.build([["walked"]], ["O"], max_word_len=4).encode(["walked"])["chars"].shape == (1, 4)
    feats.save(tmp_path / "assets")
    back = TaggingFeatures.load(tmp_path / "assets")
    assert back.char_boundaries
    np.testing.assert_array_equal(back.encode(["walked"])["chars"], feats.encode(["walked"])["chars"])
