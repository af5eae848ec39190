"""Emotion through a recording of any length: where the speech is, which emotion each
utterance carries, and which words carried it (docs/timeline.md).

    from wise.timeline import Phrase, timeline
    for item in timeline("interview.flac"):            # `Phrase`s and `Gap`s, in time order
        print(item.start, item.end, item.label if isinstance(item, Phrase) else "-")

    wise timeline interview.flac --out interview/      # phrases.jsonl, .csv, summary, picture

1. Read: the file a block at a time (`wise.audio.stream_audio`). At most one window of audio
   (`window_s`) is held, however long the recording.
2. Cut: Silero VAD (the model inside faster-whisper) finds the speech in each window. A pause
   of `min_silence_s` ends an utterance; speech longer than `max_utterance_s` is cut at its
   last short pause. An utterance still going at the window's end waits for the next window.
   What lies between utterances (silence, noise, music) is a `Gap`: reported, never labelled.
3. Predict: each utterance's samples go through `Predictor.predict` as they are, so its label,
   words and attention are what `wise predict` gives for that stretch alone. Times are then
   shifted to the recording's. An utterance in which Whisper hears no words is a gap too.
4. Adapt: for a model trained with `normalize: speaker`, the recording is its speaker's
   growing set of clips. Each utterance is normalised with the statistics of every utterance
   of its speaker so far, itself included (`wise.normalize.SpeakerStats`). While they are few
   these are shrunk towards the training speakers' (the checkpoint's `adapt_prior_clips`).
   `speaker_changes` (seconds) start a new speaker; `adapt=False` scores every utterance as
   an unknown speaker's, as `wise predict` scores a lone clip.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import NamedTuple, TypedDict

import numpy as np

from wise.audio import Stream, audio_info, stream_audio
from wise.errors import WiseError
from wise.fsutil import atomic_file, atomic_write_text
from wise.normalize import SpeakerStats
from wise.plots import plot_timeline
from wise.predict import Prediction, Predictor
from wise.progress import progress_bar


@dataclass(frozen=True)
class TimelineOptions:
    """How a recording is cut into utterances and adapted to its speakers."""

    min_silence_s: float = 0.5      # a pause this long ends an utterance
    # Audio kept on each side of the speech found. The models hear whole clips, silence
    # around the words included: the bundled model's training clips have about a second on
    # each side, and with 1.0 s an utterance cut from a recording gets the label its clip
    # gets alone (44 of 46 clips of its training actors, against 29 of 46 with 0.2 s and 35
    # with 1.5 s: benchmarks/studies/timeline_pad.py).
    speech_pad_s: float = 1.0
    min_speech_s: float = 0.25      # shorter bursts are not utterances
    max_utterance_s: float = 30.0   # longer is cut, padding included (the models hear sentences)
    # Silero's speech probability above which a frame is speech. At faster-whisper's 0.5,
    # 11 of 392 clips joined into a recording were missed; at 0.4, 6 (8 with loud pink noise
    # between the clips) and still none merged or split; at 0.3 loud noise starts to merge
    # and split them (benchmarks/studies/vad_threshold.py, the training actors only).
    vad_threshold: float = 0.4
    window_s: float = 120.0         # audio examined at once: what memory holds
    adapt: bool = True              # grow each speaker's statistics through the recording
    speaker_changes: tuple[float, ...] = ()  # seconds at which another speaker begins
    max_seconds: float | None = None  # a recording longer than this is refused (None: any)

    def __post_init__(self) -> None:
        if min(self.min_silence_s, self.speech_pad_s, self.min_speech_s) < 0:
            raise WiseError(None, "timeline: silence, padding and speech lengths must be >= 0")
        if self.max_utterance_s <= 1:
            raise WiseError(None, "timeline: max_utterance_s must be over 1 s")
        if self.window_s < 2 * (self.max_utterance_s + self.min_silence_s + self.speech_pad_s):
            raise WiseError(None, "timeline: window_s must hold two of the longest utterances "
                                  "with their pauses")
        if not 0 < self.vad_threshold < 1:
            raise WiseError(None, "timeline: vad_threshold must be between 0 and 1")
        if list(self.speaker_changes) != sorted(self.speaker_changes) or any(
                t < 0 for t in self.speaker_changes):
            raise WiseError(None, "timeline: speaker changes must be seconds in rising order")


@dataclass(frozen=True)
class Phrase:
    """One utterance of the recording and what the model made of it."""

    start: float                # seconds from the start of the recording
    end: float
    speaker: int                # 0, then 1 after the first speaker change, ...
    prediction: Prediction      # its words' times are the recording's too
    adapted_on: int             # utterances of the speaker its statistics came from; 0: none

    @property
    def label(self) -> str | None:
        return self.prediction.label

    @property
    def confidence(self) -> float:
        """The winning class's probability."""
        return max(self.prediction.probabilities.values())

    def to_dict(self) -> dict:
        p = self.prediction
        return {"kind": "phrase", "start": self.start, "end": self.end,
                "speaker": self.speaker, "label": p.label, "label_name": p.label_name,
                "confidence": round(self.confidence, 5), "probabilities": p.probabilities,
                "transcript": p.transcript, "asr_confidence": p.asr_confidence,
                "words": [asdict(w) for w in p.words], "word_attention": p.word_attention,
                "adapted_on": self.adapted_on, "message": p.message}


