from collections import Counter

import pytest

from wise.corpora.iemocap import read_iemocap, read_phseg, read_wdseg
from wise.errors import Skips, WiseError


def _read(root):
    skips = Skips()
    rows = {u.id: u for u in read_iemocap(root, skips)}
    return rows, skips


def test_keeps_exactly_the_four_class_utterances_with_audio_and_text(iemocap_mini):
    rows, _ = _read(iemocap_mini)
    assert sorted(rows) == sorted([
        "Ses01F_impro01_F000", "Ses01F_impro01_M000", "Ses01F_impro01_M001",
        "Ses01F_impro01_F002", "Ses01F_impro01_M003",
        "Ses02M_script01_1_F000", "Ses02M_script01_1_M000", "Ses02M_script01_1_F001"])
    assert Counter(u.label for u in rows.values()) == {"ang": 2, "hap": 1, "neu": 3, "sad": 2}


def test_exc_is_merged_into_happy_and_subfolders_are_ignored(iemocap_mini):
    rows, _ = _read(iemocap_mini)
    assert rows["Ses01F_impro01_M000"].label == "hap"
    # Categorical/ holds an 'ang' line for F000: it must not override the summary label.
    assert rows["Ses01F_impro01_F000"].label == "neu"


def test_speaker_comes_from_the_last_field_not_the_dialog(iemocap_mini):
    rows, _ = _read(iemocap_mini)
    assert rows["Ses01F_impro01_M000"].speaker == "Ses01M"
    assert rows["Ses01F_impro01_F000"].speaker == "Ses01F"
    assert rows["Ses02M_script01_1_F000"].speaker == "Ses02F"
    assert rows["Ses02M_script01_1_F000"].session == "Ses02"
    assert rows["Ses01F_impro01_F000"].improvised is True
    assert rows["Ses02M_script01_1_F000"].improvised is False


def test_every_drop_is_counted_with_its_reason(iemocap_mini):
    _, skips = _read(iemocap_mini)
    c = skips.counts
    assert c["non-target label 'fru'"] == 1
    assert c["non-target label 'xxx'"] == 1
    assert c["non-target label 'sur'"] == 1
    assert c["label line does not parse"] == 1
    assert c["empty transcript"] == 1
    assert c["unreadable audio (corrupt header or not audio)"] == 1
    assert c["empty audio (zero samples)"] == 1
    assert c["no audio file"] == 1
    assert c["transcript is not UTF-8"] == 1
    assert c["alignment file does not parse (will align)"] == 1
    assert skips.examples["no audio file"] == ["Ses01F_impro01_M005"]


def test_transcripts_skip_non_utterance_lines(iemocap_mini):
    rows, _ = _read(iemocap_mini)
    assert rows["Ses01F_impro01_F000"].text == "Excuse me."
    assert rows["Ses02M_script01_1_F001"].text == "Fine."


def test_gold_words_drop_silences_fillers_and_variants(iemocap_mini):
    rows, _ = _read(iemocap_mini)
    u = rows["Ses01F_impro01_F000"]
    assert u.alignment == "gold"
    assert [(w.token, w.start, w.end) for w in u.words] == [
        ("excuse", 0.36, pytest.approx(0.73)), ("me", 0.80, pytest.approx(0.95))]
    assert [w.token for w in rows["Ses01F_impro01_M000"].words] == [
        "do", "you", "have", "your", "forms"]
    assert [w.token for w in rows["Ses01F_impro01_F002"].words] == [
        "is", "there", "a", "problem"]


def test_gold_phones_lose_context_marks_and_silences(iemocap_mini):
    rows, _ = _read(iemocap_mini)
    phones = rows["Ses01F_impro01_F000"].phones
    assert [p.token for p in phones] == ["IH", "K", "S", "K", "Y", "UW", "Z", "M", "IY"]
    assert phones[0].start == pytest.approx(0.36) and phones[0].end == pytest.approx(0.42)
    assert "+LAUGH+" not in [p.token for p in rows["Ses01F_impro01_M000"].phones]


def test_missing_or_broken_alignment_is_left_for_the_aligner(iemocap_mini):
    rows, _ = _read(iemocap_mini)
    for utt in ("Ses01F_impro01_M001", "Ses01F_impro01_M003"):
        assert rows[utt].words is None and rows[utt].alignment is None


def test_duration_comes_from_the_header(iemocap_mini):
    rows, _ = _read(iemocap_mini)
    assert rows["Ses01F_impro01_M000"].duration == pytest.approx(1.0, abs=1e-3)
    assert rows["Ses02M_script01_1_F000"].duration == pytest.approx(0.7, abs=1e-3)


def test_seg_parser_errors_name_the_file_and_line(tmp_path):
    bad = tmp_path / "x.wdseg"
    bad.write_text(" SFrm  EFrm    SegAScr Word\n   10     5     -100 HI\n")
    with pytest.raises(WiseError, match=r"x\.wdseg: line 2: end frame 5 before start frame 10"):
        read_wdseg(bad)
    bad.write_text(" SFrm  EFrm    SegAScr Phone\n")
    with pytest.raises(WiseError, match="no alignment rows"):
        read_phseg(bad)


def test_not_a_corpus_is_a_clear_error(tmp_path):
    with pytest.raises(WiseError, match="no Session"):
        list(read_iemocap(tmp_path, Skips()))
    with pytest.raises(WiseError, match="corpus folder not found"):
        list(read_iemocap(tmp_path / "nope", Skips()))
