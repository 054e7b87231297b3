"""Ingest throughput per source format beside its floor measured in the same run, and peak memory
as the file grows 10x.

    python bench/ingest_formats.py [--scales 1,10] [--mb 4] [--dir /tmp/cino-bench-formats]

From real Tibetan text (../shared/corpora/bo), repeated to about --mb MB of text per scale, the
same documents (10 lines each) are written as: plain text, .txt.gz/.zst/.bz2/.xz, JSON lines in
zstd, Parquet (with id, language and language_score columns) and a MediaWiki export in bzip2
(each document a page of wikitext: a template, links, a reference). Each is ingested in a fresh
child process with corpus.ingest.ingest_language, as the Ingest task does (sha256, decoding,
shards, rejections), and beside it its floor in another child process:
- plain text: reading and decoding the lines;
- compressed text: decompression alone, the same library reading the stream to its end;
- JSON lines: decompression and json.loads of every line;
- Parquet: pyarrow reading the text column, a batch at a time;
- MediaWiki: the wikitext parser alone (corpus.formats.wikitext_lines on every page's text).
Prints lines in and kept, rejections, seconds, lines/s, the ratio to the floor and peak RSS
(VmHWM) at each scale: memory should stay flat from 1x to 10x.
"""
import argparse
import bz2
import gzip
import html
import json
import lzma
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.measure import peak_rss_mb, print_table, run_child  # noqa: E402
from common.fingerprint import sha256_file  # noqa: E402

SOURCE = REPO.parent / "shared" / "corpora" / "bo" / "nanhai.txt"
FORMATS = ("txt", "txt.gz", "txt.zst", "txt.bz2", "txt.xz", "jsonl.zst", "parquet", "xml.bz2")
LINES_PER_DOC = 10


def documents(megabytes: float) -> list:
    """Lists of 10 real lines, the text repeated until it holds about `megabytes` MB."""
    lines = [line for line in SOURCE.read_text(encoding="utf-8").split("\n") if line]
    wanted, size, out = megabytes * 2**20, 0, []
    while size < wanted:
        for start in range(0, len(lines) - LINES_PER_DOC, LINES_PER_DOC):
            out.append(lines[start:start + LINES_PER_DOC])
            size += sum(len(line.encode()) for line in out[-1])
            if size >= wanted:
                break
    return out


def write_inputs(root: Path, docs: list) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq
    import zstandard

    root.mkdir(parents=True, exist_ok=True)
    text = "".join("\n".join(doc) + "\n" for doc in docs).encode()
    records = "".join(json.dumps({"text": "\n".join(doc), "id": i}, ensure_ascii=False) + "\n"
                      for i, doc in enumerate(docs)).encode()
    pages = "".join(f"<page><title>p{i}</title><ns>0</ns><id>{i}</id><revision><id>{i}</id><text>"
                    + html.escape("{{Infobox|a=b}}\n" + "\n\n".join(f"[[x|{doc[0][:20]}]] {line}<ref>r</ref>"
                                                                   for line in doc), quote=False)
                    + "</text></revision></page>\n" for i, doc in enumerate(docs))
    wiki = f'<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/">\n{pages}</mediawiki>\n'.encode()
    files = {"txt": text, "txt.gz": gzip.compress(text), "txt.zst": zstandard.ZstdCompressor().compress(text),
             "txt.bz2": bz2.compress(text), "txt.xz": lzma.compress(text),
             "jsonl.zst": zstandard.ZstdCompressor().compress(records), "xml.bz2": bz2.compress(wiki)}
    paths = {}
    for name, data in files.items():
        paths[name] = root / f"docs.{name}"
        paths[name].write_bytes(data)
    rows = [{"text": "\n".join(doc), "id": i, "language": "bod_Tibt", "language_score": 0.5 + (i % 5) / 10}
            for i, doc in enumerate(docs)]
    paths["parquet"] = root / "docs.parquet"
    pq.write_table(pa.Table.from_pylist(rows), paths["parquet"], row_group_size=1000)
    return paths


