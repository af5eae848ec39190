"""Fuzzing every reader of outside bytes (issue 13, item 4).

Each property feeds one reader random or mutated input (bytes, text, a file on disk, a folder)
and holds it to one contract: the reader returns a well-formed result or raises `WiseError`
with a one-line message naming the file; any other exception, a multi-line or runaway message,
or no answer within `HANG_S` seconds is a failure. Inputs start from real-shaped examples (the
IEMOCAP miniature, valid WAV/FLAC/OGG bytes, manifests written by the project itself) and are
mutated at byte, line and token level, so both the parsers' edges and their happy paths run.

Runs are deterministic (`derandomize=True`, no example database). `WISE_FUZZ_SCALE` multiplies
every property's example count (1 in CI; the counts are sized for about 25 s in all), or
`WISE_FUZZ_EXAMPLES=N` gives every property N. `benchmarks/faults/fuzz.py` runs this module at a
larger scale with `WISE_FUZZ_REPORT=PATH`: each test then appends to PATH a JSON line of what
ran, from `TALLY`, which counts each reader's outcomes as they happen (`report`).
The `@example` inputs once broke a reader, and are kept as regressions.
"""

from __future__ import annotations

import atexit
import csv
import io
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import CALL
from wise.audio import audio_info, decode_audio, load_audio, no_speech, require_speech
from wise.config import CONFIG_DIR
from wise.corpora import cremad, ravdess
from wise.corpora.iemocap import read_iemocap, read_phseg, read_wdseg
from wise.corpora.manifest import read_manifest_corpus
from wise.errors import Skips, WiseError
from wise.features.words import load_word_vectors, vectors_dim
from wise.labels import LABELS
from wise.predict import read_transcripts
from wise.rows import load_run_config
from wise.utterance import Segment, Utterance, read_manifest, write_manifest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SCALE = float(os.environ.get("WISE_FUZZ_SCALE", "1"))
EXAMPLES = int(os.environ.get("WISE_FUZZ_EXAMPLES", "0"))
HANG_S = 10.0            # no reader needs more than milliseconds on these small inputs
MAX_MESSAGE = 400        # characters of a WiseError's message (the path comes on top)

# reader -> Counter(result=, error=, failure=): what actually ran, for benchmarks/faults/fuzz.py.
TALLY: dict[str, Counter] = defaultdict(Counter)
REPORT = os.environ.get("WISE_FUZZ_REPORT")


