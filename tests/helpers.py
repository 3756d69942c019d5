"""Shared test helpers: the repeated layer checks, small reference implementations, a fresh Python.

Import from test files as `from tests.helpers import run_layer_test` (pytest is
run as `python -m pytest` from the repository root, which puts the root on
`sys.path`).
"""

import io
import itertools
import os
import subprocess
import sys
import tempfile
import textwrap
import zipfile

import h5py
import keras
import numpy as np


def _as_list(data):
    return list(data) if isinstance(data, (list, tuple)) else [data]


def _shapes(outputs):
    return [tuple(o.shape) for o in keras.tree.flatten(outputs)]


def _expected_shapes(expected):
    """A tuple of ints is one shape; a list of tuples is one shape per output."""
    if isinstance(expected, list):
        return [tuple(e) for e in expected]
    return [tuple(expected)]


def _assert_outputs_close(actual, expected, atol=1e-5):
    actual = keras.tree.flatten(actual)
    expected = keras.tree.flatten(expected)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(e), atol=atol
        )


def run_layer_test(layer_cls, init_kwargs, input_data, expected_output_shape, **call_kwargs):
    """Builds and calls a layer, then checks config and `.keras` round trips.

    Checks, in order: the output shape(s); that `from_config(get_config())`
    gives an equal config and, with copied weights, equal outputs; that a tiny
    functional model wrapping the layer saves to `.keras` and reloads with equal
    outputs (inference mode, so dropout is off).

    Args:
        layer_cls: the layer class.
        init_kwargs: constructor keyword arguments.
        input_data: one numpy array, or a list of arrays passed as a list.
        expected_output_shape: a shape tuple, or a list of shape tuples for a
            layer with several outputs (flattened order).
        **call_kwargs: extra keyword arguments of `call` (Python values only).

    Returns:
        `(layer, outputs)` from the first eager call, for further checks.
    """
    inputs = _as_list(input_data)
    layer_input = inputs if isinstance(input_data, (list, tuple)) else inputs[0]

    layer = layer_cls(**init_kwargs)
    outputs = layer(layer_input, **call_kwargs)
    assert _shapes(outputs) == _expected_shapes(expected_output_shape), (
        f"output shapes {_shapes(outputs)} != {expected_output_shape}"
    )

    config = layer.get_config()
    for key in init_kwargs:
        assert key in config, f"get_config() lacks constructor argument {key!r}"
    clone = layer_cls.from_config(config)
    assert clone.get_config() == config
    clone(layer_input, **call_kwargs)
    clone.set_weights(layer.get_weights())
    _assert_outputs_close(clone(layer_input, **call_kwargs), layer(layer_input, **call_kwargs))

    symbolic = [
        keras.Input(shape=x.shape[1:], dtype=str(np.asarray(x).dtype)) for x in inputs
    ]
    symbolic_input = symbolic if isinstance(input_data, (list, tuple)) else symbolic[0]
    model = keras.Model(symbolic_input, layer(symbolic_input, **call_kwargs))
    expected = model.predict(layer_input, verbose=0)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        reloaded = keras.saving.load_model(path)
    _assert_outputs_close(reloaded.predict(layer_input, verbose=0), expected)
    return layer, outputs


def crf_brute_force(potentials, lengths, transitions, start, end, tags=None):
    """Reference CRF quantities by enumerating every tag path (numpy, float64).

    Args:
        potentials: (B, T, K) array.
        lengths: (B,) valid lengths.
        transitions, start, end: the CRF weights.
        tags: optional (B, T) gold tags to score.

    Returns:
        A dict with `log_norm` (B,), `best_score` (B,), `best_tags` (B, T) with 0
        past each length, and `score` (B,) when `tags` is given.
    """
    potentials = np.asarray(potentials, np.float64)
    batch, steps, num_tags = potentials.shape
    out = {
        "log_norm": np.zeros(batch),
        "best_score": np.zeros(batch),
        "best_tags": np.zeros((batch, steps), np.int64),
    }
    if tags is not None:
        out["score"] = np.zeros(batch)

    def path_score(b, path):
        if not path:
            return 0.0
        s = start[path[0]] + end[path[-1]]
        s += sum(potentials[b, t, k] for t, k in enumerate(path))
        s += sum(transitions[path[t - 1], path[t]] for t in range(1, len(path)))
        return s

    for b in range(batch):
        n = int(lengths[b])
        if n == 0:
            continue
        scores = {p: path_score(b, p) for p in itertools.product(range(num_tags), repeat=n)}
        values = np.array(list(scores.values()))
        top = values.max()
        out["log_norm"][b] = top + np.log(np.exp(values - top).sum())
        best = max(scores, key=scores.get)
        out["best_score"][b] = scores[best]
        out["best_tags"][b, :n] = best
        if tags is not None:
            out["score"][b] = path_score(b, tuple(int(t) for t in tags[b, :n]))
    return out


