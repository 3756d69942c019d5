"""Dataset specs: a local file path, or `tfds:NAME[:SPLIT]` for TensorFlow Datasets.

`load_sentences("data/train.txt")` reads a file with `nlpseq.readers`;
`load_sentences("tfds:conll2003:dev")` loads a TFDS dataset. A TFDS dataset that
is not prepared yet and cannot be downloaded (no network) fails at once, instead
of retrying downloads for minutes.
"""

from __future__ import annotations

import os
import socket
import threading

from nlpseq.errors import ConfigError, DataError, NlpseqError

TFDS_PREFIX = "tfds:"
_TAG_KEYS = ("tags", "ner", "pos")


def _network_reachable(host="storage.googleapis.com", port=443, timeout=3.0) -> bool:
    """Returns whether a TCP connection to `host:port` opens within `timeout` seconds."""
    result = []

    def _try():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    # A daemon thread bounds the DNS lookup too, which the socket timeout does not cover.
    thread = threading.Thread(target=_try, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(result and result[0])


def parse_tfds_spec(spec: str) -> tuple[str, str, str | None]:
    """Splits `tfds:NAME[:SPLIT][#KEY]` into (name, split, key).

    NAME may hold a config (`name/config`); SPLIT defaults to "train" and may use
    the TFDS slicing syntax (`train[:100]`); KEY picks the tag feature.

    Raises:
        ConfigError: the spec has no dataset name.
    """
    body = spec[len(TFDS_PREFIX):]
    body, _, key = body.partition("#")
    name, _, split = body.partition(":")
    name, split, key = name.strip(), split.strip() or "train", key.strip() or None
    if not name:
        raise ConfigError(f"dataset spec {spec!r} has no TFDS dataset name (tfds:NAME[:SPLIT])")
    return name, split, key


def load_sentences(
    spec, *, format="conll", tag_column=-1, tag_field="upos", scheme=None, data_dir=None
):
    """Loads the sentences of a dataset spec: a file path or `tfds:NAME[:SPLIT][#KEY]`.

    Args:
        spec: a CoNLL / CoNLL-U file path, or `tfds:NAME[:SPLIT]` (split "train" by
            default; `#KEY` names the tag feature, otherwise `tags`, `ner` or `pos`).
        format: "conll" or "conllu", for a file path.
        tag_column: the tag column of a CoNLL file.
        tag_field: "upos" or "xpos" for CoNLL-U.
        scheme: an entity scheme ("IOB1", "BIO", "IOBES") to validate tags with.
        data_dir: the TFDS data directory (default: TFDS's own).

    Returns:
        A list of `nlpseq.readers.Sentence` (line 0 for TFDS examples).

    Raises:
        DataError: a bad file, or a tag outside `scheme`.
        ConfigError: a bad format or spec.
        NlpseqError: a TFDS dataset that is unknown, has no tag feature, or is not
            prepared while the network is unreachable.

    Example:
        >>> from nlpseq.data.sources import load_sentences
        >>> train = load_sentences("tfds:conll2003:train")
    """
    spec = os.fspath(spec)
    if spec.startswith(TFDS_PREFIX):
        return _load_tfds(spec, scheme=scheme, data_dir=data_dir)
    from nlpseq.readers import read_conll, read_conllu

    if format == "conll":
        return read_conll(spec, tag_column=tag_column, scheme=scheme)
    if format == "conllu":
        if scheme is not None:
            raise ConfigError("a tag scheme applies to entity tags, not CoNLL-U POS tags")
        return read_conllu(spec, tag_field=tag_field)
    raise ConfigError(f"format must be 'conll' or 'conllu', not {format!r}")


def _load_tfds(spec, *, scheme, data_dir):
    name, split, key = parse_tfds_spec(spec)
    import tensorflow_datasets as tfds

    from nlpseq.data.tfds_builders import is_local_builder
    from nlpseq.readers.schemes import _split_tag, normalize_scheme
    from nlpseq.readers.sentence import Sentence

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except (tfds.core.registered.DatasetNotFoundError, ValueError) as e:
        raise NlpseqError(f"{spec}: unknown TFDS dataset ({str(e).splitlines()[0]})") from None
    if not builder.is_prepared():
        if not is_local_builder(builder) and not _network_reachable():
            raise NlpseqError(
                f"{spec.split('#')[0]} is not prepared in {builder.data_dir_root} and the network "
                "is unreachable; prepare it online first or pass a local file"
            )
        builder.download_and_prepare()
    if split.split("[")[0] not in builder.info.splits:
        raise NlpseqError(
            f"{spec}: no split {split!r}; the dataset has {', '.join(sorted(builder.info.splits))}"
        )

    features = builder.info.features
    keys = (key,) if key else _TAG_KEYS
    tag_key = next((k for k in keys if k in features), None)
    if tag_key is None or "tokens" not in features:
        raise NlpseqError(
            f"{spec}: need a 'tokens' feature and a tag feature ({'/'.join(keys)}); "
            f"the dataset has {', '.join(sorted(features))}"
        )
    tag_feature = features[tag_key]
    names = None
    inner = getattr(tag_feature, "feature", None)
    if isinstance(inner, tfds.features.ClassLabel):
        names = inner.names

    scheme = normalize_scheme(scheme) if scheme is not None else None
    sentences = []
    for i, ex in enumerate(tfds.as_numpy(builder.as_dataset(split=split))):
        words = [t.decode("utf-8") for t in ex["tokens"]]
        if names is not None:
            tags = [names[int(t)] for t in ex[tag_key]]
        else:
            tags = [t.decode("utf-8") if isinstance(t, bytes) else str(t) for t in ex[tag_key]]
        if not words:
            continue  # some TFDS CoNLL builders emit an empty example for a trailing blank line
        if scheme is not None:
            for tag in tags:
                try:
                    _split_tag(tag, scheme)
                except ValueError as e:
                    raise DataError(spec, None, f"example {i}: {e}") from None
        sentences.append(Sentence(words, tags, 0))
    if not sentences:
        raise DataError(spec, None, "no sentences found")
    return sentences
