"""Request ids: unique whatever else seeds Python's global `random`, and after a fork."""

from __future__ import annotations

import os
import random

from asahi.call import new_request_id


def test_request_ids_do_not_follow_the_global_random_state() -> None:
    random.seed(7)
    first = new_request_id()
    random.seed(7)
    assert new_request_id() != first


def test_a_forked_child_draws_other_ids_than_its_parent() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id and leave at once
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.close(write)
    parent = new_request_id()
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert child.startswith("req_") and child != parent
