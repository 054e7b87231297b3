"""BuildCINO on the demo corpora repacked into the formats public corpora come in.

    python bench/formats_build.py [--dir /tmp/cino-formats-build] [--profile demo-cpu]

Copies the shipped manifests and corpora (corpus.sample), then rewrites the Tibetan and Uyghur
sources: part of each becomes a Parquet file (FineWeb-2's columns: text, id, language,
language_score; rows of 10 lines), part a `.jsonl.zst` file (MC²'s: one document per record), part
a MediaWiki export in bzip2 (each document a page of wikitext with a template, links and a
reference), the rest stays text. Then runs `luigi --module pipeline BuildCINO --lang bo,mn,ug` on
it, and prints what Ingest read from each source.
"""
import argparse
import bz2
import html
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common.fingerprint import sha256_file  # noqa: E402
from common.jsonio import read_json  # noqa: E402
from corpus.sample import sample_corpus  # noqa: E402

SHARED = REPO.parent / "shared"
LINES_PER_DOC = 10


def pages(docs: list) -> bytes:
    body = "".join(f"<page><title>p{i}</title><ns>0</ns><id>{i + 1}</id><revision><id>{i + 1}</id><text>"
                   + html.escape("{{Infobox|name=x}}\n" + "\n\n".join(f"{line}<ref>source</ref>" for line in doc),
                                 quote=False) + "</text></revision></page>\n" for i, doc in enumerate(docs))
    return f'<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/">\n{body}</mediawiki>\n'.encode()


def repack(data: Path, manifest: Path, source_id: str) -> None:
    """Split source `source_id` of a manifest into text, Parquet, jsonl.zst and a wiki dump (a
    quarter each), and list the four in the manifest instead of it."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import yaml
    import zstandard

    doc = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    (entry,) = [s for s in doc["sources"] if s["id"] == source_id]
    lines = [line for line in (data / entry["path"]).read_text(encoding="utf-8").split("\n") if line]
    quarter = len(lines) // 4
    parts = [lines[i * quarter:(i + 1) * quarter] for i in range(3)] + [lines[3 * quarter:]]
    docs = lambda part: [part[i:i + LINES_PER_DOC] for i in range(0, len(part), LINES_PER_DOC)]  # noqa: E731
    base = data / Path(entry["path"]).with_suffix("")
    (base.parent / f"{base.name}.txt").write_text("\n".join(parts[0]) + "\n", encoding="utf-8")
    pq.write_table(pa.Table.from_pylist([{"text": "\n".join(d), "id": f"{source_id}-{i}", "language": "x",
                                          "language_score": 0.9} for i, d in enumerate(docs(parts[1]))]),
                   base.parent / f"{base.name}.parquet", row_group_size=200)
    (base.parent / f"{base.name}.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress("".join(
        json.dumps({"text": "\n".join(d), "id": i}, ensure_ascii=False) + "\n" for i, d in enumerate(docs(parts[2])))
        .encode()))
    (base.parent / f"{base.name}-pages-articles.xml.bz2").write_bytes(bz2.compress(pages(docs(parts[3]))))
    common = {k: v for k, v in entry.items() if k in ("markup", "license", "origin")}
    packed = [({"format": "txt"}, ".txt"), ({"format": "parquet", "id_field": "id", "keep_rows": {"language_score":
                                                                                                  {"min": 0.5}}}, ".parquet"),
              ({"format": "jsonl", "id_field": "id"}, ".jsonl.zst"), ({"format": "mediawiki"}, "-pages-articles.xml.bz2")]
    doc["sources"].remove(entry)
    for fields, suffix in packed:
        path = base.parent / f"{base.name}{suffix}"
        doc["sources"].append({"id": f"{source_id}-{fields['format']}", "path": str(path.relative_to(data)),
                               "sha256": sha256_file(path), **fields, **common})
    manifest.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/cino-formats-build"))
    parser.add_argument("--profile", default="demo-cpu")
    args = parser.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    env = sample_corpus(args.dir, REPO / "corpora_manifests", SHARED / "corpora")
    data, manifests = Path(env["CINO_DATA_ROOT"]), Path(env["CINO_MANIFESTS_DIR"])
    repack(data, manifests / "bo.yaml", "nanhai")
    repack(data, manifests / "ug.yaml", "maqal")
    started = time.time()
    done = subprocess.run([str(Path(sys.executable).parent / "luigi"), "--module", "pipeline", "BuildCINO", "--lang",
                           "bo,mn,ug", "--train-profile", args.profile, "--local-scheduler", "--workers", "2"],
                          cwd=REPO, env={**os.environ, **env})
    if done.returncode != 0:
        sys.exit(f"BuildCINO failed ({done.returncode})")
    print(f"BuildCINO on the repacked corpora: {(time.time() - started) / 60:.1f} minutes")
    for lang in ("bo", "ug"):
        (stats,) = [p for p in Path(env["CINO_WORK_DIR"]).glob(f"ingest/{lang}-*/stats.json")]
        for source, row in read_json(stats)["sources"].items():
            extra = {k: row[k] for k in ("pages", "pages_redirect") if k in row}
            print(f"{lang} {source}: {row['lines_in']} lines in, {row['lines_kept']} kept, rejected {row['rejected']} "
                  f"{extra or ''}")


if __name__ == "__main__":
    main()