def source_of(path: Path, name: str):
    from corpus.manifest import Source

    fmt = {"jsonl.zst": "jsonl", "parquet": "parquet", "xml.bz2": "mediawiki"}.get(name, "txt")
    keep = (("language_score", {"min": 0.65}),) if fmt == "parquet" else ()
    return Source(id="docs", path=str(path), url=None, sha256=sha256_file(path), format=fmt, text_field="text",
                  markup=(), license="-", origin="-", max_invalid_lines=0, id_field="id" if fmt != "txt" else None,
                  keep_rows=keep)


def child_ingest(path: Path, name: str, out: Path) -> dict:
    from corpus.ingest import IngestSettings, ingest_language
    from corpus.manifest import Language

    source = source_of(path, name)
    language = Language(code="bo", name="Tibetan", script="Tibt", lid_threshold=0.5, min_script_share=0.5,
                        filters={}, sources=(source,), eval_sets={}, manifest="bench")
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    stats = ingest_language(language, [path], out, IngestSettings())["stats"]
    return {"seconds": time.perf_counter() - started, "lines_in": stats["lines_in"], "lines_kept": stats["lines_kept"],
            "rejected": stats["rejected"], "peak_mb": peak_rss_mb()}


def child_floor(path: Path, name: str) -> dict:
    import pyarrow.parquet as pq

    from corpus import formats

    started, lines = time.perf_counter(), 0
    if name == "parquet":
        for batch in pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20).iter_batches(
                batch_size=1024, columns=["text"], use_threads=False):   # as corpus.formats reads it
            lines += sum(text.count("\n") + 1 for text in batch.column(0).to_pylist())
    elif name == "xml.bz2":   # the parser alone, on the pages' wikitext
        import xml.etree.ElementTree as ET

        texts = [element.text for _, element in ET.iterparse(bz2.open(path)) if element.tag.endswith("text")]
        started = time.perf_counter()
        lines = sum(len(formats.wikitext_lines(text)) for text in texts)
    else:
        with open(path, "rb") as raw:
            stream = formats.decompressed(formats.HashingReader(raw), path, 1e9, formats.compression(path))
            for line in iter(stream.readline, b""):   # plain text comes back as the bare reader
                if name == "jsonl.zst":
                    lines += json.loads(line)["text"].count("\n") + 1
                else:
                    line.decode("utf-8")
                    lines += 1
    return {"seconds": time.perf_counter() - started, "lines": lines, "peak_mb": peak_rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,10")
    parser.add_argument("--mb", type=float, default=4.0, help="MB of text at scale 1")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/cino-bench-formats"))
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, path, name = args.child
        result = child_ingest(Path(path), name, Path(path).parent / f"out-{name}") if kind == "ingest" \
            else child_floor(Path(path), name)
        print(json.dumps(result))
        return
    shutil.rmtree(args.dir, ignore_errors=True)
    rows = []
    for scale in [int(s) for s in args.scales.split(",")]:
        paths = write_inputs(args.dir / f"x{scale}", documents(args.mb * scale))
        for name in FORMATS:
            ingested = run_child(__file__, ["--child", "ingest", str(paths[name]), name])
            floor = run_child(__file__, ["--child", "floor", str(paths[name]), name])
            rows.append({"scale": scale, "format": name, "file_mb": paths[name].stat().st_size / 2**20, **ingested,
                         "floor_lines_per_s": floor["lines"] / floor["seconds"], "floor_peak_mb": floor["peak_mb"]})
        shutil.rmtree(args.dir / f"x{scale}")
    print_table(["scale", "format", "file MB", "lines in", "kept", "rejected", "seconds", "lines/s", "floor lines/s",
                 "vs floor", "peak MB", "floor peak MB"],
                [[str(r["scale"]), r["format"], f"{r['file_mb']:.1f}", str(r["lines_in"]), str(r["lines_kept"]),
                  ", ".join(f"{k} {v}" for k, v in r["rejected"].items()) or "-", f"{r['seconds']:.2f}",
                  f"{r['lines_in'] / r['seconds']:.0f}", f"{r['floor_lines_per_s']:.0f}",
                  f"{r['lines_in'] / r['seconds'] / r['floor_lines_per_s']:.3f}", f"{r['peak_mb']:.0f}",
                  f"{r['floor_peak_mb']:.0f}"] for r in rows])


if __name__ == "__main__":
    main()