@pytest.fixture(autouse=True)
def report(request):
    """With WISE_FUZZ_REPORT=PATH, one JSON line per test appended to PATH, which
    benchmarks/faults/fuzz.py makes its rows from: the test's name, docstring, configured example
    count and seconds; how it failed (the exception's first line), if it did; and per
    reader, what TALLY counted while it ran."""
    if not REPORT:
        yield
        return
    before = {reader: Counter(counts) for reader, counts in TALLY.items()}
    yield
    call = request.node.stash.get(CALL, None)
    if call is None:             # its setup failed: nothing ran
        return
    e = call.excinfo.value if call.excinfo else None
    configured = getattr(request.function, "_hypothesis_internal_use_settings", None)
    gained = {reader: dict(counts - before.get(reader, Counter()))
              for reader, counts in TALLY.items()}
    record = {"property": request.node.name, "doc": request.function.__doc__,
              "max_examples": configured.max_examples if configured else None,
              "seconds": call.duration,
              "failed": None if e is None
              else f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:300]}",
              "per_example_limit_s": HANG_S,
              "tally": {reader: counts for reader, counts in gained.items() if counts}}
    with open(REPORT, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def fuzz_settings(examples: int) -> settings:
    return settings(max_examples=EXAMPLES or max(1, round(examples * SCALE)), derandomize=True,
                    database=None, deadline=None, print_blob=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


class Hang(Exception):
    """A reader gave no answer within HANG_S seconds."""


@contextmanager
def time_limit(seconds: float):
    # SIGALRM only reaches the main thread; elsewhere the run goes unguarded.
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        raise Hang(f"no answer after {seconds:g} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@contextmanager
def swallowed_exceptions():
    """The exceptions Python would print as "Exception ignored in ..." while the block runs."""
    seen: list[str] = []
    old = sys.unraisablehook
    sys.unraisablehook = lambda u: seen.append(f"{u.exc_type.__name__}: {u.exc_value}")
    try:
        yield seen
    finally:
        sys.unraisablehook = old


def outcome(reader: str, call: Callable[[], object], *, where: str | Path | None = None,
            check: Callable[[object], None] | None = None,
            expected: type[Exception] = WiseError) -> object:
    """Run `call` under the contract and count how it ended in TALLY[reader].

    `expected` is the one exception type allowed (a `WiseError` for a reader; `ValueError` for
    the file-name parsers, whose callers turn it into a counted skip); its text must be one
    short line, and a WiseError must name `where` or a file under it. `check` asserts that a
    result is well formed. An exception raised inside a C callback is printed as a traceback
    and swallowed: it counts as a failure too."""
    error = result = None
    try:
        with time_limit(HANG_S), swallowed_exceptions() as swallowed:
            result = call()
    except expected as e:
        error = e
    except BaseException:
        TALLY[reader]["failure"] += 1
        raise
    try:
        assert not swallowed, f"a traceback was printed: {swallowed[0]}"
        if error is not None:
            assert_one_line(error, where)
        elif check is not None:
            check(result)
    except BaseException:
        TALLY[reader]["failure"] += 1
        raise
    TALLY[reader]["result" if error is None else "error"] += 1
    return result if error is None else error


def assert_one_line(e: Exception, where: str | Path | None) -> None:
    if isinstance(e, WiseError):
        message, line = e.message, e.line()
        if where is not None:
            assert e.path is not None, f"error names no file: {line!r}"
            assert e.path == str(where) or Path(where) in Path(e.path).parents, \
                f"error names {e.path!r}, not {str(where)!r}"
    else:
        message = line = str(e)
    assert message.strip(), f"empty error message: {e!r}"
    assert len(line.splitlines()) == 1, f"error is not one line: {line!r}"
    assert len(message) <= MAX_MESSAGE, f"error message of {len(message)} characters"


# ---------------------------------------------------------------- mutation strategies

# Integers that sit on the edges of header fields (sizes, rates, counts), written in place.
EDGE_INTS = [0, 1, 2, 7, 8, 255, 256, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000,
             0xFFFFFFFF]
# Tokens that have broken parsers before: empty, whitespace, NUL, BOM, lone brackets, numbers
# at the edges of float/int conversion, very long or very deep values, other scripts.
NASTY = ["", " ", "\t", "\x00", "\ufeff", "\r", "\x0b", "\x85", "\u2028", "-", "[", "]", "{",
         "}", "\"", "'", ",", ":", "nan", "inf", "-inf", "1e999", "-1", "0", "-0", "1.5",
         "99999999999999999999", "9" * 400, "9" * 5000, "x" * 300, "x" * 140_000,
         "[" * 100_000, "{\"a\":" * 20_000, "\u0661\u0662", "\u00b2", "é", "日本",
         "Ses01F_impro01_" + "x" * 300 + "_F000", "../../etc/passwd", "/dev/zero",
         "Ses01F_impro01_F000"]
tokens = st.one_of(st.sampled_from(NASTY), st.text(max_size=12),
                   st.integers().map(str), st.floats().map(repr))


@st.composite
def mutated_bytes(draw, bases: list[bytes], max_ops: int = 6) -> bytes:
    """One of `bases` with a few byte-level edits: flips, overwritten header fields,
    insertions, deletions, truncation, repetition. Edits favour the first 64 bytes, where
    headers live."""
    data = bytearray(draw(st.sampled_from(bases)))
    for _ in range(draw(st.integers(0, max_ops))):
        n = len(data)
        pos = draw(st.one_of(st.integers(0, min(n, 64)), st.integers(0, n)))
        op = draw(st.sampled_from(["flip", "byte", "int", "insert", "delete", "truncate",
                                   "repeat"]))
        if op == "flip" and pos < n:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "byte" and pos < n:
            data[pos] = draw(st.integers(0, 255))
        elif op == "int":
            width = draw(st.sampled_from([2, 4]))
            value = draw(st.sampled_from(EDGE_INTS)) & ((1 << (8 * width)) - 1)
            data[pos:pos + width] = value.to_bytes(width, draw(st.sampled_from(["little",
                                                                                "big"])))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(max_size=16))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 16))]
        elif op == "truncate":
            del data[pos:]
        elif op == "repeat":
            data[pos:pos] = data[pos:pos + draw(st.integers(1, 64))] * draw(st.integers(1, 8))
    return bytes(data)


