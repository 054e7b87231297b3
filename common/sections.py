"""Named settings sections (luigi.cfg `[profile.<name>]`, `[evaluation.<name>]`): every field of a
dataclass required, none unknown, each converted to its field's type; errors name the section
and the option."""
from dataclasses import fields

from common.errors import InputError


def _convert(kind, text: str, where: str):
    try:
        if kind is bool:
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return text.lower() in ("true", "1", "yes")
        return kind(text)
    except ValueError:
        raise InputError(where, f"expected {kind.__name__}, got {text!r}", "fix the value in luigi.cfg")


def load_section(dataclass, values: dict, where: str, example: str):
    """`dataclass` from a config section's {option: text}; `example` names a complete section."""
    names = [f.name for f in fields(dataclass)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise InputError(where, f"unknown option(s) {', '.join(unknown)}", f"use only: {', '.join(names)}")
    missing = [n for n in names if n not in values]
    if missing:
        raise InputError(where, f"missing option(s) {', '.join(missing)}", f"copy them from {example} in luigi.cfg")
    return dataclass(**{f.name: _convert(f.type, values[f.name], f"{where} {f.name}") for f in fields(dataclass)})
