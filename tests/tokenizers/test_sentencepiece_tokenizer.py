"""SentencePiece: training, round trips, offsets, word alignment, pooling, persistence, TF."""

import random

import numpy as np
import pytest

from nlpseq.errors import ConfigError, InputError, ModelDirError
from nlpseq.tokenizers import SentencePieceTokenizer, pool_to_words

WORDS = "the cat dog sat on mat a big small red blue house tree runs quickly slowly under over".split()
SAMPLES = ["the cat sat on the mat", "a big red house", "quickly runs the small dog", "blue tree under houses"]


def corpus():
    rng = random.Random(0)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8))) for _ in range(300)]


@pytest.fixture(scope="module", params=["unigram", "bpe"])
def model_type(request):
    return request.param


@pytest.fixture(scope="module")
def spm(model_type):
    return SentencePieceTokenizer.train(corpus(), vocab_size=40, model_type=model_type)


def test_train_specials_and_size(spm):
    assert spm.vocab_size == len(spm) == 40
    assert [spm.id_to_piece(i) for i in range(4)] == ["<pad>", "<unk>", "<s>", "</s>"]
    assert (spm.pad_id, spm.unk_id, spm.bos_id, spm.eos_id) == (0, 1, 2, 3)
    assert spm.piece_to_id(spm.id_to_piece(10)) == 10
    with pytest.raises(InputError):
        spm.id_to_piece(40)


def test_training_is_deterministic(spm, model_type):
    again = SentencePieceTokenizer.train(corpus(), vocab_size=40, model_type=model_type)
    assert again.serialized_model == spm.serialized_model
    other = "bpe" if model_type == "unigram" else "unigram"
    different = SentencePieceTokenizer.train(corpus(), vocab_size=40, model_type=other)
    assert different.serialized_model != spm.serialized_model


def test_round_trip(spm):
    for text in SAMPLES:
        ids = spm.encode(text)
        assert ids and all(4 <= i < 40 for i in ids)
        assert spm.decode(ids) == text
    ids = spm.encode("the cat", add_bos=True, add_eos=True)
    assert ids[0] == 2 and ids[-1] == 3 and spm.decode(ids) == "the cat"


def test_offsets_slice_back(spm):
    text = "the  cat sat\ton the mat Zq"  # double space, tab, unknown letters
    ids, offsets = spm.encode_with_offsets(text)
    assert ids == spm.encode(text)
    assert len(offsets) == len(ids)
    for i, (start, end) in zip(ids, offsets):
        piece = spm.id_to_piece(i)
        if i == spm.unk_id:
            assert text[start:end].strip() != ""
        else:
            assert text[start:end] == piece.replace("\u2581", "")
    assert [s for s, _ in offsets] == sorted(s for s, _ in offsets)


def test_offsets_are_characters_not_bytes(spm):
    text = "ÜÜ cat"  # two 2-byte characters: 'cat' starts at character 3, byte 5
    ids, offsets = spm.encode_with_offsets(text)
    assert ids[-1] == spm.piece_to_id("\u2581cat")
    assert offsets[-1] == (3, 6)
    assert offsets[-2] == (0, 2) and ids[-2] == spm.unk_id


def test_encode_words_alignment(spm):
    words = ["the", "houses", "quickly", "", "Zq"]
    ids, word_index = spm.encode_words(words)
    assert len(ids) == len(word_index)
    assert word_index == sorted(word_index) and set(word_index) == set(range(len(words)))
    for w, word in enumerate(words):
        own = [i for i, wi in zip(ids, word_index) if wi == w]
        if word:
            assert own == spm.encode(word)
            assert spm.decode(own) == word or spm.unk_id in own
        else:
            assert own == [spm.unk_id]  # every word owns at least one piece


