"""Language and script manifests: loading and validation.

Adding a language is data, not code: `corpora_manifests/<code>.yaml` plus, for a new
writing system, an entry in `corpora_manifests/scripts.yaml`. Everything is validated
up front, and every error names the file and the field, so a data engineer can fix a
manifest without reading our code. Plain module: no luigi.
"""
import difflib
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Optional

import yaml

from common.errors import InputError
from corpus.filters import FilterSettings
from corpus.formats import COMPRESSIONS, FORMATS, compression
from corpus.normalize import STEPS

SCRIPTS_FILE = "scripts.yaml"
CODE_RE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]+)?$")
SHA_RE = re.compile(r"^[0-9a-f]{64}$")
SOURCE_ID_RE = re.compile(r"^[A-Za-z0-9_.-]+$")   # refs are `source:line`
SET_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")   # evaluation set names: paths, parameters, "set/split" keys
MARKUP = ("wiki", "html", "gettext")


@dataclass(frozen=True)
class Script:
    code: str
    name: str
    ranges: tuple            # ((lo, hi), ...) inclusive code point ranges
    normalization: tuple     # step names from corpus.normalize.STEPS
    keep_format: tuple       # ((lo, hi), ...) invisible characters the script needs
    shingle: int
    borrowed: bool
    own_tokenizer: bool
    vocab_size: int
    add_base_encodable_pieces: bool   # opt-in: new pieces may consist of characters the base encodes
    legacy_name: str = ""    # a pre-Unicode encoding of the script in the Private Use Area (Menksoft)
    legacy_ranges: tuple = ()


@dataclass(frozen=True)
class Source:
    id: str
    path: Optional[str]
    url: Optional[str]
    sha256: str
    format: str
    text_field: str
    markup: tuple
    license: str
    origin: str
    max_invalid_lines: int
    id_field: Optional[str] = None   # jsonl, parquet: the field naming a document in refs (default: its row)
    keep_rows: tuple = ()            # jsonl, parquet: ((field, (accepted values) or {"min"/"max": number}), ...)


@dataclass(frozen=True)
class EvalFile:
    path: str     # relative to eval_root (or absolute)
    sha256: str


EVAL_SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    script: str
    lid_threshold: float
    min_script_share: float
    filters: dict
    sources: tuple
    eval_sets: dict   # {set name: {split: EvalFile}}
    manifest: str = field(compare=False)


@dataclass(frozen=True)
class Catalog:
    scripts: dict    # code -> Script
    languages: dict  # code -> Language

    def known_codes(self) -> str:
        return ", ".join(sorted(self.languages))


class _Fields:
    """Typed access to one YAML mapping; errors name the file and the dotted field."""

    def __init__(self, doc, where: str, prefix: str = ""):
        self.where, self.prefix = where, prefix
        if not isinstance(doc, dict):
            raise InputError(self._at(""), f"expected a mapping, got {type(doc).__name__}",
                             "see docs/ADDING_A_LANGUAGE.md for the manifest layout")
        self.doc = doc

    def _at(self, name: str) -> str:
        dotted = f"{self.prefix}.{name}".strip(".")
        return f"{self.where}: field '{dotted}'" if dotted else self.where

    def reject_unknown(self, allowed) -> None:
        for key in self.doc:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(allowed)}"
                raise InputError(self._at(str(key)), "unknown field", hint)

    def get(self, name: str, kind, default=None, required: bool = False):
        if name not in self.doc or self.doc[name] is None:
            if required:
                raise InputError(self._at(name), "missing", f"add '{name}:' to the manifest")
            return default
        value = self.doc[name]
        ok = isinstance(value, kind) and not (kind in (int, float, (int, float)) and isinstance(value, bool))
        if not ok:
            wanted = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise InputError(self._at(name), f"expected {wanted}, got {value!r}",
                             f"write '{name}' as a {wanted}")
        return value

    def fraction(self, name: str, default: float) -> float:
        value = float(self.get(name, (int, float), default))
        if not 0.0 <= value <= 1.0:
            raise InputError(self._at(name), f"must be between 0 and 1, got {value}",
                             "use a probability such as 0.5")
        return value

    def sub(self, name: str, required: bool = False) -> "_Fields":
        return _Fields(self.get(name, dict, {}, required), self.where, f"{self.prefix}.{name}")


