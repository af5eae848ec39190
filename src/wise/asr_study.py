"""What ASR costs: WISE trained on gold transcripts, tested on gold vs recognised ones.

The paper evaluates on IEMOCAP's gold transcripts and leaves ASR errors to future work; a
user with a recording has no transcript. This study measures the gap, fold by fold, with the
same speaker-independent folds as `wise cv`:

1. cross-validate the model on gold transcripts (`wise cv`, reused if already run);
2. transcribe every test utterance with the offline recogniser (Whisper by default, or
   pocketsphinx), and force-align both the recognised and the gold transcript (each worker
   process has its own decoders; results are appended to `transcripts.jsonl`, each line
   naming its recogniser and carrying the SHA-256 of its own content, so an interrupted run
   resumes, a damaged line is redone and another recogniser starts afresh);
3. score every test utterance with its fold's model under three conditions:
   - gold:        gold transcript, the corpus's word/phone times (what `wise cv` scored);
   - gold_forced: gold transcript, times from our forced aligner (isolates the aligner);
   - asr:         recognised transcript, forced-aligned (what `wise predict` does);
   and compute the word error rate of the recognised transcripts per fold.
An utterance in which the recogniser finds no speech, or whose transcript cannot be aligned,
gets no label: it counts as wrong, and the count is reported.

Writes `results.json`, `results.md` and `asr_study.png` into the output folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Required, TypedDict

import numpy as np

from wise.align.asr import DEFAULT_RECOGNIZER, make_recognizer
from wise.audio import load_audio
from wise.cluster import check_shared, imap
from wise.config import RunConfig
from wise.errors import WiseError
from wise.fsutil import append_record, atomic_write_text
from wise.labels import LABELS
from wise.metrics import confusion, recalls
from wise.plots import plot_study
from wise.predict import Predictor, utterance_features
from wise.progress import progress_bar
from wise.results import CVSummary
from wise.runtime import DEFAULT_RUNTIME, Runtime
from wise.text import tokenize
from wise.utterance import Segment, read_manifest
from wise.version import code_version

CONDITIONS = ("gold", "gold_forced", "asr")
CONDITION_NAMES = {"gold": "gold transcript, corpus times",
                   "gold_forced": "gold transcript, forced-aligned",
                   "asr": "ASR transcript, forced-aligned"}



class TranscriptLine(TypedDict, total=False):
    """One line of `transcripts.jsonl`: what the worker heard and aligned in one utterance.
    Segments are [token, start, end] in seconds; an `*_error` says why that part is missing."""

    id: Required[str]
    asr: Required[str]              # the recogniser's name: another's lines are redone
    error: str                      # the audio could not be read
    asr_text: str
    asr_confidence: float
    asr_words: list[list]
    asr_phones: list[list]
    asr_error: str
    forced_words: list[list]        # the gold transcript, force-aligned
    forced_phones: list[list]
    forced_error: str


class ConditionScores(TypedDict):
    """One fold's model under one test condition; no label counts as wrong."""

    wa: float
    ua: float
    n: int
    unlabelled: int                 # utterances that got no label (no speech, no alignment)


class WordErrors(TypedDict):
    wer: float
    substitutions: int
    deletions: int
    insertions: int
    ref_words: int


class StudyFold(TypedDict):
    fold: int
    test: str
    n: int
    wer: WordErrors
    asr_confidence_mean: float | None
    gold: ConditionScores
    gold_forced: ConditionScores
    asr: ConditionScores


class StudySummary(TypedDict):
    """`results.json` of `wise asr-study`, what `asr_study` hands back."""

    name: str
    config: dict
    manifest: str
    code_version: str
    protocol: str
    recogniser: str
    folds: list[StudyFold]
    wer: dict[str, float]           # {"mean", "std"} over folds, "pooled" over utterances
    gold: dict[str, object]         # per condition: {"wa", "ua": {"mean", "std"}, "unlabelled"}
    gold_forced: dict[str, object]
    asr: dict[str, object]


_tools = None


