"""A small ctypes wrapper around libespeak-ng, the speech synthesiser the project ships with.

The library and its data come from the `espeakng-loader` package, so nothing has to be
installed on the system. Two things are used:

* `Espeak.synthesize`: speech for a text (plain or SSML) at 16 kHz, with the synthesiser's
  own word and phone times taken from its WORD and PHONEME events. These are exact: they
  are where espeak itself placed each unit, which makes them gold alignments for the
  synthetic corpus.
* `phonemize_arpabet`: a word's pronunciation in CMU/ARPAbet phones (no stress digits), via
  espeak's text-to-phoneme rules and the table `ESPEAK_TO_ARPABET` below. The forced aligner
  uses it for words missing from the pocketsphinx dictionary.

libespeak-ng keeps global state (one voice, one callback, one set of parameters), so every
call goes through one lock per process; worker processes each load their own library, which
is how the corpus generator runs in parallel.

espeak-ng also carries waveform-generator state from one utterance to the next (the pitch
flutter index is a function-level static that not even espeak_Initialize resets, and the
generator's phase continues), so the same call gives different samples depending on what
was synthesised before; breathy voices also draw noise from a generator seeded from the
clock. To make synthesis a pure function of its arguments - which the corpus needs to be
byte-identical for a seed whatever the number of workers - every `synthesize` call fixes the
seed and loads a private copy of the library file, uses it once and unloads it (about 3-8 ms
per call, mostly loading the voice). Text-to-phonemes has no such state and uses one
long-lived instance.
"""

from __future__ import annotations

import _ctypes
import ctypes
import hashlib
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass, field

import numpy as np
import soxr

from wise.errors import WiseError
from wise.fsutil import atomic_file
from wise.stopping import stop_held
from wise.utterance import Segment

SAMPLE_RATE = 16000

# espeak's English phoneme mnemonics (en-us voice) -> ARPAbet. Stress and syllable marks
# (' , % =) are stripped before lookup. Where espeak keeps a distinction CMU does not
# (flap t#, glottal ?, the reduced vowels @2 I2 I#, nasalised A~) the nearest CMU phone is
# used; r-coloured and syllabic units become two phones, as CMU spells them
# (A@ "car" -> AA R, @L "able" -> AH L, n- "button" -> AH N, aI3 "fire" -> AY ER).
ESPEAK_TO_ARPABET: dict[str, tuple[str, ...]] = {
    # consonants
    "p": ("P",), "b": ("B",), "t": ("T",), "t#": ("T",), "t2": ("T",), "?": ("T",),
    "d": ("D",), "k": ("K",), "g": ("G",), "x": ("K",), "f": ("F",), "v": ("V",),
    "T": ("TH",), "D": ("DH",), "s": ("S",), "z": ("Z",), "S": ("SH",), "Z": ("ZH",),
    "h": ("HH",), "C": ("HH",), "m": ("M",), "n": ("N",), "N": ("NG",), "l": ("L",),
    "l#": ("L",), "r": ("R",), "r-": ("R",), "w": ("W",), "j": ("Y",), "tS": ("CH",),
    "dZ": ("JH",),
    # syllabic consonants
    "@L": ("AH", "L"), "n-": ("AH", "N"), "m-": ("AH", "M"),
    # vowels
    "a": ("AE",), "aa": ("AE",), "a#": ("AH",), "A:": ("AA",), "A": ("AA",), "A~": ("AA",),
    "0": ("AA",), "A@": ("AA", "R"), "aI": ("AY",), "aI@": ("AY", "AH"), "aI3": ("AY", "ER"),
    "aU": ("AW",), "aU@": ("AW", "ER"), "E": ("EH",), "e": ("EH",), "e@": ("EH", "R"),
    "eI": ("EY",), "@": ("AH",), "@2": ("AH",), "@5": ("AH",), "@-": ("AH",), "V": ("AH",),
    "3": ("ER",), "3:": ("ER",), "i": ("IY",), "i:": ("IY",), "I": ("IH",), "I#": ("IH",),
    "I2": ("IH",), "i@": ("IY", "AH"), "i@3": ("IH", "R"), "O:": ("AO",), "O": ("AO",),
    "O2": ("AO",), "O@": ("AO", "R"), "o@": ("AO", "R"), "OI": ("OY",), "oU": ("OW",),
    "o": ("OW",), "U": ("UH",), "U@": ("UH", "R"), "u:": ("UW",), "u": ("UW",),
}