@dataclass(frozen=True)
class Gap:
    """A stretch without an utterance to label: silence, noise, music, or speech-like sound in
    which no words were heard (`why`)."""

    start: float
    end: float
    why: str

    def to_dict(self) -> dict:
        return {"kind": "gap", "start": self.start, "end": self.end, "why": self.why}


NO_SPEECH = "no speech found"


@dataclass
class Timeline:
    """`timeline()`'s result: iterate it (once) for the `Phrase`s and `Gap`s in time order;
    afterwards `duration` is the recording's length and `damage` says whether reading stopped
    early (what came before was kept)."""

    audio: Path
    model: Predictor
    options: TimelineOptions
    progress: bool = False
    stream: Stream = field(default_factory=Stream)

    @property
    def duration(self) -> float:
        return self.stream.seconds

    @property
    def damage(self) -> str:
        return self.stream.damage

    def __iter__(self) -> Iterator[Phrase | Gap]:
        rate, _, frames = audio_info(self.audio)     # a file that is no audio fails here
        bar = progress_bar(total=round(frames / rate), unit="s", desc="timeline",
                           disable=not self.progress)
        for item in self._items(bar):
            bar.clear()             # whoever reads the items may print them
            yield item
            bar.refresh()
        bar.close()

    def _items(self, bar) -> Iterator[Phrase | Gap]:
        opts, sr = self.options, self.model.features.sample_rate
        heard: dict[int, SpeakerStats] = {}
        covered = 0.0                   # seconds before which everything has been reported
        blocks = stream_audio(self.audio, sr, max_seconds=opts.max_seconds, stream=self.stream)
        for cut in _utterances(_counted(blocks, bar, sr), opts, sr):
            start, end, x = cut.first / sr, (cut.first + cut.length) / sr, cut.samples
            if start > covered:
                yield Gap(round(covered, 3), round(start, 3), NO_SPEECH)
            speaker = int(np.searchsorted(opts.speaker_changes, start, side="right"))
            stats = heard.setdefault(speaker, SpeakerStats()) if opts.adapt else None
            p = self.model.predict(x, sample_rate=sr, speaker=stats,
                                   name=f"{self.audio} {start:.2f}-{end:.2f} s")
            covered = end
            if p.status != "ok":
                yield Gap(round(start, 3), round(end, 3), p.message or NO_SPEECH)
                continue
            yield Phrase(round(start, 3), round(end, 3), speaker, shift_words(p, start),
                         stats.clips if stats is not None and self.adapts else 0)
        if self.duration > covered:
            yield Gap(round(covered, 3), round(self.duration, 3), NO_SPEECH)

    @property
    def adapts(self) -> bool:
        """Whether phrases are normalised with their speaker's statistics: asked for, and the
        model was trained with `normalize: speaker`."""
        return self.options.adapt and self.model.adapts


