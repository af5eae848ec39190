"""Do perturbed copies of the training voices help a new speaker's single clip? A probe.

A model normalised per speaker hears a speaker it was not adapted to through the training
speakers' average statistics, and RAVDESS's dev actors are few voices. The usual remedy is
more voices: speed (tempo and pitch together, Kaldi-style 0.9 / 1.1) or pitch (±2 semitones,
tempo kept) perturbation of the training clips, each perturbed copy of a speaker counted as a
new speaker. (Gain perturbation is left out: the encoder sees level-normalised audio.) This
measures it on the cheapest reader of the frames, the probe (pooled encoder frames + logistic
regression, C and class weights as `frame_stats_logreg`), on the speaker-independent folds of
`benchmarks/studies/real_speech.py`; only training clips are perturbed, the test clips are the
originals. Three ways to read a new voice, each with and without the copies:

- corpus: standardised with the training rows' mean and std, fitted on them;
- per speaker: fitted on each (pseudo-)speaker's own statistics; scored adapted (each test
  speaker's own) and not adapted (the average of the training speakers');
- both views: fitted on each training clip with its speaker's statistics and with the
  average's (`readout_mix` with unadapted_fraction .5); scored both ways.

    python benchmarks/studies/augmentation_probe.py --manifest ravdess-dev.jsonl

Needs scipy and librosa (the test extra). Writes benchmarks/results/augmentation_probe.json;
the encoder statistics of every variant are kept in --work (minutes to compute, on one core).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from wise import LABELS, code_version
from wise.audio import load_audio
from wise.config import FeatureConfig
from wise.crossval import make_folds
from wise.features.encoder import encoder_frames
from wise.features.prosody import pooled
from wise.fsutil import atomic_write_text
from wise.models.baselines.frame_stats_logreg import FrameStatsLogregConfig
from wise.stats import paired_difference
from wise.utterance import read_manifest

OUT = Path(__file__).resolve().parents[1] / "results" / "augmentation_probe.json"


def perturb(x: np.ndarray, variant: str, sr: int = 16000) -> np.ndarray:
    """`x` as variant "speed0.9" / "speed1.1" (resampled: tempo and pitch) or "pitch-2" /
    "pitch+2" (semitones, tempo kept); "orig" is `x`."""
    if variant == "orig":
        return x
    if variant.startswith("speed"):
        from scipy.signal import resample_poly

        factor = float(variant.removeprefix("speed"))        # 0.9: slower, lower
        return resample_poly(x, 10, round(10 * factor)).astype(np.float32)
    import librosa

    steps = float(variant.removeprefix("pitch"))
    return librosa.effects.pitch_shift(x, sr=sr, n_steps=steps).astype(np.float32)


VARIANTS = ["orig", "speed0.9", "speed1.1", "pitch-2", "pitch+2"]
AUGMENTATIONS = {"none": [], "speed": ["speed0.9", "speed1.1"],
                 "pitch": ["pitch-2", "pitch+2"],
                 "speed and pitch": ["speed0.9", "speed1.1", "pitch-2", "pitch+2"]}


def statistics(manifest: str, cfg: FeatureConfig, work: Path) -> dict[str, np.ndarray]:
    """{variant: (U, 2F) pooled encoder frames of every clip}, computed once into `work`."""
    path = work / f"augmentation_{'_'.join(map(str, cfg.encoder_layers))}_{cfg.encoder_window}.npz"
    if path.is_file():
        return dict(np.load(path))
    audio = [u.audio for u in read_manifest(manifest)]
    out = {}
    for v in VARIANTS:
        t0 = time.perf_counter()
        out[v] = np.stack([pooled(encoder_frames(perturb(load_audio(a), v), cfg))
                           for a in audio])
        print(f"  {v}: {len(audio)} clips, {time.perf_counter() - t0:.0f} s", flush=True)
    work.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    return out


def standardised(x: np.ndarray, groups: np.ndarray,
                 stats: dict | None = None) -> tuple[np.ndarray, dict]:
    """Each row of `x` by its group's mean/std (from `stats`, else from the rows themselves)."""
    stats = stats or {g: (x[groups == g].mean(0), x[groups == g].std(0) + 1e-8)
                      for g in np.unique(groups)}
    out = [(r - stats[g][0]) / stats[g][1] for r, g in zip(x, groups, strict=True)]
    return np.stack(out), stats


