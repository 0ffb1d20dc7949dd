"""The ledger's local spool: every row is on disk before its answer completes, whatever the database is doing.

A row is appended to a segment file with one `write` system call before the request's response goes out, so it
survives the process being killed (the kernel holds it); segments are fsync'd in small groups every
`sync_interval`, so a power loss loses at most that window. A drainer reads rows back in order and hands them
to the database; its position is checkpointed after each committed batch, and rows are idempotent by request id,
so a crash between the commit and the checkpoint only replays rows the database then ignores.

Each process owns one spool slot (a folder under the spool directory, held with an exclusive `flock`), so
several workers or instances sharing a data directory never interleave. A slot left by a process that died is
adopted by the next process that starts: its rows are drained before anything else.

The spool is bounded on disk: past `max_bytes` of rows not yet in the database, `full` turns true and the
gateway refuses new work with 503 rather than answer requests it could not prove.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
SEGMENT_SUFFIX = ".rows"
CHUNK = 1 << 20  # bytes read at a time; a row is far smaller


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """Just after a row: the segment it is in and the byte offset where the next row starts."""

    segment: int
    offset: int


@dataclass(frozen=True, slots=True)
class SpooledRow:
    line: bytes
    end: Position


class Slot:
    """One process's spool folder: segments `NNNNNNNNNN.rows`, a `checkpoint` and the lock."""

    def __init__(self, path: Path, lock_fd: int) -> None:
        self.path = path
        self._lock_fd = lock_fd
        self.checkpoint = self._read_checkpoint()

    @classmethod
    def claim(cls, path: Path) -> Slot | None:
        """The slot at `path` if no live process holds it."""
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return cls(path, fd)

    def segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.path.glob(f"*{SEGMENT_SUFFIX}") if p.stem.isdigit())

    def segment_path(self, number: int) -> Path:
        return self.path / f"{number:010d}{SEGMENT_SUFFIX}"

    def _read_checkpoint(self) -> Position:
        try:
            segment, offset = (self.path / "checkpoint").read_text().split()
            return Position(int(segment), int(offset))
        except (FileNotFoundError, ValueError):
            first = self.segments()
            return Position(first[0] if first else 1, 0)

    def save_checkpoint(self, position: Position) -> None:
        # Written then renamed: a crash leaves the old checkpoint or the new one, never half of one. No fsync: an
        # older checkpoint only replays rows the database ignores as duplicates.
        tmp = self.path / "checkpoint.tmp"
        tmp.write_text(f"{position.segment} {position.offset}")
        os.replace(tmp, self.path / "checkpoint")
        self.checkpoint = position
        for number in self.segments():
            if number < position.segment:
                self.segment_path(number).unlink(missing_ok=True)

    def pending_bytes(self) -> int:
        total = 0
        for number in self.segments():
            if number >= self.checkpoint.segment:
                size = self.segment_path(number).stat().st_size
                total += size - (self.checkpoint.offset if number == self.checkpoint.segment else 0)
        return total

    def release(self) -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)

    def remove(self) -> None:
        """Delete a fully drained slot (an adopted orphan) and let it go."""
        for path in self.path.iterdir():
            path.unlink(missing_ok=True)
        self.release()
        with contextlib.suppress(OSError):
            self.path.rmdir()


class Reader:
    """Rows of a slot from its checkpoint on, in order; keeps its place between calls."""

    def __init__(self, slot: Slot) -> None:
        self._slot = slot
        self._position = slot.checkpoint

    def read(self, limit: int, writing: int | None = None) -> list[SpooledRow]:
        """Up to `limit` complete rows. `writing` is the segment still being appended to (a partial row at its
        end is still being written), None when nothing writes to this slot any more."""
        rows: list[SpooledRow] = []
        while len(rows) < limit:
            segment, offset = self._position.segment, self._position.offset
            try:
                with self._slot.segment_path(segment).open("rb") as handle:
                    handle.seek(offset)
                    data = handle.read(CHUNK)
            except FileNotFoundError:
                data = b""
            lines = data.split(b"\n")
            tail = lines.pop()  # what follows the last newline: not a whole row
            for line in lines:
                offset += len(line) + 1
                self._position = Position(segment, offset)
                if line:
                    rows.append(SpooledRow(line, self._position))
                    if len(rows) == limit:
                        return rows
            if len(data) == CHUNK:
                continue  # more of this segment than one read
            if segment == writing:
                return rows  # caught up with the writer
            if tail:
                # A torn row at the end of a segment nobody writes any more: a crash mid-write, never answered.
                log.warning("ledger spool: skipped a torn row at the end of segment %d", segment)
                self._position = Position(segment, offset + len(tail))
            later = [n for n in self._slot.segments() if n > segment]
            if not later:
                return rows
            self._position = Position(later[0], 0)
        return rows

    def rewind(self, position: Position) -> None:
        """Read again from `position` (rows that failed to reach the database)."""
        self._position = position


