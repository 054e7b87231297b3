"""Throughput and peak memory of the corpus stages, beside a floor measured in the same run.

    python bench/corpus_throughput.py [--langs bo,mn,ug] [--scales 1,10] [--dir /tmp/cino-bench]

For each scale s the demo sources of the chosen languages are repeated s times (real text,
manifests rewritten to the new sha256). Every stage then runs in its own child process
over all chosen languages, with the same plain functions the Luigi tasks call, and reports
lines, input MB, seconds and peak resident memory (VmHWM). Split is fed the cleaned lines
rather than the deduplicated ones, so that it too sees 10x the lines at 10x. The floor is reading the ingest shards'
lines plus raw fastText `predict` on them (the language-ID model trained at 1x), and each
stage's lines/s is printed as a ratio to it. Memory should stay flat from 1x to 10x: every
stage streams but dedup, whose index holds about 50 bytes per line.

Then the corpus half runs as users run it, `luigi --module pipeline CorpusReport --langs ...
--workers 2`, on the same data in a fresh work dir: its wall time, and per language the
seconds its tasks took (work_dir/timings: ingest, language ID and cleaning per shard, dedup,
split; they overlap with two workers, so they add up to more than the wall time). Shared:
the language-ID classifier and the ingest of the languages it is trained from that were not
chosen.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.measure import peak_rss_mb, print_table, run_child  # noqa: E402
from common.jsonio import write_json  # noqa: E402
from corpus.manifest import load_catalog  # noqa: E402
from corpus.sample import sample_corpus  # noqa: E402

STAGES = ("ingest", "floor", "langid", "clean", "dedup", "split")
HALF = ("ingest", "langid", "clean", "dedup", "split")   # the work dirs of one language's corpus half


def child(stage: str, root: Path, langs: list, model: Path) -> dict:
    """Run one stage over all languages in this process; return its measurements."""
    from corpus import lid
    from corpus.clean import clean_shard
    from corpus.dedup import DedupSettings, dedup_language
    from corpus.filters import FilterSettings
    from corpus.ingest import IngestSettings, ingest_language
    from corpus.lines import read_shard
    from corpus.scripts import ScriptTable
    from corpus.split import SplitSettings, split_language

    catalog = load_catalog(root / "manifests")
    table = ScriptTable(catalog.scripts)
    lines = nbytes = 0
    started = time.perf_counter()
    for code in langs:
        lang, script = catalog.languages[code], catalog.scripts[catalog.languages[code].script]
        stage_dir = lambda name: root / name / code  # noqa: E731
        inputs = {
            "ingest": [root / "data" / s.path for s in lang.sources],
            "floor": sorted(stage_dir("ingest").glob("shard-*.tsv")),
            "langid": sorted(stage_dir("ingest").glob("shard-*.tsv")),
            "clean": sorted(stage_dir("langid").glob("shard-*/kept.tsv")),
            "dedup": sorted(stage_dir("clean").glob("shard-*/kept.tsv")),
            # Split reads clean's output here, not dedup's: at 10x dedup removes the repeats.
            "split": sorted(stage_dir("clean").glob("shard-*/kept.tsv")),
        }[stage]
        nbytes += sum(p.stat().st_size for p in inputs)
        if stage == "ingest":
            stage_dir("ingest").mkdir(parents=True)
            lines += ingest_language(lang, inputs, stage_dir("ingest"), IngestSettings())["stats"]["lines_in"]
        elif stage == "floor":
            import fasttext

            model_ft = fasttext.load_model(str(model))
            for path in inputs:
                batch = []
                for _, text in read_shard(path):
                    batch.append(text)
                    if len(batch) == 2048:
                        model_ft.predict(batch, k=1)
                        lines, batch = lines + len(batch), []
                model_ft.predict(batch, k=1)
                lines += len(batch)
        elif stage == "langid":
            identifier = lid.LanguageIdentifier(model)
            for i, path in enumerate(inputs):
                out = stage_dir("langid") / f"shard-{i:05d}"
                out.mkdir(parents=True)
                lines += lid.identify_shard(path, out, lang, table, identifier)["lines_in"]
        elif stage == "clean":
            for i, path in enumerate(inputs):
                out = stage_dir("clean") / f"shard-{i:05d}"
                out.mkdir(parents=True)
                settings = FilterSettings().with_overrides(lang.filters)
                lines += clean_shard(path, out, lang, script, table, settings)["lines_in"]
        elif stage == "dedup":
            out, scratch = stage_dir("dedup"), root / "scratch" / code
            out.mkdir(parents=True)
            scratch.mkdir(parents=True)
            lines += dedup_language(inputs, out, scratch, script.shingle, DedupSettings())["lines_in"]
        elif stage == "split":
            stage_dir("split").mkdir(parents=True)
            lines += split_language(inputs, stage_dir("split"), SplitSettings())["lines_in"]
    seconds = time.perf_counter() - started
    return {"stage": stage, "lines": lines, "mb": nbytes / 2**20, "seconds": seconds, "peak_rss_mb": peak_rss_mb()}


def corpus_half(root: Path, langs: list, workers: int) -> dict:
    """`luigi ... CorpusReport` over `langs` on root's data: wall time and task seconds per language."""
    work = root / "work"
    env = {**os.environ, "CINO_DATA_ROOT": str(root / "data"), "CINO_MANIFESTS_DIR": str(root / "manifests"),
           "CINO_WORK_DIR": str(work)}
    command = [str(Path(sys.executable).parent / "luigi"), "--module", "pipeline", "CorpusReport",
               "--langs", ",".join(langs), "--workers", str(workers), "--local-scheduler"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    seconds = {}
    for timing in (work / "timings").rglob("*.json"):
        stage, name = timing.relative_to(work / "timings").parts[:2]
        lang = name.split("-")[0] if stage in HALF and name.split("-")[0] in langs else "shared"
        if stage != "corpus_report":
            seconds[lang] = seconds.get(lang, 0.0) + json.loads(timing.read_text())["seconds"]
    return {"wall": wall, "task_seconds": dict(sorted(seconds.items()))}


def train_model(root: Path, out: Path) -> Path:
    """The language-ID classifier, trained as TrainLangID does, from the 1x ingest of all manifests."""
    from corpus import lid
    from corpus.ingest import IngestSettings, ingest_language
    from corpus.scripts import ScriptTable

    catalog = load_catalog(root / "manifests")
    shards = {}
    for code, lang in catalog.languages.items():
        target = out / "ingest-all" / code
        target.mkdir(parents=True)
        ingest_language(lang, [root / "data" / s.path for s in lang.sources], target, IngestSettings())
        shards[code] = sorted(target.glob("shard-*.tsv"))
    seeds = lid.collect_seeds(catalog.languages, shards, ScriptTable(catalog.scripts), catalog.scripts,
                              lid.SeedSettings())
    train, _ = lid.split_seeds(seeds, lid.SeedSettings().heldout_percent)
    (out / "seeds.txt").write_text("\n".join(train) + "\n", encoding="utf-8")
    lid.train_classifier(out / "seeds.txt", out / "model.bin", lid.FastTextSettings())
    return out / "model.bin"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--langs", default="bo,mn,ug")
    parser.add_argument("--scales", default="1,10")
    parser.add_argument("--dir", default="/tmp/cino-bench")
    parser.add_argument("--workers", type=int, default=2, help="Luigi workers of the corpus-half run")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args()
    langs = args.langs.split(",")
    if args.child:
        print(json.dumps(child(args.child, Path(args.dir), langs, Path(args.model))))
        return
    base = Path(args.dir)
    shutil.rmtree(base, ignore_errors=True)
    rows, halves = [], {}
    model = None
    for scale in [int(s) for s in args.scales.split(",")]:
        root = base / f"x{scale}"
        sample_corpus(root, REPO / "corpora_manifests", REPO.parent / "shared" / "corpora", repeat=scale, repeat_langs=langs)
        if model is None:
            model = train_model(root, base / "model")
        for stage in STAGES:
            result = run_child(__file__, ["--child", stage, "--dir", str(root), "--langs", args.langs, "--model", str(model)])
            rows.append({"scale": scale, **result})
        for stage in (*STAGES, "scratch"):   # per-stage outputs: not needed any more, disk for the next scale
            shutil.rmtree(root / stage, ignore_errors=True)
        halves[scale] = corpus_half(root, langs, args.workers)
        shutil.rmtree(root, ignore_errors=True)
    print_results(rows)
    print_halves(halves, langs, args.workers)
    write_json(base / "results.json", {"stages": rows, "corpus_half": halves})


def print_results(rows: list) -> None:
    floor = {r["scale"]: r["lines"] / r["seconds"] for r in rows if r["stage"] == "floor"}
    print_table(["scale", "stage", "lines", "MB in", "seconds", "lines/s", "MB/s", "vs floor", "peak MB"], [
        [str(r["scale"]), r["stage"], str(r["lines"]), f"{r['mb']:.1f}", f"{r['seconds']:.2f}",
         f"{r['lines'] / r['seconds']:.0f}", f"{r['mb'] / r['seconds']:.2f}",
         f"{r['lines'] / r['seconds'] / floor[r['scale']]:.3f}", f"{r['peak_rss_mb']:.0f}"] for r in rows])


def print_halves(halves: dict, langs: list, workers: int) -> None:
    print(f"\ncorpus half, luigi CorpusReport --workers {workers}: wall seconds, task seconds per language")
    columns = [*langs, "shared"]
    print_table(["scale", "wall s", *columns], [
        [str(scale), f"{half['wall']:.1f}", *(f"{half['task_seconds'].get(c, 0.0):.1f}" for c in columns)]
        for scale, half in halves.items()])


if __name__ == "__main__":
    main()
