"""Tests for nlpseq.data.tfds_builders (local-file TFDS builders, offline)."""

import socket

import pytest

tfds = pytest.importorskip("tensorflow_datasets")

from nlpseq.data.tfds_builders import is_local_builder, register_local_dataset  # noqa: E402
from nlpseq.errors import ConfigError, DataError  # noqa: E402

TRAIN = "-DOCSTART- -X- O O\n\nEU NNP I-ORG\nrejects VBZ O\n\nPeter NNP I-PER\n\nBonn NNP I-LOC\n\n\n"
DEV = "a DT O\n\n"


def _no_network(*args, **kwargs):
    raise AssertionError("the local builder tried to open a network connection")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Registers one CoNLL and one CoNLL-U dataset and loads them with no network."""
    root = tmp_path_factory.mktemp("tfds")
    (root / "train.txt").write_text(TRAIN)
    (root / "dev.txt").write_text(DEV)
    row = "\t".join
    (root / "pos.conllu").write_text(
        "# sent_id = 1\n"
        + row(["1-2", "I'm", "_", "_", "_", "_", "_", "_", "_", "_"]) + "\n"
        + row(["1", "I", "I", "PRON", "PRP", "_", "0", "root", "_", "_"]) + "\n"
        + row(["2", "'m", "be", "AUX", "VBP", "_", "1", "cop", "_", "_"]) + "\n\n"
    )
    files = {"train": str(root / "train.txt"), "dev": str(root / "dev.txt")}
    cls = register_local_dataset("nlpseq_test_ner", files, scheme="IOB1")
    register_local_dataset(
        "nlpseq_test_pos", {"train": str(root / "pos.conllu")}, format="conllu", tag_field="xpos"
    )
    data_dir = root / "data"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket, "create_connection", _no_network)
        mp.setattr(socket.socket, "connect", _no_network)
        def load(name, split):
            return list(tfds.as_numpy(tfds.load(name, split=split, data_dir=str(data_dir))))

        loaded = {split: load("nlpseq_test_ner", split) for split in ("train", "dev")}
        loaded["pos"] = load("nlpseq_test_pos", "train")
    return root, files, cls, loaded


def test_load_offline_in_file_order_without_empty_examples(prepared):
    _, _, _, loaded = prepared
    train = [([t.decode() for t in ex["tokens"]], [t.decode() for t in ex["tags"]]) for ex in loaded["train"]]
    assert train == [(["EU", "rejects"], ["I-ORG", "O"]), (["Peter"], ["I-PER"]), (["Bonn"], ["I-LOC"])]
    assert [list(ex["tokens"]) for ex in loaded["dev"]] == [[b"a"]]


def test_conllu_builder_uses_tag_field(prepared):
    _, _, _, loaded = prepared
    assert [(list(ex["tokens"]), list(ex["tags"])) for ex in loaded["pos"]] == [
        ([b"I", b"'m"], [b"PRP", b"VBP"])
    ]


def test_builder_class_and_info(prepared):
    root, files, cls, _ = prepared
    assert issubclass(cls, tfds.core.GeneratorBasedBuilder) and is_local_builder(cls)
    assert str(cls.VERSION) == "1.0.0" and cls.pkg_dir_path is not None
    builder = tfds.builder("nlpseq_test_ner", data_dir=str(root / "data"))
    assert builder.is_prepared()
    assert set(builder.info.splits) == {"train", "dev"}
    assert builder.info.splits["train"].num_examples == 3
    assert set(builder.info.features) == {"tokens", "tags"}


def test_register_again_returns_same_class_or_refuses_changes(prepared):
    root, files, cls, _ = prepared
    assert register_local_dataset("nlpseq_test_ner", dict(files), scheme="iob1") is cls
    with pytest.raises(ConfigError, match="already registered"):
        register_local_dataset("nlpseq_test_ner", {"train": files["dev"]})


def test_register_rejects_bad_arguments(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("a O\n")
    with pytest.raises(ConfigError, match="TFDS already has"):
        register_local_dataset("conll2003", {"train": str(path)})
    with pytest.raises(ConfigError, match="snake_case"):
        register_local_dataset("My-Data", {"train": str(path)})
    with pytest.raises(ConfigError, match="split name"):
        register_local_dataset("nlpseq_test_bad_split", {"train-1": str(path)})
    with pytest.raises(ConfigError, match="format"):
        register_local_dataset("nlpseq_test_bad_format", {"train": str(path)}, format="csv")
    with pytest.raises(DataError, match="missing.txt: file not found"):
        register_local_dataset("nlpseq_test_missing", {"train": str(tmp_path / "missing.txt")})


def test_bad_file_fails_with_file_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("EU I-ORG\n\nPeter E-PER\n")
    register_local_dataset("nlpseq_test_bad_tag", {"train": str(path)}, scheme="BIO")
    with pytest.raises(DataError, match=r"bad.txt:3: tag 'E-PER' is not valid in the BIO scheme"):
        tfds.load("nlpseq_test_bad_tag", split="train", data_dir=str(tmp_path / "data"))