class Spool:
    """The active slot, appended to by `append`; its segments rotate at `segment_bytes`."""

    def __init__(self, slot: Slot, *, segment_bytes: int, max_bytes: int) -> None:
        self.slot = slot
        self._segment_bytes = segment_bytes
        self._max_bytes = max_bytes
        existing = slot.segments()
        self._segment = max(existing[-1] + 1 if existing else 1, slot.checkpoint.segment)
        self._fd = self._open(self._segment)
        self._retired: list[int] = []  # descriptors of rotated segments still to fsync and close
        self._written = 0
        self._dirty = False
        self._pending = slot.pending_bytes()
        self.oldest_unsaved: float | None = time.monotonic() if self._pending else None

    def _open(self, number: int) -> int:
        return os.open(self.slot.segment_path(number), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    @property
    def writing(self) -> int:
        return self._segment

    @property
    def full(self) -> bool:
        return self._pending >= self._max_bytes

    @property
    def pending_bytes(self) -> int:
        return self._pending

    def append(self, line: bytes) -> None:
        """One row, on disk (the kernel's page cache) when this returns."""
        data = line + b"\n"
        os.write(self._fd, data)
        self._written += len(data)
        self._pending += len(data)
        self._dirty = True
        if self.oldest_unsaved is None:
            self.oldest_unsaved = time.monotonic()
        if self._written >= self._segment_bytes:
            self._retired.append(self._fd)
            self._segment += 1
            self._fd = self._open(self._segment)
            self._written = 0

    def take_sync_work(self) -> list[int]:
        """Descriptors to fsync and then close: a duplicate of the current segment's when rows were appended since
        the last sync, and the rotated segments'. Cheap, so the caller holds its lock only for this; the fsyncs
        themselves run in a worker thread while requests keep appending."""
        work, self._retired = self._retired, []
        if self._dirty:
            self._dirty = False
            work.append(os.dup(self._fd))
        return work

    def drained(self, position: Position, rows_bytes: int) -> None:
        """Rows up to `position` are in the database."""
        self.slot.save_checkpoint(position)
        self._pending = max(0, self._pending - rows_bytes)
        if self._pending == 0:
            self.oldest_unsaved = None

    def close(self) -> None:
        for fd in [*self.take_sync_work(), self._fd]:
            with contextlib.suppress(OSError):
                os.fsync(fd)
                os.close(fd)
        self.slot.release()


def sync(descriptors: list[int]) -> None:
    """Force appended rows to the disk (every `sync_interval`, from a worker thread)."""
    for fd in descriptors:
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def claim_slots(directory: Path) -> tuple[Slot, list[Slot]]:
    """This process's slot (the first free one) and every other free slot that still holds rows (orphans of
    processes that died), which this process drains first."""
    directory.mkdir(parents=True, exist_ok=True)
    own: Slot | None = None
    orphans: list[Slot] = []
    for path in sorted(p for p in directory.iterdir() if p.is_dir() and p.name.startswith("slot-")):
        slot = Slot.claim(path)
        if slot is None:
            continue
        if own is None:
            own = slot
        elif slot.pending_bytes():
            orphans.append(slot)
        else:
            slot.release()
    if own is None:
        number = 0
        while own is None:
            own = Slot.claim(directory / f"slot-{number}")
            number += 1
    return own, orphans