def timeline(audio: str | Path, model: Predictor | None = None,
             options: TimelineOptions | None = None, *, progress: bool = False,
             **option_fields) -> Timeline:
    """The `Timeline` of a recording of any length (see the module's note): `model` is a
    `wise.load()` predictor (default: the bundled model), the options a `TimelineOptions` or
    its fields as keywords. A file that cannot be opened, or is longer than `max_seconds`,
    raises `WiseError` when iteration starts."""
    if options is not None and option_fields:
        raise TypeError("give the options as a TimelineOptions or as keywords, not both")
    return Timeline(Path(audio), model if model is not None else Predictor(),
                    options or TimelineOptions(**option_fields), progress)


def _counted(blocks: Iterator[np.ndarray], bar, sr: int) -> Iterator[np.ndarray]:
    for x in blocks:
        bar.update(len(x) / sr)
        yield x


def _utterances(blocks: Iterator[np.ndarray], opts: TimelineOptions, sr: int) -> Iterator[Cut]:
    """Every utterance of a file, in order, a window at a time."""
    cut = Segmenter(opts, sr, step_s=opts.window_s)
    for block in blocks:
        yield from cut.push(block)
    yield from cut.flush()


class Cut(NamedTuple):
    """An utterance the `Segmenter` found."""

    first: int                  # its first sample in the audio pushed
    samples: np.ndarray         # what the model hears: the speech with its padding
    length: int                 # samples of the audio it stands for (see `Segmenter`)


class Segmenter:
    """Utterances out of audio that arrives in blocks (a file as it is read, a microphone):
    `push` each block and get back every utterance as a `Cut` once the pause after it has
    been heard; `flush` at the end for the last one.

    Silero VAD runs once `step_s` of new audio has come (a file: a window at a time; live
    audio: every quarter second, `live=True`) or the audio held reaches `window_s`. It runs on
    what is held since the last finished utterance, and speech longer than `max_utterance_s`
    is cut, so memory and the VAD's work stay bounded however long the audio goes on.

    From a file, an utterance ends where the VAD puts its padded end, once nothing that
    follows could move that end. Live, waiting for the whole padding after the speech would
    hold every answer back a second, so a phrase is cut as soon as the VAD has heard its
    pause (`min_silence_s`), and the padding not yet heard is completed with digital silence
    (`Cut.length` is then shorter than `Cut.samples`). On 48 clips of the bundled model's
    training actors a phrase so completed got the label of its clip alone 46 times, against
    42 with the heard audio only and 36 with the clip's end reflected
    (benchmarks/studies/live_tail.py). Speech that resumes in that second starts the next
    utterance where this one's heard audio ends: no speech is lost or heard twice."""

    def __init__(self, opts: TimelineOptions, sample_rate: int, *, step_s: float,
                 live: bool = False) -> None:
        self.opts, self.sr, self.live = opts, sample_rate, live
        self._step, self._window = int(step_s * sample_rate), int(opts.window_s * sample_rate)
        self._pad = int(opts.speech_pad_s * 1000) * sample_rate // 1000
        # From a file, an utterance's padded end is final once the pause has lasted
        # `min_silence_s` (else the speech goes on) and no speech has started within twice
        # the padding of its speech's end (else the VAD shares the pause between the two),
        # which takes `min_speech_s` to tell.
        pad = opts.speech_pad_s
        self._settle = int((opts.min_speech_s + max(0.0, opts.min_silence_s - pad) + pad)
                           * sample_rate)
        # Live, the VAD has closed a speech once its pause has lasted `min_silence_s`, and
        # what came after it is silence but for its last `min_speech_s` (speech that started
        # there may not be called speech yet). What is held beyond the last utterance is a
        # padding plus that: the next utterance's padding before its speech.
        self._silence = int(opts.min_silence_s * sample_rate)
        self._onset = int(opts.min_speech_s * sample_rate)
        self._lead = self._pad + self._onset
        self._buf, self._base, self._fresh = np.zeros(0, np.float32), 0, 0

    @property
    def heard(self) -> int:
        """Samples pushed so far."""
        return self._base + len(self._buf)

    def push(self, block: np.ndarray) -> list[Cut]:
        self._buf = np.concatenate([self._buf, np.asarray(block, np.float32)])
        self._fresh += len(block)
        if self._fresh < self._step and len(self._buf) < self._window:
            return []
        self._fresh = 0
        buf, n = self._buf, len(self._buf)
        regions = _speech(buf, self.opts, self.sr, self._pad)
        out, keep = [], 0
        for i, (speech_end, start, end) in enumerate(regions):
            if end + self._settle <= n:
                out.append(Cut(self._base + start, buf[start:end], end - start))
            elif self.live and speech_end + self._silence <= n:
                # Cut now, the padding not yet heard silent. A region with a successor ends
                # at the middle of the pause between them, all of it heard.
                want = speech_end + self._pad if i == len(regions) - 1 else end
                end = min(end, max(speech_end, n - self._onset))
                x = np.concatenate([buf[start:end], np.zeros(want - end, np.float32)])
                out.append(Cut(self._base + start, x, end - start))
            else:
                keep = max(keep, start)         # still going: hold it from its start
                break
            keep = end
        else:
            keep = max(keep, n - (self._lead if self.live else self._settle))
        self._buf, self._base = buf[keep:], self._base + keep
        return out

    def flush(self) -> list[Cut]:
        """Every utterance left in what is held: the audio has ended."""
        buf, base = self._buf, self._base
        self._buf, self._base = np.zeros(0, np.float32), base + len(buf)
        return [Cut(base + s, buf[s:e], e - s)
                for _, s, e in _speech(buf, self.opts, self.sr, self._pad)]


