"""Tests for nlpseq.readers.schemes (IOB1 / BIO / IOBES)."""

import itertools

import pytest

from nlpseq.errors import ConfigError
from nlpseq.readers import SCHEMES, convert_tags, normalize_scheme, tags_to_spans, validate_tag

# CoNLL-2003 style (IOB1), with two touching PER entities that IOB1 marks with B-.
IOB1 = ["I-PER", "I-PER", "B-PER", "O", "I-ORG", "I-LOC", "I-LOC", "O", "I-MISC"]
BIO = ["B-PER", "I-PER", "B-PER", "O", "B-ORG", "B-LOC", "I-LOC", "O", "B-MISC"]
IOBES = ["B-PER", "E-PER", "S-PER", "O", "S-ORG", "B-LOC", "E-LOC", "O", "S-MISC"]
SPANS = [("PER", 0, 2), ("PER", 2, 3), ("ORG", 4, 5), ("LOC", 5, 7), ("MISC", 8, 9)]
BY_SCHEME = {"IOB1": IOB1, "BIO": BIO, "IOBES": IOBES}


def test_scheme_names():
    assert SCHEMES == ("IOB1", "BIO", "IOBES")
    assert normalize_scheme("iob2") == "BIO"
    assert normalize_scheme("Iobes") == "IOBES"
    with pytest.raises(ConfigError, match="unknown tag scheme 'BILOU'"):
        normalize_scheme("BILOU")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_spans(scheme):
    assert tags_to_spans(BY_SCHEME[scheme], scheme) == SPANS


@pytest.mark.parametrize("source,target", list(itertools.product(SCHEMES, SCHEMES)))
def test_all_nine_conversions(source, target):
    assert convert_tags(BY_SCHEME[source], source, target) == BY_SCHEME[target]


def test_round_trip_iob1_bio_iobes_bio_iob1():
    bio = convert_tags(IOB1, "IOB1", "BIO")
    iobes = convert_tags(bio, "BIO", "IOBES")
    back = convert_tags(convert_tags(iobes, "IOBES", "BIO"), "BIO", "IOB1")
    assert (bio, iobes, back) == (BIO, IOBES, IOB1)


def test_adjacent_entities_of_different_types_need_no_b_in_iob1():
    assert convert_tags(["B-PER", "B-LOC"], "BIO", "IOB1") == ["I-PER", "I-LOC"]
    assert convert_tags(["B-PER", "B-PER"], "BIO", "IOB1") == ["I-PER", "B-PER"]


def test_ill_formed_sequences_read_like_conlleval():
    # I- after O or after another type starts an entity.
    assert tags_to_spans(["O", "I-PER", "I-LOC", "I-LOC"], "BIO") == [("PER", 1, 2), ("LOC", 2, 4)]
    assert convert_tags(["O", "I-PER", "I-LOC"], "BIO", "BIO") == ["O", "B-PER", "B-LOC"]
    # In IOBES, I- after E- or S- starts an entity, and an unclosed B- runs to its end.
    assert tags_to_spans(["S-PER", "I-PER", "E-PER", "B-ORG", "I-ORG"], "IOBES") == [
        ("PER", 0, 1),
        ("PER", 1, 3),
        ("ORG", 3, 5),
    ]
    assert convert_tags(["E-PER", "E-PER"], "IOBES", "IOBES") == ["S-PER", "S-PER"]


def test_types_with_hyphens_and_empty():
    assert tags_to_spans(["B-GPE-LOC", "I-GPE-LOC"]) == [("GPE-LOC", 0, 2)]
    assert tags_to_spans([]) == [] and convert_tags([], "IOB1", "IOBES") == []
    assert tags_to_spans(["O", "O"]) == []


@pytest.mark.parametrize(
    "tag,scheme",
    [("E-PER", "BIO"), ("S-PER", "IOB1"), ("X-FOO", "IOBES"), ("B-", "BIO"), ("PER", "BIO"), ("", "BIO")],
)
def test_validate_tag_rejects(tag, scheme):
    with pytest.raises(ValueError, match=f"tag {tag!r} is not valid in the {scheme} scheme"):
        validate_tag(tag, scheme)


def test_validate_tag_accepts_and_spans_validate():
    for tag in ("O", "B-PER", "I-MISC"):
        validate_tag(tag, "IOB2")
    validate_tag("S-LOC", "IOBES")
    with pytest.raises(ValueError):
        tags_to_spans(["B-PER", "E-PER"], "BIO")
