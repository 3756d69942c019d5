import pytest

from nlpseq.errors import ConfigError
from nlpseq.training.config import get, parse_override, resolve_config


def test_defaults_yaml_and_overrides_layer_in_order(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("task: ner\nencoder: {units: 32}\ntraining: {epochs: 7}\n")
    config = resolve_config("ner", path, ["training.epochs=3", "head.type=softmax", "data.scheme=null"])
    assert config["encoder"]["units"] == 32  # from YAML
    assert config["training"]["epochs"] == 3  # override beats YAML
    assert config["head"]["type"] == "softmax"
    assert config["data"]["scheme"] is None
    assert config["encoder"]["cell"] == "lstm"  # default kept
    assert get(config, "features.word.dim") == 100


def test_yaml_files_read_exponent_floats(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("task: ner\ntraining:\n  learning_rate: 5e-4\n", encoding="utf-8")
    assert resolve_config("ner", path)["training"]["learning_rate"] == 5e-4


def test_unknown_keys_are_errors(tmp_path):
    with pytest.raises(ConfigError, match="encoder.unit"):
        resolve_config("ner", None, ["encoder.unit=3"])
    path = tmp_path / "c.yaml"
    path.write_text("trainig: {epochs: 1}\n")
    with pytest.raises(ConfigError, match="trainig"):
        resolve_config("ner", path)


def test_bad_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("task: ner\nencoder: {units: [\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:\d+"):
        resolve_config("ner", path)


def test_override_values_are_typed():
    assert parse_override("a.b=0.5") == {"a": {"b": 0.5}}
    assert parse_override("a=true") == {"a": True}
    assert parse_override("a=[1, 2]") == {"a": [1, 2]}
    # Exponent floats without a dot are strings in YAML 1.1; configs read them as numbers.
    assert parse_override("training.learning_rate=1e-4") == {"training": {"learning_rate": 1e-4}}
    assert parse_override("a=2E+3") == {"a": 2000.0} and parse_override("a=e5") == {"a": "e5"}
    with pytest.raises(ConfigError):
        parse_override("no_equals_sign")


def test_task_mismatch_and_unknown_task(tmp_path):
    with pytest.raises(ConfigError, match="unknown task"):
        resolve_config("chunking")
    path = tmp_path / "c.yaml"
    path.write_text("task: pos\n")
    with pytest.raises(ConfigError, match="task 'pos'"):
        resolve_config("ner", path)


def test_a_split_can_list_several_files(ner_files):
    from nlpseq.training.tagging import read_split

    config = resolve_config("ner", None, [f"data.train=[{ner_files['train']}, {ner_files['dev']}]",
                                          "data.scheme=IOB1"])
    both = read_split(config, "train")
    assert len(both) == 100  # 80 + 20 sentences
    assert all(t == "O" or t[:2] in ("B-", "I-", "E-", "S-") for _, tags in both for t in tags)  # IOBES