@st.composite
def mutated_text(draw, bases: list[str], max_ops: int = 5) -> bytes:
    """One of `bases` edited at line and token level (lines dropped, doubled, replaced; tokens
    replaced by NASTY ones), then encoded in an odd way now and then (BOM, CRLF, Latin-1,
    UTF-16) and sometimes given byte-level edits too."""
    lines = draw(st.sampled_from(bases)).split("\n")
    for _ in range(draw(st.integers(0, max_ops))):
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        op = draw(st.sampled_from(["token", "token", "token", "drop", "double", "replace",
                                   "insert", "cut"]))
        if not lines:
            lines = [""]
        if op == "token":
            sep = draw(st.sampled_from(["\t", " ", ",", ":"]))
            parts = lines[i].split(sep)
            j = draw(st.integers(0, len(parts) - 1))
            parts[j] = draw(tokens)
            lines[i] = sep.join(parts)
        elif op == "drop":
            del lines[i]
        elif op == "double":
            lines.insert(i, lines[i])
        elif op == "replace":
            lines[i] = draw(tokens)
        elif op == "insert":
            lines.insert(i, draw(st.text(max_size=40)))
        elif op == "cut":
            lines[i] = lines[i][:draw(st.integers(0, len(lines[i])))]
    text = draw(st.sampled_from(["\n", "\n", "\r\n", "\r"])).join(lines)
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-sig", "latin-1",
                                     "utf-16"]))
    data = text.encode(encoding, errors="surrogatepass" if "utf" in encoding else "replace")
    if draw(st.integers(0, 3)) == 0:
        data = draw(mutated_bytes([data], max_ops=3))
    return data


# ---------------------------------------------------------------- inputs written once