def _init_worker(asr: str, asr_model: str | None) -> None:
    global _tools
    from threadpoolctl import threadpool_limits

    from wise.align import ForcedAligner

    threadpool_limits(1)
    _tools = (ForcedAligner(), make_recognizer(asr, asr_model))


def _segments(segs: list[Segment]) -> list[list]:
    return [[s.token, round(s.start, 4), round(s.end, 4)] for s in segs]


def transcribe(task: tuple[str, str, str]) -> TranscriptLine:
    """Worker: recognise one utterance and force-align its recognised and gold transcripts."""
    utt_id, audio, text = task
    aligner, recognizer = _tools
    out: TranscriptLine = {"id": utt_id, "asr": recognizer.name}
    try:
        x = load_audio(audio)
    except WiseError as e:
        return {**out, "error": e.message}
    try:
        rec = recognizer.recognize(x, source=audio)
        out.update(asr_text=rec.text, asr_confidence=round(rec.confidence, 4))
        a = aligner.align(x, rec.text, source=audio)
        out.update(asr_words=_segments(a.words), asr_phones=_segments(a.phones))
    except WiseError as e:
        out.setdefault("asr_text", "")
        out["asr_error"] = e.message
    try:
        a = aligner.align(x, text, source=audio)
        out.update(forced_words=_segments(a.words), forced_phones=_segments(a.phones))
    except WiseError as e:
        out["forced_error"] = e.message
    return out


def _read_done(path: Path, recognizer: str) -> dict[str, TranscriptLine]:
    """The utterances `recognizer` has done already. A line cut short by an interrupted run,
    or whose content does not match its checksum, is left out, so it is redone."""
    done: dict[str, TranscriptLine] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if not isinstance(row, dict) or not isinstance(row.get("id"), str):
                continue
            if row.pop(LINE_CHECK, None) != _line_check(row):
                continue
            if row.get("asr") == recognizer:
                done[row["id"]] = row
    return done


LINE_CHECK = "sha256"


def _line_check(row: dict) -> str:
    return hashlib.sha256(json.dumps(row, sort_keys=True).encode()).hexdigest()[:16]


def transcribe_all(tasks: list[tuple[str, str, str]], out_file: Path, *, workers: int,
                   progress: bool, asr: str = DEFAULT_RECOGNIZER,
                   asr_model: str | Path | None = None, ray: str | None = None
                   ) -> dict[str, TranscriptLine]:
    done = _read_done(out_file, make_recognizer(asr, asr_model).name)
    todo = [t for t in tasks if t[0] not in done]
    if todo:
        bar = progress_bar(total=len(todo), desc="ASR + alignment", unit="utt",
                           disable=not progress)
        out_file.parent.mkdir(parents=True, exist_ok=True)
        # Appended line by line: each line is one finished utterance, so a kill loses at most
        # the line being written (cut off here, and redone).
        cut_partial_line(out_file)
        with open(out_file, "ab", buffering=0) as f:
            model = None if asr_model is None else str(asr_model)
            if ray is not None:
                check_shared(ray, sorted({str(Path(t[1]).parent) for t in todo}
                                         | ({model} if model else set())))
            for _, row in imap(transcribe, todo, workers=max(1, workers), ray=ray,
                               initializer=_init_worker, initargs=(asr, model), chunksize=4,
                               name="asr"):
                append_record(f, (json.dumps({**row, LINE_CHECK: _line_check(row)})
                                  + "\n").encode("utf-8"))
                done[row["id"]] = row
                bar.update()
        bar.close()
    return done


def cut_partial_line(path: Path) -> None:
    """Drop a last line that a kill cut short (no newline at its end): a line appended after
    it would be glued to it, and the two read as one damaged line by every later run."""
    if not path.is_file():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)


def _seg(rows: list | None) -> list[Segment]:
    return [Segment(t, s, e) for t, s, e in rows or []]


