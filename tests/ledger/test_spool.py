from __future__ import annotations

from pathlib import Path

from asahi.ledger.spool import Reader, Spool, claim_slots, sync


def test_rows_read_back_in_order_across_segments_and_reads(tmp_path: Path) -> None:
    own, orphans = claim_slots(tmp_path)
    assert orphans == []
    spool = Spool(own, segment_bytes=64, max_bytes=1 << 20)
    lines = [f'{{"n": {i}}}'.encode() for i in range(40)]
    for line in lines:
        spool.append(line)
    reader = Reader(own)
    read = [r.line for r in reader.read(15, spool.writing)]
    read += [r.line for r in reader.read(100, spool.writing)]
    assert read == lines and reader.read(10, spool.writing) == []
    spool.close()


def test_a_torn_row_left_by_a_crash_is_skipped(tmp_path: Path) -> None:
    own, _ = claim_slots(tmp_path)
    spool = Spool(own, segment_bytes=1 << 20, max_bytes=1 << 20)
    spool.append(b'{"n": 1}')
    spool.close()
    with own.segment_path(spool.writing).open("ab") as handle:
        handle.write(b'{"n": 2, "torn')  # the write a power cut interrupted
    adopted, _ = claim_slots(tmp_path)
    later = Spool(adopted, segment_bytes=1 << 20, max_bytes=1 << 20)  # writes to a new segment
    later.append(b'{"n": 3}')
    lines = [r.line for r in Reader(adopted).read(10, later.writing)]
    assert lines == [b'{"n": 1}', b'{"n": 3}']
    later.close()


def test_a_slot_held_by_a_live_process_is_never_shared(tmp_path: Path) -> None:
    first, _ = claim_slots(tmp_path)
    second, _ = claim_slots(tmp_path)
    assert first.path != second.path
    first.release()
    third, _ = claim_slots(tmp_path)
    assert third.path == first.path


def test_synced_rows_and_the_checkpoint(tmp_path: Path) -> None:
    own, _ = claim_slots(tmp_path)
    spool = Spool(own, segment_bytes=1 << 20, max_bytes=100)
    spool.append(b"x" * 60)
    sync(spool.take_sync_work())
    assert spool.take_sync_work() == []  # nothing new since
    spool.append(b"y" * 60)
    assert spool.full and spool.pending_bytes == 122
    first, _ = Reader(own).read(10, spool.writing)
    spool.drained(first.end, len(first.line) + 1)
    assert not spool.full and own.checkpoint == first.end
    spool.close()