# Marks that are not phones: stress/syllable marks and the palatalisation mark ';'.
_STRESS = "',%="
_NOT_PHONES = {";", "", "#", "||", "|"}
# Modifier characters espeak appends to a base phoneme name (length, variants, nasal, syllabic).
_MODIFIERS = re.compile(r"[#:;~\-0-9]+$")
_WORD = re.compile(r"[A-Za-z0-9]+(?:['\u2019][A-Za-z0-9]+)*")
_TAG = re.compile(r"<[^>]*>")

# espeak_EVENT_TYPE
_EV_END_OF_LIST, _EV_WORD, _EV_SENTENCE, _EV_END, _EV_MSG_TERMINATED, _EV_PHONEME = 0, 1, 2, 5, 6, 7
# espeak_PARAMETER
_P_RATE, _P_VOLUME, _P_PITCH, _P_RANGE = 1, 2, 3, 4
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS, _INIT_DONT_EXIT = 0x0001, 0x8000
_CHARS_UTF8, _SSML, _POS_CHARACTER = 1, 0x10, 1


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    """`espeak_EVENT` from speak_lib.h (API revision 12)."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),   # 1-based character position in the input
        ("length", ctypes.c_int),          # word length in characters (WORD events)
        ("audio_position", ctypes.c_int),  # milliseconds
        ("sample", ctypes.c_int),          # sample index at the native rate
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)

_lock = threading.RLock()
_lib: ctypes.CDLL | None = None
_voice: str | None = None
_private_copy: str | None = None


def _loader():
    try:
        import espeakng_loader
    except ImportError as e:  # pragma: no cover - a declared dependency
        raise WiseError(None, f"espeak-ng is unavailable ({e})") from None
    return espeakng_loader


def _open(path: str) -> tuple[ctypes.CDLL, int]:
    """dlopen libespeak-ng at `path`, declare the functions used, initialise it.

    Returns the library and its native sample rate (22050 Hz for espeak-ng's voices).
    """
    lib = ctypes.CDLL(path, mode=os.RTLD_LOCAL)
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_Synth.argtypes = [
        ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
        ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
    ]
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    lib.espeak_TextToPhonemes.argtypes = [
        ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int,
    ]
    data = _loader().get_data_path()
    rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data.encode(),
                                 _INIT_PHONEME_EVENTS | _INIT_DONT_EXIT)
    if rate <= 0:
        raise WiseError(data, "espeak-ng failed to initialise")
    return lib, rate


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None)


def _library() -> ctypes.CDLL:
    """The long-lived instance (for text-to-phonemes), loaded once per process."""
    global _lib
    with _lock:
        if _lib is None:
            _lib, _ = _open(_loader().get_library_path())
        return _lib


def _private_library_path() -> str:
    """A copy of the library file that this process opens only for synthesis.

    dlopen of a path that is already open returns the open instance (with its state), so
    synthesis loads this copy, which the long-lived instance never opens. One copy per user
    and library build is shared by all processes (each process still gets its own instance);
    it is created under a temporary name and renamed, so concurrent first uses are safe.
    """
    global _private_copy
    with _lock:
        if _private_copy is None or not os.path.isfile(_private_copy):
            src = _loader().get_library_path()
            st = os.stat(src)
            key = hashlib.sha1(f"{src}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:12]
            folder = os.path.join(tempfile.gettempdir(), f"wise-espeak-{os.getuid()}-{key}")
            os.makedirs(folder, exist_ok=True)
            path = os.path.join(folder, "libespeak-ng.so")
            if not os.path.isfile(path):
                with atomic_file(path) as tmp:
                    shutil.copyfile(src, tmp)
            _private_copy = path
        return _private_copy


def _set_voice(lib: ctypes.CDLL, voice: str) -> None:
    global _voice
    if voice == _voice:
        return
    if lib.espeak_SetVoiceByName(voice.encode()) != 0:
        raise WiseError(None, f"espeak-ng has no voice {voice!r}")
    _voice = voice


def espeak_to_arpabet(name: str) -> tuple[str, ...]:
    """ARPAbet phones for one espeak phoneme mnemonic; () for pauses and marks.

    An unlisted name falls back to its base name without modifier characters (`aI@3` ->
    `aI@` -> ...); a name that still does not map gives (), so the result is always valid.
    """
    name = name.strip(_STRESS)
    while name and name not in _NOT_PHONES and not name.startswith("_"):
        if name in ESPEAK_TO_ARPABET:
            return ESPEAK_TO_ARPABET[name]
        shorter = _MODIFIERS.sub("", name)
        name = shorter if shorter != name else name[:-1]
    return ()


def phonemize_espeak(word: str, voice: str = "en-us") -> list[str]:
    """espeak's own phoneme mnemonics for a text, stress marks removed."""
    lib = _library()
    out: list[str] = []
    with _lock:
        _set_voice(lib, voice)
        buf = ctypes.create_string_buffer(word.encode("utf-8"))
        ptr = ctypes.c_char_p(ctypes.addressof(buf))
        # The call translates one clause at a time and advances the pointer; NULL = done.
        while ptr.value:
            res = lib.espeak_TextToPhonemes(ctypes.byref(ptr), _CHARS_UTF8, ord(" ") << 8)
            if res:
                out.extend(p.strip(_STRESS) for p in res.decode("utf-8").split())
    return [p for p in out if p and p not in _NOT_PHONES and not p.startswith("_")]


def phonemize_arpabet(word: str, voice: str = "en-us") -> list[str]:
    """The word's pronunciation as ARPAbet phones without stress: "hello" -> HH AH L OW.

    Every phone returned is in `wise.phones.ARPABET`. An r after an r-coloured phone is
    dropped (espeak writes the linking r of "admiralty" as `3 r-`; CMU spells it ER alone).
    Returns [] when espeak gives no phonemes (e.g. punctuation only).
    """
    phones: list[str] = []
    for name in phonemize_espeak(word.lower(), voice):
        for ph in espeak_to_arpabet(name):
            if ph == "R" and phones and phones[-1] in ("R", "ER"):
                continue
            phones.append(ph)
    return phones


@dataclass
class SynthResult:
    """Synthesised speech with the synthesiser's own timings (seconds from the start)."""

    audio: np.ndarray                 # float32 mono at `sample_rate`
    sample_rate: int
    words: list[Segment]              # the text's words as written, in order
    phones: list[Segment]             # ARPAbet phones (espeak names where unmapped)
    espeak_phones: list[Segment] = field(default_factory=list)  # espeak's mnemonics
    # For each entry of `phones`, the index into `words` of the word it belongs to.
    phone_word: list[int] = field(default_factory=list)
    # Text words espeak spoke inside a neighbour ("a" in "for a while") or not at all; they
    # have no entry in `words`.
    merged: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate


def _word_spans(text: str, ssml: bool) -> list[tuple[int, int]]:
    """Character spans of the words of `text`; markup is blanked out but keeps its length."""
    if ssml:
        text = _TAG.sub(lambda m: " " * len(m.group()), text)
    return [m.span() for m in _WORD.finditer(text)]


def _map_word_events(positions: list[int], spans: list[tuple[int, int]]) -> list[int]:
    """The text word (index into `spans`) of each WORD event, by its text position.

    espeak speaks some word pairs as one unit ("for a" in "for a while") and then reports
    no event for the second word and, sometimes, a wrong position for the event after it.
    An event whose position is not inside a later word than the previous event's is taken
    to be the last word before the next well-placed event; words left without an event are
    spoken inside their left neighbour (see `SynthResult.merged`).
    """
    found = [next((k for k, (a, b) in enumerate(spans) if a <= p - 1 < b), None)
             for p in positions]
    out: list[int] = []
    for i, k in enumerate(found):
        last = out[-1] if out else -1
        if k is None or k <= last:
            ahead = next((f for f in found[i + 1:] if f is not None and f > last), len(spans))
            k = max(last + 1, ahead - 1) if ahead - 1 > last else last
        out.append(max(k, last))
    return out


def _split_merged(raw: list[list], words: list[str], voice: str) -> None:
    """Give the words espeak spoke as one unit ("with the", "I am") their own phones.

    espeak pronounces some frequent word pairs as one dictionary entry and reports one WORD
    event for them. The unit's phones are aligned (edit distance) with the words' own
    pronunciations, one after the other; each phone goes to the word of the reference phone
    it aligns with. Boundaries fall on espeak's phone events, so the times stay exact.
    """
    hosts = sorted({r[3] for r in raw})
    for n, host in enumerate(hosts):
        stop = hosts[n + 1] if n + 1 < len(hosts) else len(words)
        if stop - host < 2:
            continue
        rows = [r for r in raw if r[3] == host]
        ref: list[tuple[str, int]] = []
        for k in range(host, stop):
            ref += [(p, k) for p in phonemize_espeak(words[k].lower(), voice)]
        owner = _align_owner([r[0] for r in rows], ref, host)
        # Keep the order and give every word at least one phone when there are enough.
        cuts = [0] + [next((i for i, o in enumerate(owner) if o >= k), len(owner))
                      for k in range(host + 1, stop)] + [len(rows)]
        if len(rows) >= stop - host:
            for j in range(1, len(cuts) - 1):
                cuts[j] = max(cuts[j], cuts[j - 1] + 1)
            for j in range(len(cuts) - 2, 0, -1):
                cuts[j] = min(cuts[j], cuts[j + 1] - 1)
        for j in range(len(cuts) - 1):
            for r in rows[cuts[j]: cuts[j + 1]]:
                r[3] = host + j


def _align_owner(hyp: list[str], ref: list[tuple[str, int]], first: int) -> list[int]:
    """For each phone of `hyp`, the word (second item of `ref`) it aligns with."""
    n, m = len(hyp), len(ref)
    cost = np.zeros((n + 1, m + 1))
    cost[:, 0] = np.arange(n + 1)
    cost[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            a, b = hyp[i - 1], ref[j - 1][0]
            # Same ARPAbet phone: as good as equal (espeak reduces vowels inside units).
            sub = 0.0 if a == b else 0.3 if espeak_to_arpabet(a) == espeak_to_arpabet(b) else 1.0
            cost[i, j] = min(cost[i - 1, j - 1] + sub, cost[i - 1, j] + 1, cost[i, j - 1] + 1)
    owner = [first] * n
    i, j = n, m
    while i > 0:
        if j > 0 and cost[i, j] == cost[i - 1, j - 1] + (
                0.0 if hyp[i - 1] == ref[j - 1][0] else
                0.3 if espeak_to_arpabet(hyp[i - 1]) == espeak_to_arpabet(ref[j - 1][0])
                else 1.0):
            owner[i - 1] = ref[j - 1][1]
            i, j = i - 1, j - 1
        elif j > 0 and cost[i, j] == cost[i, j - 1] + 1:
            j -= 1
        else:
            # An extra phone belongs with the word of the reference phone before it.
            owner[i - 1] = ref[j - 1][1] if j > 0 else first
            i -= 1
    return owner


def _share_zero_length(raw: list[list]) -> None:
    """Give phones that espeak reports with no duration a share of a neighbour's time.

    espeak folds some phones into a neighbour (a final "l" into its vowel: "well" has E and
    l at the same sample). Each run of such phones shares the span of the timed phone before
    it in the same word (or after it, at a word's start) equally, so every phone has a
    positive length and the phones stay in order.
    """
    i = 0
    while i < len(raw):
        j = i
        while j + 1 < len(raw) and raw[j + 1][3] == raw[i][3] and raw[j + 1][1] >= raw[j + 1][2]:
            j += 1  # zero-length phones following raw[i] in the same word
        if raw[i][1] >= raw[i][2] and j == i and i + 1 < len(raw) and raw[i + 1][3] == raw[i][3]:
            j = i + 1  # a zero-length first phone borrows from the phone after it
        if j > i:
            start, end = raw[i][1], max(raw[j][2], raw[i][2])
            step = (end - start) / (j - i + 1)
            for n, k in enumerate(range(i, j + 1)):
                raw[k][1], raw[k][2] = start + n * step, start + (n + 1) * step
        i = j + 1


class Espeak:
    """In-process espeak-ng. One per process is enough: the library is global and not
    thread-safe, so all instances share it behind one lock."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._events: list[tuple[int, int, int, str]] = []
        # Kept on the instance so ctypes does not free the trampoline while espeak holds it.
        self._callback = _CALLBACK(self._on_synth)
        self._native_rate = 0
        self._raised: BaseException | None = None

    @property
    def native_rate(self) -> int:
        """espeak's own output rate (known after the first call; audio is resampled)."""
        return self._native_rate

    def _on_synth(self, wav: ctypes.POINTER(ctypes.c_short), n: int,
                  events: ctypes.POINTER(_Event)) -> int:
        # ctypes prints and drops an exception raised in a callback: keep it, stop the
        # synthesis (return 1), and `synthesize` raises it. (A stop signal's is held back
        # until the synthesis returns: `stop_held` below.)
        try:
            if n > 0:
                self._chunks.append(ctypes.string_at(wav, n * 2))
            i = 0
            while events[i].type != _EV_END_OF_LIST:
                ev = events[i]
                name = ev.id.string.decode("utf-8", "replace") if ev.type == _EV_PHONEME else ""
                self._events.append((ev.type, ev.text_position, ev.sample, name))
                i += 1
        except BaseException as e:
            self._raised = e
            return 1
        return 0

    def synthesize(self, text_or_ssml: str, voice: str = "en-us", rate: int = 175,
                   pitch: int = 50, pitch_range: int = 50, volume: int = 100,
                   ssml: bool = False) -> SynthResult:
        """Speak `text_or_ssml` and return 16 kHz audio with word and phone times.

        rate is in words per minute (80..450), pitch and pitch_range 0..100 (50 = voice
        default), volume 0..200 (100 = normal). With `ssml`, the text is an SSML document
        (`<speak>...</speak>`) and `<prosody>` may wrap single words. Words are the text's
        words as written (markup excluded); each WORD event is matched to the word whose
        characters contain the event's text position. A text word espeak splits into
        several spoken words (e.g. "hello-world" is two text words, but "o'clock" one)
        keeps the span of all its parts.
        """
        with _lock:
            # A fresh instance per call: see the module docstring (state carried over).
            lib, native_rate = _open(_private_library_path())
            # espeak seeds its noise generator (breathy voices: f2, f3, f5) from the clock at
            # initialisation, and some code paths use the C library's rand(): fix both.
            lib.espeak_ng_SetRandSeed(ctypes.c_long(1))
            _libc().srand(1)
            try:
                lib.espeak_SetSynthCallback(self._callback)
                if lib.espeak_SetVoiceByName(voice.encode()) != 0:
                    raise WiseError(None, f"espeak-ng has no voice {voice!r}")
                for param, value in ((_P_RATE, rate), (_P_PITCH, pitch),
                                     (_P_RANGE, pitch_range), (_P_VOLUME, volume)):
                    lib.espeak_SetParameter(param, int(value), 0)
                self._chunks, self._events = [], []
                data = text_or_ssml.encode("utf-8")
                flags = _CHARS_UTF8 | (_SSML if ssml else 0)
                with stop_held():
                    err = lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, flags,
                                           None, None)
                    lib.espeak_Synchronize()
                chunks, events = self._chunks, self._events
                self._chunks, self._events = [], []
            finally:
                lib.espeak_Terminate()
                _ctypes.dlclose(lib._handle)
            raised, self._raised = self._raised, None
            if raised is not None:
                raise raised
            self._native_rate = native_rate
        if err != 0:
            raise WiseError(None, f"espeak-ng synthesis failed (error {err})")
        native = np.frombuffer(b"".join(chunks), dtype=np.int16).astype(np.float32) / 32768.0
        audio = soxr.resample(native, native_rate, SAMPLE_RATE) if len(native) else native
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        return self._timings(text_or_ssml, ssml, voice, events, len(native), native_rate,
                             audio)

    def _timings(self, text: str, ssml: bool, voice: str,
                 events: list[tuple[int, int, int, str]], n_native: int, native_rate: int,
                 audio: np.ndarray) -> SynthResult:
        sr = float(native_rate)
        spans = _word_spans(text, ssml)
        timed = [(t, pos, s, name) for t, pos, s, name in events
                 if t in (_EV_PHONEME, _EV_WORD, _EV_END, _EV_SENTENCE)]
        word_events = iter(_map_word_events(
            [pos for t, pos, _, _ in timed if t == _EV_WORD], spans))
        word_of_span: int | None = None
        raw: list[list] = []  # [name, start, end, span index], native samples
        for i, (etype, _, sample, name) in enumerate(timed):
            if etype == _EV_WORD:
                word_of_span = next(word_events)
            elif etype == _EV_PHONEME and word_of_span is not None:
                name = name.strip(_STRESS)
                if not name or name.startswith("_") or name in _NOT_PHONES:
                    continue  # pauses are silence, not phones
                # A phone lasts until the next event espeak reports (phone, pause, word, end).
                end = next((s for _, _, s, _ in timed[i + 1:] if s >= sample), n_native)
                raw.append([name, sample, end, word_of_span])
        _split_merged(raw, [text[a:b] for a, b in spans], voice)
        _share_zero_length(raw)
        spoken = sorted({k for *_, k in raw})
        index = {k: i for i, k in enumerate(spoken)}
        words = []
        for k in spoken:
            mine = [r for r in raw if r[3] == k]
            a, b = spans[k]
            token = text[a:b]
            words.append(Segment(token, mine[0][1] / sr, mine[-1][2] / sr))
        phones, espeak_phones, phone_word = [], [], []
        for name, s, e, k in raw:
            espeak_phones.append(Segment(name, s / sr, e / sr))
            arpa = espeak_to_arpabet(name) or (name,)
            # A unit CMU spells as two phones (A@ -> AA R) shares its time equally.
            step = (e - s) / len(arpa)
            for j, ph in enumerate(arpa):
                phones.append(Segment(ph, (s + j * step) / sr, (s + (j + 1) * step) / sr))
                phone_word.append(index[k])
        merged = [text[a:b] for k, (a, b) in enumerate(spans) if k not in index]
        return SynthResult(audio=audio, sample_rate=SAMPLE_RATE, words=words, phones=phones,
                           espeak_phones=espeak_phones, phone_word=phone_word, merged=merged)
