"""`wise.testing.recordings.score_cuts`, which the timeline's benchmark and studies report: each
kind of cut counted once, on a hand-made example."""

from __future__ import annotations

from wise.testing.recordings import Placed, score_cuts

CLIPS = [Placed("a", 0.0, 2.0), Placed("b", 4.0, 6.0), Placed("c", 8.0, 10.0),
         Placed("d", 11.0, 12.0), Placed("e", 14.0, 16.0)]


def test_each_kind_of_cut_is_counted():
    spans = [(-0.1, 2.2),               # a alone, 0.1 s early, 0.2 s late
             (3.9, 5.0), (5.1, 6.2),    # b split in two
             (7.5, 11.5),               # c and d merged
             (12.5, 13.5)]              # in a gap; e missed
    s = score_cuts(spans, CLIPS)
    assert (s["clips"], s["cuts"], s["alone"], s["split"], s["merged"], s["missed"],
            s["in_gaps"]) == (5, 5, 1, 1, 2, 1, 1)
    assert s["start_offset_s"]["median"] == -0.1 and s["end_offset_s"]["median"] == -0.2


def test_perfect_cuts():
    s = score_cuts([(c.start, c.end) for c in CLIPS], CLIPS)
    assert s["alone"] == 5 and s["split"] == s["merged"] == s["missed"] == s["in_gaps"] == 0
    assert s["start_offset_s"] == {"median": 0.0, "p05": 0.0, "p95": 0.0}