def _tone(seconds: float, sr: int, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    x = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def _encoded(x: np.ndarray, sr: int, fmt: str, subtype: str | None = None) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


VALID_AUDIO = [
    _encoded(_tone(0.05, 16000), 16000, "WAV", "PCM_16"),
    _encoded(_tone(0.05, 8000, 2), 8000, "WAV", "PCM_U8"),
    _encoded(_tone(0.03, 44100), 44100, "WAV", "FLOAT"),
    _encoded(_tone(0.05, 16000), 16000, "FLAC", "PCM_16"),
    _encoded(_tone(0.1, 16000), 16000, "OGG", "VORBIS"),
    _encoded(_tone(0.05, 22050), 22050, "AIFF", "PCM_24"),
    _encoded(_tone(0.05, 16000), 16000, "AU", "ULAW"),
]
MAGIC = [b"", b"RIFF\xff\xff\xff\xffWAVEfmt ", b"fLaC", b"OggS\x00\x02",
         b"FORM\x00\x00\x00\x00AIFF", b".snd", b"RF64", b"caff"]


class Scratch:
    """A temporary folder for the whole run: an IEMOCAP-layout corpus with its audio, a few
    audio files for manifests to point at, and room for per-example files."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="wise-fuzz-"))
        atexit.register(shutil.rmtree, self.root, True)
        self.corpus = self.root / "iemocap"
        shutil.copytree(FIXTURES / "iemocap_mini", self.corpus)
        for emo in self.corpus.glob("Session*/dialog/EmoEvaluation/*.txt"):
            session = emo.parents[2]
            for line in emo.read_text(encoding="latin-1").splitlines():
                fields = line.split("\t")
                if line.startswith("[") and len(fields) > 1:
                    wav = session / "sentences/wav" / emo.stem / f"{fields[1]}.wav"
                    wav.parent.mkdir(parents=True, exist_ok=True)
                    wav.write_bytes(VALID_AUDIO[0])
        self.dialog = "Ses01F_impro01"
        session1 = self.corpus / "Session1"
        self.emo_file = session1 / "dialog/EmoEvaluation" / f"{self.dialog}.txt"
        self.trans_file = session1 / "dialog/transcriptions" / f"{self.dialog}.txt"
        align = session1 / "sentences/ForcedAlignment" / self.dialog
        self.wdseg, self.phseg = (align / f"{self.dialog}_F000.wdseg",
                                  align / f"{self.dialog}_F000.phseg")
        # Latin-1 keeps every byte (the transcriptions hold a non-UTF-8 line on purpose).
        self.originals = {p: p.read_text(encoding="latin-1")
                          for p in (self.emo_file, self.trans_file, self.wdseg, self.phseg)}
        self.lists = self.root / "lists"
        (self.lists / "wav").mkdir(parents=True)
        (self.lists / "wav/a.wav").write_bytes(VALID_AUDIO[0])
        (self.lists / "wav/b.flac").write_bytes(VALID_AUDIO[3])
        (self.lists / "wav/bad.wav").write_bytes(VALID_AUDIO[0][:30])
        (self.lists / "wav/empty.wav").write_bytes(VALID_AUDIO[0][:44])
        (self.lists / "wav/dir.wav").mkdir()
        self.n = 0

    def fresh(self) -> Path:
        """A new empty folder for one example."""
        self.n += 1
        path = self.root / "ex" / str(self.n)
        path.mkdir(parents=True)
        return path


_scratch: Scratch | None = None


def scratch() -> Scratch:
    global _scratch
    if _scratch is None:
        _scratch = Scratch()
    return _scratch


@contextmanager
def example_dir():
    path = scratch().fresh()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------- audio

def _check_audio(x: object) -> None:
    assert isinstance(x, np.ndarray) and x.dtype == np.float32 and x.ndim == 1, repr(x)[:80]
    assert x.size > 0 and np.isfinite(x).all()


def _decode_then_check_speech(data: bytes, max_seconds: float | None) -> np.ndarray:
    x = decode_audio(data, name="upload.bin", max_seconds=max_seconds)
    _check_audio(x)
    assert no_speech(x) is None or no_speech(x).startswith("no speech")
    require_speech(x, "upload.bin")
    return x


max_seconds_values = st.sampled_from([None, None, 0.01, 1.0, 60.0])


@fuzz_settings(500)
@given(st.tuples(st.sampled_from(MAGIC), st.binary(max_size=1024)).map(b"".join),
       max_seconds_values)
def test_audio_bytes_random(data, max_seconds):
    """Random bytes (up to 1 kB) behind an audio format's magic number, decoded from memory."""
    outcome("audio bytes (random)", lambda: _decode_then_check_speech(data, max_seconds),
            where="upload.bin")


# A FLAC whose STREAMINFO claims 1.1e9 frames: reading it once allocated 4.5 GB up front.
FLAC_HUGE = bytearray(VALID_AUDIO[3])
FLAC_HUGE[22:26] = (0x43000000).to_bytes(4, "big")
# A WAV at 1 Hz: 16 000x upsampling turned 1 kB into 51 MB of samples.
WAV_1HZ = bytearray(VALID_AUDIO[0])
WAV_1HZ[24:28] = (1).to_bytes(4, "little")
# An AIFF whose SSND chunk id is garbage: libsndfile seeks before the start, and soundfile
# printed the ValueError of io.BytesIO.seek as an ignored traceback.
AIFF_BAD_CHUNK = VALID_AUDIO[5][:38] + b"\xff" * 4 + VALID_AUDIO[5][42:]


@fuzz_settings(400)
@given(mutated_bytes(VALID_AUDIO), max_seconds_values)
@example(bytes(FLAC_HUGE), None)
@example(bytes(WAV_1HZ), None)
@example(AIFF_BAD_CHUNK, None)
@example(bytes(WAV_1HZ[:24]) + (0x7FFFFFFF).to_bytes(4, "little") + bytes(WAV_1HZ[28:]), None)
def test_audio_bytes_mutated(data, max_seconds):
    """Valid WAV/FLAC/OGG/AIFF/AU bytes with header fields set to edge values (rate, channels,
    sizes), flipped, inserted, deleted or truncated bytes, decoded from memory."""
    outcome("audio bytes (mutated WAV/FLAC/OGG/AIFF/AU)",
            lambda: _decode_then_check_speech(data, max_seconds), where="upload.bin")


@fuzz_settings(150)
@given(mutated_bytes(VALID_AUDIO), st.sampled_from([".wav", ".flac", ".ogg", ".mp3", ""]),
       max_seconds_values)
def test_audio_file_on_disk(data, suffix, max_seconds):
    """Mutated audio bytes written as a file with a .wav/.flac/.ogg/.mp3 or no suffix, read by
    path (header, then samples)."""
    with example_dir() as d:
        path = d / f"clip{suffix}"
        path.write_bytes(data)

        def read():
            sr, channels, frames = audio_info(path)
            assert sr > 0 and channels > 0 and frames >= 0
            x = load_audio(path, max_seconds=max_seconds)
            _check_audio(x)
            return x

        outcome("audio files on disk", read, where=path)


def test_audio_path_too_long_for_a_file_name():
    """A path whose name is longer than a file name can be (as a list's row may give it)."""
    path = scratch().root / ("x" * 300 + ".wav")
    for read in (load_audio, audio_info):
        e = outcome("audio files on disk", lambda read=read: read(path), where=path)
        assert isinstance(e, WiseError) and "cannot be opened" in e.message


# ---------------------------------------------------------------- IEMOCAP release files

def _check_segments(segments: object) -> None:
    assert isinstance(segments, list)
    for s in segments:
        assert isinstance(s, Segment) and isinstance(s.token, str) and s.token
        assert math.isfinite(s.start) and math.isfinite(s.end) and s.end > s.start


def _seg_bases() -> list[str]:
    align = FIXTURES / "iemocap_mini"
    return sorted({p.read_text() for p in align.rglob("*.wdseg")} |
                  {p.read_text() for p in align.rglob("*.phseg")})


SEG_BASES = _seg_bases()


@fuzz_settings(300)
@given(mutated_text(SEG_BASES), st.booleans())
@example(b" SFrm  EFrm    SegAScr Word\n 0 " + b"9" * 400 + b" -5 HELLO\n", True)
@example(b"0 1 2 " + b"x" * 5000 + b" 3\n", False)
def test_iemocap_alignment_files(data, words):
    """The miniature's .wdseg/.phseg files with lines and fields dropped, doubled or replaced
    by odd tokens, odd encodings and byte edits."""
    with example_dir() as d:
        path = d / ("a.wdseg" if words else "a.phseg")
        path.write_bytes(data)
        outcome("IEMOCAP .wdseg/.phseg", lambda: (read_wdseg if words else read_phseg)(path),
                where=path, check=_check_segments)


def _check_corpus(rows: object) -> None:
    for u in rows:
        assert isinstance(u, Utterance) and u.label in LABELS
        assert u.id and u.text.strip() and Path(u.audio).is_file()
        assert u.duration is not None and u.duration > 0
        if u.words is not None:
            _check_segments(u.words)


@fuzz_settings(200)
@given(mutated_text([scratch().originals[scratch().emo_file]]),
       mutated_text([scratch().originals[scratch().trans_file]]),
       mutated_text([scratch().originals[scratch().wdseg]], max_ops=2),
       mutated_text([scratch().originals[scratch().phseg]], max_ops=2))
@example(("[1.0 - 2.0]\tSes01F_impro01_" + "x" * 300 + "_F000\tneu\t[1, 2, 3]\n").encode(),
         b"", b"", b"")
def test_iemocap_corpus(emo, trans, wdseg, phseg):
    """An IEMOCAP-layout corpus whose EmoEvaluation, transcription and alignment files are
    mutated the same way, read whole."""
    s = scratch()
    for path, data in ((s.emo_file, emo), (s.trans_file, trans), (s.wdseg, wdseg),
                       (s.phseg, phseg)):
        path.write_bytes(data)
    outcome("IEMOCAP corpus (EmoEvaluation, transcriptions, alignments)",
            lambda: list(read_iemocap(s.corpus, Skips())), where=s.corpus, check=_check_corpus)


# ---------------------------------------------------------------- manifests

ALIASES = ["audio", "wav", "path", "file", "audio_path", "text", "transcript", "sentence",
           "label", "emotion", "class", "speaker", "spk", "speaker_id", "session", "gender",
           "sex", "id", "utt", "utterance", "improvised", "words", "phones", "alignment"]
AUDIO_VALUES = ["wav/a.wav", "wav/b.flac", "wav/bad.wav", "wav/empty.wav", "wav/dir.wav",
                "wav/missing.wav", "wav", "", "wav/" + "x" * 300 + ".wav", "wav/a.wav\x00x",
                "/dev/null"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | tokens,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)
manifest_values = st.one_of(st.sampled_from(AUDIO_VALUES),
                            st.sampled_from(["ang", "Happy", "exc", "neu", "sad", "fru", "F",
                                             "male", "1", "true", "s1"]),
                            tokens)
segment_lists = st.lists(st.one_of(
    st.tuples(st.text(max_size=5), st.floats(), st.floats()).map(list),
    st.lists(json_values, max_size=4), json_values), max_size=4)


@st.composite
def manifest_rows(draw) -> list[dict]:
    header = draw(st.lists(st.sampled_from(ALIASES) | st.text(max_size=8), min_size=0,
                           max_size=9))
    rows = []
    for _ in range(draw(st.integers(0, 5))):
        row = {}
        for col in header:
            if col in ("words", "phones"):
                row[col] = draw(segment_lists | json_values)
            else:
                row[col] = draw(manifest_values | json_values) if draw(st.booleans()) \
                    else draw(manifest_values)
        rows.append(row)
    return rows


def _serialise(rows: list[dict], kind: str) -> str:
    if kind == ".jsonl":
        return "".join(json.dumps(r, allow_nan=True) + "\n" for r in rows)
    out = io.StringIO()
    names = list(dict.fromkeys(k for r in rows for k in r)) or ["audio"]
    w = csv.writer(out, delimiter="\t" if kind == ".tsv" else ",")
    w.writerow(names)
    for r in rows:
        w.writerow([v if isinstance(v, str) else json.dumps(v) for v in
                    (r.get(k, "") for k in names)])
    return out.getvalue()


VALID_LIST = [{"audio": "wav/a.wav", "text": "hello there", "label": "ang", "speaker": "s1",
               "words": [["hello", 0.0, 0.02], ["there", 0.02, 0.04]]},
              {"wav": "wav/b.flac", "transcript": "fine", "emotion": "happy", "spk": "s2",
               "gender": "F", "id": "u2"}]


def _check_rows(rows: object) -> None:
    ids = set()
    for u in rows:
        assert isinstance(u, Utterance) and u.label in LABELS and u.id not in ids
        ids.add(u.id)
        assert all(isinstance(v, str) for v in (u.id, u.audio, u.text, u.speaker, u.session))
        assert u.duration is not None and u.duration > 0 and Path(u.audio).is_file()
        for segs in (u.words, u.phones):
            if segs is not None:
                assert all(isinstance(s, Segment) for s in segs)


@fuzz_settings(250)
@given(st.sampled_from([".csv", ".tsv", ".jsonl"]),
       st.one_of(manifest_rows().map(lambda r: (r, None)),
                 st.sampled_from([".csv", ".tsv", ".jsonl"]).flatmap(
                     lambda k: mutated_text([_serialise(VALID_LIST, k)]).map(lambda b: (None, b)))))
@example(".jsonl", (None, b'{"audio": "wav/a.wav", "text": "x", "label": "ang", "speaker": '
                          b'"s", "words": [["a", 0, ' + b"9" * 400 + b"]]}\n"))
@example(".jsonl", (None, b"9" * 5000 + b"\n"))
@example(".jsonl", (None, b"[" * 100_000 + b"\n"))
@example(".csv", (None, b"audio,text,label,speaker\n" + b"x" * 140_000 + b",a,ang,s\n"))
@example(".csv", (None, b'"a\nb",text,label,speaker\n'))
@example(".csv", (None, b"audio,text,label,speaker\nwav/" + b"x" * 300 + b".wav,a,ang,s\n"))
def test_manifest_corpus_lists(kind, rows_or_bytes):
    """CSV/TSV/JSONL corpus lists: random columns (aliases and junk) and values (paths that are
    missing, too long, hold NUL; odd labels; JSON of any type), or a valid list mutated at
    line, token and byte level."""
    rows, data = rows_or_bytes
    if data is None:
        data = _serialise(rows, kind).encode("utf-8", errors="surrogatepass")
    path = scratch().lists / f"list{kind}"
    path.write_bytes(data)
    outcome("corpus lists (CSV/TSV/JSONL)", lambda: list(read_manifest_corpus(path, Skips())),
            where=path, check=_check_rows)


def _manifest_lines() -> str:
    path = scratch().root / "written.jsonl"
    rows = [Utterance(id="u1", audio="/x/u1.wav", text="hello there", label="ang", speaker="s1",
                      session="s1", duration=1.5, words=[Segment("hello", 0.1, 0.5)],
                      phones=[Segment("HH", 0.1, 0.2)], alignment="gold", improvised=True,
                      gender="F"),
            Utterance(id="u2", audio="/x/u2.wav", text="ok", label="sad", speaker="s2",
                      session="s2", extra={"emotion": "sad"})]
    write_manifest(path, rows)
    return path.read_text()


MANIFEST = _manifest_lines()


@st.composite
def manifest_json(draw) -> bytes:
    """Manifest lines whose fields were replaced by random JSON values, dropped or added."""
    out = []
    for line in MANIFEST.splitlines():
        row = json.loads(line)
        for _ in range(draw(st.integers(0, 3))):
            key = draw(st.sampled_from(sorted(row) + ["extra", "new"]))
            if draw(st.integers(0, 4)) == 0:
                row.pop(key, None)
            else:
                row[key] = draw(json_values | segment_lists)
        out.append(json.dumps(row))
    return ("\n".join(out) + "\n").encode()


def _check_manifest(rows: object) -> None:
    for u in rows:
        assert isinstance(u, Utterance) and u.label in LABELS
        assert all(isinstance(v, str) for v in (u.id, u.audio, u.text, u.speaker, u.session))
        assert u.duration is None or (isinstance(u.duration, float) and u.duration >= 0)
        assert isinstance(u.extra, dict)
        for segs in (u.words, u.phones):
            assert segs is None or all(isinstance(s, Segment) for s in segs)


@fuzz_settings(250)
@given(st.one_of(manifest_json(), mutated_text([MANIFEST])))
@example(b'{"id": "u", "audio": "a", "text": "t", "label": "ang", "speaker": "s", '
         b'"session": "s", "extra": 5}\n')
@example(b"\xff\xfe\n")
@example(b'{"id": "u", "audio": "a", "text": "t", "label": "ang", "speaker": "s", '
         b'"session": "s", "words": [["a", 0, ' + b"9" * 400 + b"]]}\n")
@example(b"[" * 100_000)
def test_manifest_jsonl(data):
    """Manifests written by the project with fields replaced by JSON of any type, dropped or
    added, or mutated at line, token and byte level."""
    with example_dir() as d:
        path = d / "manifest.jsonl"
        path.write_bytes(data)
        outcome("manifests (JSONL, wise prepare's output)", lambda: list(read_manifest(path)),
                where=path, check=_check_manifest)


# ---------------------------------------------------------------- transcripts files

TRANSCRIPTS = ["clip1.wav\tExcuse me.\nclip2\tDo you have your forms?\n",
               '{"audio": "a.wav", "text": "hello"}\n{"audio": "b.wav", "text": "bye"}\n']


def _check_transcripts(texts: object) -> None:
    assert isinstance(texts, dict)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in texts.items())


