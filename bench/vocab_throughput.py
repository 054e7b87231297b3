"""Piece counting (PruneVocabulary's pass over the corpus) beside raw SentencePiece encoding.

    python bench/vocab_throughput.py [--scales 1,10] [--dir /tmp/cino-bench-vocab]

Builds a merged model the way the pipeline does (16K-piece Tibetan and Mongolian models on
the first 20,000 lines of the demo text, merged into XLM-R's vocabulary), then, for the
lines of all eight demo corpora repeated s times, measures in fresh child processes:
- floor: reading the same lines and `encode` with the merged model, one process, one thread;
- count/1 and count/2: vocab.prune.count_pieces with 1 and 2 worker processes.
Prints lines/s, MB/s, the ratio to the floor and peak memory: VmHWM of the process and the
largest forked worker (each holds one chunk of `chunk_mb` at a time).
"""
import argparse
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.measure import peak_rss_mb, print_table, run_child  # noqa: E402
from common.jsonio import write_json  # noqa: E402
from common.xlmr import SPM_FILE  # noqa: E402

CORPORA = REPO.parent / "shared" / "corpora"
BASE = REPO.parent / "shared" / "base" / "xlmr" / SPM_FILE


def build_merged(root: Path) -> Path:
    from corpus.manifest import load_catalog
    from vocab.merge import merge_vocabulary
    from vocab.normalizer import script_rewrite, script_rules
    from vocab.pieces import load_proto
    from vocab.script_model import ScriptModelSettings, train_script_model

    catalog = load_catalog(REPO / "corpora_manifests")
    models = {}
    for script, source in (("Tibt", "bo/nanhai.txt"), ("Mong", "mn/cmilbench.txt")):
        text = root / f"{script}.txt"
        with open(CORPORA / source, encoding="utf-8") as handle, open(text, "w", encoding="utf-8") as out:
            out.writelines(line for _, line in zip(range(20_000), handle))
        train_script_model([text], root / f"{script}.model", 16000, ScriptModelSettings(),
                           script_rules(script_rewrite(catalog, script)))
        models[script] = load_proto(root / f"{script}.model")
    merged, _ = merge_vocabulary(BASE, models, {code: script_rewrite(catalog, code) for code in models})
    (root / "merged.model").write_bytes(merged.SerializeToString())
    return root / "merged.model"


def concatenated_corpus(root: Path, scale: int) -> Path:
    """All eight demo corpora in one file, `scale` times: the text prune counts pieces in."""
    target = root / f"corpus-x{scale}.txt"
    with open(target, "wb") as out:
        for _ in range(scale):
            for path in sorted(CORPORA.glob("*/*.txt")):
                out.write(path.read_bytes())
    return target


def child(mode: str, model: Path, corpus: Path) -> dict:
    from vocab.prune import PruneSettings, chunks, count_pieces

    started = time.perf_counter()
    if mode == "floor":
        import sentencepiece as spm

        processor = spm.SentencePieceProcessor(model_file=str(model))
        lines = 0
        for path, start, end in chunks([corpus], 8 << 20):
            with open(path, "rb") as handle:
                handle.seek(start)
                batch = [line for line in handle.read(end - start).decode("utf-8").split("\n") if line]
            processor.encode(batch, num_threads=1)
            lines += len(batch)
    else:
        counts = count_pieces(model, [corpus], PruneSettings(workers=int(mode.split("/")[1])))
        lines = sum(1 for line in open(corpus, encoding="utf-8") if line.strip())
        assert counts.sum() > lines
    import resource

    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # forked pool workers
    return {"mode": mode, "lines": lines, "mb": corpus.stat().st_size / 2**20,
            "seconds": time.perf_counter() - started, "peak_rss_mb": peak_rss_mb(), "worker_peak_mb": workers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,10")
    parser.add_argument("--dir", default="/tmp/cino-bench-vocab")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import json

        mode, model, corpus = args.child
        print(json.dumps(child(mode, Path(model), Path(corpus))))
        return
    root = Path(args.dir)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    model = build_merged(root)
    rows = []
    for scale in [int(s) for s in args.scales.split(",")]:
        corpus = concatenated_corpus(root, scale)
        for mode in ("floor", "count/1", "count/2"):
            rows.append({"scale": scale, **run_child(__file__, ["--child", mode, str(model), str(corpus)])})
    floor = {r["scale"]: r["lines"] / r["seconds"] for r in rows if r["mode"] == "floor"}
    print_table(["scale", "mode", "lines", "MB", "seconds", "lines/s", "MB/s", "vs floor", "peak MB", "worker MB"], [
        [str(r["scale"]), r["mode"], str(r["lines"]), f"{r['mb']:.1f}", f"{r['seconds']:.2f}",
         f"{r['lines'] / r['seconds']:.0f}", f"{r['mb'] / r['seconds']:.2f}",
         f"{r['lines'] / r['seconds'] / floor[r['scale']]:.3f}", f"{r['peak_rss_mb']:.0f}",
         f"{r['worker_peak_mb']:.0f}"] for r in rows])
    write_json(root / "results.json", rows)


if __name__ == "__main__":
    main()
