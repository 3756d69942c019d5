"""nlpseq.atomic_files: a failed write keeps the old file whole and leaves no temporary file."""

import pytest

from nlpseq import atomic_files


def test_write_text_replaces_content_and_keeps_line_endings(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old\n", encoding="utf-8")
    atomic_files.write_text(path, "Müller\r\nkam\n")
    assert path.read_bytes() == "Müller\r\nkam\n".encode("utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_write_bytes(tmp_path):
    atomic_files.write_bytes(tmp_path / "model.bin", b"\x00\xff")
    assert (tmp_path / "model.bin").read_bytes() == b"\x00\xff"


def test_failed_write_keeps_old_content_and_removes_temporary(tmp_path):
    path = tmp_path / "best.weights.h5"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_files.atomic_path(path) as tmp:
            # The temporary keeps the suffix that Keras and numpy check.
            assert tmp.name.endswith(".weights.h5") and tmp.parent == tmp_path
            tmp.write_bytes(b"half")
            raise RuntimeError("disk full")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["best.weights.h5"]


def test_text_that_cannot_be_encoded_changes_nothing(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old", encoding="utf-8")
    with pytest.raises(UnicodeEncodeError):
        atomic_files.write_text(path, "half \udc80")  # a lone surrogate has no UTF-8 form
    assert path.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
