"""`wise asr-study` appends one transcript line per utterance: a line cut short by a kill must
not swallow the line a resumed run appends after it."""

from __future__ import annotations

import json

from wise.asr_study import LINE_CHECK, _line_check, _read_done, cut_partial_line


def line(row: dict) -> str:
    return json.dumps({**row, LINE_CHECK: _line_check(row)}) + "\n"


def test_a_line_cut_by_a_kill_is_dropped_before_the_next_append(tmp_path):
    f = tmp_path / "transcripts.jsonl"
    whole = line({"id": "a", "asr": "r", "asr_text": "hi"})
    f.write_text(whole + '{"id": "b", "asr": "r", "asr_te')
    cut_partial_line(f)
    assert f.read_text() == whole
    with open(f, "a") as out:                     # what the resumed run appends
        out.write(line({"id": "b", "asr": "r", "asr_text": "yo"}))
    assert sorted(_read_done(f, "r")) == ["a", "b"]
    cut_partial_line(f)                           # whole lines are left as they are
    assert len(f.read_text().splitlines()) == 2


def test_a_file_holding_only_a_cut_line_ends_empty(tmp_path):
    f = tmp_path / "transcripts.jsonl"
    f.write_text('{"id": "a"')
    cut_partial_line(f)
    assert f.read_text() == ""
    cut_partial_line(tmp_path / "none.jsonl")     # no file yet: nothing to do
    assert not (tmp_path / "none.jsonl").exists()
