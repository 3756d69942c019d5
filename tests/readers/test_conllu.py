"""Tests for nlpseq.readers.conllu (CoNLL-U files)."""

import gzip

import pytest

from nlpseq.errors import ConfigError, DataError
from nlpseq.readers import read_conllu


def _row(*cols):
    return "\t".join(cols) + "\n"


CONLLU = (
    "# newdoc id = d1\n"
    "# sent_id = s1\n"
    "# text = I'm here\n"
    + _row("1-2", "I'm", "_", "_", "_", "_", "_", "_", "_", "_")
    + _row("1", "I", "I", "PRON", "PRP", "_", "3", "nsubj", "_", "_")
    + _row("2", "'m", "be", "AUX", "VBP", "_", "3", "cop", "_", "_")
    + _row("3", "here", "here", "ADV", "RB", "_", "0", "root", "_", "_")
    + _row("3.1", "is", "be", "AUX", "VBZ", "_", "_", "_", "3:x", "_")
    + "\n"
    + "# sent_id = s2\n"
    + _row("1", "New York", "New York", "PROPN", "NNP", "_", "0", "root", "_", "_")
    + "\n\n"
)


def _write(tmp_path, text, name="data.conllu"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_upos_skipping_comments_ranges_and_empty_nodes(tmp_path):
    sents = read_conllu(_write(tmp_path, CONLLU))
    assert [s.words for s in sents] == [("I", "'m", "here"), ("New York",)]
    assert [s.tags for s in sents] == [("PRON", "AUX", "ADV"), ("PROPN",)]
    assert [s.line for s in sents] == [5, 11]


def test_reads_xpos(tmp_path):
    sents = read_conllu(_write(tmp_path, CONLLU), tag_field="xpos")
    assert [s.tags for s in sents] == [("PRP", "VBP", "RB"), ("NNP",)]


def test_bad_tag_field(tmp_path):
    with pytest.raises(ConfigError, match="tag_field"):
        read_conllu(_write(tmp_path, CONLLU), tag_field="lemma")


def test_reads_gzip(tmp_path):
    path = tmp_path / "data.conllu.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(CONLLU)
    assert len(read_conllu(path)) == 2


def test_wrong_column_count_names_line(tmp_path):
    text = CONLLU.replace("here\there\tADV", "here here\tADV")
    with pytest.raises(DataError, match=r"data.conllu:7: expected 10 tab-separated columns, found 9"):
        read_conllu(_write(tmp_path, text))


def test_space_separated_is_rejected(tmp_path):
    with pytest.raises(DataError, match=r":1: expected 10 tab-separated columns, found 1"):
        read_conllu(_write(tmp_path, "1 a a X X _ 0 root _ _\n"))


def test_invalid_utf8_names_line(tmp_path):
    path = tmp_path / "bad.conllu"
    path.write_bytes(CONLLU.encode("utf-8").replace(b"here\there", b"h\xe9re\there"))
    with pytest.raises(DataError, match=r"bad.conllu:7: invalid UTF-8"):
        read_conllu(path)


def test_empty_and_missing(tmp_path):
    with pytest.raises(DataError, match="no sentences found"):
        read_conllu(_write(tmp_path, "# only a comment\n\n"))
    with pytest.raises(DataError, match="file not found"):
        read_conllu(tmp_path / "missing.conllu")
