"""Settings as data: every setting is a dataclass field with its default, a help line, and whether
it can change a result.

    @dataclass(frozen=True)
    class DedupSettings(Settings):
        num_perm: int = setting(100, "MinHash permutations per line")
        workers: int = setting(2, "processes for the signature pass", fingerprint=False)

A field marked `fingerprint=False` says how work is done (processes, threads, logging), not what
it makes: it never enters an output's fingerprint, so changing it reuses finished outputs. Other
metadata a module may attach (`choices=`, fairseq's flag name, ...) travels with the field.
Loading from text (luigi.cfg profiles, the command line) converts to the field's type and names
the place of every error. No luigi here: the luigi.Config classes are derived in pipeline/config.py.
"""
from dataclasses import MISSING, dataclass, field, fields, replace

from common.errors import InputError


def setting(default, help: str, fingerprint: bool = True, choices: tuple = (), bounds: tuple = (), **metadata):
    """A settings field: its default, what it does, whether it can change a result, allowed values
    (`choices`, or `bounds`: the lowest and highest)."""
    return field(default=default, metadata={"help": help, "fingerprint": fingerprint, "choices": tuple(choices),
                                            "bounds": tuple(bounds), **metadata})


@dataclass(frozen=True)
class Reads:
    """Some fields of a settings class, as a task declares what it reads (`Settings.only`)."""
    kind: type
    names: tuple


class Settings:
    """Base of every settings dataclass: field metadata, partial overrides from text, fingerprints."""

    @classmethod
    def only(cls, *names) -> Reads:
        """Some of its fields, for a task's `reads`."""
        unknown = sorted(set(names) - {f.name for f in fields(cls)})
        if unknown:
            raise TypeError(f"{cls.__name__} has no field(s) {unknown}")
        return Reads(cls, names)

    @classmethod
    def without(cls, *names) -> Reads:
        return cls.only(*(f.name for f in fields(cls) if f.name not in names))

    @classmethod
    def field_info(cls) -> list:
        """[(name, type, default, help, fingerprint, choices)] in declaration order."""
        return [(f.name, f.type, default_of(f), f.metadata.get("help", ""), f.metadata.get("fingerprint", True),
                 f.metadata.get("choices", ())) for f in fields(cls)]

    def fingerprint_values(self, names=None) -> dict:
        """{name: value} of the fields that can change a result (of `names` only, if given)."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.metadata.get("fingerprint", True) and (names is None or f.name in names)}

    def overridden(self, values: dict, where: str) -> "Settings":
        """A copy with some fields set from text ({name: text}); `where` names the place in errors."""
        kinds = {f.name: f for f in fields(self)}
        unknown = sorted(set(values) - set(kinds))
        if unknown:
            raise InputError(where, f"unknown option(s) {', '.join(unknown)}", f"use only: {', '.join(kinds)}")
        changes = {name: convert(kinds[name], text, f"{where} {name}") for name, text in values.items()}
        return replace(self, **changes)

    def checked(self, where: str) -> "Settings":
        """Itself, after checking every field with `choices` or `bounds`; `where` (a cfg section)
        names the place in errors. Subclasses add checks across fields."""
        for f in fields(self):
            value, choices, bounds = getattr(self, f.name), f.metadata.get("choices", ()), f.metadata.get("bounds", ())
            if choices and value not in choices:
                raise InputError(f"{where} {f.name}", f"{value!r} is not allowed",
                                 f"use one of: {', '.join(map(str, choices))}")
            if bounds and not bounds[0] <= value <= bounds[1]:
                raise InputError(f"{where} {f.name}", f"{value} is out of range",
                                 f"use a value from {bounds[0]} to {bounds[1]}")
        return self


def from_profile(kind, parser, section: str, where: str = "luigi.cfg") -> Settings:
    """The defaults of settings class `kind` with the config section `section` applied (the defaults
    alone where the parser has no such section): a profile lists only what differs."""
    values = dict(parser.items(section)) if parser.has_section(section) else {}
    return kind().overridden(values, f"{where} [{section}]")


def default_of(f):
    return f.default if f.default is not MISSING else f.default_factory()


def convert(f, text, where: str):
    """`text` (from a cfg file or the command line) as a value of field `f`'s type."""
    if not isinstance(text, str):
        return text
    kind = f.type
    try:
        if kind is bool:   # as luigi parses a bool on the command line and in [section]s
            return {"true": True, "false": False}[text.lower()]
        return kind(text)
    except (KeyError, ValueError):
        raise InputError(where, f"expected {'true or false' if kind is bool else kind.__name__}, got {text!r}",
                         "fix the value")