def test_pool_to_words_numbers():
    vectors = np.array([[1.0, 10.0], [3.0, 30.0], [5.0, 50.0], [7.0, 70.0], [9.0, 90.0]])
    word_index = [0, 0, 1, 2, -1]  # last piece is padding
    first = pool_to_words(vectors, word_index, num_words=4, mode="first")
    mean = pool_to_words(vectors, word_index, num_words=4, mode="mean")
    np.testing.assert_allclose(first, [[1, 10], [5, 50], [7, 70], [0, 0]])
    np.testing.assert_allclose(mean, [[2, 20], [5, 50], [7, 70], [0, 0]])
    # first piece wins even when the pieces of a word are not contiguous
    np.testing.assert_allclose(pool_to_words(vectors[:3], [1, 0, 1], 2), [[3, 30], [1, 10]])
    with pytest.raises(InputError):
        pool_to_words(vectors, word_index, num_words=2)
    with pytest.raises(InputError):
        pool_to_words(vectors, word_index, num_words=4, mode="max")


def test_save_load_identical_ids(spm, tmp_path):
    spm.save(tmp_path / "assets", "sub")
    assert (tmp_path / "assets" / "sub.spm.model").read_bytes() == spm.serialized_model
    loaded = SentencePieceTokenizer.load(tmp_path / "assets", "sub")
    for text in SAMPLES + ["Zq ÜÜ"]:
        assert loaded.encode(text) == spm.encode(text)


def test_load_errors(tmp_path):
    with pytest.raises(ModelDirError, match="missing.spm.model"):
        SentencePieceTokenizer.load(tmp_path, "missing")
    (tmp_path / "bad.spm.model").write_bytes(b"not a model")
    with pytest.raises(ModelDirError, match="bad.spm.model"):
        SentencePieceTokenizer.load(tmp_path, "bad")


def test_training_errors():
    with pytest.raises(ConfigError, match="vocab_size"):
        SentencePieceTokenizer.train(corpus()[:20], vocab_size=5000, model_type="bpe")
    with pytest.raises(ConfigError):
        SentencePieceTokenizer.train(corpus(), vocab_size=40, model_type="word")
    with pytest.raises(InputError):
        SentencePieceTokenizer.train([], vocab_size=40)


def test_user_defined_symbols_kept_whole():
    spm = SentencePieceTokenizer.train(corpus(), vocab_size=40, user_defined_symbols=["<sep>"])
    sep = spm.piece_to_id("<sep>")
    assert sep > 3 and sep in spm.encode("the cat <sep> dog")


def test_tf_tokenizer_matches_python(spm):
    tf = pytest.importorskip("tensorflow")
    pytest.importorskip("tensorflow_text")
    texts = SAMPLES + ["Zq ÜÜ the"]
    ids = spm.tf_tokenizer().tokenize(tf.constant(texts))
    assert ids.dtype == tf.int32
    assert ids.to_list() == [spm.encode(t) for t in texts]


def test_two_models_stay_apart_in_a_reloaded_saved_model(tmp_path):
    """A translator holds a source and a target model; after `tf.saved_model.load` each must
    still be itself (the kernel shares resources by node name: tensorflow/text #1304)."""
    tf = pytest.importorskip("tensorflow")
    pytest.importorskip("tensorflow_text")
    german = "der hund die katze ein haus sitzt läuft schnell unter über blau rot".split()
    rng = random.Random(1)
    other = [" ".join(rng.choice(german) for _ in range(rng.randint(3, 8))) for _ in range(300)]
    first = SentencePieceTokenizer.train(corpus(), vocab_size=40, model_type="unigram")
    second = SentencePieceTokenizer.train(other, vocab_size=30, model_type="unigram")
    first_tf, second_tf = first.tf_tokenizer(), second.tf_tokenizer()

    class Both(tf.Module):
        def __init__(self):
            super().__init__()
            self.tokenizers = [first_tf, second_tf]

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int32)])
        def decode(self, ids):
            return first_tf.detokenize(ids[tf.newaxis]), second_tf.detokenize(ids[tf.newaxis])

    ids = second.encode("der hund läuft schnell")
    tf.saved_model.save(Both(), str(tmp_path / "both"))
    decoded_first, decoded_second = tf.saved_model.load(str(tmp_path / "both")).decode(tf.constant(ids, tf.int32))
    assert decoded_second.numpy()[0].decode() == "der hund läuft schnell"
    assert decoded_first.numpy()[0].decode() == first.decode(ids)
