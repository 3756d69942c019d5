"""Tests for nlpseq.data.sources (file paths and tfds:NAME[:SPLIT] specs)."""

import socket
import time
from pathlib import Path

import pytest

from nlpseq.data import sources
from nlpseq.data.sources import load_sentences, parse_tfds_spec
from nlpseq.errors import ConfigError, DataError, NlpseqError
from nlpseq.readers import Sentence


def test_file_specs(tmp_path):
    conll = tmp_path / "t.txt"
    conll.write_text("EU NNP I-ORG\nsays VBZ O\n")
    assert load_sentences(str(conll), scheme="IOB1") == [Sentence(("EU", "says"), ("I-ORG", "O"), 1)]
    assert load_sentences(conll, tag_column=1)[0].tags == ("NNP", "VBZ")
    conllu = tmp_path / "t.conllu"
    conllu.write_text("1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n")
    assert load_sentences(conllu, format="conllu", tag_field="xpos")[0].tags == ("UH",)
    with pytest.raises(ConfigError, match="format"):
        load_sentences(conll, format="json")
    with pytest.raises(DataError, match="file not found"):
        load_sentences(tmp_path / "nope.txt")


def test_parse_tfds_spec():
    assert parse_tfds_spec("tfds:conll2003") == ("conll2003", "train", None)
    assert parse_tfds_spec("tfds:conll2003:dev") == ("conll2003", "dev", None)
    assert parse_tfds_spec("tfds:conll2003:train[:10]#pos") == ("conll2003", "train[:10]", "pos")
    with pytest.raises(ConfigError):
        parse_tfds_spec("tfds::train")


def test_network_check_is_quick_and_honest():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        assert sources._network_reachable("127.0.0.1", port, timeout=1.0)
    finally:
        server.close()
    start = time.monotonic()
    assert not sources._network_reachable("127.0.0.1", port, timeout=1.0)
    assert time.monotonic() - start < 2


def test_unprepared_tfds_dataset_fails_fast_offline(tmp_path, monkeypatch):
    pytest.importorskip("tensorflow_datasets")
    monkeypatch.setattr(sources, "_network_reachable", lambda *a, **k: False)
    start = time.monotonic()
    with pytest.raises(NlpseqError) as info:
        load_sentences("tfds:conll2003:train", data_dir=str(tmp_path))
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert message.startswith(f"tfds:conll2003:train is not prepared in {tmp_path}")
    assert "network is unreachable" in message
    assert not (Path(tmp_path) / "downloads").exists()


def test_unknown_tfds_dataset(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    with pytest.raises(NlpseqError, match="unknown TFDS dataset"):
        load_sentences("tfds:no_such_dataset_xyz", data_dir=str(tmp_path))


def test_local_builder_through_tfds_spec(tmp_path, monkeypatch):
    pytest.importorskip("tensorflow_datasets")
    from nlpseq.data.tfds_builders import register_local_dataset

    # A local builder needs no network, so the check must not even be asked.
    monkeypatch.setattr(sources, "_network_reachable", lambda *a, **k: pytest.fail("network checked"))
    (tmp_path / "train.txt").write_text("EU I-ORG\nsays O\n\nBonn S-LOC\n\n")
    (tmp_path / "test.txt").write_text("x O\n")
    files = {"train": str(tmp_path / "train.txt"), "test": str(tmp_path / "test.txt")}
    register_local_dataset("nlpseq_test_sources", files)
    data_dir = str(tmp_path / "data")
    train = load_sentences("tfds:nlpseq_test_sources", data_dir=data_dir, scheme="IOBES")
    assert train == [
        Sentence(("EU", "says"), ("I-ORG", "O"), 0),
        Sentence(("Bonn",), ("S-LOC",), 0),
    ]
    assert load_sentences("tfds:nlpseq_test_sources:test", data_dir=data_dir)[0].words == ("x",)
    assert len(load_sentences("tfds:nlpseq_test_sources:train[:1]", data_dir=data_dir)) == 1
    with pytest.raises(NlpseqError, match="no split 'dev'"):
        load_sentences("tfds:nlpseq_test_sources:dev", data_dir=data_dir)
    with pytest.raises(DataError, match="example 1: tag 'S-LOC' is not valid in the BIO scheme"):
        load_sentences("tfds:nlpseq_test_sources", data_dir=data_dir, scheme="BIO")
    with pytest.raises(NlpseqError, match="tag feature"):
        load_sentences("tfds:nlpseq_test_sources#ner", data_dir=data_dir)


def test_classlabel_tags_are_mapped_to_names(tmp_path, monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")
    # Not one of our local builders, so the network is checked; it needs no download.
    monkeypatch.setattr(sources, "_network_reachable", lambda *a, **k: True)

    class NlpseqTestClasslabel(tfds.core.GeneratorBasedBuilder):
        """A TFDS-style NER builder with ClassLabel tags, like tfds conll2003."""

        VERSION = tfds.core.Version("1.0.0")
        pkg_dir_path = tmp_path

        def _info(self):
            return tfds.core.DatasetInfo(
                builder=self,
                features=tfds.features.FeaturesDict(
                    {
                        "tokens": tfds.features.Sequence(tfds.features.Text()),
                        "pos": tfds.features.Sequence(tfds.features.ClassLabel(names=["NN", "VB"])),
                        "ner": tfds.features.Sequence(tfds.features.ClassLabel(names=["O", "B-PER"])),
                    }
                ),
                disable_shuffling=True,
            )

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples()}

        def _generate_examples(self):
            yield 0, {"tokens": ["Ann", "runs"], "pos": ["NN", "VB"], "ner": ["B-PER", "O"]}

    data_dir = str(tmp_path / "data")
    sents = load_sentences("tfds:nlpseq_test_classlabel", data_dir=data_dir, scheme="BIO")
    assert sents == [Sentence(("Ann", "runs"), ("B-PER", "O"), 0)]
    assert load_sentences("tfds:nlpseq_test_classlabel#pos", data_dir=data_dir)[0].tags == ("NN", "VB")
    assert NlpseqTestClasslabel.name == "nlpseq_test_classlabel"
