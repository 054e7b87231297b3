"""Helpers for the tests of sources and manifests (test_ingest, test_formats, test_manifest):
a Source over a local file, an in-process ingest, the shards' lines, one-line errors, and a
manifest edited in place."""
from pathlib import Path

import pytest
import yaml

from common.errors import InputError
from common.fingerprint import sha256_file
from common.jsonio import open_text
from corpus.ingest import IngestSettings, ingest_language
from corpus.manifest import Language, Source, load_catalog


def source(path: Path, **fields) -> Source:
    values = dict(id=path.name.split(".")[0], path=str(path), url=None, sha256=sha256_file(path), format="txt",
                  text_field="text", markup=(), license="test", origin="test", max_invalid_lines=0)
    values.update(fields)
    return Source(**values)


def language(*sources) -> Language:
    return Language(code="ug", name="Uyghur", script="Arab", lid_threshold=0.5, min_script_share=0.5,
                    filters={}, sources=tuple(sources), eval_sets={}, manifest="ug.yaml")


def ingest(tmp_path, *sources, shard_bytes=1 << 20, paths=None, **limits):
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    settings = IngestSettings(shard_mb=shard_bytes / 2**20, **limits)
    return ingest_language(language(*sources), paths or [Path(s.path) for s in sources], out, settings), out


def shard_lines(out: Path) -> list:
    lines = []
    for path in sorted(out.glob("shard-*.tsv")):
        with open_text(path) as handle:
            lines.extend(line.rstrip("\n") for line in handle)
    return lines


def write(tmp_path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def one_line_error(call) -> str:
    with pytest.raises(InputError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message and "; fix: " in message
    return message


def edit(path: Path, change) -> None:
    """A YAML file (a manifest, scripts.yaml) loaded, changed by `change(doc)` and written back."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")


def error_of(manifests: Path) -> str:
    with pytest.raises(InputError) as info:
        load_catalog(manifests)
    message = str(info.value)
    assert "\n" not in message and "fix:" in message
    return message
