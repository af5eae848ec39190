"""Oracle probe: can the synthetic corpus's interaction rows be learned from what models see?

The interaction third's label is INTERACTION[group of the pivot word][local pattern on it]
(docs/synthetic-corpus.md). This probe checks, with simple classifiers and no model of the
project, that the rule is learnable from the paper's features: the feature pack built by
`wise features` (the project's own MFCCs + deltas), normalised by `wise.normalize.Normalizer`
as training does (statistics of the training sessions; "speaker" mode adds a test speaker's
own statistics from his or her frames, as the models do). The pivot word's frames and
phones are the pack's gold spans. Design, pass criterion and controls:
docs/synthetic-interaction-design.md.

Probes, each a standardised logistic regression, leave one session out, trained on the
written labels of the training sessions' interaction rows and scored against the clean and
the written label:

- oracle:              pivot group one-hot + (group x pivot frame features) -> label
- pattern:             pivot frame features -> pattern (the recognisability of the patterns)
- pivot_identity:      pivot word one-hot -> label                         (control, ~chance)
- pivot_features:      pivot frame features -> label                       (control, ~chance)
- utterance_level:     bag of words + (groups present x utterance frame mean/std) -> label
                       (control: pattern and both groups knowable, not which word has it)

Pivot frame features: mean and std of the 39 normalised dims over the pivot's frames, its
frame count and its mean frames per phone.

    wise synth /tmp/synth2k --utterances 2000 --seed 0 --workers 1
    wise prepare iemocap /tmp/synth2k --out /tmp/synth2k/manifest.jsonl
    wise features /tmp/synth2k/manifest.jsonl --workers 1
    python benchmarks/studies/interaction_probe.py --corpus /tmp/synth2k

Writes benchmarks/results/interaction_probe.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from wise import code_version
from wise.config import NORMALIZE_MODES, FeatureConfig, TrainConfig
from wise.errors import Skips, WiseError
from wise.features.cache import FeatureStore, build_features
from wise.fsutil import atomic_write_text
from wise.normalize import Normalizer
from wise.utterance import read_manifest

OUT = Path(__file__).resolve().parents[1] / "results" / "interaction_probe.json"
ORACLE_PASS = 0.80   # pre-registered: oracle accuracy against the clean label (default mode)
C = 1.0              # logistic regression's inverse regularisation, fixed before any run


def read_meta(corpus: Path) -> dict[str, dict]:
    path = corpus / "synthetic_meta.jsonl"
    if not path.is_file():
        raise WiseError(path, "no synthetic_meta.jsonl: not a complete `wise synth` corpus")
    with open(path, encoding="utf-8") as f:
        return {m["id"]: m for m in map(json.loads, f)}


def one_hot(values: list[str], names: list[str]) -> np.ndarray:
    out = np.zeros((len(values), len(names)))
    out[np.arange(len(values)), [names.index(v) for v in values]] = 1.0
    return out


def crossed(groups: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Each group indicator times every feature: lets a linear model learn one rule per
    group, which a Latin square needs (additive scores cannot express it)."""
    return np.hstack([groups, (groups[:, :, None] * x[:, None, :]).reshape(len(x), -1)])


def pivot_features(frames: np.ndarray, n_phones: int) -> np.ndarray:
    """Mean and std of the word's normalised frames, its frame count, frames per phone."""
    return np.concatenate([frames.mean(0), frames.std(0),
                           [len(frames), len(frames) / max(n_phones, 1)]])


