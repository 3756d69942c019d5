"""TFDS builders for a user's own CoNLL / CoNLL-U files, usable offline.

`register_local_dataset` defines a `tfds.core.GeneratorBasedBuilder` whose splits
are local files read by `nlpseq.readers`, so `tfds.load(name, data_dir=...)`
prepares and loads them with no network, and a malformed file fails with its
file and line. TensorFlow Datasets is imported on first use only.
"""

from __future__ import annotations

import os
import re
import threading

from nlpseq.errors import ConfigError, DataError

_FORMATS = ("conll", "conllu")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_SPLIT_RE = re.compile(r"^[A-Za-z0-9_]+$")
_VERSION = "1.0.0"

# name -> (builder class, the settings it was built with)
_REGISTERED: dict[str, tuple[type, tuple]] = {}
_LOCK = threading.Lock()


def _read(path, settings):
    from nlpseq.readers import read_conll, read_conllu

    if settings["format"] == "conllu":
        return read_conllu(path, tag_field=settings["tag_field"])
    return read_conll(path, tag_column=settings["tag_column"], scheme=settings["scheme"])


def register_local_dataset(
    name, files, *, format="conll", tag_column=-1, tag_field="upos", scheme=None
):
    """Defines a TFDS builder over local files, or returns the one already defined.

    The builder has the features `tokens` and `tags` (both `Sequence(Text)`), one
    split per key of `files`, and version 1.0.0. Examples are produced by our
    readers, so no empty example comes from a trailing blank line and errors keep
    the file and line. The prepared data is cached under `data_dir` like any TFDS
    dataset: after changing a file, prepare into a fresh `data_dir` (or delete
    `<data_dir>/<name>`).

    Args:
        name: the dataset name for `tfds.load` (snake_case: `[a-z][a-z0-9_]*`),
            which must not be a built-in TFDS dataset.
        files: split name -> file path, e.g. `{"train": "train.txt", "dev": "dev.txt"}`.
        format: "conll" or "conllu".
        tag_column: the tag column of a CoNLL file (default: the last).
        tag_field: "upos" or "xpos" for CoNLL-U.
        scheme: validate entity tags against "IOB1", "BIO" or "IOBES" (CoNLL only).

    Returns:
        The builder class (registered with TFDS under `name`).

    Raises:
        ConfigError: a bad name, split, format or field, or `name` already
            registered with other settings or by TFDS itself.
        DataError: a file does not exist.

    Example:
        >>> from nlpseq.data.tfds_builders import register_local_dataset
        >>> register_local_dataset("my_ner", {"train": "train.txt"}, scheme="IOB1")
        >>> ds = tfds.load("my_ner", split="train", data_dir="/tmp/tfds")
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ConfigError(f"dataset name {name!r} must be snake_case ([a-z][a-z0-9_]*)")
    if format not in _FORMATS:
        raise ConfigError(f"format must be one of {', '.join(_FORMATS)}, not {format!r}")
    if tag_field not in ("upos", "xpos"):
        raise ConfigError(f"tag_field must be 'upos' or 'xpos', not {tag_field!r}")
    if not isinstance(tag_column, int):
        raise ConfigError(f"tag_column must be an integer, not {tag_column!r}")
    if scheme is not None:
        from nlpseq.readers.schemes import normalize_scheme

        scheme = normalize_scheme(scheme)
    if not files:
        raise ConfigError(f"dataset {name!r} needs at least one split file")
    resolved = {}
    for split, path in files.items():
        if not isinstance(split, str) or not _SPLIT_RE.match(split):
            raise ConfigError(f"split name {split!r} must be letters, digits or '_'")
        if not os.path.isfile(path):
            raise DataError(path, None, "file not found")
        resolved[split] = os.path.abspath(os.fspath(path))
    settings = {"format": format, "tag_column": tag_column, "tag_field": tag_field, "scheme": scheme}
    key = (tuple(sorted(resolved.items())), tuple(sorted(settings.items(), key=lambda kv: kv[0])))

    with _LOCK:
        if name in _REGISTERED:
            cls, old_key = _REGISTERED[name]
            if old_key != key:
                raise ConfigError(
                    f"dataset {name!r} is already registered with other files or settings; "
                    "use another name"
                )
            return cls
        cls = _define_builder(name, resolved, settings)
        _REGISTERED[name] = (cls, key)
        return cls


def _define_builder(name, files, settings):
    import tensorflow_datasets as tfds
    from etils import epath

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description=f"Local {settings['format']} files: "
            + ", ".join(f"{s}={p}" for s, p in sorted(files.items())),
            features=tfds.features.FeaturesDict(
                {
                    "tokens": tfds.features.Sequence(tfds.features.Text()),
                    "tags": tfds.features.Sequence(tfds.features.Text()),
                }
            ),
            supervised_keys=("tokens", "tags"),
            # Keep file order, so predictions line up with the source file.
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # the files are local: nothing to download
        return {split: self._generate_examples(path) for split, path in files.items()}

    def _generate_examples(self, path):
        for i, sent in enumerate(_read(path, settings)):
            yield i, {"tokens": list(sent.words), "tags": list(sent.tags)}

    # Defining a class with a TFDS dataset's name would silently shadow it.
    if name in tfds.list_builders(with_community_datasets=False):
        raise ConfigError(f"cannot register dataset {name!r}: TFDS already has a dataset of that name")

    namespace = {
        "__module__": __name__,
        "__doc__": f"Local dataset {name!r} over {sorted(files)} (defined by nlpseq).",
        "name": name,
        "VERSION": tfds.core.Version(_VERSION),
        "RELEASE_NOTES": {_VERSION: "Local files."},
        # A builder defined outside a dataset package must be told where its
        # metadata lives, or TFDS guesses a directory from the module path.
        "pkg_dir_path": epath.Path(os.path.dirname(os.path.abspath(__file__))),
        "nlpseq_local_files": dict(files),
        "_info": _info,
        "_split_generators": _split_generators,
        "_generate_examples": _generate_examples,
    }
    try:
        return type(name, (tfds.core.GeneratorBasedBuilder,), namespace)
    except ValueError as e:  # TFDS refuses a name it already knows (e.g. "conll2003")
        raise ConfigError(f"cannot register dataset {name!r}: {e}") from None


def is_local_builder(builder_or_cls) -> bool:
    """Returns True for a builder (class or instance) made by `register_local_dataset`."""
    return getattr(builder_or_cls, "nlpseq_local_files", None) is not None
