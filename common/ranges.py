"""Byte ranges of text files at line boundaries: how a pass over a corpus is split between
worker processes without reading it first."""
from pathlib import Path


def line_ranges(files, chunk_bytes: int) -> list:
    """[(path, start, end)]: consecutive byte ranges of about chunk_bytes that start and end at
    line boundaries, in file order."""
    ranges = []
    for path in files:
        size = Path(path).stat().st_size
        with open(path, "rb") as handle:
            start = 0
            while start < size:
                handle.seek(min(start + chunk_bytes, size))
                handle.readline()
                end = min(handle.tell(), size)
                ranges.append((str(path), start, end))
                start = end
    return ranges


def range_lines(path: str, start: int, end: int) -> list:
    """The non-empty lines (without their newline) of one byte range."""
    with open(path, "rb") as handle:
        handle.seek(start)
        data = handle.read(end - start)
    return [line for line in data.decode("utf-8").split("\n") if line]
