"""A copy of the corpora that the manifests name, smaller or larger, with the manifests rewritten
to the copies' sha256: the first lines of every source (a quick run on real text, the tests), or
every source repeated (throughput at 10x the data, the benchmarks).

    env = sample_corpus(Path("/tmp/sample"), Path("corpora_manifests"), Path("../shared/corpora"), lines=1000)
    # luigi --module pipeline BuildCINO --lang bo,mn,ug with CINO_DATA_ROOT, CINO_MANIFESTS_DIR,
    # CINO_WORK_DIR set to env's values

Sources are copied as bytes (line ends, BOMs and invalid bytes included), so every stage
meets what it would meet in the originals.
"""
import itertools
from pathlib import Path

import yaml

from common.fingerprint import sha256_file
from corpus.manifest import SCRIPTS_FILE


def sample_corpus(root: Path, manifests_dir: Path, data_root: Path, lines: int = None, repeat: int = 1,
                  repeat_langs=None) -> dict:
    """Copy every source of the manifests in `manifests_dir` (paths relative to `data_root`) under
    root/data, cut to its first `lines` lines (None: whole) and written `repeat` times (only for
    the languages in `repeat_langs`, if given); manifests under root/manifests. Returns the
    environment that points the pipeline at the copy (work dir root/work)."""
    data, manifests = Path(root) / "data", Path(root) / "manifests"
    manifests.mkdir(parents=True, exist_ok=True)
    (manifests / SCRIPTS_FILE).write_bytes((Path(manifests_dir) / SCRIPTS_FILE).read_bytes())
    for path in sorted(Path(manifests_dir).glob("*.yaml")):
        if path.name == SCRIPTS_FILE:
            continue
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        times = repeat if repeat_langs is None or doc["code"] in repeat_langs else 1
        for source in doc["sources"]:
            target = data / source["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(Path(data_root) / source["path"], "rb") as src:
                content = b"".join(itertools.islice(src, lines)) if lines is not None else src.read()
            with open(target, "wb") as out:
                for _ in range(times):
                    out.write(content)
            source["sha256"] = sha256_file(target)
        (manifests / path.name).write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return {"CINO_DATA_ROOT": str(data), "CINO_MANIFESTS_DIR": str(manifests), "CINO_WORK_DIR": str(Path(root) / "work")}
