"""Tests for nlpseq.readers.conll (CoNLL column files)."""

import gzip
import os

import pytest

from nlpseq.errors import ConfigError, DataError, InputError
from nlpseq.readers import Sentence, read_conll, read_tokens_file, write_conll

CONLL = (
    "-DOCSTART- -X- O O\n"
    "\n"
    "EU NNP B-NP I-ORG\n"
    "rejects VBZ B-VP O\n"
    "German JJ B-NP I-MISC\n"
    "\n"
    "Peter NNP B-NP I-PER\n"
    "Blackburn NNP I-NP I-PER\n"
    "\n"
    "-DOCSTART- -X- -X- O\n"
    "\n"
    "BRUSSELS NNP B-NP I-LOC\n"
    "\n"
)


def _write(tmp_path, text, name="data.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_space_separated_with_docstart_both_spellings(tmp_path):
    sents = read_conll(_write(tmp_path, CONLL))
    assert [s.words for s in sents] == [
        ("EU", "rejects", "German"),
        ("Peter", "Blackburn"),
        ("BRUSSELS",),
    ]
    assert sents[0].tags == ("I-ORG", "O", "I-MISC")
    assert [s.line for s in sents] == [3, 7, 12]
    assert all(isinstance(s, Sentence) for s in sents)


def test_docstart_without_blank_line_still_splits_documents(tmp_path):
    text = "a X O\n-DOCSTART- -X- -X- O\nb X O\n"
    sents = read_conll(_write(tmp_path, text))
    assert [s.words for s in sents] == [("a",), ("b",)]


def test_reads_tab_separated_and_other_columns(tmp_path):
    path = _write(tmp_path, "EU\tNNP\tI-ORG\nrejects\tVBZ\tO\n\n\n\n")
    sents = read_conll(path, tag_column=1)
    assert sents == [Sentence(("EU", "rejects"), ("NNP", "VBZ"), 1)]
    assert read_conll(path, word_column=-3, tag_column=-1)[0].tags == ("I-ORG", "O")
    assert read_conll(path, tag_column=None)[0].tags is None


def test_whitespace_only_lines_end_sentences_and_crlf(tmp_path):
    path = _write(tmp_path, "a X\r\n \t \r\nb Y\r\n\r\n   \r\n")
    sents = read_conll(path)
    assert [(s.words, s.tags) for s in sents] == [(("a",), ("X",)), (("b",), ("Y",))]


def test_reads_gzip(tmp_path):
    path = tmp_path / "data.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(CONLL)
    assert len(read_conll(path)) == 3


def test_wrong_column_count_names_line(tmp_path):
    path = _write(tmp_path, "a X O\nb O\n")
    with pytest.raises(DataError, match=r"data.txt:2: expected 3 columns, found 2") as info:
        read_conll(path)
    assert info.value.line == 2


def test_column_count_checked_across_sentences(tmp_path):
    path = _write(tmp_path, "a X O\n\nb X Y O\n")
    with pytest.raises(DataError, match=r":3: expected 3 columns, found 4"):
        read_conll(path)


def test_tag_column_out_of_range(tmp_path):
    path = _write(tmp_path, "\n\na X O\n")
    with pytest.raises(DataError, match=r":3: tag column 3 is out of range"):
        read_conll(path, tag_column=3)
    with pytest.raises(DataError, match=r":3: tag column -4 is out of range"):
        read_conll(path, tag_column=-4)


def test_bad_tag_in_scheme(tmp_path):
    path = _write(tmp_path, "a B-PER\nb E-PER\n")
    with pytest.raises(DataError, match=r"data.txt:2: tag 'E-PER' is not valid in the BIO scheme"):
        read_conll(path, scheme="BIO")
    assert read_conll(path, scheme="IOBES")[0].tags == ("B-PER", "E-PER")
    # No scheme: anything goes (POS tags are not validated).
    assert read_conll(path)[0].tags == ("B-PER", "E-PER")


@pytest.mark.parametrize("tag", ["X-FOO", "B-", "PER", "b-PER", "I-"])
def test_malformed_tags_rejected(tmp_path, tag):
    path = _write(tmp_path, f"a O\nb {tag}\n")
    with pytest.raises(DataError, match=r":2: tag .* is not valid in the IOB1 scheme"):
        read_conll(path, scheme="iob1")


def test_unknown_scheme_is_config_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown tag scheme"):
        read_conll(_write(tmp_path, "a O\n"), scheme="BILOU")


def test_invalid_utf8_names_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"a O\n\nb O\nc\xff\xfe O\n")
    with pytest.raises(DataError, match=r"bad.txt:4: invalid UTF-8") as info:
        read_conll(path)
    assert info.value.line == 4


def test_invalid_utf8_in_gzip_names_line(tmp_path):
    path = tmp_path / "bad.txt.gz"
    with gzip.open(path, "wb") as f:
        f.write(b"a O\n\xc3( O\n")
    with pytest.raises(DataError, match=r":2: invalid UTF-8"):
        read_conll(path)


def test_not_gzip(tmp_path):
    path = _write(tmp_path, "a O\n", name="plain.gz")
    with pytest.raises(DataError, match="not a valid gzip file"):
        read_conll(path)


@pytest.mark.parametrize("text", ["", "\n\n  \n", "-DOCSTART- -X- O O\n\n"])
def test_empty_file(tmp_path, text):
    with pytest.raises(DataError, match=r"data.txt: no sentences found") as info:
        read_conll(_write(tmp_path, text))
    assert info.value.line is None


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"nope.txt: file not found"):
        read_conll(tmp_path / "nope.txt")


def test_utf8_bom_is_dropped(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffÉté O\n".encode("utf-8"))
    assert read_conll(path)[0].words == ("Été",)


def test_write_then_read_round_trip(tmp_path):
    sents = [Sentence(("Müller", "kam"), ("I-PER", "O"), 0), (["a"], ["O"])]
    path = tmp_path / "out.conll"
    write_conll(path, sents)
    assert path.read_text(encoding="utf-8") == "Müller\tI-PER\nkam\tO\n\na\tO\n\n"
    back = read_conll(path, scheme="IOB1")
    assert [(s.words, s.tags) for s in back] == [(("Müller", "kam"), ("I-PER", "O")), (("a",), ("O",))]
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp")]


def test_write_rejects_unreadable_tokens(tmp_path):
    path = tmp_path / "out.conll"
    with pytest.raises(InputError, match="whitespace"):
        write_conll(path, [(["New York"], ["I-LOC"])])
    with pytest.raises(InputError, match="2 words but 1 tags"):
        write_conll(path, [(["a", "b"], ["O"])])
    assert not path.exists()
    assert not os.listdir(tmp_path)


def test_write_tokens_only_and_read_tokens_file(tmp_path):
    path = tmp_path / "tokens.txt"
    write_conll(path, [(["a", "b"], None), (["c"], None)])
    assert read_tokens_file(path) == [["a", "b"], ["c"]]


def test_read_tokens_file_takes_first_column(tmp_path):
    path = _write(tmp_path, "-DOCSTART- -X- O O\n\nEU NNP I-ORG\nrejects\n\n\nx y\n")
    assert read_tokens_file(path) == [["EU", "rejects"], ["x"]]
    with pytest.raises(DataError, match="no sentences found"):
        read_tokens_file(_write(tmp_path, "\n", name="empty.txt"))


def test_sentence_checks_lengths():
    with pytest.raises(InputError):
        Sentence(("a", "b"), ("O",), 0)
    s = Sentence(["a"], ["O"], 3)
    assert s.words == ("a",) and s.tags == ("O",) and len(s) == 1