@fuzz_settings(300)
@given(mutated_text(TRANSCRIPTS))
@example(b'{"a":' * 20_000 + b"\n")
def test_transcripts_file(data):
    """TSV and JSONL transcripts files mutated at line, token and byte level."""
    with example_dir() as d:
        path = d / "transcripts.tsv"
        path.write_bytes(data)
        outcome("transcripts files (wise predict --transcripts)",
                lambda: read_transcripts(path), where=path, check=_check_transcripts)


# ---------------------------------------------------------------- word vectors

VECTOR_FILES = ["the 0.1 0.2 0.3\nof -1 2.5e-3 4\nThe 1 1 1\n",
                "3 2\nhello 1 2\nworld 3 4\ndon't 5 6\n",
                "a b 0.5 0.5\nc 1 1\n"]


@fuzz_settings(150)
@given(mutated_text(VECTOR_FILES))
@example(b"2 \xc2\xb2\nhello 1 2\n")
@example(b"\xc2\xb2 \xc2\xb2\nhello 1 2\n")
def test_word_vector_files(data):
    """Small GloVe/word2vec text files (with and without a header line) mutated at line, token
    and byte level; width read, then converted and loaded."""
    with example_dir() as d:
        path = d / "vectors.txt"
        path.write_bytes(data)

        def load():
            width = vectors_dim(str(path))
            wv = load_word_vectors(str(path), d / "cache")
            assert wv.vectors.dtype == np.float32 and wv.vectors.ndim == 2
            assert wv.vectors.shape[1] == width, (wv.vectors.shape, width)
            assert len(wv.index) <= wv.vectors.shape[0]
            assert all(0 <= i < wv.vectors.shape[0] for i in wv.index.values())
            return wv

        outcome("word vector text files (features.word_vectors=PATH)", load, where=path)


