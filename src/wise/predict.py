"""New speech -> emotion, with the words that carried it.

The same one-way flow as training, for one utterance at a time and without a cache:

    audio (any rate/channels) -> 16 kHz mono
      -> transcript: given, or offline ASR (Whisper tiny.en by default; wise.align.asr)
      -> forced alignment of the transcript: word and phone times
      -> 39-d MFCC frames, the word/phone/frame hierarchy, word vectors (the checkpoint's
         feature config and word vectors, so the model sees what it was trained on)
      -> the model: class probabilities and one attention weight per word (WISE's alpha,
         eq 8, which is what makes the prediction explainable word by word)

A checkpoint (`wise train`, or a fold of `wise cv`) is the only model format; without one, the
real-speech model that ships inside the package answers (`wise.pretrained`). Audio longer than
`max_seconds` (60 s by default) is refused before it is decoded: the model was trained on
utterances of a few seconds and at most 128 words (the paper's cap), so a long recording
should be cut into sentences first. Audio without speech gives a result with status
"no_speech" and no label, not an error.

`Predictor` is safe to call from several threads (the aligner and recogniser are used under a
lock, so calls are serialised there); for parallel throughput use one per process, as
`wise serve` does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from wise.align.asr import DEFAULT_RECOGNIZER, make_recognizer
from wise.audio import audio_from_array, decode_audio, load_audio, no_speech
from wise.batching import collate
from wise.checkpoint import load_checkpoint
from wise.cluster import local_pool, watched
from wise.config import MAX_PREDICT_SECONDS, FeatureConfig, encoder_padding
from wise.errors import WiseError
from wise.features.cache import UtteranceFeatures
from wise.features.encoder import model_dir as encoder_model_dir
from wise.features.encoder import reads_last_layer
from wise.features.hierarchy import build_hierarchy
from wise.features.prosody import Prosody, frame_features, utterance_functionals
from wise.features.words import PACKAGES, WordVectors, load_word_vectors
from wise.fsutil import user_cache_dir
from wise.labels import LABEL_NAMES
from wise.normalize import Normalizer, SpeakerStats
from wise.pretrained import is_bundled, resolve_checkpoint
from wise.text import tokenize
from wise.utterance import Segment

MAX_SECONDS = MAX_PREDICT_SECONDS
HEARD = "<heard>"   # the speaker of `predict(..., speaker=...)`, to the normaliser


def cache_dir() -> Path:
    """Where converted word vectors are kept between runs (`wise.fsutil.user_cache_dir`)."""
    return user_cache_dir()


@dataclass(frozen=True)
class WordScore:
    word: str
    start: float            # seconds from the start of the audio
    end: float
    attention: float        # the model's weight on this word; the weights sum to 1
    in_vocabulary: bool     # False: no word vector (the text branch saw zeros)


@dataclass(frozen=True)
class Prediction:
    """One file's result. `to_dict()` is the JSON that `wise predict --json` and `wise serve`
    return."""

    file: str | None
    status: str                     # "ok", or "no_speech" (then label is None)
    label: str | None               # one of wise.labels.LABELS: "ang" | "hap" | "neu" | "sad"
    label_name: str | None          # its LABEL_NAMES entry: "angry" | "happy" | ...
    probabilities: dict[str, float]
    transcript: str
    transcript_source: str          # "given" | "asr" | "none"
    asr_confidence: float | None    # the recogniser's confidence, 0..1 (ASR only)
    words: list[WordScore]
    word_attention: bool            # True: learned word attention; False: uniform weights
    duration: float                 # seconds of audio
    model: str                      # the checkpoint's config name
    checkpoint: str                 # its file, or "bundled" for the package's own model
    message: str = ""               # why there is no label, or what was capped
    seconds: dict[str, float] = field(default_factory=dict)  # time spent per stage

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def top_words(self) -> list[WordScore]:
        """Words by attention, highest first."""
        return sorted(self.words, key=lambda w: -w.attention)


def utterance_features(frames: np.ndarray, words: list[Segment], phones: list[Segment],
                       cfg: FeatureConfig, vectors: WordVectors,
                       functionals: np.ndarray | None = None) -> tuple[UtteranceFeatures,
                                                                         dict]:
    """One utterance's model inputs from its frames (`Predictor.audio_features`) and
    alignment, computed as `wise features` computes them for a corpus (same hierarchy caps and
    word lookup); also the hierarchy's capping events. Frames are an argument so that several
    alignments of one recording share one pass over the audio."""
    h = build_hierarchy(words, phones, len(frames), cfg)
    vec, oov = vectors.encode(h.word_tokens)
    return UtteranceFeatures(id="", frames=frames, phone_frames=h.phone_frames,
                             word_phones=h.word_phones, word_frames=h.word_frames,
                             word_vectors=vec, word_oov=oov, words=h.word_tokens,
                             phones=h.phone_tokens, functionals=functionals), dict(h.events)


@dataclass(frozen=True)
class PredictOptions:
    """How a `Predictor` reads and transcribes new audio: what `wise predict` and `wise serve`
    take from their command lines, packed once and handed to every predictor they start."""

    word_vectors: str | None = None     # their file, when they are not the packaged ones
    max_seconds: float = MAX_SECONDS    # longer audio is refused before it is decoded
    asr: str = DEFAULT_RECOGNIZER       # "whisper" or "pocketsphinx"
    asr_model: str | Path | None = None  # a CTranslate2 Whisper folder in place of tiny.en
    threads: int = 1                    # CPU threads of each predictor's Whisper


class Predictor:
    """A loaded checkpoint, ready to explain new recordings.

    >>> m = wise.load()                          # the bundled real-speech model
    >>> m = wise.load("model.wise")              # or a checkpoint of your own
    >>> r = m.predict("clip.wav")               # transcript from ASR
    >>> r = m.predict("clip.wav", text="I told you so")
    >>> r.label, r.probabilities, [(w.word, w.attention) for w in r.words]

    The options (`PredictOptions`) come as one object or as keywords: `asr` chooses the
    recogniser ("whisper" or "pocketsphinx"), `asr_model` a CTranslate2 Whisper model folder
    in place of the bundled tiny.en (the recogniser is loaded only when a recording comes
    without a transcript), `max_seconds` the longest audio accepted, `word_vectors` the
    vectors' file. `speaker_audio`: clips of the speaker to adapt to (`adapt_speaker`).
    """

    def __init__(self, checkpoint: str | Path | None = None,
                 options: PredictOptions | None = None, *,
                 vectors_cache: str | Path | None = None,
                 speaker_audio: list[str | Path] | None = None, **option_fields):
        if options is not None and option_fields:
            raise TypeError("give the options as a PredictOptions or as keywords, not both")
        options = options or PredictOptions(**option_fields)
        word_vectors, max_seconds = options.word_vectors, options.max_seconds
        asr, asr_model = options.asr, options.asr_model
        self.options = options
        self.path = resolve_checkpoint(checkpoint)
        self.model, self.run, self.normalizer, blob = load_checkpoint(self.path)
        self.labels: list[str] = list(blob["labels"])
        self.info: dict = blob.get("extra", {})
        self.bundled = is_bundled(self.path)
        # A model that has only heard espeak's voices (`wise demo`, `wise synth`) is told
        # apart so that its answers on other audio come with a warning.
        self.synthetic = self.info.get("corpus") == "synthetic"
        self.max_seconds = float(max_seconds)
        self.features: FeatureConfig = self.run.features
        self.vectors = _checkpoint_vectors(self.path, blob["word_vectors"], self.features,
                                           word_vectors, vectors_cache or cache_dir())
        text_dim = self.model.dims.text_dim
        if text_dim is not None and text_dim != self.vectors.dim:
            raise WiseError(self.path, f"the model reads {text_dim}-d word vectors but "
                                       f"{self.vectors.name} has {self.vectors.dim}")
        self.word_attention = self.model.word_attention
        self._inputs = self.model.batch_inputs()
        self._lock = threading.Lock()
        self._aligner = None
        # checked now, loaded when needed
        self._recognizer = make_recognizer(asr, asr_model, threads=options.threads)
        # Encoder frames of the recogniser's own model over a window it decodes from (the whole
        # 30-s one, or the clip and some padding) are the frames its transcription encoded:
        # take them from it rather than encode the clip twice (the last layer's: lower layers
        # are computed here), and have it decode from the window the model was trained on.
        self._encoder_padding = encoder_padding(self.features.encoder_window)
        self._shared_encoder = (
            self.features.is_encoder and self._encoder_padding != 0
            and self._recognizer.encoder_dir is not None
            and self._recognizer.encoder_dir.resolve()
            == encoder_model_dir(self.features.frames).resolve()
            and reads_last_layer(self.features))  # a model of lower layers computes its own
        if self._shared_encoder:
            if self._encoder_padding is None:
                self._recognizer.whole_window = True
            else:
                self._recognizer.window_pad_s = self._encoder_padding
        self.asr_name: str = self._recognizer.name
        self._prosody: Prosody | None = None
        if self.features.prosody != "none" or self.features.n_functionals:
            self._prosody = Prosody(self.features)   # openSMILE missing: one line, now
        self._speaker = ""            # "": an unknown speaker (see `adapt_speaker`)
        if speaker_audio:
            self.adapt_speaker(speaker_audio)

    @property
    def name(self) -> str:
        return self.run.name

    @property
    def adapts(self) -> bool:
        """Whether the model normalises each speaker by his or her own statistics (trained
        with `normalize: speaker`): only then do `adapt_speaker` and `predict(speaker=...)`
        change anything."""
        return self.normalizer.mode == "speaker"

    @property
    def checkpoint(self) -> str:
        """Which model answers: "bundled", or the checkpoint's file."""
        return "bundled" if self.bundled else str(self.path)

    @property
    def description(self) -> str:
        """The model in words, as `wise predict` and `wise serve` say which one answers."""
        if self.bundled:
            return (f"the bundled real-speech model ({self.name}, trained on "
                    f"{self.info.get('trained_on', 'RAVDESS')})")
        corpus = " (trained on the synthetic corpus)" if self.synthetic else ""
        return f"{self.path} ({self.name}){corpus}"

    def warm_up(self) -> None:
        """Load the aligner and recogniser now (about half a second) instead of on the first
        call, e.g. before a server takes requests."""
        with self._lock:
            self._aligner_tool()
            self._recognizer.load()

    def _aligner_tool(self):
        # Loaded on first use: a caller who only scores given alignments never pays for it.
        from wise.align import ForcedAligner

        if self._aligner is None:
            self._aligner = ForcedAligner()
        return self._aligner

    def read_audio(self, audio: str | Path | bytes | np.ndarray, *,
                   sample_rate: int | None = None, name: str | None = None) -> np.ndarray:
        """Audio as 16 kHz mono float32 from a path, the bytes of a file, or an array (then
        `sample_rate` is required; 2-D arrays are (samples, channels))."""
        sr = self.features.sample_rate
        if isinstance(audio, str | Path):
            return load_audio(audio, sr, max_seconds=self.max_seconds)
        if isinstance(audio, bytes | bytearray):
            return decode_audio(bytes(audio), sr, name=name or "upload",
                                max_seconds=self.max_seconds)
        return audio_from_array(np.asarray(audio), sample_rate, sr, name=name or "array",
                                max_seconds=self.max_seconds)

    def predict(self, audio: str | Path | bytes | np.ndarray, text: str | None = None, *,
                sample_rate: int | None = None, name: str | None = None,
                speaker: SpeakerStats | None = None) -> Prediction:
        """Label, class probabilities and per-word attention for one recording.

        `text` is its transcript; without one, ASR makes it. `speaker`: the clips heard so far
        of the one speaking here (a recording, a session); under `normalize: speaker` this
        clip joins them and is normalised with their statistics, in place of
        `adapt_speaker`'s. Raises `WiseError` naming the file for audio that cannot be read,
        is too long, or does not match `text`."""
        t0 = time.perf_counter()
        source = name or (str(audio) if isinstance(audio, str | Path) else "upload")
        x = self.read_audio(audio, sample_rate=sample_rate, name=source)
        seconds = {"load": time.perf_counter() - t0}
        duration = len(x) / self.features.sample_rate
        given = text is not None and bool(tokenize(text))
        base = dict(file=source, duration=round(duration, 3), model=self.name,
                    checkpoint=self.checkpoint, word_attention=self.word_attention)
        silent = no_speech(x)
        if silent:
            return self._empty(base, given, text, silent, seconds)
        if text is not None and not given:
            raise WiseError(source, f"transcript has no words ({text!r})")

        confidence = None
        encoded = None                     # encoder frames the recogniser computed
        with self._lock:
            aligner = self._aligner_tool()
            if not given:
                self._recognizer.load()     # a model that cannot load is an error, not silence
                t = time.perf_counter()
                try:
                    rec = self._recognizer.recognize(x, source=source)
                except WiseError as e:
                    return self._empty(base, False, None, e.message, seconds)
                seconds["asr"] = time.perf_counter() - t
                text, confidence = rec.text, round(rec.confidence, 4)
                # A short window's transcription may have been redone from the whole one:
                # then its frames are not the model's, and the features encode the clip.
                if (self._shared_encoder and rec.encoder_window is not None
                        and encoder_padding(rec.encoder_window) == self._encoder_padding):
                    encoded = rec.encoder_frames
            t = time.perf_counter()
            alignment = aligner.align(x, text, source=source)
            seconds["align"] = time.perf_counter() - t
        t = time.perf_counter()
        frames, functionals = self.audio_features(x, encoded)
        feats, events = utterance_features(frames, alignment.words, alignment.phones,
                                           self.features, self.vectors, functionals)
        seconds["features"] = time.perf_counter() - t
        t = time.perf_counter()
        normalizer, who = self.normalizer, self._speaker
        if speaker is not None and self.adapts:
            speaker.add(frames, functionals)
            normalizer, who = normalizer.with_stats(HEARD, speaker), HEARD
        probs, alpha = self.score(feats, normalizer, who)
        seconds["model"] = time.perf_counter() - t
        seconds["total"] = time.perf_counter() - t0
        kept = alignment.words[:len(feats.words)]
        words = [WordScore(w.token, round(w.start, 3), round(w.end, 3), round(float(a), 5),
                           not bool(o))
                 for w, a, o in zip(kept, alpha, feats.word_oov, strict=True)]
        label = self.labels[int(np.argmax(probs))]
        return Prediction(
            **base, status="ok", label=label, label_name=LABEL_NAMES.get(label, label),
            probabilities={c: round(float(p), 5) for c, p in zip(self.labels, probs,
                                                                   strict=True)},
            transcript=" ".join(tokenize(text)), transcript_source="given" if given else "asr",
            asr_confidence=confidence, words=words,
            message="; ".join(m for m in (_capping_note(events), self._synthetic_note(audio))
                              if m),
            seconds={k: round(v, 4) for k, v in seconds.items()})

    def audio_features(self, x: np.ndarray, encoded: np.ndarray | None = None
                       ) -> tuple[np.ndarray, np.ndarray | None]:
        """The frames (T, frame_dim) and utterance functionals (or None) of 16 kHz audio `x`,
        as the checkpoint's feature config computes them for training (`encoded`: its encoder
        frames, when the recogniser has them already)."""
        cfg = self.features
        frames = frame_features(x, cfg, self._prosody, encoded)
        return frames, (utterance_functionals(x, frames, cfg, self._prosody)
                        if cfg.n_functionals else None)

    def adapt_speaker(self, audio: list[str | Path]) -> None:
        """Tell a model trained with `normalize: speaker` who is speaking: every later
        prediction is normalised with the statistics of these recordings of one speaker
        (audio only; the more clips, the better the estimate). Without it, an unknown
        speaker gets the training speakers' average, which on real speech costs accuracy
        (docs/real-speech.md). Models trained otherwise ignore it."""
        if not self.adapts or not audio:
            return
        feats = []
        for a in audio:
            try:
                feats.append(self.audio_features(self.read_audio(a)))
            except WiseError:       # an unreadable file fails on its own when predicted
                continue
        if not feats:
            return
        self._speaker = "<adapted>"
        self.normalizer = self.normalizer.with_speaker(self._speaker, [f for f, _ in feats],
                                                       [v for _, v in feats])

    @torch.inference_mode()
    def score(self, feats: UtteranceFeatures, normalizer: Normalizer | None = None,
              speaker: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(class probabilities (C,), attention (N,)) for one utterance's features, normalised
        by `normalizer` as `speaker` (default: this predictor's)."""
        normalizer = normalizer if normalizer is not None else self.normalizer
        speaker = speaker if speaker is not None else self._speaker
        # An unknown speaker: a per-speaker normaliser falls back to its training average.
        batch = collate([feats], [0], [0], normalizer, [speaker],
                        inputs=self._inputs, max_word_frames=self.features.max_word_frames)
        logits, alpha = self.model(batch)
        return (torch.softmax(logits, dim=1)[0].numpy().astype(np.float64),
                alpha[0].numpy().astype(np.float64))

    def _synthetic_note(self, audio: object) -> str:
        """A warning when a model trained on synthetic speech hears anything but a file of a
        synthetic corpus."""
        from wise.corpora.synthetic import from_synthetic_corpus

        if not self.synthetic or (isinstance(audio, str | Path)
                                  and from_synthetic_corpus(audio)):
            return ""
        return ("this model was trained on synthetic speech only (espeak voices): on human "
                "speech its answers mean little; without a checkpoint the bundled "
                "real-speech model answers")

    def _empty(self, base: dict, given: bool, text: str | None, why: str,
               seconds: dict) -> Prediction:
        return Prediction(**base, status="no_speech", label=None, label_name=None,
                          probabilities={}, transcript=" ".join(tokenize(text or "")),
                          transcript_source="given" if given else "none", asr_confidence=None,
                          words=[], message=why,
                          seconds={k: round(v, 4) for k, v in seconds.items()})


def _capping_note(events: dict) -> str:
    capped = {k: v for k, v in events.items() if "cap" in k or "after the audio" in k}
    return "; ".join(f"{k}: {v}" for k, v in sorted(capped.items()))


def _checkpoint_vectors(path: Path, trained_with: str, cfg: FeatureConfig,
                        override: str | None, cache: str | Path) -> WordVectors:
    """The word vectors the checkpoint was trained with, or a clear error why not."""
    spec = override or cfg.word_vectors
    if spec not in PACKAGES and not Path(spec).is_file():
        raise WiseError(path, f"trained with the word vectors {spec}, which are not on this "
                              "machine: pass their path with --word-vectors")
    vectors = load_word_vectors(spec, Path(cache) / "vectors")
    # A vector file's identity carries its path, size and time: a copy on another machine is
    # the same vectors if the file name and the dimension agree.
    if _base_name(vectors.name) != _base_name(trained_with):
        raise WiseError(path, f"trained with word vectors {_base_name(trained_with)}, "
                              f"not {_base_name(vectors.name)}")
    return vectors


def _base_name(name: str) -> str:
    return name.rsplit(":", 1)[0] if name.startswith("glove:") else name


def format_prediction(r: Prediction, top: int = 5) -> str:
    """A few human-readable lines for one result (what `wise predict` prints without --json)."""
    head = f"{r.file}  ({r.duration:.1f} s)"
    if r.status != "ok":
        return f"{head}\n  no label: {r.message}"
    probs = "  ".join(f"{c} {p:.0%}" for c, p in r.probabilities.items())
    lines = [f"{head}\n  {r.label_name} ({r.probabilities[r.label]:.0%})    {probs}"]
    if r.transcript_source == "asr":
        lines.append(f"  transcript (ASR, confidence {r.asr_confidence:.2f}): {r.transcript}")
    else:
        lines.append(f"  transcript: {r.transcript}")
    if r.word_attention:
        best = ", ".join(f"{w.word} {w.attention:.2f}" for w in r.top_words[:top])
        lines.append(f"  words that carried it: {best}")
    else:
        lines.append(f"  ({r.model} has no word attention: every word weighs the same)")
    if r.message:
        lines.append(f"  note: {r.message}")
    return "\n".join(lines)


def read_transcripts(path: str | Path) -> dict[str, str]:
    """{audio as written in the file: transcript} from TSV lines `AUDIO<TAB>TEXT` or JSONL
    objects with `audio` and `text`."""
    import json

    path = Path(path)
    if not path.is_file():
        raise WiseError(path, "transcripts file not found")
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError:
        raise WiseError(path, "transcripts file is not UTF-8 text") from None
    out: dict[str, str] = {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            try:
                row = json.loads(line)
                out[str(row["audio"])] = str(row["text"])
            except (ValueError, KeyError, TypeError, RecursionError):
                raise WiseError(path, f"line {n}: expected a JSON object with 'audio' and "
                                      "'text'") from None
        else:
            audio, sep, text = line.partition("\t")
            if not sep:
                raise WiseError(path, f"line {n}: expected AUDIO<TAB>TEXT")
            out[audio.strip()] = text.strip()
    return out


_worker: Predictor | None = None


def _init_worker(checkpoint: str | None, kw: dict) -> None:
    global _worker
    torch.set_num_threads(1)          # one process per core: the cores are the parallelism
    _worker = Predictor(checkpoint, **kw)


def _predict_with(p: Predictor, task: tuple[str, str | None, str | None]
                  ) -> Prediction | WiseError:
    path, text, plot_dir = task
    try:
        r = p.predict(path, text=text)
        if plot_dir:
            from wise.plots import plot_prediction

            plot_prediction(r, p.read_audio(path), Path(plot_dir) / f"{Path(path).stem}.png",
                            sample_rate=p.features.sample_rate)
        return r
    except WiseError as e:
        return e


def _predict_one(task: tuple[str, str | None, str | None]) -> Prediction | WiseError:
    assert _worker is not None, "called outside a worker process"
    return _predict_with(_worker, task)


def predict_files(checkpoint: str | Path | None, files: list[str], texts: list[str | None], *,
                  plot_dir: str | Path | None = None, workers: int = 1,
                  loaded: Callable[[Predictor], None] | None = None, **kw):
    """Yield (file, Prediction or WiseError) in the order of `files`. With `workers` > 1 the
    files are spread over that many processes, each with its own predictor (ASR and
    alignment run one file per core). The checkpoint (None: the bundled model) is checked
    here first, so a bad one fails before any process starts; `loaded` is then shown it."""
    tasks = [(str(f), t, str(plot_dir) if plot_dir else None)
             for f, t in zip(files, texts, strict=True)]
    local = Predictor(checkpoint, **kw)
    if loaded is not None:
        loaded(local)
    if workers <= 1 or len(files) < 2:
        for task in tasks:
            yield task[0], _predict_with(local, task)
        return
    del local
    # spawned, not forked: the parent may hold torch thread pools (wise.cluster.local_pool)
    with local_pool(min(workers, len(files)), _init_worker,
                    (None if checkpoint is None else str(checkpoint), kw)) as pool:
        for task, result in zip(tasks, watched(pool, pool.imap(_predict_one, tasks)),
                                strict=True):
            yield task[0], result
