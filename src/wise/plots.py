"""Every figure of the project, drawn from plain data and saved the same way (`save_figure`).

- `plot_rows` (rows.png): WA and UA per table row, with the paper's numbers and chance;
- `plot_confusions` (confusions.png): the pooled confusion matrix of every row;
- `plot_study` (asr_study.png): `wise asr-study`'s UA per fold on gold vs recognised
  transcripts, with each fold's word error rate;
- `plot_prediction` (`wise predict --plot`): one prediction. Top: the spectrogram with the word
  boundaries; under it a strip of the words, each shaded by its attention weight (darker =
  more weight), so a reader sees where in the audio the deciding words are. Right: the class
  probabilities, the predicted class highlighted.

`plot_rows` and `plot_confusions` read `wise cv` summaries through the report's table
(`wise.report`), `plot_study` the study's summary; `plot_prediction` reads what
`PredictionLike` lists of a `wise.predict.Prediction`, so that this module needs nothing of
the predictor. Figures are matplotlib `Figure`s rendered with Agg: no display, no pyplot
global state.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from wise.fsutil import atomic_file
from wise.labels import LABEL_NAMES, LABELS
from wise.report import ResultsTable, chance_ua, format_score, n_classes, results_table
from wise.results import CVSummary


class WordLike(Protocol):
    """What a figure reads of one scored word (`wise.predict.WordScore`)."""

    @property
    def word(self) -> str: ...
    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float: ...
    @property
    def attention(self) -> float: ...


class PredictionLike(Protocol):
    """What `plot_prediction` reads of a prediction (`wise.predict.Prediction`)."""

    @property
    def file(self) -> str | None: ...
    @property
    def label(self) -> str | None: ...
    @property
    def label_name(self) -> str | None: ...
    @property
    def probabilities(self) -> dict[str, float]: ...
    @property
    def message(self) -> str: ...
    @property
    def transcript_source(self) -> str: ...
    @property
    def asr_confidence(self) -> float | None: ...
    @property
    def words(self) -> Sequence[WordLike]: ...
    @property
    def word_attention(self) -> bool: ...


def _rows_for_plots(summaries: Sequence[CVSummary]) -> list[dict]:
    """The table rows (`wise.report.results_table`) of the runs in `summaries`."""
    table = results_table(summaries, "")
    return _run_rows(table)


def _run_rows(table: ResultsTable) -> list[dict]:
    return [r for r in table["rows"] if r["run"]]


def save_figure(fig, out_png: str | Path) -> Path:
    """Render `fig` (a `matplotlib.figure.Figure`) to `out_png`, atomically; every figure of
    the project is saved this way."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)             # Agg explicitly: no display, no pyplot global state
    with atomic_file(out_png) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    return Path(out_png)


def plot_rows(summaries: Sequence[CVSummary], out_png: str | Path, *, corpus_name: str) -> Path:
    """rows.png: `rows_figure`, saved."""
    return save_figure(rows_figure(summaries, corpus_name), out_png)


def rows_figure(summaries: Sequence[CVSummary], corpus_name: str):
    """Grouped bars of WA and UA per row (error bars: std over every (seed, fold)); the
    paper's numbers, where the row has them, as red diamonds; UA at chance as a dotted line.
    On another corpus than IEMOCAP the figure says that the diamonds are only a reference."""
    from matplotlib.figure import Figure

    table = results_table(summaries, corpus_name)
    rows = _run_rows(table)
    x = np.arange(len(rows))
    w = 0.38
    fig = Figure(figsize=(max(6.0, 0.9 * len(rows) + 2), 4.2))
    ax = fig.add_subplot()
    paper_label = "paper (IEMOCAP)" if table["comparable_to_paper"] else \
        "paper (IEMOCAP, reference only)"
    for off, key, colour in ((-w / 2, "wa", "#4c72b0"), (w / 2, "ua", "#dd8452")):
        ax.bar(x + off, [r[f"{key}_mean"] for r in rows], w, yerr=[r[f"{key}_std"] for r in rows],
               capsize=3, color=colour, label=f"{key.upper()} (ours)")
        paper = [(i + off, r[f"paper_{key}"]) for i, r in enumerate(rows) if r[f"paper_{key}"]]
        if paper:
            px, py = zip(*paper, strict=True)
            ax.scatter(px, py, marker="D", s=28, color="#c0392b", edgecolor="white",
                       zorder=3, label=paper_label if key == "wa" else None)
    n = n_classes(table)
    ax.axhline(chance_ua(n), color="grey", lw=0.8, ls=":", label=f"chance (UA, {n} classes)")
    labels = [r["display"] + (" †" if r["mismatch"] else "") for r in rows]
    ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
    # The legend sits above the bars: one line of 4 entries where the figure is wide enough,
    # else two lines with more headroom.
    ncol = 4 if len(rows) >= 7 else 2
    ax.set_ylim(0, 1.12 if ncol == 4 else 1.2)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel("score")
    # † marks a row evaluated differently from the report's reference setting (results.md
    # lists how); the title explains it only when some row carries it.
    dagger = "; † = evaluated differently" if any(r["mismatch"] for r in rows) else ""
    title = f"WA and UA per row (mean ± std over (seed, fold) runs{dagger})"
    # The picture travels without results.md's header, so it carries the caveat itself.
    if not table["comparable_to_paper"] and any(r["paper_ua"] for r in rows):
        ours = f" ({corpus_name})" if corpus_name else ""
        title += f"\npaper: IEMOCAP, for reference only — a different corpus from ours{ours}"
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="upper center", ncol=ncol, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return fig


