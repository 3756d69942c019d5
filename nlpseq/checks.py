"""Shared checks of user-given numbers (config values and API arguments).

Each caller raises its own error type (`ConfigError` for configs, `InputError`
for API arguments) with a message naming its setting; these say what is valid.
"""

import numbers

from nlpseq.errors import ConfigError


def is_whole_number(value, minimum=1):
    """Whether `value` is an integer (Python or NumPy, not a bool) of at least `minimum`.

    Args:
        value: the value to check (YAML's `true` is not a number here).
        minimum: the smallest valid value, or None for any integer.

    Returns:
        True or False.
    """
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        return False
    return minimum is None or bool(value >= minimum)


def check_rate(name, value):
    """Checks a dropout-like rate, the fraction of something dropped or smoothed.

    Args:
        name: the setting's name, for the message.
        value: the rate.

    Returns:
        `value` as a float.

    Raises:
        ConfigError: the rate is outside [0, 1).
    """
    if not 0.0 <= float(value) < 1.0:
        raise ConfigError(f"{name} must be in [0, 1), got {value}")
    return float(value)