def _scores(y_true: list[int], y_pred: list[int]) -> ConditionScores:
    """WA/UA where a prediction of -1 (no label) counts as wrong."""
    n = len(LABELS)
    yt = np.array(y_true)
    yp = np.array([p if p >= 0 else n for p in y_pred])   # an extra "no label" column
    cm = confusion(yt, yp, n + 1)
    return {"wa": float((yt == yp).mean()), "ua": float(np.nanmean(recalls(cm)[:n])),
            "n": len(y_true), "unlabelled": int((yp == n).sum())}


def word_error_rate(refs: list[str], hyps: list[str]) -> WordErrors:
    """Corpus-level WER of `hyps` against `refs` (both as `tokenize` would split them)."""
    import jiwer

    pairs = [(" ".join(tokenize(r)), " ".join(tokenize(h))) for r, h in zip(refs, hyps,
                                                                           strict=True)]
    pairs = [(r, h) for r, h in pairs if r]
    o = jiwer.process_words([r for r, _ in pairs], [h for _, h in pairs])
    ref_words = o.hits + o.substitutions + o.deletions
    return {"wer": round(o.wer, 4), "substitutions": o.substitutions,
            "deletions": o.deletions, "insertions": o.insertions, "ref_words": ref_words}


def asr_study(run: RunConfig, manifest: str | Path, out_dir: str | Path, *,
              asr: str = DEFAULT_RECOGNIZER, asr_model: str | Path | None = None,
              runtime: Runtime = DEFAULT_RUNTIME) -> StudySummary:
    """Cross-validate `run` on gold transcripts into OUT/cv, recognise and align every test
    utterance with `asr` (resuming from OUT/transcripts.jsonl), score each fold's model on
    gold, gold force-aligned and recognised transcripts; write and return the study."""
    from wise.crossval import fold_dir, run_cv

    log = runtime.log

    recognizer = make_recognizer(asr, asr_model).name     # a bad choice fails before the CV
    out = Path(out_dir)
    log(f"[1/3] {run.name}: cross-validation on gold transcripts -> {out / 'cv'}")
    cv = run_cv(run, manifest, out / "cv", runtime=runtime.indented())
    rows = {u.id: u for u in read_manifest(manifest)}
    folds = []
    for f in cv["folds"]:
        preds = [json.loads(line) for line in
                 (fold_dir(out / "cv", f["seed"], f["fold"]) / "predictions.jsonl").read_text()
                 .splitlines()]
        folds.append((f, preds))
    tasks = [(p["id"], rows[p["id"]].audio, rows[p["id"]].text) for _, ps in folds for p in ps]
    n_workers = runtime.workers or os.cpu_count() or 1
    where = f"{n_workers} processes" if runtime.ray is None else "on the Ray cluster"
    log(f"[2/3] recognising ({recognizer}) and aligning {len(tasks)} test utterances "
        f"({where}; resumes from {out / 'transcripts.jsonl'})")
    done = transcribe_all(tasks, out / "transcripts.jsonl", workers=n_workers,
                          progress=runtime.progress, asr=asr, asr_model=asr_model, ray=runtime.ray)

    log("[3/3] scoring every fold's model on gold and recognised transcripts")
    results: list[StudyFold] = []
    for f, preds in folds:
        p = Predictor(fold_dir(out / "cv", f["seed"], f["fold"]) / "model.wise")
        y_true = [LABELS.index(x["label"]) for x in preds]
        y = {"gold": [LABELS.index(x["pred"]) for x in preds], "gold_forced": [], "asr": []}
        refs, hyps, conf = [], [], []
        for x in preds:
            t, u = done[x["id"]], rows[x["id"]]
            refs.append(u.text)
            hyps.append(t.get("asr_text", ""))
            if "asr_confidence" in t:
                conf.append(t["asr_confidence"])
            frames = None           # one MFCC pass serves both alignments
            for cond, key in (("gold_forced", "forced"), ("asr", "asr")):
                if f"{key}_words" not in t:
                    y[cond].append(-1)
                    continue
                if frames is None:
                    frames, functionals = p.audio_features(
                        load_audio(u.audio, p.features.sample_rate))
                feats, _ = utterance_features(frames, _seg(t[f"{key}_words"]),
                                              _seg(t[f"{key}_phones"]), p.features, p.vectors,
                                              functionals)
                probs, _ = p.score(feats)
                y[cond].append(int(np.argmax(probs)))
        r: StudyFold = {
            "fold": f["fold"], "test": f["test"], "n": len(preds),
            "wer": word_error_rate(refs, hyps),
            "asr_confidence_mean": round(float(np.mean(conf)), 4) if conf else None,
            "gold": _scores(y_true, y["gold"]),
            "gold_forced": _scores(y_true, y["gold_forced"]), "asr": _scores(y_true, y["asr"])}
        results.append(r)
        log(f"  fold {f['fold']} ({f['test']}): WER {r['wer']['wer']:.1%}  UA gold "
            f"{r['gold']['ua']:.3f}  gold+forced {r['gold_forced']['ua']:.3f}  "
            f"ASR {r['asr']['ua']:.3f}")
    summary = _summary(run, manifest, cv, results, recognizer)
    atomic_write_text(out / "results.json", json.dumps(summary, indent=2) + "\n")
    atomic_write_text(out / "results.md", study_markdown(summary))
    plot_study(summary, CONDITION_NAMES, out / "asr_study.png")
    return summary