def plot_confusions(summaries: Sequence[CVSummary], out_png: str | Path) -> Path:
    """One pooled confusion matrix per row: colour = row-normalised rate (recall on the
    diagonal), text = count and rate."""
    from matplotlib.figure import Figure

    rows = _rows_for_plots(summaries)
    cols = min(4, len(rows))
    nrows = math.ceil(len(rows) / cols)
    fig = Figure(figsize=(3.2 * cols, 3.2 * nrows))
    k = len(LABELS)
    for i, r in enumerate(rows):
        ax = fig.add_subplot(nrows, cols, i + 1)
        cm = np.asarray(r["confusion"], dtype=float)
        support = cm.sum(1, keepdims=True)
        rate = np.divide(cm, support, out=np.zeros_like(cm), where=support > 0)
        ax.imshow(rate, vmin=0, vmax=1, cmap="Blues")
        for t in range(k):
            for p in range(k):
                ax.text(p, t, f"{int(cm[t, p])}\n{format_score(rate[t, p])}", ha="center",
                        va="center", fontsize=7, color="white" if rate[t, p] > 0.5 else "black")
        ax.set_xticks(range(k), LABELS, fontsize=8)
        ax.set_yticks(range(k), LABELS, fontsize=8)
        ax.set_xlabel("predicted", fontsize=8)
        ax.set_ylabel("true", fontsize=8)
        ax.set_title(f"{r['display']}{' †' if r['mismatch'] else ''}\n"
                     f"WA {format_score(r['pooled_wa'])}  UA {format_score(r['pooled_ua'])}",
                     fontsize=8)
    fig.tight_layout()
    return save_figure(fig, out_png)


def plot_study(s: dict, conditions: dict[str, str], out_png: str | Path) -> Path:
    """`wise asr-study`'s figure from its summary `s`: UA per fold under each of the three
    `conditions` (bars; key in `s`'s folds -> legend text) and each fold's WER (line, right
    axis)."""
    from matplotlib.figure import Figure

    folds = s["folds"]
    x = np.arange(len(folds))
    w = 0.26
    fig = Figure(figsize=(max(6.0, 1.2 * len(folds) + 2), 4.0))
    ax = fig.add_subplot()
    for k, ((cond, name), colour) in enumerate(zip(conditions.items(),
                                                   ("#4c72b0", "#8fb0d9", "#dd8452"),
                                                   strict=True)):
        ax.bar(x + (k - 1) * w, [r[cond]["ua"] for r in folds], w, color=colour,
               label=f"UA, {name}")
    ax.axhline(0.25, color="grey", lw=0.8, ls=":", label="chance (4 classes)")
    ax.set_xticks(x, [f"{r['fold']}: {r['test']}" for r in folds], fontsize=8)
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("UA")
    ax.grid(axis="y", alpha=0.3)
    right = ax.twinx()
    right.plot(x, [r["wer"]["wer"] for r in folds], "k.-", label="ASR word error rate")
    right.set_ylim(0, 1.15)
    right.set_ylabel("word error rate")
    handles = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(handles[0] + more[0], handles[1] + more[1], fontsize=7, loc="upper center",
              ncol=3, frameon=False)
    ax.set_title(f"{s['name']}: trained on gold transcripts, tested on gold vs ASR", fontsize=9)
    return save_figure(fig, out_png)


# The spectrogram's colours span this many dB under its loudest bin, as librosa's
# `power_to_db(top_db=80)` does: anything quieter, digital silence (the log of 0) included,
# takes the floor colour. Without a floor, silence has no colour at all and shows as white.
SPECTROGRAM_TOP_DB = 80.0
_WINDOW, _HOP = 400, 160        # samples at 16 kHz: 25 ms windows every 10 ms