def _parse_ranges(values, where: str) -> tuple:
    ranges = []
    for text in values:
        match = re.fullmatch(r"([0-9A-Fa-f]{1,6})(?:-([0-9A-Fa-f]{1,6}))?", str(text))
        if not match:
            raise InputError(where, f"bad Unicode range {text!r}", "write ranges as hex, e.g. \"0F00-0FFF\" or \"200D\"")
        lo = int(match.group(1), 16)
        hi = int(match.group(2) or match.group(1), 16)
        if lo > hi or hi > 0x10FFFF:
            raise InputError(where, f"bad Unicode range {text!r}", "the first code point must not exceed the second")
        ranges.append((lo, hi))
    return tuple(sorted(ranges))


def _read_yaml(path: Path):
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{path}{line}", f"malformed YAML ({problem})", "fix the YAML syntax (indentation, colons, quotes)")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 ({exc.reason} at byte {exc.start})", "save the manifest as UTF-8")


def load_scripts(path: Path) -> dict:
    if not path.is_file():
        raise InputError(path, "scripts file not found", "create corpora_manifests/scripts.yaml")
    doc = _read_yaml(path)
    top = _Fields(doc, str(path))
    scripts = {}
    for code in top.doc:
        entry = top.sub(code)
        entry.reject_unknown(["name", "ranges", "normalization", "keep_format", "shingle", "borrowed", "tokenizer",
                              "legacy"])
        steps = tuple(entry.get("normalization", list, []))
        for step in steps:
            if step not in STEPS:
                raise InputError(entry._at("normalization"), f"unknown step {step!r}",
                                 f"use one of: {', '.join(sorted(STEPS))}")
        tokenizer = entry.sub("tokenizer")
        tokenizer.reject_unknown(["own_model", "vocab_size", "add_base_encodable_pieces"])
        shingle = entry.get("shingle", int, 3)
        if shingle < 1:
            raise InputError(entry._at("shingle"), f"must be at least 1, got {shingle}", "use 3 for words, 5 for Han characters")
        scripts[code] = Script(
            code=code,
            name=entry.get("name", str, required=True),
            ranges=_parse_ranges(entry.get("ranges", list, required=True), entry._at("ranges")),
            normalization=steps,
            keep_format=_parse_ranges(entry.get("keep_format", list, []), entry._at("keep_format")),
            shingle=shingle,
            borrowed=entry.get("borrowed", bool, False),
            own_tokenizer=tokenizer.get("own_model", bool, False),
            vocab_size=tokenizer.get("vocab_size", int, 16000),
            add_base_encodable_pieces=tokenizer.get("add_base_encodable_pieces", bool, False),
            **_legacy(entry.sub("legacy")),
        )
    return scripts


def _legacy(entry: _Fields) -> dict:
    """`legacy: {name, ranges}` of a script: the Private Use Area codes of a pre-Unicode encoding."""
    entry.reject_unknown(["name", "ranges"])
    if not entry.doc:
        return {}
    ranges = _parse_ranges(entry.get("ranges", list, required=True), entry._at("ranges"))
    if any(not 0xE000 <= lo <= hi <= 0xF8FF for lo, hi in ranges):
        raise InputError(entry._at("ranges"), "legacy encodings are recognised in the Private Use Area only",
                         "give ranges within E000-F8FF")
    return {"legacy_name": entry.get("name", str, required=True), "legacy_ranges": ranges}