def _speech(x: np.ndarray, opts: TimelineOptions, sr: int,
            pad: int) -> list[tuple[int, int, int]]:
    """Silero VAD's speech regions of `x` as (end of the speech, first, end) samples, the
    last two with `pad` samples of padding, as faster-whisper pads them: a pause shorter
    than two paddings is shared at its middle, and the padding stops at the audio's ends."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if len(x) < sr * opts.min_speech_s:
        return []
    # The padding is added below, not by faster-whisper, so that the speech's own end is
    # known; faster-whisper keeps twice the padding out of the longest speech, and so here.
    vad = VadOptions(threshold=opts.vad_threshold,
                     min_speech_duration_ms=int(opts.min_speech_s * 1000),
                     max_speech_duration_s=opts.max_utterance_s - 2 * pad / sr,
                     min_silence_duration_ms=int(opts.min_silence_s * 1000),
                     speech_pad_ms=0)
    raw = [(int(r["start"]), int(r["end"])) for r in get_speech_timestamps(x, vad, sr)]
    out = []
    for i, (s, e) in enumerate(raw):
        before = s - raw[i - 1][1] if i else 2 * pad
        after = raw[i + 1][0] - e if i + 1 < len(raw) else 2 * pad
        first = s - before // 2 if before < 2 * pad else max(0, s - pad)
        end = e + after // 2 if after < 2 * pad else min(len(x), e + pad)
        out.append((e, first, end))
    return out


def shift_words(p: Prediction, offset: float) -> Prediction:
    """`p` with its words' times counted from the start of the recording."""
    words = [replace(w, start=round(w.start + offset, 3), end=round(w.end + offset, 3))
             for w in p.words]
    return replace(p, words=words)


INTENSE = 5     # the summary's most intense moments


class TimelineSummary(TypedDict):
    """`summary.json` of a timeline, what `write_timeline` hands back."""

    audio: str
    model: str                      # which model answered (`Predictor.description`)
    duration: float                 # seconds of audio read
    speech_seconds: float           # in phrases
    phrases: int
    gaps: int
    time_share: dict[str, float]    # per label: its share of the labelled speech time
    most_intense: list[dict]        # phrases most confident of an emotion other than neutral
    speakers: int
    adapted: bool                   # phrases normalised with their speaker's statistics
    damage: str                     # why reading stopped early ("": it did not)
    options: dict