# ---------------------------------------------------------------- RAVDESS, CREMA-D

RAVDESS_STEMS = ["03-01-04-01-02-02-09", "03-01-01-01-01-01-10", "01-02-08-02-02-01-24"]
CREMAD_STEMS = ["1001_DFA_ANG_XX", "1091_IEO_HAP_HI", "1045_WSI_FEA_LO"]
file_stems = st.one_of(mutated_text(RAVDESS_STEMS + CREMAD_STEMS, max_ops=2).map(
    lambda b: b.decode("utf-8", errors="replace")), st.text(max_size=30), tokens)


@fuzz_settings(500)
@given(file_stems)
@example("03-01-04-01-02-02-" + "9" * 5000)
def test_ravdess_and_cremad_file_names(stem):
    """RAVDESS and CREMA-D file names, mutated valid ones and random text, decoded."""
    outcome("RAVDESS / CREMA-D file names", lambda: ravdess.parse_name(stem),
            expected=ValueError)
    outcome("RAVDESS / CREMA-D file names", lambda: cremad.parse_name(stem), expected=ValueError)


def _safe_name(stem: str, suffix: str) -> str | None:
    name = stem.replace("/", "_").replace("\x00", "_") + suffix
    try:
        ok = name not in (".", "..") and len(name.encode("utf-8")) <= 255
    except UnicodeEncodeError:
        return None
    return name if ok else None