def spectrogram_db(audio: np.ndarray, sample_rate: int, *, top_db: float = SPECTROGRAM_TOP_DB
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(power in dB (frequencies, windows), frequencies, window centres in seconds) of
    `audio`, every value finite and at most `top_db` under the loudest. Windows every 10 ms:
    the model's own 15 ms hop would look too coarse."""
    from matplotlib import mlab

    power, freqs, times = mlab.specgram(audio, NFFT=_WINDOW, Fs=sample_rate,
                                        noverlap=_WINDOW - _HOP)
    peak = float(power.max(initial=0.0))
    ref = peak if peak > 0 else 1.0          # all silence: every bin at the floor
    floor = ref * 10 ** (-top_db / 10)
    return 10 * np.log10(np.maximum(power, floor)), freqs, times


def plot_prediction(r: PredictionLike, audio: np.ndarray, out_png: str | Path, *,
                    sample_rate: int = 16000) -> Path:
    """Write `out_png` (atomically) for prediction `r` of `audio` (16 kHz mono float32)."""
    return save_figure(prediction_figure(r, audio, sample_rate=sample_rate), out_png)


def _draw_spectrogram(ax, audio: np.ndarray, sample_rate: int) -> None:
    db, freqs, times = spectrogram_db(audio, sample_rate)
    half = _HOP / sample_rate / 2             # each column spans its window's hop
    top = float(db.max())
    ax.imshow(db, origin="lower", aspect="auto", cmap="magma", interpolation="nearest",
              extent=(times[0] - half, times[-1] + half, freqs[0], freqs[-1]),
              vmin=top - SPECTROGRAM_TOP_DB, vmax=top)


def prediction_figure(r: PredictionLike, audio: np.ndarray, *, sample_rate: int = 16000):
    """The figure of `plot_prediction` (a `matplotlib.figure.Figure`), unsaved."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2))
    grid = fig.add_gridspec(2, 2, width_ratios=(4.2, 1), height_ratios=(3, 1), hspace=0.08,
                            wspace=0.18)
    spec = fig.add_subplot(grid[0, 0])
    strip = fig.add_subplot(grid[1, 0], sharex=spec)
    bars = fig.add_subplot(grid[:, 1])

    duration = len(audio) / sample_rate
    _draw_spectrogram(spec, audio, sample_rate)
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

    labels = list(r.probabilities) or list(LABELS)
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
    return fig


# One colour per class in the timeline, the same in every figure of it.
EMOTION_COLOURS = {"ang": "#c44e52", "hap": "#e5ae38", "neu": "#8c8c8c", "sad": "#4c72b0"}
TIMELINE_WORDS = 40     # at most this many phrases get their top word written under them


def plot_timeline(items: Sequence[dict], duration: float, out_png: str | Path, *,
                  title: str = "") -> Path:
    """timeline.png: `timeline_figure`, saved."""
    return save_figure(timeline_figure(items, duration, title=title), out_png)


def timeline_figure(items: Sequence[dict], duration: float, *, title: str = ""):
    """A recording's emotion over time from its timeline rows (`wise.timeline`'s
    `Phrase.to_dict` and `Gap.to_dict`; a phrase row needs only start, end, probabilities
    and, for its word, `top_word`): each phrase's class probabilities stacked over its span,
    gaps shaded, and under the most confident phrases the word with the most attention. The
    same size for two minutes as for an hour; minutes on the axis beyond five."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(12, 3.6))
    grid = fig.add_gridspec(2, 1, height_ratios=(4, 1), hspace=0.06)
    ax = fig.add_subplot(grid[0])
    strip = fig.add_subplot(grid[1], sharex=ax)
    phrases = [r for r in items if r["kind"] == "phrase"]
    labels = [c for c in EMOTION_COLOURS if any(c in r["probabilities"] for r in phrases)] \
        or list(EMOTION_COLOURS)
    for r in items:
        if r["kind"] == "gap":
            for a in (ax, strip):
                a.axvspan(r["start"], r["end"], color="#eeeeee", lw=0)
    for r in phrases:
        bottom = 0.0
        for c in labels:
            p = r["probabilities"].get(c, 0.0)
            ax.bar(r["start"], p, r["end"] - r["start"], bottom=bottom, align="edge",
                   color=EMOTION_COLOURS[c], lw=0)
            bottom += p
    worded = sorted(phrases, key=lambda r: -max(r["probabilities"].values()))[:TIMELINE_WORDS]
    for r in worded:
        if r.get("top_word"):
            strip.text((r["start"] + r["end"]) / 2, 0.5, r["top_word"], ha="center",
                       va="center", rotation=90 if len(worded) > 12 else 0, fontsize=7)
    minutes = duration > 300
    clock = FuncFormatter(lambda t, _: f"{int(t // 60)}:{int(t % 60):02d}" if minutes
                          else f"{t:g}")
    strip.xaxis.set_major_formatter(clock)
    strip.set_xlabel("minutes:seconds" if minutes else "seconds")
    ax.set_xlim(0, max(duration, 1e-3))
    ax.set_ylim(0, 1)
    ax.set_ylabel("probability")
    ax.tick_params(labelbottom=False)
    strip.set_ylim(0, 1)
    strip.set_yticks([])
    strip.set_ylabel("word", fontsize=8)
    handles = [Patch(color=EMOTION_COLOURS[c], label=LABEL_NAMES.get(c, c)) for c in labels]
    handles.append(Patch(color="#eeeeee", label="no speech"))
    ax.legend(handles=handles, fontsize=7, ncol=len(handles), loc="lower left",
              bbox_to_anchor=(0, 1.0), frameon=False)
    if title:
        ax.set_title(title, fontsize=9, loc="right")
    return fig