def _load_source(entry: _Fields) -> Source:
    entry.reject_unknown(["id", "path", "url", "sha256", "format", "text_field", "id_field", "keep_rows", "markup",
                          "license", "origin", "max_invalid_lines"])
    path, url = entry.get("path", str), entry.get("url", str)
    if bool(path) == bool(url):
        raise InputError(entry._at("path"), "give exactly one of 'path' or 'url'",
                         "a local file relative to data_root, or a URL downloaded once into the cache")
    sha = entry.get("sha256", str, required=True).lower()
    if not SHA_RE.match(sha):
        raise InputError(entry._at("sha256"), f"not a sha256 hex digest: {sha!r}", "run `sha256sum FILE` and paste the 64 hex digits")
    fmt = entry.get("format", str, "txt")
    if fmt not in FORMATS:
        raise InputError(entry._at("format"), f"unknown format {fmt!r}",
                         f"use one of: {', '.join(FORMATS)} (compression is known by the extension: "
                         f"{', '.join(COMPRESSIONS)})")
    if fmt == "parquet" and compression(path or url):
        raise InputError(entry._at("path"), "a Parquet file inside a compressed file cannot be read by row group",
                         "decompress it: Parquet compresses its columns itself")
    if fmt not in ("jsonl", "parquet"):
        for name in ("id_field", "keep_rows", "text_field"):
            if name in entry.doc:
                raise InputError(entry._at(name), f"'{name}' names fields of records, and format {fmt!r} has none",
                                 "use it with format: jsonl or parquet, or remove it")
    markup = tuple(entry.get("markup", list, []))
    for kind in markup:
        if kind not in MARKUP:
            raise InputError(entry._at("markup"), f"unknown markup {kind!r}", f"use any of: {', '.join(MARKUP)}")
    max_invalid = entry.get("max_invalid_lines", int, 0)
    if max_invalid < 0:
        raise InputError(entry._at("max_invalid_lines"), "must not be negative", "use 0 to refuse any invalid UTF-8")
    source_id = entry.get("id", str, required=True)
    if not SOURCE_ID_RE.match(source_id):
        raise InputError(entry._at("id"), f"bad source id {source_id!r}", "use letters, digits, '_', '.' and '-' only")
    return Source(
        id=source_id, path=path, url=url, sha256=sha, format=fmt,
        text_field=entry.get("text_field", str, "text"), markup=markup,
        license=entry.get("license", str, required=True), origin=entry.get("origin", str, required=True),
        max_invalid_lines=max_invalid, id_field=entry.get("id_field", str), keep_rows=_keep_rows(entry.sub("keep_rows")),
    )


def _keep_rows(entry: _Fields) -> tuple:
    """`keep_rows:` {field: [accepted values] | {min: x, max: y}} as ((field, rule), ...)."""
    rules = []
    for name, rule in entry.doc.items():
        if isinstance(rule, list) and rule:
            rules.append((str(name), tuple(rule)))
        elif isinstance(rule, dict) and rule and set(rule) <= {"min", "max"} \
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in rule.values()):
            rules.append((str(name), dict(rule)))
        else:
            raise InputError(entry._at(str(name)), f"expected a list of accepted values or {{min: x, max: y}}, "
                                                   f"got {rule!r}", "e.g. language: [bod_Tibt] or language_score: {min: 0.8}")
    return tuple(rules)


def _load_eval_set(entry: _Fields) -> dict:
    """{split: EvalFile} of one labelled set (`text<TAB>label` files)."""
    entry.reject_unknown(list(EVAL_SPLITS))
    if not entry.doc:
        raise InputError(entry._at(""), "no split listed", f"give any of {', '.join(EVAL_SPLITS)} with path and sha256")
    files = {}
    for split in entry.doc:
        item = entry.sub(split, required=True)
        item.reject_unknown(["path", "sha256"])
        sha = item.get("sha256", str, required=True).lower()
        if not SHA_RE.match(sha):
            raise InputError(item._at("sha256"), f"not a sha256 hex digest: {sha!r}",
                             "run `sha256sum FILE` and paste the 64 hex digits")
        files[split] = EvalFile(path=item.get("path", str, required=True), sha256=sha)
    return files


