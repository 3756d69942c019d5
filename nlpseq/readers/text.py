"""Plain text input: one sentence (or text) per line."""

from nlpseq.errors import DataError
from nlpseq.readers._lines import iter_lines


def read_text_lines(path, encoding="utf-8"):
    """Reads a plain or gzipped text file as one string per line.

    Blank lines are kept (as empty strings) so outputs stay aligned with the
    input line by line.

    Args:
        path: the file.
        encoding: its encoding.

    Returns:
        list of strings.

    Raises:
        DataError: missing or undecodable file, or a file with no text at all.
    """
    lines = [text for _, text in iter_lines(path, encoding)]
    if not any(line.strip() for line in lines):
        raise DataError(path, None, "no text found")
    return lines
