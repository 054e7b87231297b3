"""`python -m pipeline.verify [--work-dir DIR] [--repair]`: check every published stage output.

Every stage lists the size and sha256 of each file it wrote in `_SUCCESS`. Luigi's
`complete()` compares the sizes on every run; this reads every byte and compares the
sha256, so a file changed in place (a bad disk, an edit) is found too. With `--repair` the
damaged outputs lose their `_SUCCESS`: the next run that needs them rebuilds them instead of
trusting them (outputs built from them before the damage stay valid: every stage is
deterministic). Exit code 1 when something is damaged. Outputs being written (`*.tmp-*`)
are not checked; a repair takes the output's lock and checks again first, so it never
unpublishes what a running stage is replacing.
"""
import argparse
import sys
from pathlib import Path

from common.atomic import SUCCESS, find_damage, output_lock


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.verify", description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", help="default: the pipeline's ([cino] work_dir, CINO_WORK_DIR)")
    parser.add_argument("--repair", action="store_true", help="unpublish damaged outputs so they are rebuilt")
    args = parser.parse_args(argv)
    if args.work_dir is None:
        from pipeline import config

        args.work_dir = config.work_dir()
    outputs = sorted(p.parent for p in Path(args.work_dir).rglob(SUCCESS)
                     if not any(".tmp-" in part for part in p.parent.parts))
    damaged = 0
    for output in outputs:
        problems = find_damage(output)
        if problems:
            damaged += 1
            print(f"DAMAGED {output}: " + "; ".join(problems[:3]) + (" ..." if len(problems) > 3 else ""))
            if args.repair:
                with output_lock(output):
                    if find_damage(output):   # still damaged, not replaced meanwhile
                        (output / SUCCESS).unlink(missing_ok=True)
    print(f"{len(outputs)} outputs checked, {damaged} damaged" + (" (unpublished: a run that needs them rebuilds them)"
                                                                     if args.repair and damaged else ""))
    return 1 if damaged else 0


if __name__ == "__main__":
    sys.exit(main())
