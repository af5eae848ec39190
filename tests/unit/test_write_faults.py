"""A failed write (a full disk, a read-only folder, a file-size limit) is reported as one line
naming the path asked for, and leaves no temporary and no half-written file; an error raised
in a worker process reaches the parent whole. tests/slow/test_disk_faults.py does it on real
full disks and read-only folders."""

from __future__ import annotations

import errno
import pickle
import resource

import pytest

from wise.cli import main
from wise.errors import WiseError, format_error, from_os_error
from wise.fsutil import append_record, atomic_dir, atomic_file, is_temporary


def test_an_os_error_is_one_line_in_words():
    e = OSError(errno.ENOSPC, "No space left on device", "/data/run/model.wise")
    assert format_error(from_os_error(e)) == \
        "wise: error: /data/run/model.wise: no space left on the device"
    assert format_error(from_os_error(OSError(errno.ECONNRESET, "Connection reset by peer"))) \
        == "wise: error: connection reset by peer"


def test_a_worker_error_reaches_the_parent_whole():
    e = pickle.loads(pickle.dumps(WiseError("/a/b.wav", "not a WAV file")))
    assert (e.path, e.message, e.line()) == ("/a/b.wav", "not a WAV file",
                                             "/a/b.wav: not a WAV file")


def test_a_failed_write_names_the_file_asked_for_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out" / "results.json"
    with pytest.raises(OSError) as err, atomic_file(target) as tmp:
        tmp.write_text("{")
        raise OSError(errno.ENOSPC, "No space left on device")     # as a write would
    assert err.value.filename == str(target)
    assert list(target.parent.iterdir()) == []

    folder = tmp_path / "cache" / "pack"
    with pytest.raises(OSError) as err, atomic_dir(folder) as tmp:
        (tmp / "frames.npy").write_bytes(b"\0" * 10)
        raise OSError(errno.EFBIG, "File too large", str(tmp / "frames.npy"))
    assert err.value.filename == str(folder)
    assert not any(is_temporary(p.name) for p in folder.parent.iterdir())


def test_a_journal_record_is_appended_whole_or_not_at_all(tmp_path):
    journal = tmp_path / "transcripts.jsonl"
    journal.write_bytes(b'{"id": 1}\n')
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    with open(journal, "ab", buffering=0) as f:
        resource.setrlimit(resource.RLIMIT_FSIZE, (16, hard))   # room for 6 more bytes
        try:
            with pytest.raises(OSError) as err:
                append_record(f, b'{"id": 2, "text": "a longer line"}\n')
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert err.value.errno == errno.EFBIG and err.value.filename == str(journal)
    assert journal.read_bytes() == b'{"id": 1}\n'


def test_main_reports_an_os_error_in_one_line(tmp_path, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    assert main(["synth", str(blocker / "corpus"), "--utterances", "1", "--workers", "1",
                 "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"wise: error: {blocker / 'corpus'}: a part of the path is not a folder"]


def test_a_checkpoint_over_a_size_limit_fails_naming_it(tmp_path):
    import torch

    from wise.checkpoint import save_blob

    target = tmp_path / "model.wise"
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
    try:
        with pytest.raises(OSError) as err:
            save_blob(target, {"w": torch.zeros(10_000)})
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    # an OSError (torch's own writer would raise a bare RuntimeError), about the file asked for
    assert (err.value.errno, err.value.filename) == (errno.EFBIG, str(target))
    assert list(tmp_path.iterdir()) == []
