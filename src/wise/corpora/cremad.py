"""CREMA-D (Cao et al. 2014) in its release layout: the facts are in the file name.

    AudioWAV/<actor>_<sentence>_<emotion>_<level>.wav      e.g. AudioWAV/1001_DFA_ANG_XX.wav
    VideoDemographics.csv                                  ActorID, Age, Sex, Race, Ethnicity

    actor     1001-1091
    sentence  one of the 12 codes in SENTENCES (the text each actor read)
    emotion   ANG, DIS, FEA, HAP, NEU, SAD
    level     LO low, MD medium, HI high, XX unspecified

Kept: ANG, HAP, NEU, SAD. DIS and FEA are dropped and counted, as is every file whose name
does not follow the scheme (field count, unknown actor, sentence, emotion or level code).
The audio is read from `ROOT/AudioWAV/` (or from ROOT itself when it is that folder); any
format soundfile reads is accepted. `gender` comes from the Sex column of
`VideoDemographics.csv` beside `AudioWAV/` when the file is there, and is unknown otherwise.

Speaker = session = the actor id (there are no sessions: use `--set protocol=speaker_groups`
for k-fold cross-validation over whole speakers). The corpus's emotion code and the level
go into `extra`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from wise.corpora.files import audio_seconds, corpus_files, excerpt
from wise.corpora.label_map import map_gender
from wise.errors import Skips, WiseError
from wise.utterance import Utterance

# Written out as spoken, with straight apostrophes and no digits ("It's eleven o'clock"), so
# `wise.text.tokenize` and the aligner's dictionary see ordinary words.
SENTENCES = {
    "IEO": "It's eleven o'clock",
    "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before",
    "TSI": "The surface is slick",
    "WSI": "We'll stop in a couple of minutes",
}
EMOTIONS = {"ANG": "ang", "HAP": "hap", "NEU": "neu", "SAD": "sad", "DIS": None, "FEA": None}
EMOTION_NAMES = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happy",
                 "NEU": "neutral", "SAD": "sad"}
LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
ACTORS = range(1001, 1092)
AUDIO_DIR = "AudioWAV"
DEMOGRAPHICS = "VideoDemographics.csv"

_NAME = re.compile(r"[0-9]{4}_[A-Z]{3}_[A-Z]{3}_[A-Z]{2}")


@dataclass(frozen=True)
class CremaName:
    """The four fields of a CREMA-D file name, checked."""

    actor: str       # "1001".."1091"
    sentence: str    # the code, e.g. "DFA"; SENTENCES[sentence] is its text
    emotion: str     # the code, e.g. "ANG"
    level: str       # "low", "medium", "high", "unspecified"


def parse_name(stem: str) -> CremaName:
    """Decode `1001_DFA_ANG_XX`; raises ValueError naming what is wrong."""
    if not _NAME.fullmatch(stem):
        raise ValueError("file name is not ACTOR_SENTENCE_EMOTION_LEVEL (e.g. 1001_DFA_ANG_XX)")
    actor, sentence, emotion, level = stem.split("_")
    if int(actor) not in ACTORS:
        raise ValueError(f"unknown actor '{actor}' in file name (1001-1091)")
    for code, table, what in ((sentence, SENTENCES, "sentence"), (emotion, EMOTIONS, "emotion"),
                              (level, LEVELS, "level")):
        if code not in table:
            raise ValueError(f"unknown {what} code '{code}' in file name")
    return CremaName(actor, sentence, emotion, LEVELS[level])


def read_demographics(path: Path) -> dict[str, str | None]:
    """ActorID -> "F"/"M" (None for any other Sex value) from `VideoDemographics.csv`."""
    try:
        content = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise WiseError(path, f"not UTF-8 text (byte {e.start})") from None
    reader = csv.DictReader(io.StringIO(content))
    out: dict[str, str | None] = {}
    try:
        header = [(f or "").strip() for f in reader.fieldnames or []]
        if not {"actorid", "sex"} <= {f.lower() for f in header}:
            raise WiseError(path, f"no ActorID and Sex columns "
                                  f"(header: {excerpt(', '.join(header))})")
        for row in reader:
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()
                   if isinstance(v, str | None)}
            if row.get("actorid"):
                out[row["actorid"]] = map_gender(row.get("sex"))
    except csv.Error as e:   # a field over csv.field_size_limit(), for one
        raise WiseError(path, f"line {reader.line_num}: {e}") from None
    return out


def read_cremad(root: str | Path, skips: Skips) -> Iterator[Utterance]:
    """Yield the 4-class utterances of a CREMA-D release folder; count everything dropped.

    Rows carry no word times: `wise.prepare` force-aligns them to the sentence's text.
    """
    root = Path(root)
    if not root.is_dir():
        raise WiseError(root, "corpus folder not found")
    audio_dir = root / AUDIO_DIR if (root / AUDIO_DIR).is_dir() else root
    files = list(corpus_files(audio_dir))
    if audio_dir == root and not any(_NAME.fullmatch(p.stem) for p in files):
        raise WiseError(root, f"no {AUDIO_DIR}/ folder and no CREMA-D file names: not a "
                              "CREMA-D release folder")
    demographics = audio_dir.parent / DEMOGRAPHICS
    genders = read_demographics(demographics) if demographics.is_file() else {}
    seen: set[str] = set()
    for path in files:
        u = _utterance(path, genders, skips, seen)
        if u is not None:
            seen.add(u.id)
            yield u


def _utterance(path: Path, genders: dict[str, str | None], skips: Skips,
               seen: set[str]) -> Utterance | None:
    try:
        name = parse_name(path.stem)
    except ValueError as e:
        skips.add(str(e), path.name)
        return None
    label = EMOTIONS[name.emotion]
    if label is None:
        skips.add(f"non-target emotion '{name.emotion}' ({EMOTION_NAMES[name.emotion]})",
                  path.name)
        return None
    if path.stem in seen:
        skips.add("duplicate file name (a second copy of the same recording)", path.name)
        return None
    seconds = audio_seconds(path, skips, path.name)
    if seconds is None:
        return None
    return Utterance(id=path.stem, audio=str(path), text=SENTENCES[name.sentence], label=label,
                     speaker=name.actor, session=name.actor, duration=seconds,
                     gender=genders.get(name.actor),
                     extra={"emotion": EMOTION_NAMES[name.emotion], "intensity": name.level})
