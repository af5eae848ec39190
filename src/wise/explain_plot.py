"""A picture of one prediction: what was heard, which words the model weighed, what it chose.

Top: the spectrogram with the word boundaries; under it a strip of the words, each shaded by
its attention weight (darker = more weight), so a reader sees where in the audio the deciding
words are. Right: the class probabilities, the predicted class highlighted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wise.predict import Prediction
from wise.report import save_figure


def plot_prediction(r: Prediction, audio: np.ndarray, out_png: str | Path, *,
                    sample_rate: int = 16000) -> Path:
    """Write `out_png` (atomically) for prediction `r` of `audio` (16 kHz mono float32)."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2))
    grid = fig.add_gridspec(2, 2, width_ratios=(4.2, 1), height_ratios=(3, 1), hspace=0.08,
                            wspace=0.18)
    spec = fig.add_subplot(grid[0, 0])
    strip = fig.add_subplot(grid[1, 0], sharex=spec)
    bars = fig.add_subplot(grid[:, 1])

    duration = len(audio) / sample_rate
    # 25 ms windows every 10 ms, as the model's own frames (15 ms hop) would look too coarse.
    with np.errstate(divide="ignore"):           # digital silence has log(0) bins
        spec.specgram(audio, NFFT=400, Fs=sample_rate, noverlap=240, cmap="magma",
                      scale="dB", vmin=-120)
    spec.set_ylim(0, min(sample_rate / 2, 6000))
    spec.set_ylabel("Hz")
    spec.tick_params(labelbottom=False)
    title = f"{Path(r.file or '').name}: "
    title += (f"{r.label_name} ({r.probabilities[r.label]:.0%})" if r.label
              else f"no label ({r.message})")
    if r.transcript_source == "asr":
        title += f"  ·  transcript from ASR (confidence {r.asr_confidence:.2f})"
    spec.set_title(title, fontsize=10, loc="left")

    cmap = colormaps["Oranges"]
    top = max((w.attention for w in r.words), default=1.0) or 1.0
    for w in r.words:
        shade = w.attention / top if r.word_attention else 0.3
        for ax in (spec, strip):
            ax.axvline(w.start, color="white" if ax is spec else "grey", lw=0.6, alpha=0.7)
        strip.axvspan(w.start, w.end, color=cmap(0.1 + 0.8 * shade))
        strip.text((w.start + w.end) / 2, 0.62, w.word, ha="center", va="center",
                   fontsize=8, rotation=90 if w.end - w.start < 0.25 else 0,
                   color="white" if shade > 0.6 else "black")
        strip.text((w.start + w.end) / 2, 0.12, f"{w.attention:.2f}", ha="center",
                   va="center", fontsize=6, color="white" if shade > 0.6 else "black")
    strip.set_xlim(0, duration)
    strip.set_ylim(0, 1)
    strip.set_yticks([])
    strip.set_xlabel("seconds")
    strip.set_ylabel("attention" if r.word_attention else "words", fontsize=8)

    labels = list(r.probabilities) or ["ang", "hap", "neu", "sad"]
    probs = [r.probabilities.get(c, 0.0) for c in labels]
    colours = ["#dd8452" if c == r.label else "#9db4d0" for c in labels]
    y = np.arange(len(labels))
    bars.barh(y, probs, color=colours)
    bars.set_yticks(y, labels)
    bars.invert_yaxis()
    bars.set_xlim(0, 1)
    bars.set_xlabel("probability")
    for i, p in enumerate(probs):
        bars.text(min(p + 0.02, 0.8), i, f"{p:.2f}", va="center", fontsize=8)
    return save_figure(fig, out_png)