DEMOGRAPHICS = "ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,Not Hispanic\n" \
               "1002,21,Female,Caucasian,Not Hispanic\n"


@fuzz_settings(100)
@given(st.lists(file_stems, max_size=4), st.sampled_from([".wav", ".flac", ""]),
       mutated_text([DEMOGRAPHICS]))
@example([], ".wav", b"ActorID,Sex\n" + b"x" * 140_000 + b",Male\n")
@example([], ".wav", b'"Actor\nID",Sex\n')
def test_ravdess_and_cremad_folders(stems, suffix, demographics):
    """RAVDESS and CREMA-D folders holding files with random names, and a mutated
    VideoDemographics.csv."""
    with example_dir() as d:
        names = {n for n in (_safe_name(s, suffix) for s in stems) if n}
        for folder in (d / "ravdess/Actor_09", d / "cremad/AudioWAV"):
            folder.mkdir(parents=True)
            for name in names | {f"03-01-04-01-02-02-09{suffix}", f"1001_DFA_ANG_XX{suffix}"}:
                (folder / name).write_bytes(VALID_AUDIO[0])
        (d / "cremad" / cremad.DEMOGRAPHICS).write_bytes(demographics)
        outcome("RAVDESS / CREMA-D folders",
                lambda: list(ravdess.read_ravdess(d / "ravdess", Skips())),
                where=d / "ravdess", check=_check_rows)
        outcome("RAVDESS / CREMA-D folders",
                lambda: list(cremad.read_cremad(d / "cremad", Skips())),
                where=d / "cremad", check=_check_rows)


