"""Errors raised for user mistakes (bad data, bad config, bad model directory).

Every error a user can cause is an `NlpseqError`; the CLI prints it as one line
(`error: ...`) and exits with status 2, with no traceback unless `--debug`.
"""


class NlpseqError(Exception):
    """Base class of every error nlpseq raises for a user mistake."""


class DataError(NlpseqError):
    """Malformed input data, located by file and line.

    Args:
        path: the file that holds the problem (a string or path-like).
        line: the 1-based line number, or None when the problem is the whole file.
        message: what is wrong, in words a user can act on.

    Example:
        >>> str(DataError("train.txt", 12, "expected 4 columns, found 3"))
        'train.txt:12: expected 4 columns, found 3'
    """

    def __init__(self, path, line, message):
        self.path = str(path)
        self.line = line
        self.message = message
        where = self.path if line is None else f"{self.path}:{line}"
        super().__init__(f"{where}: {message}")


class ConfigError(NlpseqError):
    """An invalid configuration key or value."""


class ModelDirError(NlpseqError):
    """A model directory that is missing, incomplete or of the wrong kind."""


class InputError(NlpseqError):
    """A bad argument to the Python API or the CLI (not data in a file)."""