def load_language(path: Path, scripts: dict) -> Language:
    doc = _Fields(_read_yaml(path), str(path))
    if "normalization" in doc.doc:
        raise InputError(doc._at("normalization"), "normalisation is a property of the script, not of one language",
                         f"set it under '{doc.doc.get('script')}' in {SCRIPTS_FILE} (the tokenizer compiles it per "
                         "script) and remove it here")
    doc.reject_unknown(["code", "name", "script", "lid", "filters", "sources", "eval"])
    code = doc.get("code", str, required=True)
    if not CODE_RE.match(code):
        raise InputError(doc._at("code"), f"bad language code {code!r}", "use a lower-case ISO 639 code such as 'bo' or 'yue'")
    script = doc.get("script", str, required=True)
    if script not in scripts:
        raise InputError(doc._at("script"), f"unknown script {script!r}",
                         f"use one of: {', '.join(sorted(scripts))}, or add it to {SCRIPTS_FILE}")
    lid = doc.sub("lid")
    lid.reject_unknown(["threshold", "min_script_share"])
    filters = doc.sub("filters")
    filters.reject_unknown(FilterSettings.names())
    kinds = {f.name: (int, float) if f.type is float else f.type for f in fields(FilterSettings)}
    overrides = {name: filters.get(name, kinds[name], required=True) for name in filters.doc}
    FilterSettings(**overrides).checked(f"{path}: filters")   # bounds and choices, as for [filters]
    entries = doc.get("sources", list, required=True)
    if not entries:
        raise InputError(doc._at("sources"), "no sources listed", "list at least one source")
    sources = tuple(_load_source(_Fields(item, str(path), f"sources[{i}]")) for i, item in enumerate(entries))
    seen = {}
    for i, source in enumerate(sources):
        for key in (("id", source.id), ("sha256", source.sha256), ("location", source.path or source.url)):
            if key in seen:
                raise InputError(f"{path}: field 'sources[{i}].{key[0] if key[0] != 'location' else 'path'}'",
                                 f"source listed twice (same {key[0]} as sources[{seen[key]}])", "remove the duplicate entry")
            seen[key] = i
    evals = doc.sub("eval")
    for name in evals.doc:   # a set's name goes into paths, Luigi parameters and "set/split" keys
        if not isinstance(name, str) or not SET_NAME.fullmatch(name):
            raise InputError(evals._at(str(name)), f"bad evaluation set name {name!r}",
                             "use lower-case letters, digits, '.', '_' and '-' (e.g. 'tncc-title')")
    eval_sets = {name: _load_eval_set(evals.sub(name)) for name in evals.doc}
    return Language(
        code=code, name=doc.get("name", str, required=True), script=script,
        lid_threshold=lid.fraction("threshold", 0.5), min_script_share=lid.fraction("min_script_share", 0.5),
        filters=overrides, sources=sources, eval_sets=eval_sets, manifest=str(path),
    )


def load_catalog(manifests_dir) -> Catalog:
    """Load and validate every manifest in the directory (all-or-nothing)."""
    root = Path(manifests_dir)
    if not root.is_dir():
        raise InputError(root, "manifests directory not found", "set [cino] manifests_dir in luigi.cfg or CINO_MANIFESTS_DIR")
    scripts = load_scripts(root / SCRIPTS_FILE)
    languages = {}
    for path in sorted(root.glob("*.yaml")):
        if path.name == SCRIPTS_FILE:
            continue
        lang = load_language(path, scripts)
        if lang.code in languages:
            raise InputError(f"{path}: field 'code'", f"language '{lang.code}' is also claimed by {languages[lang.code].manifest}",
                             "give each language exactly one manifest")
        languages[lang.code] = lang
    if not languages:
        raise InputError(root, "no language manifests (*.yaml)", "add corpora_manifests/<code>.yaml")
    return Catalog(scripts=scripts, languages=languages)


def parse_lang_list(text, catalog: Catalog, where: str = "--lang/--langs") -> tuple:
    """`bo,mn,ug` / `ug, bo,bo` / `all` -> sorted unique codes, validated against the manifests;
    errors name `where` the list came from."""
    items = text.split(",") if isinstance(text, str) else list(text)
    codes = sorted({str(item).strip() for item in items if str(item).strip()})
    if codes == ["all"]:
        return tuple(sorted(catalog.languages))
    if not codes:
        raise InputError(where, "no language given", f"pass codes separated by commas, or 'all'; known: {catalog.known_codes()}")
    unknown = [code for code in codes if code not in catalog.languages]
    if unknown:
        raise InputError(where, f"unknown language code(s) {', '.join(unknown)}",
                         f"use codes from corpora_manifests: {catalog.known_codes()} (or 'all')")
    return tuple(codes)
