"""Reading speech: any rate, any channel count in; 16 kHz mono float32 out."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from wise.errors import WiseError

# Sample rates a recording can have. Outside them the header is corrupt: at 1 Hz, resampling to
# 16 kHz would turn each sample of a small file into 16 000; at 2 GHz, a file into nothing.
MIN_RATE, MAX_RATE = 1000, 768_000
_BLOCK = 1 << 16   # frames per read


def audio_info(path: str | Path) -> tuple[int, int, int]:
    """(sample rate, channels, frames) from the header only, without reading samples."""
    path = _existing(path)
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as e:
        raise WiseError(path, f"not a readable audio file ({_short(e)})") from None
    return int(info.samplerate), int(info.channels), int(info.frames)


def load_audio(path: str | Path, sample_rate: int = 16000, *,
               max_seconds: float | None = None) -> np.ndarray:
    """Load a file as mono float32 at `sample_rate`: mixes channels down, resamples with soxr.

    Raises `WiseError` naming the file for a missing, unreadable, corrupt or empty file, and
    for audio longer than `max_seconds` (checked from the header, before reading samples).
    """
    path = _existing(path)
    return _read(str(path), path, sample_rate, max_seconds)


@dataclass
class Stream:
    """What `stream_audio` found as it read, complete once the blocks are exhausted."""

    seconds: float = 0.0            # audio delivered, at the output rate
    header_seconds: float = 0.0     # what the header promised
    damage: str = ""                # why reading stopped early ("": it did not)


def stream_audio(path: str | Path, sample_rate: int = 16000, *, block_s: float = 1.0,
                 max_seconds: float | None = None,
                 stream: Stream | None = None) -> Iterator[np.ndarray]:
    """A file of any length as consecutive blocks of mono float32 at `sample_rate` (about
    `block_s` seconds each), so that memory does not grow with the recording. Resampling runs
    over the whole stream (soxr's streaming resampler): the blocks join into exactly what
    `load_audio` reads at once.

    A file that cannot be opened, or is longer than `max_seconds` by its header, raises
    `WiseError` before any block. A file damaged part way ends the blocks early: what came
    before is delivered and `stream.damage` (pass a `Stream` to read it) says what happened."""
    path = _existing(path)
    stream = stream if stream is not None else Stream()
    try:
        f = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as e:
        raise WiseError(path, f"not a readable audio file ({_short(e)})") from None
    with f:
        sr = f.samplerate
        _check_rate(sr, path)
        if max_seconds is not None and f.frames > max_seconds * sr:
            raise WiseError(path, f"audio is {f.frames / sr:.1f} s long, over the limit of "
                                  f"{max_seconds:g} s")
        stream.header_seconds = _promised_seconds(f) or f.frames / sr
        resampler = soxr.ResampleStream(sr, sample_rate, 1, dtype="float32") \
            if sr != sample_rate else None
        per_block = max(1, int(block_s * sr))
        read = 0
        while True:
            try:
                data = f.read(per_block, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError, ValueError) as e:
                stream.damage = (f"the audio is damaged after {read / sr:.1f} s "
                                 f"({_short(e)}): what came before was kept")
                data, last = np.zeros((0, f.channels), np.float32), True
            else:
                last = len(data) < per_block
            read += len(data)
            if max_seconds is not None and read > max_seconds * sr:
                raise WiseError(path, f"audio goes on past the limit of {max_seconds:g} s "
                                      "(its header said less)")
            x = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
            if resampler is not None:
                x = resampler.resample_chunk(x, last=last)
            if not np.isfinite(x).all():
                stream.damage = (f"the audio holds NaN or infinite samples after "
                                 f"{stream.seconds:.1f} s: what came before was kept")
                return
            if len(x):
                stream.seconds += len(x) / sample_rate
                yield np.ascontiguousarray(x, dtype=np.float32)
            if last:
                break
        if not stream.damage and read / sr < stream.header_seconds - 1 / sr:
            stream.damage = (f"the file ends at {read / sr:.1f} s though its header says "
                             f"{stream.header_seconds:.1f} s: what was there was kept")


def _promised_seconds(f: sf.SoundFile) -> float | None:
    """The length a WAV header promised, when the file holds less: libsndfile counts the
    frames actually there (and notes the header's size in its chunk listing)."""
    cut = re.search(r"^data\s*:\s*(\d+)\s*\(should be", f.extra_info, re.MULTILINE)
    rate = re.search(r"^\s*Bytes/sec\s*:\s*(\d+)", f.extra_info, re.MULTILINE)
    return int(cut[1]) / int(rate[1]) if cut and rate and int(rate[1]) else None


def _existing(path: str | Path) -> Path:
    """`path`, or the error of a path that is no audio file: missing, a folder, or empty (which
    libsndfile would call an unknown format)."""
    path = Path(path)
    try:
        folder, found = path.is_dir(), path.is_file()
        size = path.stat().st_size if found else None
    except OSError as e:   # a name longer than the file system allows, for one
        raise WiseError(path, f"audio file cannot be opened ({e.strerror})") from None
    if folder:
        raise WiseError(path, "is a folder, not an audio file")
    if not found:
        raise WiseError(path, "audio file not found")
    if size == 0:
        raise WiseError(path, "audio file is empty (0 bytes)")
    return path


def decode_audio(data: bytes, sample_rate: int = 16000, *, name: str = "upload",
                 max_seconds: float | None = None) -> np.ndarray:
    """`load_audio` for the bytes of an audio file (an HTTP upload): nothing touches the disk.
    Errors name the audio as `name`."""
    if not data:
        raise WiseError(name, "audio is empty (zero bytes)")
    return _read(_Bytes(data), name, sample_rate, max_seconds)


class _Bytes(io.BytesIO):
    """The bytes libsndfile reads through soundfile's callbacks. A corrupt header can make it
    seek before the start; BytesIO raises there, and an exception inside a callback is
    printed as a traceback and ignored. Such a seek lands at the end instead: reads find
    nothing and libsndfile reports the file as corrupt."""

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        try:
            return super().seek(offset, whence)
        except (ValueError, OverflowError):
            return super().seek(0, io.SEEK_END)


def audio_from_array(a: np.ndarray, sr: int | None, sample_rate: int = 16000, *,
                     name: str = "array", max_seconds: float | None = None) -> np.ndarray:
    """`load_audio` for samples already in memory: (samples,) or (samples, channels) at
    rate `sr`, float in [-1, 1] or integer PCM."""
    if sr is None:
        raise WiseError(name, "an audio array needs its sample_rate")
    if a.ndim not in (1, 2) or a.size == 0:
        raise WiseError(name, f"audio must be a non-empty 1-D or (samples, channels) array, "
                              f"got shape {tuple(a.shape)}")
    _check_rate(sr, name)
    _check_length(a.shape[0], sr, max_seconds, name)
    if np.issubdtype(a.dtype, np.integer):
        a = a / float(np.iinfo(a.dtype).max + 1)
    data = np.asarray(a, np.float32)
    return _to_mono(data if data.ndim == 2 else data[:, None], sr, sample_rate, name)


def _check_rate(sr: int, name: str | Path) -> None:
    if not MIN_RATE <= sr <= MAX_RATE:
        raise WiseError(name, f"sample rate {sr} Hz is not that of a recording "
                              f"({MIN_RATE}-{MAX_RATE} Hz); the header may be corrupt")


def _check_length(frames: int, sr: int, max_seconds: float | None, name: str | Path) -> None:
    if max_seconds is not None and frames > max_seconds * sr:
        raise WiseError(name, f"audio is {frames / sr:.1f} s long; the limit is "
                              f"{max_seconds:g} s (`wise timeline` follows a recording of "
                              "any length, utterance by utterance)")


def _read(source: str | io.BytesIO, name: str | Path, sample_rate: int,
          max_seconds: float | None) -> np.ndarray:
    try:
        with sf.SoundFile(source) as f:
            sr = f.samplerate
            _check_rate(sr, name)
            _check_length(f.frames, sr, max_seconds, name)
            data = _read_blocks(f, sr, max_seconds, name)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as e:
        raise WiseError(name, f"not a readable audio file ({_short(e)})") from None
    if data.shape[0] == 0:
        raise WiseError(name, "audio is empty (zero samples)")
    return _to_mono(data, sr, sample_rate, name)


def _read_blocks(f: sf.SoundFile, sr: int, max_seconds: float | None,
                 name: str | Path) -> np.ndarray:
    """All samples of `f` as (frames, channels) float32, a block at a time. A corrupt header can
    claim billions of frames: memory then follows the samples actually decoded, and
    `max_seconds` also stops a stream that decodes longer than its header said."""
    blocks, n = [], 0
    while True:
        block = f.read(_BLOCK, dtype="float32", always_2d=True)
        if len(block):
            blocks.append(block)
            n += len(block)
            _check_length(n, sr, max_seconds, name)
        if len(block) < _BLOCK:
            break
    if not blocks:
        return np.zeros((0, f.channels), np.float32)
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)


def _to_mono(data: np.ndarray, sr: int, sample_rate: int, name: str | Path) -> np.ndarray:
    """(samples, channels) float32 at `sr` -> (samples,) float32 at `sample_rate`."""
    x = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if sr != sample_rate:
        x = soxr.resample(x, sr, sample_rate)
        if x.size == 0:
            raise WiseError(name, f"audio is too short to resample ({data.shape[0]} samples "
                                  f"at {sr} Hz)")
    x = np.ascontiguousarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        raise WiseError(name, "audio contains NaN or infinite samples")
    return x


def _short(e: Exception) -> str:
    text = str(e).strip()
    if not text:
        return type(e).__name__
    # libsndfile says "Error opening <file or object>: <reason>"; the reason is what matters
    # (the object is an unhelpful repr for in-memory uploads).
    text = re.sub(r"^Error opening .*?: ", "", text.splitlines()[-1])
    return text[:160]


# The gain normalisation's target for the loudest 25 ms frame: speech peaks then stay below
# full scale (a 25 ms frame's crest factor is rarely over 15 dB).
LEVEL_DBFS = -20.0


def loudest_frame_dbfs(x: np.ndarray, frame: int = 400) -> float:
    """RMS level in dBFS of the loudest 25 ms frame (non-overlapping frames at 16 kHz)."""
    n = max(1, len(x) // frame)
    frames = x[: n * frame].reshape(n, frame) if len(x) >= frame else x[None, :]
    rms = float(np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1)).max())
    return 20.0 * np.log10(max(rms, 1e-10))


