"""Parity of `wise.features.mfcc` with openSMILE's own MFCC on real speech.

The paper extracted its 39-d MFCC with openSMILE. This runs openSMILE (the `opensmile` Python
package, an optional extra) with an MFCC_0_D_A configuration written from `FeatureConfig`'s
fields (the chain of openSMILE's MFCC12_0_D_A.conf: framer, per-frame pre-emphasis, Hamming
window, FFT, power spectrum, HTK mel bank, log, DCT, lifter, regression deltas; frame step
15 ms as in the paper) and ours on the same clips, and compares them frame by frame.

Matching: openSMILE's frames start at t * hop like ours (checked: same count and start time
per clip); its `htkcompatible` cepstra come as c1..c12, c0 (HTK order, although its columns
are named mfcc[0]..mfcc[12]), so each block of 13 is reordered to ours, c0..c12, before
comparing (the order is found by best correlation, not assumed).

Per coefficient, pooled over every frame of every clip: Pearson r, the relative error
RMS(ours - openSMILE) / std(openSMILE) and the largest absolute difference; for all frames
and for interior frames (the last `delta_window` frames of each clip left out, where the two
tools' delta-delta edge rules differ). Writes benchmarks/results/mfcc_parity.json.

Usage: python benchmarks/studies/mfcc_parity.py [--clips DIR] [--limit N]
(default: every .flac under ../shared/data/ravdess-dev, 16 kHz mono, 16-bit)
"""

from __future__ import annotations

import os

# One core: pin the BLAS / OpenMP pools before numpy loads them.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import asdict  # noqa: E402
from importlib import metadata  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from wise import code_version  # noqa: E402
from wise.audio import load_audio  # noqa: E402
from wise.config import FeatureConfig  # noqa: E402
from wise.features.mfcc import mfcc  # noqa: E402
from wise.fsutil import atomic_write_text  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "results" / "mfcc_parity.json"
CLIPS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "ravdess-dev"
BLOCKS = ("static", "delta", "delta_delta")


def opensmile_config(cfg: FeatureConfig) -> str:
    """openSMILE's MFCC12_0_D_A chain with our settings, for `opensmile.Smile(feature_set=
    <this file>, feature_level="lld")` (the wrapper supplies the source and the sink)."""
    return f"""
[componentInstances:cComponentManager]
instance[dataMemory].type=cDataMemory
\\{{\\cm[source{{?}}:include external source]}}

[componentInstances:cComponentManager]
instance[framer].type=cFramer
instance[pe].type=cVectorPreemphasis
instance[win].type=cWindower
instance[fft].type=cTransformFFT
instance[fftmp].type=cFFTmagphase
instance[melspec].type=cMelspec
instance[mfcc].type=cMfcc
instance[delta].type=cDeltaRegression
instance[accel].type=cDeltaRegression
instance[lldconcat].type=cVectorConcat

[framer:cFramer]
reader.dmLevel=wave
writer.dmLevel=frames
noPostEOIprocessing=1
frameSize={cfg.win_ms / 1000}
frameStep={cfg.hop_ms / 1000}
frameMode=fixed
frameCenterSpecial=left

[pe:cVectorPreemphasis]
reader.dmLevel=frames
writer.dmLevel=framespe
k={cfg.preemphasis}
de=0

[win:cWindower]
reader.dmLevel=framespe
writer.dmLevel=winframe
winFunc=ham
gain=1.0

[fft:cTransformFFT]
reader.dmLevel=winframe
writer.dmLevel=fftc

[fftmp:cFFTmagphase]
reader.dmLevel=fftc
writer.dmLevel=fftmag
magnitude=1
phase=0

[melspec:cMelspec]
reader.dmLevel=fftmag
writer.dmLevel=mspec
htkcompatible=1
usePower=1
nBands={cfg.n_mels}
lofreq={cfg.fmin}
hifreq={cfg.fmax}
specScale=mel

[mfcc:cMfcc]
reader.dmLevel=mspec
writer.dmLevel=mfcc1
firstMfcc=0
lastMfcc={cfg.n_ceps - 1}
cepLifter={cfg.lifter}
htkcompatible=1

[delta:cDeltaRegression]
reader.dmLevel=mfcc1
writer.dmLevel=mfccD
nameAppend=de
deltawin={cfg.delta_window}

[accel:cDeltaRegression]
reader.dmLevel=mfccD
writer.dmLevel=mfccA
nameAppend=de
deltawin={cfg.delta_window}

[lldconcat:cVectorConcat]
reader.dmLevel=mfcc1;mfccD;mfccA
writer.dmLevel=lld
includeSingleElementFields=1

\\{{\\cm[sink{{?}}:include external sink]}}
"""


def static_order(ours: np.ndarray, theirs: np.ndarray) -> list[int]:
    """For each of openSMILE's static columns, the index of our cepstrum it correlates with
    best."""
    r = np.corrcoef(theirs.T, ours.T)[: theirs.shape[1], theirs.shape[1]:]
    return [int(i) for i in np.argmax(r, axis=1)]


