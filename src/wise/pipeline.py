"""The paper end to end: `reproduce` cross-validates every table row and writes the report
(`write_report`: results.md and results.json from `wise.report`, rows.png and confusions.png
from `wise.plots`).

`wise reproduce`, `wise report` and `wise demo` run through here."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from wise.errors import WiseError
from wise.fsutil import atomic_write_text
from wise.plots import plot_confusions, plot_rows
from wise.report import (
    display_name,
    format_mean_std,
    load_summaries,
    results_table,
    table_markdown,
)
from wise.results import FoldResult
from wise.runtime import DEFAULT_RUNTIME, Runtime


def write_report(run_dirs: Iterable[str | Path], out_dir: str | Path,
                 corpus_name: str) -> Path:
    """Write results.md, results.json, rows.png and confusions.png into `out_dir`; each file
    replaces its old version only once complete. Returns the path of results.md."""
    summaries = load_summaries(run_dirs)
    out = Path(out_dir)
    table = results_table(summaries, corpus_name)
    atomic_write_text(out / "results.json", json.dumps(table, indent=2) + "\n")
    plot_rows(summaries, out / "rows.png", corpus_name=corpus_name)
    plot_confusions(summaries, out / "confusions.png")
    atomic_write_text(out / "results.md", table_markdown(table))
    return out / "results.md"


def reproduce(manifest: str | Path, out_dir: str | Path, configs: Sequence[str | Path], *,
              corpus_name: str, sets: Sequence[str] = (), seeds: int = 1,
              skip_unavailable: bool = False, runtime: Runtime = DEFAULT_RUNTIME) -> Path:
    """Cross-validate every config into `out_dir/<name>` (finished folds are reused, so an
    interrupted reproduction resumes), then write the report into `out_dir`. A row whose
    optional extra is not installed (openSMILE, librosa) is an error, or with
    `skip_unavailable` left out with a log line. Returns the path of results.md."""
    # Imported here: `wise report` (write_report alone) needs no torch.
    from wise.crossval import CVPlan, plan_cv, run_jobs
    from wise.features.prosody import require_extras
    from wise.models.build import is_classic, require_classic
    from wise.rows import load_run_config

    log = runtime.log

    # Read every config before training anything: a typo in the last one should not surface
    # hours later.
    runs = [load_run_config(c, list(sets)) for c in configs]
    if not runs:
        raise WiseError(None, "no configs to run")
    seen: dict[str, str] = {}
    for c, run in zip(configs, runs, strict=True):
        if run.name in seen:
            raise WiseError(c, f"name {run.name!r} is also the name of {seen[run.name]}; "
                               "each row needs its own name (its results folder)")
        seen[run.name] = str(c)
    unavailable: dict[str, WiseError] = {}
    for run in runs:
        try:
            if is_classic(run.model):
                require_classic(run.model, run.name)
            require_extras(run.features)
        except WiseError as e:
            unavailable[run.name] = e
    for name, e in unavailable.items():
        if not skip_unavailable:
            raise e
        log(f"leaving out {name}: {e.message}")
    runs = [r for r in runs if r.name not in unavailable]
    out = Path(out_dir)
    # Plan every row first (features, folds, what is finished), then train every row's
    # (seed, fold) jobs in one pool: a row's last fold no longer leaves cores idle.
    plans = []
    for i, run in enumerate(runs, 1):
        log(f"[{i}/{len(runs)}] {run.name} ({display_name(run.name)}): {run.cv.protocol} "
            f"cross-validation, subset {run.cv.subset} -> {out / run.name}")
        plans.append(plan_cv(run, manifest, out / run.name, seeds=seeds, runtime=runtime))
    left = {id(p): len(p.todo) for p in plans}
    owner = {id(job): p for p in plans for job in p.todo}
    number = {id(p): i for i, p in enumerate(plans, 1)}

    def row_done(plan: CVPlan) -> None:
        s = plan.summary()
        log(f"[{number[id(plan)]}/{len(plans)}] {plan.run.name}: "
            f"WA {format_mean_std(s['wa_mean'], s['wa_std'])}  "
            f"UA {format_mean_std(s['ua_mean'], s['ua_std'])}  ({len(s['folds'])} runs, "
            f"{s['n_params']:,} parameters)")

    def finished(job, result: FoldResult) -> None:
        plan = owner[id(job)]
        plan.finished(result)
        left[id(plan)] -= 1
        if not left[id(plan)]:
            row_done(plan)

    for plan in plans:
        if not plan.todo:
            row_done(plan)
    todo = [job for p in plans for job in p.todo]
    if todo:
        where = (f"{max(1, runtime.jobs)} at a time" if runtime.ray is None
                 else "on the Ray cluster")
        log(f"training {len(todo)} (row, seed, fold) runs, {where}")
    run_jobs(todo, runtime.jobs, finished, ray=runtime.ray)
    path = write_report([p.out for p in plans], out, corpus_name)
    log(f"report: {path}")
    return path