def normalize_gain(x: np.ndarray, level_dbfs: float = LEVEL_DBFS) -> np.ndarray:
    """`x` scaled so that its loudest 25 ms frame is at `level_dbfs` (up or down). Tools with
    absolute energy thresholds (the decoders, openSMILE's voicing) then behave the same on a
    quiet recording as on a loud one."""
    gain = 10 ** ((level_dbfs - loudest_frame_dbfs(x)) / 20)
    return (x.astype(np.float64) * gain).astype(np.float32)


# Loudest 25 ms frame below this level means there is nothing to decode: -75 dBFS is an RMS of
# about 6 steps of 16-bit audio, 20 dB under the quietest real speech we have seen (-55 dBFS).
# Whether a louder signal is speech at all (noise, music) is the recogniser's call, not a level's.
SILENCE_DBFS = -75.0


def no_speech(x: np.ndarray) -> str | None:
    """Why `x` holds no speech ("no speech in the audio (digital silence)"), or None when
    its loudest 25 ms reach SILENCE_DBFS."""
    level = loudest_frame_dbfs(x)
    if level >= SILENCE_DBFS:
        return None
    how = "digital silence" if level < -120 else f"loudest 25 ms at {level:.0f} dBFS"
    return f"no speech in the audio ({how})"


def require_speech(x: np.ndarray, source: str) -> None:
    """`WiseError(source, "no speech ...")` when `no_speech(x)` says so."""
    why = no_speech(x)
    if why:
        raise WiseError(source, why)
