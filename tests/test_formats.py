"""The formats public corpora come in (Parquet, JSON lines, MediaWiki dumps; gzip, zstd, bzip2, xz),
built inside each test: every line accounted for, documents kept together, bad files one line."""
import bz2
import dataclasses
import html
import json
import lzma
import shutil
from pathlib import Path

import pytest

from common.fingerprint import sha256_file
from corpus.formats import wikitext_lines
from corpus.lines import read_rejections
from corpus.split import split_key
from tests.helpers import DATA_ROOT, MANIFESTS
from tests.helpers.sources import edit, error_of, ingest, one_line_error, shard_lines, source, write

UG = (DATA_ROOT / "ug" / "maqal.txt").read_text(encoding="utf-8").split("\n")[:300]


def parquet(path, rows: list, row_group_size: int = 50):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=row_group_size)
    return path


def documents(count: int = 100) -> list:
    """FineWeb-2-like rows: a document of three real Uyghur lines, an id, a language and its score."""
    return [{"text": "\n".join(UG[3 * i:3 * i + 3]), "id": f"<urn:uuid:{i:04d}>",
             "language": "uig_Arab" if i % 10 else "kaz_Arab", "language_score": 0.5 + (i % 5) / 10}
            for i in range(count)]


def test_parquet_rows_are_documents_cut_into_lines_and_filtered_on_their_fields(tmp_path):
    path = parquet(tmp_path / "fineweb.parquet", documents())
    keep = (("language", ("uig_Arab",)), ("language_score", {"min": 0.65}))
    result, out = ingest(tmp_path, source(path, id="fw", format="parquet", id_field="id", keep_rows=keep))
    stats = result["stats"]
    kept_rows = [d for d in documents() if d["language"] == "uig_Arab" and d["language_score"] >= 0.65]
    assert stats["lines_in"] == 300 and stats["lines_kept"] == 3 * len(kept_rows)
    assert stats["lines_in"] == stats["lines_kept"] + sum(stats["rejected"].values())
    assert stats["rejected"] == {"row_filter": 300 - 3 * len(kept_rows)}
    first = kept_rows[0]   # its id percent-encoded in the refs: refs are split on ':' and tabs
    assert shard_lines(out)[:3] == [f"fw:%3Curn%3Auuid%3A{first['id'][-5:-1]}%3E.{k}\t{line}"
                                    for k, line in enumerate(first["text"].split("\n"), 1)]
    reasons = {row["detail"] for row in read_rejections(out / "rejected.tsv")}
    assert "language 'kaz_Arab' not in ['uig_Arab']" in reasons and "language_score 0.5 < 0.65" in reasons


def test_a_documents_lines_stay_in_one_split():
    assert split_key("fw:<urn:uuid:0001>.2", "a line") == split_key("fw:<urn:uuid:0001>.7", "another") == \
        "fw:<urn:uuid:0001>"
    assert split_key("maqal:17", "a line") == "a line"   # text files: by the line, as before


@pytest.mark.parametrize("suffix,compress", [(".zst", None), (".bz2", bz2.compress), (".xz", lzma.compress)])
def test_every_format_may_be_compressed(tmp_path, suffix, compress):
    import zstandard

    compress = compress or zstandard.ZstdCompressor().compress
    records = "".join(json.dumps({"text": line}, ensure_ascii=False) + "\n" for line in UG)
    path = write(tmp_path, f"docs.jsonl{suffix}", compress(records.encode()))
    result, out = ingest(tmp_path, source(path, id="docs", format="jsonl"))
    assert result["stats"]["lines_kept"] == 300 and [l.split("\t", 1)[1] for l in shard_lines(out)] == UG