def _summary(run: RunConfig, manifest, cv: CVSummary, results: list[StudyFold],
             recognizer: str) -> StudySummary:
    def stat(cond: str, key: str) -> dict:
        v = np.array([r[cond][key] for r in results])
        return {"mean": float(v.mean()), "std": float(v.std())}

    wer = np.array([r["wer"]["wer"] for r in results])
    edits = sum(r["wer"][k] for r in results for k in ("substitutions", "deletions",
                                                        "insertions"))
    ref_words = sum(r["wer"]["ref_words"] for r in results)
    return {
        "name": run.name, "config": run.to_dict(), "manifest": str(manifest),
        "code_version": code_version(), "protocol": cv["protocol"],
        "recogniser": recognizer,
        "folds": results,
        "wer": {"mean": float(wer.mean()), "std": float(wer.std()),
                "pooled": round(edits / max(1, ref_words), 4)},
        **{cond: {"wa": stat(cond, "wa"), "ua": stat(cond, "ua"),
                  "unlabelled": sum(r[cond]["unlabelled"] for r in results)}
           for cond in CONDITIONS},
    }


def study_markdown(s: StudySummary) -> str:
    lines = [f"# ASR study: {s['name']} trained on gold transcripts, tested on gold vs ASR",
             "", f"- Manifest: `{s['manifest']}`; protocol: {s['protocol']}; code version "
             f"`{s['code_version']}`.", f"- Recogniser: {s['recogniser']}.",
             f"- Word error rate of the recognised transcripts: {s['wer']['pooled']:.1%} "
             f"pooled over all test utterances ({s['wer']['mean']:.1%} ± "
             f"{s['wer']['std']:.1%} over folds).",
             "- Scores are mean ± std over folds. Utterances that get no label (no speech "
             "recognised, or an alignment failure) count as wrong.", "",
             "| Test transcript | WA | UA | no label |", "|---|---|---|---|"]
    for cond in CONDITIONS:
        c = s[cond]
        lines.append(f"| {CONDITION_NAMES[cond]} | {c['wa']['mean']:.3f} ± {c['wa']['std']:.3f}"
                     f" | {c['ua']['mean']:.3f} ± {c['ua']['std']:.3f} | {c['unlabelled']} |")
    lines += ["", "Per fold:", "",
              "| Fold | Test | N | WER | UA gold | UA gold, forced | UA ASR | ASR confidence |",
              "|---|---|---|---|---|---|---|---|"]
    for r in s["folds"]:
        conf = "" if r["asr_confidence_mean"] is None else f"{r['asr_confidence_mean']:.2f}"
        lines.append(f"| {r['fold']} | {r['test']} | {r['n']} | {r['wer']['wer']:.1%} | "
                     f"{r['gold']['ua']:.3f} | {r['gold_forced']['ua']:.3f} | "
                     f"{r['asr']['ua']:.3f} | {conf} |")
    return "\n".join(lines) + "\n"
