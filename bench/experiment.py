"""The CPU experiment: what the pipeline is for, on a model big enough to learn, on 2 cores.

    python bench/experiment.py [--profile small-cpu] [--langs bo,mn,ug] [--workers 2] [--out docs/EXPERIMENTS.md]
    (make experiment)

Runs `luigi --module pipeline BuildCINO --lang LANGS --train-profile PROFILE --workers N
--local-scheduler` in the work dir (CINO_WORK_DIR or ./work_dir, so the corpus half a demo
built is reused), times it, and writes OUT: the command, commit, date, machine, wall time and
the seconds of the stages that ran, then the build's report.md, its figures copied beside OUT
(experiments/PROFILE/figures/).
"""
import argparse
import datetime
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from common.jsonio import read_json  # noqa: E402
from eval.report import cap_note  # noqa: E402


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}"


def stage_seconds(work: Path, since: float) -> dict:
    """Seconds per task family of the tasks that finished after `since` (work_dir/timings)."""
    totals = {}
    for path in (work / "timings").rglob("*.json"):
        if path.stat().st_mtime >= since:
            timing = read_json(path)
            family = timing["task"].split("_", 1)[0]
            totals[family] = totals.get(family, 0.0) + timing["seconds"]
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


def findings(results: dict) -> list:
    """The questions the experiment asks, answered from evaluation.json."""
    def row(kind, lang):   # SIB-200: the set the source language shares with the others
        return next((r for r in results[kind] if r["lang"] == lang and r["set"] == "sib200"), None)

    def value(cell):
        return f"{cell['mean']:.3f} ± {cell['std']:.3f}"

    lines = []
    source = row("in_language", results["source"])
    if source:
        verdict = "beats" if source["base"]["mean"] - source["random"]["mean"] > source["base"]["std"] + source["random"]["std"] \
            else "does not beat"
        lines.append(f"- Pretraining the base: on {results['source']} in-language it scores {value(source['base'])} "
                     f"against its random-init control's {value(source['random'])}: it {verdict} the control by more "
                     "than the two spreads.")
    for r in [r for r in results["in_language"] if r["lang"] != results["source"]]:
        verdict = "within the seeds' spread" if r["within_spread"] else ("better" if r["delta"] > 0 else "worse")
        lines.append(f"- {r['set']}, {r['lang']} in-language ({r['metric']}): trained {value(r['cino'])}, base "
                     f"{value(r['base'])}, random init {value(r['random'])}, fastText {value(r['fasttext'])}, majority "
                     f"{r['majority']:.3f}: trained − base {r['delta']:+.3f} ({verdict}); trained − fastText "
                     f"{r['cino']['mean'] - r['fasttext']['mean']:+.3f}." + (f" {cap_note(r)}" if cap_note(r) else ""))
    if source:
        mlm = results["mlm"].get(results["source"], {})
        lines.append(f"- Forgetting ({results['source']}, kept): in-language trained − base {source['delta']:+.3f}"
                     + (f"; masked-LM loss per character {mlm['base']['loss_per_char']:.3f} -> "
                        f"{mlm['cino']['loss_per_char']:.3f}" if mlm else "") + ".")
    return lines


def build_dir(langs: str, profile: str) -> Path:
    from luigi.cmdline_parser import CmdlineParser

    import pipeline

    with CmdlineParser.global_instance(["BuildCINO", "--lang", langs, "--train-profile", profile]):
        return pipeline.BuildCINO(lang=langs).output().path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="small-cpu")
    parser.add_argument("--langs", default="bo,mn,ug")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "EXPERIMENTS.md")
    args = parser.parse_args()
    os.chdir(REPO)
    work = Path(os.environ.get("CINO_WORK_DIR", "work_dir")).absolute()
    command = ["luigi", "--module", "pipeline", "BuildCINO", "--lang", args.langs, "--train-profile", args.profile,
               "--workers", str(args.workers), "--local-scheduler"]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                           text=True).stdout.strip()
    started = time.time()
    done = subprocess.run([str(Path(sys.executable).parent / command[0]), *command[1:]], env={**os.environ,
                          "CINO_WORK_DIR": str(work)})
    wall = time.time() - started
    if done.returncode != 0:
        sys.exit(f"the build failed ({done.returncode}); see its output above")
    report = build_dir(args.langs, args.profile)
    figures = args.out.parent / "experiments" / args.profile
    shutil.rmtree(figures, ignore_errors=True)
    shutil.copytree(report / "figures", figures / "figures")
    body = (report / "report.md").read_text(encoding="utf-8").split("\n", 1)[1]   # without its title
    body = re.sub(r"^(#+) ", r"#\1 ", body, flags=re.M)   # one level down, under this experiment's heading
    body = body.replace("](figures/", f"]({figures.relative_to(args.out.parent)}/figures/")
    stages = ", ".join(f"{family} {seconds / 60:.1f}" for family, seconds in stage_seconds(work, started).items())
    results = read_json(work / read_json(report / "stats.json")["evaluation_dir"] / "evaluation.json")
    header = [
        "# Experiments", "",
        f"## `{args.profile}`: {args.langs} on a CPU", "",
        f"- command: `make experiment` (`{' '.join(command)}`, work dir `{work.name}`)",
        f"- commit: `{commit}`{' with uncommitted changes' if dirty else ''}; date: "
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {machine()}",
        f"- wall time: {wall / 60:.1f} minutes (stages run, task minutes, {args.workers} workers in parallel: {stages})",
        "- every choice of recipe was made on selection data; the scores below are on data no choice saw", "",
        "### Findings", "", *findings(results), ""]
    args.out.write_text("\n".join(header) + body, encoding="utf-8")
    print(f"{args.out}: {wall / 60:.1f} minutes")


if __name__ == "__main__":
    main()