@pytest.mark.parametrize("suffix,kind", [(".zst", "zstd"), (".bz2", "bzip2"), (".gz", "gzip"), (".xz", "xz")])
def test_a_truncated_stream_is_one_clear_error(tmp_path, suffix, kind):
    import gzip

    import zstandard

    compress = {"zstd": zstandard.ZstdCompressor().compress, "bzip2": bz2.compress, "gzip": gzip.compress,
                "xz": lzma.compress}[kind]
    data = compress(("\n".join(UG * 20) + "\n").encode())
    path = write(tmp_path, f"cut.txt{suffix}", data[: len(data) // 2])
    message = one_line_error(lambda: ingest(tmp_path, source(path)))
    assert f"cut.txt{suffix}: truncated or corrupt {kind} data" in message


def test_a_zstd_bomb_is_refused(tmp_path):
    import zstandard

    path = write(tmp_path, "bomb.txt.zst", zstandard.ZstdCompressor(level=19).compress(b"0" * (200 << 20)))
    message = one_line_error(lambda: ingest(tmp_path, source(path)))
    assert "bomb.txt.zst: zstd data expands more than 100 times" in message and "max_gzip_ratio" in message


ARTICLE = "\n".join([
    "{{Infobox city|name=ئۈرۈمچی|population=4000000}}",
    "'''ئۈرۈمچی''' [[شىنجاڭ|شىنجاڭنىڭ]] مەركىزى شەھىرى.<ref>{{cite web|url=http://example.org}}</ref>",
    "",
    "== تارىخ ==",
    "بۇ شەھەر [[تارىم ئويمانلىقى]]نىڭ شىمالىدا.<ref name=\"a\">مەنبە</ref>",
    "[[ھۆججەت:Urumqi.jpg|thumb|ئۈرۈمچى كۆرۈنۈشى]]",
    "{| class=\"wikitable\"", "|-", "| 1949 || ئۆزگىرىش", "|}",
    "<!-- an editor's note -->",
    "[[تۈر:شەھەرلەر]]",
    "[[zh:乌鲁木齐]]"])


def page(title: str, ns: int, page_id: int, text: str, redirect: bool = False) -> str:
    """A <page> as MediaWiki exports it (the wikitext XML-escaped)."""
    redirect_tag = '<redirect title="x" />' if redirect else ""
    return (f"<page><title>{title}</title><ns>{ns}</ns><id>{page_id}</id>{redirect_tag}<revision><id>{page_id}</id>"
            f'<text xml:space="preserve">{html.escape(text, quote=False)}</text></revision></page>')


WIKI = ('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11" xml:lang="ug">\n'
        "<siteinfo><sitename>Wikipedia</sitename></siteinfo>\n" + page("ئۈرۈمچی", 0, 42, ARTICLE) + "\n"
        + page("Urumqi", 0, 43, "#REDIRECT [[ئۈرۈمچی]]", redirect=True) + "\n"
        + page("مۇنازىرە:ئۈرۈمچی", 1, 44, "A talk page.") + "\n</mediawiki>\n")


def test_a_mediawiki_dump_gives_the_plain_text_of_its_articles(tmp_path):
    path = write(tmp_path, "ugwiki-pages-articles.xml.bz2", bz2.compress(WIKI.encode()))
    result, out = ingest(tmp_path, source(path, id="ugwiki", format="mediawiki"))
    stats = result["stats"]["sources"]["ugwiki"]
    assert (stats["pages"], stats["pages_redirect"], stats["pages_other_namespace"]) == (1, 1, 1)
    assert shard_lines(out) == ["ugwiki:42.1\tئۈرۈمچی شىنجاڭنىڭ مەركىزى شەھىرى.", "ugwiki:42.2\tتارىخ",
                                "ugwiki:42.3\tبۇ شەھەر تارىم ئويمانلىقىنىڭ شىمالىدا."]


def test_wikitext_keeps_link_text_and_drops_markup_references_tables_and_namespaced_links():
    lines = wikitext_lines("{{Infobox|a=b}}'''Lhasa''' is in [[Tibet|the Tibetan plateau]].<ref>x</ref>\n"
                           "[[Category:Cities]] [[File:a.jpg|thumb|caption]] [[Star Wars: A New Hope]]\n{|\n| cell\n|}")
    assert lines == ["Lhasa is in the Tibetan plateau.", "Star Wars: A New Hope"]


def test_row_filters_refuse_what_is_not_a_number_and_documents_keep_their_structure(tmp_path):
    rows = [{"text": "a\n\nb\r", "id": None, "score": float("nan")}, {"text": "c\n\nd", "id": "", "score": 0.9},
            {"text": "", "id": "x y", "score": 0.9}]
    path = parquet(tmp_path / "rows.parquet", rows)
    result, out = ingest(tmp_path, source(path, id="r", format="parquet", id_field="id",
                                          keep_rows=(("score", {"min": 0.5}),)))
    stats = result["stats"]
    assert stats["rejected"] == {"row_filter": 2, "empty": 1}   # NaN is not above 0.5; a document without text
    assert shard_lines(out) == ["r:row2.1\tc", "r:row2.3\td"]   # blank lines are the document's structure


def test_a_compressed_source_mirrored_under_its_sha256_is_decompressed(tmp_path):
    import gzip

    from corpus.ingest import resolve_source

    data = gzip.compress(("\n".join(UG) + "\n").encode())
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    named = write(tmp_path, "maqal.txt.gz", data)
    (mirror / sha256_file(named)).write_bytes(data)
    src = dataclasses.replace(source(named), path=None, url="https://example.org/maqal.txt.gz")
    found = resolve_source(src, "ug.yaml", tmp_path, mirror, tmp_path / "cache")
    assert found.name == sha256_file(named)
    result, out = ingest(tmp_path, src, paths=[found])
    assert result["stats"]["lines_kept"] == 300


@pytest.mark.parametrize("build,problem", [
    (lambda tmp: (parquet(tmp / "rows.parquet", [{"content": "x"}]), {"format": "parquet"}),
     "rows.parquet: no column 'text' (columns: content)"),
    (lambda tmp: (write(tmp, "other.xml", b"<rss><channel/></rss>"), {"format": "mediawiki"}),
     "other.xml: not a MediaWiki export (root element <rss>)"),
    (lambda tmp: (write(tmp, "cut.xml", WIKI.encode()[:600]), {"format": "mediawiki"}),
     "cut.xml: not well-formed XML"),
    (lambda tmp: (write(tmp, "text.txt", b"not parquet\n"), {"format": "parquet"}),
     "text.txt: not a readable Parquet file"),
    (lambda tmp: (write(tmp, "plain.txt.zst", b"this is not zstd\n" * 100), {}),
     "plain.txt.zst: truncated or corrupt zstd data"),
    (lambda tmp: (parquet(tmp / "numbers.parquet", [{"text": 5}]), {"format": "parquet"}),
     "numbers.parquet: column 'text' holds int64, not text"),
])
def test_bad_files_are_one_clear_error_and_nothing_is_published(tmp_path, build, problem):
    path, fields = build(tmp_path)
    message = one_line_error(lambda: ingest(tmp_path, source(path, **fields)))
    assert problem in message


def test_manifest_fields_of_the_formats(tmp_path):
    manifests = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, manifests)
    edit(manifests / "ug.yaml", lambda d: d["sources"][0].update(format="csv"))
    assert "unknown format 'csv'" in error_of(manifests) and ".zst" in error_of(manifests)
    edit(manifests / "ug.yaml", lambda d: d["sources"][0].update(format="parquet", path="a.parquet.zst"))
    assert "decompress it: Parquet compresses its columns itself" in error_of(manifests)
    edit(manifests / "ug.yaml", lambda d: d["sources"][0].update(format="jsonl", keep_rows={"score": "high"}))
    assert "field 'sources[0].keep_rows.score'" in error_of(manifests)
    edit(manifests / "ug.yaml", lambda d: d["sources"][0].update(format="txt", keep_rows={}, id_field="id"))
    assert "field 'sources[0].id_field'" in error_of(manifests) and "format 'txt' has none" in error_of(manifests)


def test_a_language_read_from_parquet_zstd_json_lines_and_a_wiki_dump_through_the_dag(tmp_path):
    """bo with its shipped text plus a Parquet file, a .jsonl.zst file and a MediaWiki dump (made
    from the shipped Tibetan text), through Ingest ... Split as users run it."""
    import yaml
    import zstandard

    from common.fingerprint import sha256_file
    from tests.helpers import build_corpus, run_luigi

    env = build_corpus(tmp_path, 200)
    data, manifest = Path(env["CINO_DATA_ROOT"]), Path(env["CINO_MANIFESTS_DIR"]) / "bo.yaml"
    lines = (DATA_ROOT / "bo" / "nanhai.txt").read_text(encoding="utf-8").split("\n")[200:500]
    docs = [lines[i:i + 10] for i in range(0, 300, 10)]
    files = {"bo/rows.parquet": None,
             "bo/docs.jsonl.zst": zstandard.ZstdCompressor().compress("".join(
                 json.dumps({"text": "\n".join(d[:5]), "id": f"d{i}"}, ensure_ascii=False) + "\n"
                 for i, d in enumerate(docs[10:20])).encode()),
             "bo/wiki.xml.bz2": bz2.compress(('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/">'
                                             + "".join(page(f"p{i}", 0, 100 + i, "\n\n".join(d)) for i, d in
                                                       enumerate(docs[20:])) + "</mediawiki>").encode())}
    parquet(data / "bo" / "rows.parquet", [{"text": "\n".join(d), "id": i} for i, d in enumerate(docs[:10])])
    for rel, content in files.items():
        if content is not None:
            (data / rel).write_bytes(content)
    doc = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    for source_id, rel, fmt in (("rows", "bo/rows.parquet", "parquet"), ("docs", "bo/docs.jsonl.zst", "jsonl"),
                                ("wiki", "bo/wiki.xml.bz2", "mediawiki")):
        entry = {"id": source_id, "path": rel, "sha256": sha256_file(data / rel), "format": fmt, "license": "test",
                 "origin": "the shipped Tibetan text, rewritten"}
        doc["sources"].append({**entry, **({"id_field": "id"} if fmt != "mediawiki" else {})})
    manifest.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    done = run_luigi(["Split", "--lang", "bo"], env)
    assert done.returncode == 0, done.stderr[-3000:]
    (ingest_stats,) = Path(env["CINO_WORK_DIR"]).glob("ingest/bo-*/stats.json")
    sources = json.loads(ingest_stats.read_text(encoding="utf-8"))["sources"]
    assert (sources["rows"]["lines_in"], sources["docs"]["lines_in"], sources["wiki"]["pages"]) == (100, 50, 10)
    (split_dir,) = [p for p in Path(env["CINO_WORK_DIR"]).glob("split/bo-*") if p.is_dir() and ".tmp" not in p.name]
    where = {}
    for name in ("train", "valid", "test"):
        for ref in (split_dir / f"{name}.refs").read_text(encoding="utf-8").split("\n"):
            if ref.startswith(("rows:", "docs:", "wiki:")):
                where.setdefault(ref.rsplit(".", 1)[0], set()).add(name)
    assert len(where) == 30 and all(len(splits) == 1 for splits in where.values())   # a document in one split
