"""RAVDESS (Livingstone & Russo 2018) in its release naming: every fact is in the file name.

    Actor_NN/MM-VV-EE-II-SS-RR-AA.<ext>        e.g. Actor_09/03-01-04-01-02-02-09.wav

    MM modality    01 full AV, 02 video-only, 03 audio-only
    VV channel     01 speech, 02 song
    EE emotion     01 neutral, 02 calm, 03 happy, 04 sad, 05 angry, 06 fearful, 07 disgust,
                   08 surprised
    II intensity   01 normal, 02 strong
    SS statement   01 "Kids are talking by the door", 02 "Dogs are sitting by the door"
    RR repetition  01, 02
    AA actor       01-24; odd = male, even = female

Kept: audio-only speech (03-01) of neutral, happy, sad and angry; `calm` is dropped unless
`calm="neutral"` counts it as neutral. Everything else is dropped and counted with its reason:
video files, song, the other emotions, and names that do not follow the scheme (wrong field
count, unknown codes, an actor number that differs from its folder). `Actor_NN` folders are
found at any depth under the root, so the release's `Audio_Speech_Actors_01-24/` works as it
unpacks; a file name seen twice (a second copy of the corpus) is counted as a duplicate.
Any audio format soundfile reads is accepted (the release has 48 kHz WAV).

Speaker = session = `Actor_NN` (there are no sessions: use `--set protocol=speaker_groups` for
k-fold cross-validation over whole speakers). `gender` comes from the actor number; the
corpus's own emotion name and the intensity go into `extra`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from wise.corpora.files import audio_seconds, corpus_files
from wise.corpora.label_map import map_label
from wise.errors import Skips, WiseError
from wise.utterance import Utterance

MODALITIES = {"01": "full AV", "02": "video-only", "03": "audio-only"}
CHANNELS = {"01": "speech", "02": "song"}
EMOTIONS = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry",
            "06": "fearful", "07": "disgust", "08": "surprised"}
INTENSITIES = {"01": "normal", "02": "strong"}
STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
REPETITIONS = {"01", "02"}
N_ACTORS = 24
CALM = ("drop", "neutral")

_NAME = re.compile(r"[0-9]{2}(?:-[0-9]{2}){6}")
_ACTOR_DIR = re.compile(r"Actor_([0-9]+)")


@dataclass(frozen=True)
class RavdessName:
    """The seven fields of a RAVDESS file name, decoded."""

    modality: str      # "full AV", "video-only", "audio-only"
    channel: str       # "speech", "song"
    emotion: str       # "neutral", "calm", ...
    intensity: str     # "normal", "strong"
    statement: str     # the sentence spoken
    repetition: int    # 1 or 2
    actor: int         # 1..24

    @property
    def gender(self) -> str:
        return "M" if self.actor % 2 else "F"


def parse_name(stem: str) -> RavdessName:
    """Decode `03-01-04-01-02-02-09`; raises ValueError naming what is wrong."""
    if not _NAME.fullmatch(stem):
        raise ValueError("file name is not 7 two-digit fields (MM-VV-EE-II-SS-RR-AA)")
    mm, vv, ee, ii, ss, rr, aa = stem.split("-")
    for code, table, what in ((mm, MODALITIES, "modality"), (vv, CHANNELS, "vocal channel"),
                              (ee, EMOTIONS, "emotion"), (ii, INTENSITIES, "intensity"),
                              (ss, STATEMENTS, "statement"), (rr, REPETITIONS, "repetition")):
        if code not in table:
            raise ValueError(f"unknown {what} code '{code}' in file name")
    if not 1 <= int(aa) <= N_ACTORS:
        raise ValueError(f"unknown actor code '{aa}' in file name")
    return RavdessName(MODALITIES[mm], CHANNELS[vv], EMOTIONS[ee], INTENSITIES[ii],
                       STATEMENTS[ss], int(rr), int(aa))


def target_label(emotion: str, calm: str = "drop") -> str | None:
    """The 4-class label of a RAVDESS emotion name; `calm` is neutral only if asked."""
    if emotion == "calm" and calm == "neutral":
        return "neu"
    return map_label(emotion)


def read_ravdess(root: str | Path, skips: Skips, *, calm: str = "drop") -> Iterator[Utterance]:
    """Yield the 4-class audio-only speech utterances under `root`; count everything dropped.

    Rows carry no word times: `wise.prepare` force-aligns them to the statement's text.
    """
    if calm not in CALM:
        raise WiseError(None, f"calm must be one of {', '.join(CALM)}, not {calm!r}")
    root = Path(root)
    if not root.is_dir():
        raise WiseError(root, "corpus folder not found")
    actor_dirs = sorted(p for p in root.rglob("Actor_*")
                        if p.is_dir() and _ACTOR_DIR.fullmatch(p.name))
    if not actor_dirs:
        raise WiseError(root, "no Actor_NN/ folders: not a RAVDESS-layout corpus")
    seen: set[str] = set()
    for actor_dir in actor_dirs:
        folder_actor = int(_ACTOR_DIR.fullmatch(actor_dir.name).group(1))
        for path in corpus_files(actor_dir):
            u = _utterance(path, folder_actor, calm, skips, seen)
            if u is not None:
                seen.add(u.id)
                yield u


def _utterance(path: Path, folder_actor: int, calm: str, skips: Skips,
               seen: set[str]) -> Utterance | None:
    where = f"{path.parent.name}/{path.name}"
    try:
        name = parse_name(path.stem)
    except ValueError as e:
        skips.add(str(e), where)
        return None
    if name.actor != folder_actor:
        skips.add("actor in file name differs from its Actor_NN folder", where)
        return None
    if name.modality != "audio-only":
        skips.add(f"not audio-only ({name.modality})", where)
        return None
    if name.channel != "speech":
        skips.add("song, not speech", where)
        return None
    label = target_label(name.emotion, calm)
    if label is None:
        reason = ("emotion 'calm' (dropped; --calm neutral keeps it)" if name.emotion == "calm"
                  else f"non-target emotion '{name.emotion}'")
        skips.add(reason, where)
        return None
    if path.stem in seen:
        skips.add("duplicate file name (a second copy of the same recording)", str(path))
        return None
    seconds = audio_seconds(path, skips, where)
    if seconds is None:
        return None
    speaker = f"Actor_{name.actor:02d}"
    return Utterance(id=path.stem, audio=str(path), text=name.statement, label=label,
                     speaker=speaker, session=speaker, duration=seconds, gender=name.gender,
                     extra={"emotion": name.emotion, "intensity": name.intensity})