# ---------------------------------------------------------------- run configs (YAML)

CONFIGS = sorted(p.read_text() for p in CONFIG_DIR.glob("*.yaml"))


@fuzz_settings(250)
@given(mutated_text(CONFIGS, max_ops=3))
def test_run_config_files(data):
    """The shipped run configs (YAML) mutated at line, token and byte level."""
    with example_dir() as d:
        path = d / "run.yaml"
        path.write_bytes(data)
        outcome("run configs (wise train/cv --config FILE.yaml)",
                lambda: load_run_config(path), where=path)


def test_the_contract_itself_catches_what_it_should():
    # The harness must count a traceback-worthy exception and a multi-line error as failures.
    with pytest.raises(KeyError):
        outcome("self-test", lambda: {}["x"])
    with pytest.raises(AssertionError):
        outcome("self-test", lambda: (_ for _ in ()).throw(WiseError("f", "a\nb")), where="f")
    with pytest.raises(AssertionError):
        outcome("self-test", lambda: (_ for _ in ()).throw(WiseError("g", "bad")), where="f")
    with pytest.raises(AssertionError, match="traceback was printed"):
        outcome("self-test", lambda: RaisesWhenCollected() and None)
    with pytest.raises(Hang):
        with time_limit(0.05):
            while True:
                pass
    assert TALLY.pop("self-test") == Counter(failure=4)


class RaisesWhenCollected:
    def __del__(self):
        raise ValueError("printed as 'Exception ignored in ...', not raised")