def stats(ours: np.ndarray, theirs: np.ndarray, n_ceps: int) -> dict:
    """Per coefficient r, relative error and max |difference|, and their worst per block."""
    d = ours - theirs
    r = [float(np.corrcoef(ours[:, i], theirs[:, i])[0, 1]) for i in range(ours.shape[1])]
    rel = np.sqrt((d ** 2).mean(0)) / theirs.std(0)
    mx = np.abs(d).max(0)
    per = {f"{b}[{i}]": {"r": round(r[k * n_ceps + i], 9),
                         "rel_err": float(f"{rel[k * n_ceps + i]:.3g}"),
                         "max_abs_err": float(f"{mx[k * n_ceps + i]:.3g}")}
           for k, b in enumerate(BLOCKS) for i in range(n_ceps)}

    def worst(cols: slice) -> dict:
        return {"min_r": round(min(r[cols]), 9), "max_rel_err": float(f"{rel[cols].max():.3g}"),
                "max_abs_err": float(f"{mx[cols].max():.3g}")}

    return {"without_deltas": worst(slice(0, n_ceps)), "with_deltas": worst(slice(None)),
            **{b: worst(slice(k * n_ceps, (k + 1) * n_ceps)) for k, b in enumerate(BLOCKS)},
            "per_coefficient": per}


def main() -> None:
    import opensmile

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=Path, default=CLIPS)
    ap.add_argument("--limit", type=int, default=0, help="first N clips only (0: all)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    cfg = FeatureConfig()
    files = sorted(args.clips.rglob("*.flac"))[: args.limit or None]
    if not files:
        raise SystemExit(f"no .flac files under {args.clips}")
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "wise_mfcc_0_d_a.conf"
        conf.write_text(opensmile_config(cfg))
        smile = opensmile.Smile(feature_set=str(conf), feature_level="lld")
        ours, theirs, interior = [], [], []
        n_diff_frames, start_err, t_ours, t_smile, audio_s = 0, 0.0, 0.0, 0.0, 0.0
        for f in files:
            x = load_audio(f, cfg.sample_rate)
            audio_s += len(x) / cfg.sample_rate
            t0 = time.perf_counter()
            a = mfcc(x, cfg).astype(np.float64)                                # (T, 39)
            t1 = time.perf_counter()
            df = smile.process_signal(x, cfg.sample_rate)                       # (T', 39)
            t_smile += time.perf_counter() - t1
            t_ours += t1 - t0
            b = df.to_numpy().astype(np.float64)
            starts = df.index.get_level_values("start").total_seconds().to_numpy()
            n = min(len(a), len(b))
            n_diff_frames += abs(len(a) - len(b))
            start_err = max(start_err, float(np.abs(
                starts[:n] - np.arange(n) * cfg.hop_length / cfg.sample_rate).max()))
            ours.append(a[:n])
            theirs.append(b[:n])
            keep = np.ones(n, bool)
            keep[n - cfg.delta_window:] = False
            interior.append(keep)
    ours_all, theirs_all = np.concatenate(ours), np.concatenate(theirs)
    k = cfg.n_ceps
    order = static_order(ours_all[:, :k], theirs_all[:, :k])
    inverse = np.argsort(order)                        # their column holding our c_i
    theirs_all = np.concatenate([theirs_all[:, j * k:(j + 1) * k][:, inverse]
                                 for j in range(3)], axis=1)
    inner = np.concatenate(interior)
    c0_offset = ours_all[:, 0] - theirs_all[:, 0]
    # Our samples are scaled by 32767, openSMILE's by 32768: c0 = sqrt(2/M) sum_j log m_j
    # moves by sqrt(2/M) * M * 2 ln(32767/32768) wherever no mel band sits on the floor.
    expected = 2 * np.log(32767 / 32768) * np.sqrt(2 * cfg.n_mels)
    result = {
        "benchmark": "mfcc_parity",
        "clips": len(files), "clip_folder": str(args.clips.resolve()),
        "audio_seconds": round(audio_s, 1), "frames": int(len(ours_all)),
        "frame_count_differences": n_diff_frames,
        "max_frame_start_difference_s": start_err,
        "opensmile_version": metadata.version("opensmile"),
        "opensmile_static_order": [f"c{i}" for i in order],
        "c0_offset": {"mean": float(f"{c0_offset.mean():.4g}"),
                      "std": float(f"{c0_offset.std():.3g}"),
                      "expected": float(f"{expected:.4g}")},
        "all_frames": stats(ours_all, theirs_all, k),
        "interior_frames": stats(ours_all[inner], theirs_all[inner], k),
        "ms_per_audio_second": {"ours": round(1000 * t_ours / audio_s, 3),
                                "opensmile": round(1000 * t_smile / audio_s, 3)},
        "feature_config": asdict(cfg),
        "code_version": code_version(),
    }
    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    brief = {k: v for k, v in result.items() if k not in ("all_frames", "interior_frames",
                                                         "feature_config")}
    for part in ("all_frames", "interior_frames"):
        brief[part] = {b: result[part][b] for b in ("without_deltas", "with_deltas",
                                                    *BLOCKS)}
    print(json.dumps(brief, indent=2))


if __name__ == "__main__":
    main()
