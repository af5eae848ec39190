"""A user's own corpus, listed in a CSV or JSONL file: one row per utterance.

Columns (the first name is canonical; the others are accepted aliases):
    audio    wav, path, file, audio_path   path to the audio, relative to the list's folder
    text     transcript, sentence           what was said
    label    emotion, class                 ang/hap/neu/sad, or angry/happy/excited/neutral/sad
    speaker  spk, speaker_id                 who speaks (cross-validation never splits one)
    session  (optional)                     defaults to the speaker
    gender   sex (optional)                  F/M (or female/male); the speaker_groups CV
                                            protocol balances it across folds
    id       (optional)                     defaults to the audio file's stem

JSONL rows may also carry `words` and `phones` as lists of `[token, start_s, end_s]`
(a manifest written by `wise prepare` is itself a valid input).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

from wise.corpora.files import audio_seconds, excerpt, is_file
from wise.corpora.label_map import map_gender, map_label
from wise.errors import Skips, WiseError
from wise.utterance import Segment, Utterance

COLUMNS = {
    "audio": ("audio", "wav", "path", "file", "audio_path"),
    "text": ("text", "transcript", "sentence"),
    "label": ("label", "emotion", "class"),
    "speaker": ("speaker", "spk", "speaker_id"),
    "session": ("session",),
    "gender": ("gender", "sex"),
    "id": ("id", "utt", "utterance"),
}
REQUIRED = ("audio", "text", "label", "speaker")


def read_manifest_corpus(path: str | Path, skips: Skips) -> Iterator[Utterance]:
    """Yield the 4-class rows of a CSV/JSONL corpus list; count every row dropped and why."""
    path = Path(path)
    if not path.is_file():
        raise WiseError(path, "corpus list not found")
    try:
        content = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise WiseError(path, f"not UTF-8 text (byte {e.start})") from None
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        rows = _jsonl_rows(path, content, skips)
    elif path.suffix.lower() in (".csv", ".tsv"):
        rows = _csv_rows(path, content)
    else:
        raise WiseError(path, "unknown list format: use .csv, .tsv or .jsonl")
    seen: set[str] = set()
    for n, raw in rows:
        u = _utterance(path, n, raw, skips, seen)
        if u is not None:
            seen.add(u.id)
            yield u


def _jsonl_rows(path: Path, content: str, skips: Skips) -> Iterator[tuple[int, dict]]:
    for n, line in enumerate(content.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):   # ValueError: also a number of 5000 digits
            skips.add("list line is not JSON", f"{path.name}:{n}")
            continue
        if not isinstance(row, dict):
            skips.add("list line is not a JSON object", f"{path.name}:{n}")
            continue
        yield n, row


def _csv_rows(path: Path, content: str) -> Iterator[tuple[int, dict]]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.DictReader(io.StringIO(content), delimiter=delimiter)
    try:
        if not reader.fieldnames:
            raise WiseError(path, "empty list: no header row")
        names = {f.strip().lower() for f in reader.fieldnames if f}
        for col in REQUIRED:
            if not names & set(COLUMNS[col]):
                raise WiseError(path, f"no '{col}' column "
                                      f"(header: {excerpt(', '.join(reader.fieldnames))})")
        for n, row in enumerate(reader, 2):
            yield n, {(k or "").strip().lower(): v for k, v in row.items()}
    except csv.Error as e:   # a field over csv.field_size_limit(), for one
        raise WiseError(path, f"line {reader.line_num}: {e}") from None


def _get(row: dict, col: str) -> object:
    for name in COLUMNS[col]:
        if row.get(name) not in (None, ""):
            return row[name]
    return None


def _utterance(path: Path, n: int, row: dict, skips: Skips, seen: set[str]) -> Utterance | None:
    where = f"{path.name}:{n}"
    missing = [c for c in REQUIRED if _get(row, c) is None and c != "text"]
    if missing:
        skips.add(f"row without {'/'.join(missing)}", where)
        return None
    raw_label = str(_get(row, "label"))
    label = map_label(raw_label)
    if label is None:
        skips.add(f"non-target label '{raw_label}'", where)
        return None
    text = _get(row, "text")
    if text is None or not str(text).strip():
        skips.add("empty transcript", where)
        return None
    audio = Path(str(_get(row, "audio")))
    if not audio.is_absolute():
        audio = path.parent / audio
    if not is_file(audio):
        skips.add("no audio file", str(audio))
        return None
    seconds = audio_seconds(audio, skips, str(audio))
    if seconds is None:
        return None
    utt_id = str(_get(row, "id") or audio.stem)
    if utt_id in seen:
        skips.add("duplicate id", f"{where} ({utt_id})")
        return None
    speaker = str(_get(row, "speaker"))
    u = Utterance(id=utt_id, audio=str(audio), text=str(text).strip(), label=label,
                  speaker=speaker, session=str(_get(row, "session") or speaker),
                  duration=seconds, improvised=_flag(row.get("improvised")),
                  gender=map_gender(_get(row, "gender")))
    try:
        words, phones = _segments(row.get("words")), _segments(row.get("phones"))
    except (TypeError, ValueError, OverflowError):   # OverflowError: float(10**400)
        skips.add("alignment in the row does not parse (will align)", where)
        return u
    if words:
        u.words, u.phones = words, phones or None
        u.alignment = str(row.get("alignment") or "given")
    return u


def _segments(value: object) -> list[Segment] | None:
    if value in (None, ""):
        return None
    if not isinstance(value, list):
        raise ValueError("not a list of [token, start, end]")
    return [Segment(str(t), float(s), float(e)) for t, s, e in value]


def _flag(value: object) -> bool | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "impro", "improvised")
