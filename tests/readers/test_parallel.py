"""Tests for nlpseq.readers.parallel (line-aligned translation files)."""

import gzip
from pathlib import Path

import pytest

from nlpseq.errors import DataError, InputError
from nlpseq.readers import filter_pairs_by_length, read_parallel

DATA = Path(__file__).parents[2].parent / "shared" / "data" / "multi30k"


def _write(path, lines, *, raw=None):
    """Writes lines (one per line, newline-terminated) to a plain or .gz file."""
    data = raw if raw is not None else "".join(f"{line}\n" for line in lines).encode("utf-8")
    if path.name.endswith(".gz"):
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


def _pair_files(tmp_path, en, de, suffix=".gz"):
    return _write(tmp_path / f"train.en{suffix}", en), _write(tmp_path / f"train.de{suffix}", de)


def test_reads_aligned_gzip_pairs_stripped(tmp_path):
    en, de = _pair_files(tmp_path, ["  A man is running.\t", "Two dogs."], [" Ein Mann rennt.", "Zwei Hunde. \r"])
    assert read_parallel(en, de) == [("A man is running.", "Ein Mann rennt."), ("Two dogs.", "Zwei Hunde.")]


def test_reads_plain_files_and_mixed_compression(tmp_path):
    en = _write(tmp_path / "a.en", ["Hello world", "Good night"])
    de = _write(tmp_path / "a.de.gz", ["Hallo Welt", "Gute Nacht"])
    assert read_parallel(en, de) == [("Hello world", "Hallo Welt"), ("Good night", "Gute Nacht")]


def test_keeps_non_ascii_text(tmp_path):
    en, de = _pair_files(tmp_path, ["A café"], ["Ein Café mit Größe"])
    assert read_parallel(en, de) == [("A café", "Ein Café mit Größe")]


def test_shorter_target_is_named_with_both_counts(tmp_path):
    en, de = _pair_files(tmp_path, [f"s{i}" for i in range(1001)], [f"t{i}" for i in range(1000)])
    with pytest.raises(DataError) as info:
        read_parallel(en, de)
    assert str(info.value) == f"{de}:1001: no line here, but train.en.gz has 1,001 lines (train.de.gz has 1,000)"
    assert (info.value.path, info.value.line) == (str(de), 1001)


def test_shorter_source_is_named(tmp_path):
    en, de = _pair_files(tmp_path, ["a"], ["x", "y", "z"])
    with pytest.raises(DataError, match=r"train\.en\.gz:2: no line here, but train\.de\.gz has 3 lines "
                                        r"\(train\.en\.gz has 1\)$"):
        read_parallel(en, de)


@pytest.mark.parametrize("side", ["source", "target"])
@pytest.mark.parametrize("blank", ["", "   \t"])
def test_blank_line_names_its_file_and_line(tmp_path, side, blank):
    en_lines, de_lines = ["a", "b", "c"], ["x", "y", "z"]
    (en_lines if side == "source" else de_lines)[1] = blank
    en, de = _pair_files(tmp_path, en_lines, de_lines)
    bad = en if side == "source" else de
    with pytest.raises(DataError) as info:
        read_parallel(en, de)
    assert str(info.value).startswith(f"{bad}:2: empty line")
    assert "\n" not in str(info.value)


def test_blank_line_is_reported_before_the_length_mismatch_it_causes(tmp_path):
    # An extra blank line shifts every later pair; its line is the useful location.
    en, de = _pair_files(tmp_path, ["a", "", "b", "c"], ["x", "y", "z"])
    with pytest.raises(DataError, match=r"train\.en\.gz:2: empty line"):
        read_parallel(en, de)


def test_bad_utf8_is_located(tmp_path):
    en = _write(tmp_path / "x.en", None, raw=b"fine\nbad \xff byte\n")
    de = _write(tmp_path / "x.de", ["gut", "schlecht"])
    with pytest.raises(DataError, match=r"x\.en:2: invalid UTF-8 \(byte 0xff at column 5\)"):
        read_parallel(en, de)


def test_missing_file_is_named(tmp_path):
    en = _write(tmp_path / "x.en", ["a"])
    with pytest.raises(DataError, match=r"nope\.de: file not found"):
        read_parallel(en, tmp_path / "nope.de")


@pytest.mark.parametrize("empty_side", ["source", "target"])
def test_file_with_no_lines(tmp_path, empty_side):
    en = _write(tmp_path / "x.en", [] if empty_side == "source" else ["a"])
    de = _write(tmp_path / "x.de", [] if empty_side == "target" else ["x"])
    bad = en if empty_side == "source" else de
    with pytest.raises(DataError) as info:
        read_parallel(en, de)
    assert str(info.value).startswith(f"{bad}: no lines found")
    assert info.value.line is None


PAIRS = [("a b c", "x y"), ("a", "x y z w"), ("a b c d e", "x"), ("a b", "x y")]


def test_filter_by_word_length_keeps_order_and_counts_drops():
    kept, dropped = filter_pairs_by_length(PAIRS, 3, 3)
    assert kept == [("a b c", "x y"), ("a b", "x y")]
    assert dropped == 2


def test_filter_limits_are_inclusive_and_independent():
    assert filter_pairs_by_length(PAIRS, 5, None) == (PAIRS, 0)
    assert filter_pairs_by_length(PAIRS, None, 2) == ([p for p in PAIRS if p[1] != "x y z w"], 1)
    assert filter_pairs_by_length(PAIRS, 4, None) == ([p for p in PAIRS if p[0] != "a b c d e"], 1)
    assert filter_pairs_by_length(PAIRS, None, None) == (PAIRS, 0)


def test_filter_uses_the_given_length_function():
    kept, dropped = filter_pairs_by_length(PAIRS, 2, None, length=len)  # characters, not words
    assert kept == [("a", "x y z w")]
    assert dropped == 3


@pytest.mark.parametrize("limit", [0, -1, 2.5, "3", True])
def test_filter_rejects_bad_limits(limit):
    with pytest.raises(InputError, match="max_target_length"):
        filter_pairs_by_length(PAIRS, None, limit)


@pytest.mark.realdata
def test_multi30k_train_has_29000_pairs():
    if not DATA.is_dir():
        pytest.skip(f"{DATA} is absent")
    pairs = read_parallel(DATA / "train.en.gz", DATA / "train.de.gz")
    assert len(pairs) == 29000
    assert sum(len(en.split()) for en, _ in pairs) == 345020
    assert sum(len(de.split()) for _, de in pairs) == 322383
