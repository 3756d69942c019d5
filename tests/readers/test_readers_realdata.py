"""Real-data checks of the readers against the counts in ../shared/data/README.md (opt in: -m realdata)."""

from pathlib import Path

import pytest

from nlpseq.readers import convert_tags, read_conll, read_conllu

DATA = Path(__file__).parents[2].parent / "shared" / "data"


@pytest.mark.realdata
def test_conll2003_and_ewt_counts():
    if not DATA.is_dir():
        pytest.skip(f"{DATA} is absent")
    expected = {"eng.train": (14041, 203621), "eng.testa": (3250, 51362), "eng.testb": (3453, 46435)}
    for name, (n_sents, n_tokens) in expected.items():
        sents = read_conll(DATA / "conll2003" / name, scheme="IOB1")
        assert (len(sents), sum(len(s) for s in sents)) == (n_sents, n_tokens), name
        assert {t for s in sents for t in s.tags} <= {
            "O", "I-PER", "I-ORG", "I-LOC", "I-MISC", "B-ORG", "B-LOC", "B-MISC"
        }
        for s in sents[:500]:
            assert convert_tags(convert_tags(s.tags, "IOB1", "BIO"), "BIO", "IOB1") == list(s.tags)

    expected = {"train": (12544, 204577), "dev": (2001, 25147), "test": (2077, 25094)}
    for split, (n_sents, n_words) in expected.items():
        sents = read_conllu(DATA / "ud_english_ewt" / f"en_ewt-ud-{split}.conllu")
        assert (len(sents), sum(len(s) for s in sents)) == (n_sents, n_words), split
        assert len({t for s in sents for t in s.tags}) == 17