def crf_test_case(seed=0, num_tags=3, steps=4, lengths=(4, 0, 1, 3, 2)):
    """A small random CRF problem: potentials, tags (-1 past length), mask and weights."""
    rng = np.random.default_rng(seed)
    lengths = np.asarray(lengths)
    batch = len(lengths)
    potentials = rng.normal(size=(batch, steps, num_tags)).astype("float32")
    mask = np.arange(steps)[None, :] < lengths[:, None]
    tags = rng.integers(0, num_tags, size=(batch, steps))
    tags = np.where(mask, tags, -1).astype("int32")
    transitions = rng.normal(size=(num_tags, num_tags)).astype("float32")
    start = rng.normal(size=(num_tags,)).astype("float32")
    end = rng.normal(size=(num_tags,)).astype("float32")
    return {
        "potentials": potentials,
        "tags": tags,
        "mask": mask,
        "lengths": lengths,
        "transitions": transitions,
        "start": start,
        "end": end,
    }


def crf_mismatches(log_norm_fn, score_fn, decode_fn, case, atol=1e-4):
    """Compares CRF functions with `crf_brute_force` on one `crf_test_case`.

    Args:
        log_norm_fn: `(potentials, mask, transitions, start, end) -> (B,)`.
        score_fn: `(potentials, tags, mask, transitions, start, end) -> (B,)`.
        decode_fn: `(potentials, mask, transitions, start, end) -> (tags, scores)`.
        case: a dict from `crf_test_case`.

    Returns:
        A list of human-readable mismatch descriptions (empty when all agree).
    """
    weights = (case["transitions"], case["start"], case["end"])
    ref = crf_brute_force(case["potentials"], case["lengths"], *weights, tags=case["tags"])
    log_norm = np.asarray(log_norm_fn(case["potentials"], case["mask"], *weights))
    score = np.asarray(score_fn(case["potentials"], case["tags"], case["mask"], *weights))
    best_tags, best_score = decode_fn(case["potentials"], case["mask"], *weights)
    best_tags, best_score = np.asarray(best_tags), np.asarray(best_score)
    problems = []
    for name, got, want in [
        ("log_norm", log_norm, ref["log_norm"]),
        ("sequence_score", score, ref["score"]),
        ("best_score", best_score, ref["best_score"]),
    ]:
        if got.shape != want.shape or not np.all(np.isfinite(got)):
            problems.append(f"{name}: got {got!r}, want {want!r}")
        elif not np.allclose(got, want, atol=atol):
            problems.append(f"{name}: got {got}, want {want}")
    if str(best_tags.dtype) != "int32" or not np.array_equal(best_tags, ref["best_tags"]):
        problems.append(f"best_tags: got {best_tags!r}, want {ref['best_tags']!r}")
    return problems


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code, env_extra=None, timeout=600):
    """Runs `code` (dedented) in a fresh Python process at the repository root.

    For what one process cannot test twice: another Keras backend, TensorFlow's
    start-up settings, logical devices.

    Args:
        code: Python source.
        env_extra: environment variables to add (TF's C++ logging is muted).
        timeout: seconds.

    Returns:
        The `subprocess.CompletedProcess`, with text stdout and stderr.
    """
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env_extra or {}))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def saved_variables_bytes(saved_model_dir):
    """The bytes of a SavedModel's variables files."""
    return sum(f.stat().st_size for f in (saved_model_dir / "variables").iterdir())


def stored_arrays(keras_path):
    """Every array of a .keras archive's weights file, by HDF5 path."""
    with zipfile.ZipFile(keras_path) as archive:
        data = archive.read("model.weights.h5")
    arrays = {}
    with h5py.File(io.BytesIO(data), "r") as f:
        f.visititems(lambda name, item: arrays.update({name: item[()]}) if isinstance(item, h5py.Dataset) else None)
    return arrays
