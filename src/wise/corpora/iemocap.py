"""IEMOCAP in its release layout (docs/evaluation.md), and anything written in the same layout.

    SessionN/sentences/wav/<dialog>/<utt>.wav
    SessionN/dialog/EmoEvaluation/<dialog>.txt        (top level only; the subfolders
                                                       Categorical/, Attribute/, ... differ)
    SessionN/dialog/transcriptions/<dialog>.txt
    SessionN/sentences/ForcedAlignment/<dialog>/<utt>.wdseg and .phseg

Four classes: ang, hap (with exc merged in), neu, sad; every other label is dropped and
counted. Speaker = session + the gender letter of the id's last field (`Ses01F_impro01_M013`
-> `Ses01M`): in IEMOCAP the dialog prefix names who wore the markers, not who speaks.
Gold alignments are read from `.wdseg/.phseg` (10 ms frames, end frame inclusive).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from wise.corpora.files import audio_seconds, is_file
from wise.corpora.label_map import map_label
from wise.errors import Skips, WiseError
from wise.utterance import Segment, Utterance

UTT_ID = re.compile(r"^(Ses\d\d)[FM]_.+_([FM])\d{3}$")
# `[6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]`
EMO_LINE = re.compile(
    r"^\[\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*\]\s+(\S+)\s+(\S+)\s+\[[^\]]*\]\s*$")
# `Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.`
TRANS_LINE = re.compile(r"^(\S+)\s+\[\s*[\d.]+\s*-\s*[\d.]+\s*\]:\s?(.*)$")
VARIANT = re.compile(r"\(\d+\)$")
PHONE_CONTEXT = re.compile(r"^([A-Z]+)(?:\(.*\))?[bies]?$")
FRAME_S = 0.01  # alignment frames are 10 ms
MAX_FRAME = 10**9  # 115 days of 10 ms frames: beyond it a frame number is corrupt
NON_WORDS = {"<s>", "</s>", "<sil>", "<sil/>"}
SILENCE_PHONES = {"SIL", "+BREATH+", "+COUGH+", "+GARBAGE+", "+LAUGH+", "+NOISE+", "+SMACK+",
                  "+UH+", "+UM+", "+INHALE+", "+EXHALE+"}


def read_iemocap(root: str | Path, skips: Skips) -> Iterator[Utterance]:
    """Yield the 4-class utterances of an IEMOCAP-layout corpus; count everything dropped.

    Utterances without alignment files are yielded with `words=None`; the caller aligns them
    or skips them (see `wise.prepare`).
    """
    root = Path(root)
    if not root.is_dir():
        raise WiseError(root, "corpus folder not found")
    sessions = sorted(p for p in root.glob("Session*") if p.is_dir())
    if not sessions:
        raise WiseError(root, "no Session*/ folders: not an IEMOCAP-layout corpus")
    for session_dir in sessions:
        emo_dir = session_dir / "dialog" / "EmoEvaluation"
        if not emo_dir.is_dir():
            skips.add("session without dialog/EmoEvaluation/", str(session_dir))
            continue
        for emo_file in sorted(emo_dir.glob("*.txt")):  # top level only, by design
            dialog = emo_file.stem
            labels = _read_labels(emo_file, skips)
            texts = _read_transcripts(
                session_dir / "dialog" / "transcriptions" / f"{dialog}.txt", skips)
            for utt_id, raw_label in labels:
                u = _utterance(session_dir, dialog, utt_id, raw_label, texts, skips)
                if u is not None:
                    yield u


def _utterance(session_dir: Path, dialog: str, utt_id: str, raw_label: str,
               texts: dict[str, str | None], skips: Skips) -> Utterance | None:
    m = UTT_ID.match(utt_id)
    if m is None:
        skips.add("label line with a malformed utterance id", utt_id)
        return None
    label = map_label(raw_label)
    if label is None:
        skips.add(f"non-target label '{raw_label}'", utt_id)
        return None
    wav = session_dir / "sentences" / "wav" / dialog / f"{utt_id}.wav"
    if not is_file(wav):
        skips.add("no audio file", utt_id)
        return None
    seconds = audio_seconds(wav, skips, utt_id)
    if seconds is None:
        return None
    if utt_id not in texts:
        skips.add("no transcript line", utt_id)
        return None
    text = texts[utt_id]
    if text is None:
        skips.add("transcript is not UTF-8", utt_id)
        return None
    if not text.strip():
        skips.add("empty transcript", utt_id)
        return None
    session, gender = m.group(1), m.group(2)
    u = Utterance(id=utt_id, audio=str(wav), text=text.strip(), label=label,
                  speaker=f"{session}{gender}", session=session, duration=seconds,
                  improvised="_impro" in dialog, gender=gender)
    align_dir = session_dir / "sentences" / "ForcedAlignment" / dialog
    wdseg, phseg = align_dir / f"{utt_id}.wdseg", align_dir / f"{utt_id}.phseg"
    if is_file(wdseg) and is_file(phseg):
        try:
            u.words = read_wdseg(wdseg)
            u.phones = read_phseg(phseg)
            u.alignment = "gold"
        except WiseError as e:
            skips.add("alignment file does not parse (will align)", e.line())
    return u


def _read_labels(path: Path, skips: Skips) -> list[tuple[str, str]]:
    """(utterance id, raw label) for each summary line of an EmoEvaluation file."""
    out = []
    for n, line in enumerate(_lines(path, skips), 1):
        if not line.startswith("["):
            continue  # evaluator lines (C-E2:, A-E3:), headers, blanks
        m = EMO_LINE.match(line.rstrip("\r\n"))
        if m is None:
            skips.add("label line does not parse", f"{path.name}:{n}")
            continue
        out.append((m.group(3), m.group(4)))
    return out


def _read_transcripts(path: Path, skips: Skips) -> dict[str, str | None]:
    """Utterance id -> transcript; None marks a line that is not valid UTF-8."""
    out: dict[str, str | None] = {}
    if not path.is_file():
        return out
    for raw in path.read_bytes().splitlines():
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            utt = raw.split(b" ", 1)[0].decode("ascii", "replace")
            if UTT_ID.match(utt):
                out[utt] = None
            continue
        m = TRANS_LINE.match(line.strip())
        # Lines like `Ses01F_impro01_MXX0 [...]` or bare `M: ...` are not utterances.
        if m and UTT_ID.match(m.group(1)):
            out[m.group(1)] = m.group(2)
    return out


def _lines(path: Path, skips: Skips) -> list[str]:
    data = path.read_bytes()
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        skips.add("label file is not UTF-8 (read as Latin-1)", path.name)
        return data.decode("latin-1").splitlines()


def _read_seg(path: Path) -> list[tuple[int, int, str]]:
    """Rows `start_frame end_frame score token` of a .wdseg/.phseg file."""
    try:
        lines = path.read_text(encoding="utf-8", errors="strict").splitlines()
    except UnicodeDecodeError:
        raise WiseError(path, "not UTF-8 text") from None
    rows = []
    for n, line in enumerate(lines, 1):
        fields = line.split()
        if not fields or fields[0] == "SFrm" or line.strip().startswith("Total score"):
            continue
        if len(fields) != 4:
            raise WiseError(path, f"line {n}: expected 'start end score token', "
                                  f"got {line[:80]!r}")
        try:
            start, end = int(fields[0]), int(fields[1])
            int(fields[2])
        except ValueError:
            raise WiseError(path, f"line {n}: frame numbers are not integers: "
                                  f"{line[:80]!r}") from None
        if not 0 <= start < MAX_FRAME or not 0 <= end < MAX_FRAME:
            raise WiseError(path, f"line {n}: frame numbers out of range: {line[:80]!r}")
        if end < start:
            raise WiseError(path, f"line {n}: end frame {end} before start frame {start}")
        rows.append((start, end, fields[3]))
    if not rows:
        raise WiseError(path, "no alignment rows")
    return rows


def _seconds(start: int, end: int) -> tuple[float, float]:
    # End frame is inclusive: frames 19..57 cover [0.19 s, 0.58 s).
    return start * FRAME_S, (end + 1) * FRAME_S


def read_wdseg(path: str | Path) -> list[Segment]:
    """Spoken words only: `<s>`, `</s>`, `<sil>` and `++FILLER++` rows are dropped (their time
    stays outside the words); `THE(2)` -> `the`."""
    words = []
    for start, end, token in _read_seg(Path(path)):
        if token.lower() in NON_WORDS or token.startswith("++") or token.startswith("+"):
            continue
        token = VARIANT.sub("", token).lower()
        if not any(c.isalnum() for c in token):
            continue
        words.append(Segment(token, *_seconds(start, end)))
    return words


def read_phseg(path: str | Path) -> list[Segment]:
    """Phones without context marks (`AH(B,T)b` -> `AH`); silence and noise phones dropped."""
    phones = []
    for start, end, token in _read_seg(Path(path)):
        if token.upper() in SILENCE_PHONES or token.startswith("+"):
            continue
        m = PHONE_CONTEXT.match(token)
        base = m.group(1) if m else token
        if base in SILENCE_PHONES:
            continue
        phones.append(Segment(base, *_seconds(start, end)))
    return phones
