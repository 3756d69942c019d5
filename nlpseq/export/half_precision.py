"""Storing a model's weights in 16 bits: half the bytes on disk, float32 arithmetic after loading.

A model directory holds its weights twice (in `model.keras` and in the
SavedModel), so a 5M-parameter language model takes 40 MB in float32 and 20 MB
in float16 (a tagger's are mostly its word-embedding table). Rounding a trained
LSTM's weights to float16 changes its perplexity in the fourth significant
digit; the model's scores are measured after the rounding
(`round_weights_to_float16`), so they describe the stored model exactly.

- `model.keras`: `keras_file_to_float16` rewrites the weights file inside the
  archive with float16 arrays. `keras.models.load_model` assigns them to the
  model's float32 variables (converting on assignment), so loading needs
  nothing special.
- SavedModel: `nlpseq.export.stored_weights.StoredWeights` (used by the
  language model's and the tagger's SavedModel modules) stores float16
  variables and casts them up inside the serving functions.

Taggers can go further with `int8` (`export.weights_dtype: int8`): the word
table, most of a tagger, is stored as int8 codes with one step per row
(`quantize_rows_int8`), every other weight in float16. A row's error is at most
half its step, 1/254 of its largest entry. The steps are float16 values, so the
float16 file holds them exactly and the stored model computes what
`round_word_embeddings_to_int8` left in the trained one.
"""

import io
import zipfile
from pathlib import Path

import h5py  # a Keras dependency: it writes the weights of every .keras file
import numpy as np

from nlpseq import atomic_files
from nlpseq.errors import ConfigError

# int8: the word-embedding table of a tagger in 8 bits, its other weights in float16.
WEIGHTS_DTYPES = ("float32", "float16", "int8")
_FLOAT16_MAX = float(np.finfo(np.float16).max)
_WEIGHTS_FILE = "model.weights.h5"


def check_weights_dtype(value, task=None):
    """Returns `value` if it is a storage dtype we write (for `task`), else raises a one-line ConfigError."""
    allowed = WEIGHTS_DTYPES if task in (None, "ner", "pos") else ("float32", "float16")
    if value not in allowed:
        raise ConfigError(f"export.weights_dtype must be one of {', '.join(allowed)}"
                          f"{f' for {task} models' if task and value in WEIGHTS_DTYPES else ''}, got {value!r}")
    return value


def round_weights_to_float16(model):
    """Rounds every float32 weight of `model` to the nearest float16 value, in place.

    Args:
        model: a built Keras model or layer.

    Returns:
        The largest absolute change made to any weight.

    Raises:
        ConfigError: a weight is too large for float16 (it would become inf).
    """
    weights, change = [], 0.0
    for variable, value in zip(model.weights, model.get_weights()):
        if value.dtype == np.float32 and value.size:
            largest = float(np.abs(value).max())
            if largest > _FLOAT16_MAX:
                raise ConfigError(f"weight {variable.path} reaches {largest:.3g}, beyond float16's range; "
                                  "export it with export.weights_dtype: float32")
            rounded = value.astype(np.float16).astype(np.float32)
            change = max(change, float(np.abs(rounded - value).max()))
            value = rounded
        weights.append(value)
    model.set_weights(weights)
    return change


def quantize_rows_int8(matrix):
    """Int8 codes and one step per row such that row i is about `codes[i] * steps[i]`.

    Each row's step is its largest absolute entry / 127, rounded to a float16
    value (so a float16 file stores it exactly); all-zero rows get step 0.

    Args:
        matrix: a float (V, D) array.

    Returns:
        (codes, steps): int8 (V, D) and float32 (V,).

    Raises:
        ConfigError: a row's step does not fit float16.
    """
    matrix = np.asarray(matrix, np.float32)
    largest = np.abs(matrix).max(axis=1) if matrix.size else np.zeros(len(matrix), np.float32)
    if largest.size and float(largest.max()) / 127 > _FLOAT16_MAX:
        raise ConfigError(f"a word vector reaches {float(largest.max()):.3g}, too large for int8 storage; "
                          "export it with export.weights_dtype: float16")
    steps = (largest / 127).astype(np.float16).astype(np.float32)
    divisor = np.where(steps > 0, steps, 1.0)[:, None]
    # A step rounded down may put a row's largest entry just past 127: clip it.
    codes = np.clip(np.rint(matrix / divisor), -127, 127).astype(np.int8)
    return codes, steps


def round_word_embeddings_to_int8(model):
    """Replaces a tagger's word table by the values its int8 storage keeps, in place.

    Args:
        model: a built SequenceTagger with a float word embedding.

    Returns:
        The largest absolute change made to any entry.
    """
    table = model.word_embedding.table()
    codes, steps = quantize_rows_int8(table)
    rounded = codes.astype(np.float32) * steps[:, None]
    model.word_embedding.embeddings.assign(rounded)
    return float(np.abs(rounded - table).max()) if table.size else 0.0


def keras_file_to_float16(path):
    """Rewrites a `.keras` archive in place with its float32 weight arrays stored as float16.

    The archive is rebuilt under a temporary name and renamed over `path`, so
    an interruption leaves the original.

    Args:
        path: a `.keras` file written by `model.save`.
    """
    path = Path(path)
    with zipfile.ZipFile(path) as archive:
        members = [(info, archive.read(info.filename)) for info in archive.infolist()]
    out = io.BytesIO()
    with h5py.File(io.BytesIO({i.filename: d for i, d in members}[_WEIGHTS_FILE]), "r") as source, \
            h5py.File(out, "w") as target:
        _copy_h5(source, target)
    with atomic_files.atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
        for info, data in members:
            archive.writestr(info, out.getvalue() if info.filename == _WEIGHTS_FILE else data)


def _copy_h5(source, target):
    """Copies an HDF5 group tree with its attributes, float32 datasets as float16."""
    for key, value in source.attrs.items():
        target.attrs[key] = value
    for name, item in source.items():
        if isinstance(item, h5py.Group):
            _copy_h5(item, target.create_group(name))
            continue
        data = item[()]
        if isinstance(data, np.ndarray) and data.dtype == np.float32:
            data = data.astype(np.float16)
        dataset = target.create_dataset(name, data=data)
        for key, value in item.attrs.items():
            dataset.attrs[key] = value

