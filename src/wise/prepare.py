"""corpus -> manifest: read a corpus, align what has no alignment, write the manifest rows.

The manifest is the boundary of the pipeline: everything after this reads only manifests.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import NotRequired, TypedDict

from wise.cluster import check_shared, imap
from wise.errors import Skips, WiseError
from wise.fsutil import atomic_write_text
from wise.progress import progress_bar
from wise.utterance import Utterance, write_manifest

MISSING_ALIGNMENT = ("align", "skip")


class PrepareSummary(TypedDict):
    """`<manifest>.summary.json`, what `prepare` hands back: what the manifest holds, and what
    was left out and why."""

    utterances: int
    hours: float
    labels: dict[str, int]
    sessions: dict[str, int]
    speakers: dict[str, int]                # utterances per speaker
    speakers_by_sex: dict[str, int]         # {} when the corpus records no sex
    alignment: dict[str, int]               # utterances per source of their word times
    improvised: int
    dropped: int
    dropped_by_reason: dict[str, dict]      # reason -> {"count", "examples"}
    seconds: NotRequired[float]             # what `prepare` took (not `summarize`)


def prepare(rows: Iterable[Utterance], out: str | Path, skips: Skips, *,
            missing_alignment: str = "align", progress: bool = True, workers: int | None = 1,
            ray: str | None = None) -> PrepareSummary:
    """Write the manifest `out` (JSONL, atomically) and `<out>.summary.json`; return the summary.

    `missing_alignment`: "align" runs the forced aligner on rows without words (rows it cannot
    align are skipped with the reason), in `workers` processes (None: one per core) or as Ray
    tasks on the cluster at `ray`; "skip" drops them with a counted reason.
    """
    if missing_alignment not in MISSING_ALIGNMENT:
        raise WiseError(None, f"--missing-alignment must be one of {', '.join(MISSING_ALIGNMENT)}")
    t0 = time.perf_counter()
    kept: list[Utterance] = []
    to_align: list[Utterance] = []
    for u in rows:
        (kept if u.words else to_align).append(u)
    if to_align and missing_alignment == "skip":
        for u in to_align:
            skips.add("no alignment (skipped by --missing-alignment skip)", u.id)
    elif to_align:
        kept.extend(_align(to_align, skips, progress, workers, ray))
    kept.sort(key=lambda u: (u.session, u.id))  # ids are unique: readers skip duplicates
    if not kept:
        raise WiseError(out, "no utterance left to write (see the reasons above)")
    write_manifest(out, kept)
    summary = summarize(kept, skips)
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    atomic_write_text(f"{out}.summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def _align(rows: list[Utterance], skips: Skips, progress: bool, workers: int | None,
           ray: str | None) -> list[Utterance]:
    done = []
    bar = progress_bar(total=len(rows), desc="aligning", unit="utt", disable=not progress)
    if (workers or os.cpu_count() or 1) == 1 and ray is None:
        _new_aligner()
        results = ((i, align_one(u)) for i, u in enumerate(rows))
    else:
        if ray is not None:
            check_shared(ray, sorted({str(Path(u.audio).parent) for u in rows}))
        results = imap(align_one, rows, workers=workers, ray=ray, initializer=_new_aligner,
                       chunksize=4, name="align")
    finished: dict[int, tuple[Utterance, str | None]] = {}
    for i, result in results:
        finished[i] = result
        bar.update()
    bar.close()
    for i in sorted(finished):          # in the input's order, however the work was spread
        u, error = finished[i]
        if error is None:
            done.append(u)
        else:
            skips.add("could not be aligned", f"{rows[i].id} ({error})")
    return done


_aligner = None     # one per process: the aligner loads its model once (wise.align.forced)


def _new_aligner() -> None:
    global _aligner
    from wise.align.forced import ForcedAligner  # loads its model: only when needed

    _aligner = ForcedAligner()


def align_one(u: Utterance) -> tuple[Utterance, str | None]:
    """Worker: force-align one row's transcript; return the row with its word and phone times,
    or the reason it could not be aligned."""
    from wise.audio import load_audio

    try:
        a = _aligner.align(load_audio(u.audio), u.text, source=u.audio)
    except WiseError as e:
        return u, e.message
    u.words, u.phones = a.words, a.phones
    u.alignment = "forced" if a.attempt == "default" else f"forced ({a.attempt})"
    return u, None


def summarize(rows: list[Utterance], skips: Skips) -> PrepareSummary:
    sex = {u.speaker: u.gender for u in rows if u.gender}
    by_sex = Counter(sex.get(spk, "unknown") for spk in {u.speaker for u in rows})
    return {
        "utterances": len(rows),
        "hours": round(sum(u.duration or 0.0 for u in rows) / 3600, 3),
        "labels": dict(sorted(Counter(u.label for u in rows).items())),
        "sessions": dict(sorted(Counter(u.session for u in rows).items())),
        "speakers": dict(sorted(Counter(u.speaker for u in rows).items())),
        "speakers_by_sex": dict(sorted(by_sex.items())) if sex else {},
        "alignment": dict(sorted(Counter(str(u.alignment) for u in rows).items())),
        "improvised": sum(1 for u in rows if u.improvised),
        "dropped": skips.total(),
        "dropped_by_reason": skips.as_dict(),
    }


def summary_lines(s: PrepareSummary, skips: Skips) -> list[str]:
    def counts(d: dict) -> str:
        return "  ".join(f"{k} {v}" for k, v in d.items())

    lines = [f"{s['utterances']} utterances, {s['hours']:.2f} h of audio",
             f"  classes:   {counts(s['labels'])}",
             f"  sessions:  {counts(s['sessions'])}",
             f"  speakers:  {counts(s['speakers'])}",
             f"  alignment: {counts(s['alignment'])}"]
    if s["improvised"]:
        lines.append(f"  improvised: {s['improvised']} of {s['utterances']}")
    if s["speakers_by_sex"]:
        lines.append(f"  speakers by sex: {counts(s['speakers_by_sex'])}")
    lines.append(f"dropped {skips.total()}" + (":" if skips.total() else ""))
    lines += ["  " + line for line in skips.lines()]
    return lines
