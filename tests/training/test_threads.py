"""training.intra_op_threads: validated, applied before TensorFlow starts, reported when too late."""

import warnings

import keras
import pytest

from nlpseq.errors import ConfigError
from nlpseq.training.threads import set_intra_op_threads
from tests.helpers import run_python


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True])
def test_bad_values_are_refused(bad):
    with pytest.raises(ConfigError, match="intra_op_threads"):
        set_intra_op_threads(bad)


def test_none_leaves_tensorflow_alone():
    assert set_intra_op_threads(None) is False


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="a TensorFlow setting")
def test_a_started_runtime_keeps_its_value_and_says_so():
    import tensorflow as tf

    tf.constant(1.0) + 1.0  # the runtime is running now
    running = tf.config.threading.get_intra_op_parallelism_threads()
    with pytest.warns(UserWarning, match="fresh process"):
        assert set_intra_op_threads(running + 3) is False
    if running:  # the suite's own value (tests/conftest.py): setting it again is silent
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            set_intra_op_threads(running)
    assert tf.config.threading.get_intra_op_parallelism_threads() == running


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="a TensorFlow setting")
def test_the_cli_start_up_leaves_the_setting_open():
    """`nlpseq` mutes TensorFlow's start-up noise first; a training run must still set its threads."""
    code = """
        import tensorflow as tf
        from nlpseq.cli import _quiet_tensorflow
        from nlpseq.training.threads import set_intra_op_threads
        _quiet_tensorflow()
        assert set_intra_op_threads(1) is True
        assert tf.config.threading.get_intra_op_parallelism_threads() == 1
        print("applied")
    """
    done = run_python(code, timeout=300)
    assert done.returncode == 0 and "applied" in done.stdout, done.stderr[-2000:]
