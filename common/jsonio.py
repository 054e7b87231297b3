"""Deterministic JSON: the same data always gives the same bytes (artifacts are compared byte for byte)."""
import json
from pathlib import Path


def dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def write_json(path, obj) -> None:
    Path(path).write_text(dumps(obj), encoding="utf-8")


def read_json(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def open_text(path, mode: str = "r"):
    """UTF-8 text with '\\n' as the only line end, so a stray CR or U+2028 never splits a line."""
    return open(path, mode, encoding="utf-8", newline="\n")
