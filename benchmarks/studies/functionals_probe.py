"""Which utterance functionals carry emotion on real speech, and does a permissive set do?

A linear-time probe, not a model: an RBF SVM (balanced classes) on utterance functionals, on
the same speaker-independent folds as `benchmarks/studies/real_speech.py` (speaker_groups, one
seed), each set standardised over the corpus (the classic recipe) or per speaker (each
speaker's own mean/std, as WISE+ does; no labels). Sets:

- `egemaps`: openSMILE's 88 eGeMAPSv02 functionals (research licence; the optional extra);
- `mfcc_stats`: mean and std of our 39 MFCC values (no prosody);
- `librosa`: 26 functionals from permissively licensed librosa (ISC): F0 in semitones
  (YIN, 60-500 Hz), RMS level, spectral centroid and log flatness over the voiced frames
  (mean, std, 20th/50th/80th percentile, 20-80 range), mean absolute F0 change, voiced share.
  librosa is not a dependency of wise: `pip install librosa` to run this set.

    python benchmarks/studies/functionals_probe.py --manifest ravdess-dev.jsonl

Writes benchmarks/results/functionals_probe.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from wise import LABELS, code_version
from wise.audio import load_audio
from wise.config import FeatureConfig
from wise.crossval import make_folds
from wise.features.functionals import functionals
from wise.features.mfcc import mfcc
from wise.fsutil import atomic_write_text
from wise.utterance import read_manifest

OUT = Path(__file__).resolve().parents[1] / "results" / "functionals_probe.json"


def librosa_functionals(x: np.ndarray, sr: int = 16000) -> np.ndarray:
    import librosa

    f0 = librosa.yin(x, fmin=60, fmax=500, sr=sr, frame_length=1024, hop_length=160)
    db = 20 * np.log10(librosa.feature.rms(y=x, frame_length=400, hop_length=160)[0] + 1e-6)
    n = min(len(f0), len(db))
    f0, db = f0[:n], db[:n]
    voiced = db > db.max() - 30           # within 30 dB of the clip's loudest frame
    st = 12 * np.log2(f0[voiced] / 27.5)
    centroid = librosa.feature.spectral_centroid(y=x, sr=sr, n_fft=512, hop_length=160)[0][:n]
    flatness = librosa.feature.spectral_flatness(y=x, n_fft=512, hop_length=160)[0][:n]

    def six(v: np.ndarray) -> list[float]:
        p20, p50, p80 = np.percentile(v, [20, 50, 80])
        return [v.mean(), v.std(), p20, p50, p80, p80 - p20]

    return np.array(six(st) + six(db[voiced]) + six(centroid[voiced])
                    + six(np.log(flatness[voiced] + 1e-8))
                    + [np.abs(np.diff(st)).mean(), voiced.mean()], np.float32)


def per_speaker(x: np.ndarray, speakers: np.ndarray) -> np.ndarray:
    z = x.copy()
    for s in np.unique(speakers):
        m = speakers == s
        z[m] = (x[m] - x[m].mean(0)) / (x[m].std(0) + 1e-8)
    return z


def main() -> int:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rows = list(read_manifest(args.manifest))
    y = np.array([LABELS.index(u.label) for u in rows])
    speakers = np.array([u.speaker for u in rows])
    folds = make_folds(list(range(len(rows))), y.tolist(), [u.session for u in rows],
                       "speaker_groups", args.folds, args.seed, speakers=speakers.tolist(),
                       genders=[u.gender for u in rows])
    audio = [load_audio(u.audio) for u in rows]
    cfg = FeatureConfig()
    sets, seconds = {}, {}
    for name, fn in (("egemaps", lambda x: functionals(x, 16000)),
                     ("mfcc_stats", lambda x: np.concatenate([mfcc(x, cfg).mean(0),
                                                              mfcc(x, cfg).std(0)])),
                     ("librosa", librosa_functionals)):
        t0 = time.perf_counter()
        sets[name] = np.nan_to_num(np.stack([fn(x) for x in audio]))
        seconds[name] = round(time.perf_counter() - t0, 1)
    sets["egemaps+mfcc_stats"] = np.hstack([sets["egemaps"], sets["mfcc_stats"]])
    result = {"manifest": args.manifest, "folds": args.folds, "seed": args.seed,
              "code_version": code_version(), "seconds_to_compute": seconds, "sets": {}}
    for name, x in sets.items():
        for norm in ("corpus", "speaker"):
            xn = x if norm == "corpus" else per_speaker(x, speakers)
            uas = []
            for _, test in folds:
                te = np.zeros(len(rows), bool)
                te[test] = True
                clf = make_pipeline(StandardScaler(), SVC(class_weight="balanced"))
                pred = clf.fit(xn[~te], y[~te]).predict(xn[te])
                uas.append(float(np.mean([np.mean(pred[y[te] == c] == c)
                                          for c in np.unique(y[te])])))
            result["sets"][f"{name}/{norm}"] = {
                "dims": int(x.shape[1]), "ua_mean": round(float(np.mean(uas)), 4),
                "ua_std": round(float(np.std(uas)), 4), "fold_ua": [round(u, 4) for u in uas]}
            print(f"{name:20s} {norm:8s} UA {np.mean(uas):.3f} ± {np.std(uas):.3f}", flush=True)
    OUT.parent.mkdir(exist_ok=True)
    atomic_write_text(OUT, json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