@dataclass
class _Tally:
    """What the summary needs, gathered as the phrases go by (not the phrases themselves)."""

    seconds: dict[str, float] = field(default_factory=dict)
    intense: list[tuple[float, dict]] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)      # the figure's: small per phrase
    phrases: int = 0
    gaps: int = 0
    speakers: set[int] = field(default_factory=set)

    def add(self, item: Phrase | Gap) -> None:
        if isinstance(item, Gap):
            self.gaps += 1
            self.rows.append(item.to_dict())
            return
        self.phrases += 1
        self.speakers.add(item.speaker)
        p = item.prediction
        self.seconds[p.label] = self.seconds.get(p.label, 0.0) + item.end - item.start
        top = p.top_words[0].word if p.words else ""
        self.rows.append({"kind": "phrase", "start": item.start, "end": item.end,
                          "probabilities": p.probabilities, "top_word": top})
        strength = max((v for k, v in p.probabilities.items() if k != "neu"), default=0.0)
        self.intense.append((strength, {
            "start": item.start, "end": item.end, "label": p.label,
            "confidence": round(item.confidence, 5), "transcript": p.transcript,
            "top_words": [w.word for w in p.top_words[:3]]}))
        self.intense = sorted(self.intense, key=lambda x: -x[0])[:INTENSE]


CSV_COLUMNS = ("start", "end", "speaker", "label", "confidence", "adapted_on", "transcript",
               "top_words")


def write_timeline(tl: Timeline, out_dir: str | Path, *,
                   on_item: Callable[[Phrase | Gap], object] | None = None) -> TimelineSummary:
    """Run `tl` into `out_dir`: phrases.jsonl (every phrase and gap, a line each, as they
    come), phrases.csv (a row per phrase), summary.json and timeline.png. Each file replaces
    an older one only once it is complete. `on_item` sees every item as it comes."""
    out = Path(out_dir)
    tally = _Tally()
    labels = list(tl.model.labels)
    items = iter(tl)
    first = next(items, None)       # a file that is no audio fails here, before any output
    with atomic_file(out / "phrases.jsonl") as jl, atomic_file(out / "phrases.csv") as cs, \
            open(jl, "w", encoding="utf-8") as lines, \
            open(cs, "w", encoding="utf-8", newline="") as table:
        rows = csv.writer(table)
        rows.writerow([*CSV_COLUMNS[:5], *(f"p_{c}" for c in labels), *CSV_COLUMNS[5:]])
        for item in itertools.chain([first] if first is not None else [], items):
            tally.add(item)
            lines.write(json.dumps(item.to_dict(), ensure_ascii=False) + "\n")
            if isinstance(item, Phrase):
                p = item.prediction
                rows.writerow([item.start, item.end, item.speaker, p.label,
                               round(item.confidence, 5),
                               *(p.probabilities.get(c) for c in labels), item.adapted_on,
                               p.transcript, " ".join(w.word for w in p.top_words[:3])])
            if on_item is not None:
                on_item(item)
    speech = sum(tally.seconds.values())
    summary: TimelineSummary = {
        "audio": str(tl.audio), "model": tl.model.description,
        "duration": round(tl.duration, 3), "speech_seconds": round(speech, 3),
        "phrases": tally.phrases, "gaps": tally.gaps,
        "time_share": {c: round(tally.seconds.get(c, 0.0) / speech, 4) if speech else 0.0
                       for c in labels},
        "most_intense": [m for _, m in tally.intense], "speakers": len(tally.speakers),
        "adapted": tl.adapts, "damage": tl.damage,
        "options": asdict(tl.options)}
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    plot_timeline(tally.rows, tl.duration, out / "timeline.png", title=tl.audio.name)
    return summary