def fold_features(store: FeatureStore, normalizer: Normalizer, rows: list[int],
                  speakers: list[str], pivots: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(pivot frame features, utterance frame mean/std) of interaction store rows."""
    piv, utt = [], []
    for i, pivot in zip(rows, pivots, strict=True):
        u = store[i]
        x = normalizer.apply(np.asarray(u.frames), speakers[i])
        k = u.words.index(pivot)
        (f0, f1), (p0, p1) = u.word_frames[k], u.word_phones[k]
        piv.append(pivot_features(x[f0:f1], int(p1 - p0)))
        utt.append(np.concatenate([x.mean(0), x.std(0)]))
    return np.array(piv), np.array(utt)


def accuracy(pred: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean(pred == truth))


def main() -> int:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, required=True, help="a `wise synth` folder")
    ap.add_argument("--manifest", type=Path, default=None,
                    help="from `wise prepare iemocap` (default: CORPUS/manifest.jsonl)")
    ap.add_argument("--cache", type=Path, default=None,
                    help="feature cache (default: wise-cache/ beside the manifest)")
    ap.add_argument("--normalize", nargs="+", choices=NORMALIZE_MODES,
                    default=[TrainConfig().normalize, "speaker"],
                    help="frame normalisations to probe (default: the models' default, "
                    "then speaker); the pass criterion applies to the first")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    manifest = args.manifest or args.corpus / "manifest.jsonl"
    cache = args.cache or manifest.parent / "wise-cache"
    try:
        meta = read_meta(args.corpus)
        # Reuses the pack `wise features` built (the default feature config, as the models).
        pack = build_features(manifest, cache, FeatureConfig(), Skips(), workers=1,
                              progress=False).pack
    except WiseError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    store = FeatureStore(pack)
    by_id = {u.id: u for u in read_manifest(manifest)}
    speakers = [by_id[i].speaker for i in store.ids]
    sessions = np.array([by_id[i].session for i in store.ids])
    rows = [i for i, u in enumerate(store.ids) if meta[u]["type"] == "interaction"]
    m = [meta[store.ids[i]] for i in rows]
    clean = np.array([r["clean_label"] for r in m])
    written = np.array([{"exc": "hap"}.get(r["label"], r["label"]) for r in m])
    pattern = np.array([r["pattern"] for r in m])
    pivots = [r["pivot"] for r in m]
    group_names = sorted({r["pivot_group"] for r in m})
    groups = one_hot([r["pivot_group"] for r in m], group_names)
    identity = one_hot(pivots, sorted(set(pivots)))
    # Which adjective groups the utterance's words name (pivot and foil, unordered).
    present = np.maximum(groups, one_hot([r["foil_group"] for r in m], group_names))
    vocab = sorted({w for i in rows for w in store[i].words})
    bag = np.array([[store[i].words.count(w) for w in vocab] for i in rows], float)
    row_session = sessions[rows]

    result = {"corpus": str(args.corpus), "manifest": str(manifest), "pack": str(pack),
              "code_version": code_version(), "n_interaction_rows": len(rows),
              "classifier": f"StandardScaler + LogisticRegression(C={C})",
              "folds": "leave one session out", "trained_on": "written label",
              "criterion": {"probe": "oracle", "against": "clean label",
                            "normalize": args.normalize[0], "at_least": ORACLE_PASS},
              "normalize": {}}
    for mode in args.normalize:
        preds: dict[str, np.ndarray] = {}
        for s in sorted(set(row_session)):
            test = row_session == s
            train_rows = [i for i in range(len(store)) if sessions[i] != s]
            test_rows = [i for i in range(len(store)) if sessions[i] == s]
            norm = Normalizer.fit(store, train_rows, speakers, mode).adapt(
                store, test_rows, speakers)
            piv, utt = fold_features(store, norm, rows, speakers, pivots)
            inputs = {
                "oracle": (crossed(groups, piv), written),
                "pattern": (piv, pattern),
                "pivot_identity": (identity, written),
                "pivot_features": (piv, written),
                "utterance_level": (np.hstack([bag, crossed(present, utt)]), written),
            }
            for name, (x, y) in inputs.items():
                clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000))
                with threadpool_limits(1):
                    pred = clf.fit(x[~test], y[~test]).predict(x[test])
                preds.setdefault(name, np.empty(len(rows), dtype=object))[test] = pred
        out = {}
        for name, pred in preds.items():
            if name == "pattern":
                # Which patterns the features confuse: rows true, columns predicted.
                names = sorted(set(pattern))
                out[name] = {"accuracy": round(accuracy(pred, pattern), 4), "confusion": {
                    t: {p: int(np.sum((pattern == t) & (pred == p))) for p in names}
                    for t in names}}
            else:
                out[name] = {"clean": round(accuracy(pred, clean), 4),
                             "written": round(accuracy(pred, written), 4)}
            out[name]["by_session"] = {
                s: round(accuracy(pred[row_session == s], (pattern if name == "pattern"
                                                           else clean)[row_session == s]), 4)
                for s in sorted(set(row_session))}
        result["normalize"][mode] = out
        for name, r in out.items():
            score = (f"pattern {r['accuracy']:.3f}" if name == "pattern"
                     else f"clean {r['clean']:.3f}  written {r['written']:.3f}")
            print(f"{mode:9s} {name:16s} {score}", flush=True)
    oracle = result["normalize"][args.normalize[0]]["oracle"]["clean"]
    result["criterion"]["passed"] = oracle >= ORACLE_PASS
    print(f"oracle {oracle:.3f} against the clean label: criterion (>= {ORACLE_PASS}) "
          f"{'passed' if oracle >= ORACLE_PASS else 'FAILED'}")
    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
