"""The cyclic collector is paused while a log is read, and comes back as it was."""

from __future__ import annotations

import gc
import threading

import pytest

from tasks.logs.gc_pause import paused_gc


@pytest.fixture(autouse=True)
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_it_pauses_the_collector_and_turns_it_back_on():
    with paused_gc:
        assert not gc.isenabled()
    assert gc.isenabled()


def test_nested_and_concurrent_reads_turn_it_back_on_only_when_the_last_one_ends():
    inside, release = threading.Event(), threading.Event()

    def other_read():
        with paused_gc:
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=other_read)
    with paused_gc:
        thread.start()
        assert inside.wait(10)
        with paused_gc:
            pass
        assert not gc.isenabled()  # the inner use ended, the others go on
    assert not gc.isenabled()  # the other thread still reads
    release.set()
    thread.join(10)
    assert gc.isenabled()


def test_a_collector_someone_turned_off_stays_off():
    gc.disable()

    @paused_gc
    def read() -> bool:
        return gc.isenabled()

    assert read() is False
    assert not gc.isenabled()


def test_an_error_in_the_read_still_turns_it_back_on():
    with pytest.raises(ValueError), paused_gc:
        raise ValueError("broken log")
    assert gc.isenabled()