def reading_scores(stats: dict[str, np.ndarray], y: np.ndarray, speakers: np.ndarray,
                   train: np.ndarray, test: np.ndarray, copies: list[str]) -> dict[str, float]:
    """UA of each reading on `test`, trained on `train` plus its `copies`."""
    from sklearn.linear_model import LogisticRegression

    from wise.metrics import unweighted_accuracy

    probe = FrameStatsLogregConfig()

    def fit(x: np.ndarray, labels: np.ndarray):
        return LogisticRegression(C=probe.C, class_weight=probe.class_weight,
                                  max_iter=probe.max_iter).fit(x, labels)

    def ua(model, x: np.ndarray) -> float:
        return unweighted_accuracy(y[test], model.predict(x), len(LABELS))

    x = np.vstack([stats["orig"][train], *(stats[v][train] for v in copies)])
    labels = np.tile(y[train], 1 + len(copies))
    who = np.concatenate([speakers[train], *(np.char.add(speakers[train], "~" + v)
                                             for v in copies)])
    mean, std = x.mean(0), x.std(0) + 1e-8
    own, by_speaker = standardised(x, who)
    avg = (np.mean([m for m, _ in by_speaker.values()], 0),
           np.mean([s for _, s in by_speaker.values()], 0))
    unknown = (x - avg[0]) / avg[1]
    test_adapted, _ = standardised(stats["orig"][test], speakers[test])
    test_unknown = (stats["orig"][test] - avg[0]) / avg[1]
    corpus = fit((x - mean) / std, labels)
    speaker = fit(own, labels)
    both = fit(np.vstack([own, unknown]), np.tile(labels, 2))
    return {"corpus": ua(corpus, (stats["orig"][test] - mean) / std),
            "per speaker, adapted": ua(speaker, test_adapted),
            "per speaker, not adapted": ua(speaker, test_unknown),
            "both views, adapted": ua(both, test_adapted),
            "both views, not adapted": ua(both, test_unknown)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--layers", default="2", help="encoder layers, comma-separated")
    ap.add_argument("--window", default="clip+7s")
    ap.add_argument("--work", default="runs/augmentation", type=Path)
    args = ap.parse_args()
    t0 = time.perf_counter()
    cfg = FeatureConfig(frames="whisper-tiny.en", encoder_window=args.window,
                        encoder_layers=tuple(int(k) for k in args.layers.split(",")))
    utts = list(read_manifest(args.manifest))
    y = np.array([LABELS.index(u.label) for u in utts])
    speakers = np.array([u.speaker for u in utts])
    rows = list(range(len(utts)))
    folds = make_folds(rows, y.tolist(), [u.session for u in utts], "speaker_groups",
                       args.folds, 0, speakers=speakers.tolist(),
                       genders=[u.gender for u in utts])
    stats = statistics(args.manifest, cfg, args.work)
    scores: dict[str, dict[str, dict[str, float]]] = {}       # augmentation -> reading -> fold
    n_test = n_train = 0
    for name, test in folds:
        test = np.array(test)
        train = np.setdiff1d(np.array(rows), test)
        n_test, n_train = n_test + len(test), n_train + len(train)
        for aug, copies in AUGMENTATIONS.items():
            for reading, ua in reading_scores(stats, y, speakers, train, test, copies).items():
                scores.setdefault(aug, {}).setdefault(reading, {})[name] = ua
    ratio = n_test / n_train          # the originals only: the copies add no new test rows
    table = {aug: {reading: {"ua": float(np.mean(list(by_fold.values()))),
                             "folds": by_fold,
                             "vs_none": paired_difference(by_fold, scores["none"][reading],
                                                          ratio) if aug != "none" else None}
                   for reading, by_fold in readings.items()}
             for aug, readings in scores.items()}
    for aug, readings in table.items():
        print(aug)
        for reading, r in readings.items():
            d = r["vs_none"]
            vs = (f"  {d['mean']:+.3f} [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}]" if d else "")
            print(f"  {reading:26s} {r['ua']:.3f}{vs}")
    atomic_write_text(OUT, json.dumps({
        "manifest": args.manifest, "folds": args.folds, "frames": "whisper-tiny.en",
        "encoder_layers": list(cfg.encoder_layers), "encoder_window": cfg.encoder_window,
        "interval": "95% corrected paired t-interval over the folds (wise.stats)",
        "code_version": code_version(), "seconds": round(time.perf_counter() - t0, 1),
        "table": table}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
