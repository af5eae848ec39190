"""Clean shutdown, CI-sized: a long command stopped by ^C (SIGINT to its process group, as a
terminal sends it) or SIGTERM (to it alone, or to its group) while its worker processes run
prints one line "wise: interrupted"/"wise: terminated" last, exits 130/143, prints no
traceback and no warning (no leaked semaphores), and every process it started is gone
within seconds; `wise serve` leaves no process either. And `wise cv --jobs 2` run to the end
prints no warning. The harness is wise.testing.disk_and_shutdown, with which
benchmarks/faults/disk_and_shutdown.py stops every long command, more often, for
docs/reliability.md."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


# (command, how it is stopped, seconds after its workers are up): the trainings of cv, the
# feature workers, espeak's synthesis callbacks in synth's workers, predict's workers.
CASES = [("cv", "int", 1.0), ("features", "termgroup", 0.0), ("synth", "term", 0.5),
         ("predict", "int", 0.5)]


@pytest.mark.parametrize("name, how, delay", CASES)
def test_a_stopped_command_says_so_and_leaves_no_process(ds, fault_work, name, how, delay):
    t = ds.shutdown_trial(ds.make_inputs(fault_work), fault_work, name, how, delay)
    trial = json.dumps(t, indent=1)              # in full: what it printed, what it left
    assert not t["finished_first"], trial        # a signal that missed tests nothing
    _, _, _, rc, line = ds.SIGNALS[how]
    assert t["rc"] == rc and t["last_line"].startswith(line), trial
    assert t["left"] == [] and t["descendants_gone_s"] is not None, trial
    assert not t["traceback"] and t["warnings"] == [], trial
    assert t["temporaries"] == [] and t["half_written"] == [], trial


def test_a_stopped_server_leaves_no_process(ds, fault_work):
    t = ds.shutdown_trial(ds.make_inputs(fault_work), fault_work, "serve", "term", 0.0)
    trial = json.dumps(t, indent=1)
    assert not t["finished_first"], trial
    assert t["left"] == [] and t["descendants_gone_s"] is not None, trial
    assert not t["traceback"] and t["warnings"] == [], trial


def test_a_parallel_cv_run_to_the_end_prints_no_warning(ds, fault_work):
    # Its training processes used to be killed at the end, and the resource tracker then
    # reported the semaphores they held as leaked.
    t = ds.warnings_trial(ds.make_inputs(fault_work), fault_work, "cv --jobs 2")
    assert t["rc"] == 0 and t["warnings"] == [] and not t["traceback"], json.dumps(t, indent=1)
    assert t["left"] == [], json.dumps(t, indent=1)
