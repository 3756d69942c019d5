import numpy as np
import pytest

from nlpseq.cli import main
from nlpseq.data.vectors import embedding_matrix, read_word_vectors
from nlpseq.errors import DataError
from nlpseq.tokenizers import Vocabulary


def test_vectors_command_trains_normalized_vectors(tmp_path):
    pytest.importorskip("gensim")
    text = tmp_path / "text.txt"
    text.write_text("The Cat sat on the mat in 1999.\nA dog sat on the log.\n" * 50, encoding="utf-8")
    out = tmp_path / "vec.txt"
    assert main(["vectors", "--text", str(text), "--output", str(out), "--dim", "8", "--epochs", "1",
                 "--min-count", "1"]) == 0
    words, vectors = read_word_vectors(out)
    assert vectors.shape == (len(words), 8)
    assert "cat" in words and "Cat" not in words  # lower-cased like the tagger vocabulary
    assert "0000" in words and "." in words  # digits folded, punctuation split


def test_embedding_matrix_uses_vectors_and_random_rows(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("2 3\nparis 1 2 3\nberlin 4 5 6\n", encoding="utf-8")
    words, vectors = read_word_vectors(path)
    vocab = Vocabulary.build([["Paris", "Lima"]], lowercase=True)
    matrix, found = embedding_matrix(vocab, words, vectors, 3)
    assert found == 1
    np.testing.assert_array_equal(matrix[vocab.token_to_id("paris")], [1, 2, 3])
    assert np.all(matrix[0] == 0) and np.all(np.abs(matrix[vocab.token_to_id("lima")]) <= 1.0)


def test_bad_vector_files_name_the_line(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("2 3\nparis 1 2 3\nberlin 4 5\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"v.txt:3:"):
        read_word_vectors(path)
    path.write_text("no header\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"v.txt:1:"):
        read_word_vectors(path)


def test_vectors_command_reads_conllu_words_and_checks_its_numbers(tmp_path):
    pytest.importorskip("gensim")
    text = tmp_path / "text.txt"
    text.write_text("A dog sat on the log.\n" * 20, encoding="utf-8")
    conllu = tmp_path / "ud.conllu"
    conllu.write_text("# text = Zorbly flies\n1\tZorbly\tzorbly\tPROPN\tNNP\t_\t2\tnsubj\t_\t_\n"
                      "2\tflies\tfly\tVERB\tVBZ\t_\t0\troot\t_\t_\n\n" * 10, encoding="utf-8")
    out = tmp_path / "vec.txt"
    assert main(["vectors", "--text", str(text), "--conllu", str(conllu), "--output", str(out), "--dim", "8",
                 "--epochs", "1", "--min-count", "1", "--window", "2"]) == 0
    words, _ = read_word_vectors(out)
    assert "zorbly" in words and "flies" in words  # the CoNLL-U words (column 2), not the ids
    assert "1" not in words and "0" not in words
    assert main(["vectors", "--text", str(text), "--output", str(out), "--window", "0"]) == 2
