"""The helpers that keep Python's cyclic collector away from millions of result rows."""

from __future__ import annotations

import gc

import pytest

from irreport.memory import collector_paused, existing_objects_frozen


def test_frozen_block_unfreezes_after_error():
    with pytest.raises(RuntimeError):
        with existing_objects_frozen():
            assert gc.get_freeze_count() > 0
            raise RuntimeError("rendering failed")

    assert gc.get_freeze_count() == 0


def test_frozen_block_still_collects_new_cycles():
    with existing_objects_frozen():
        cycle: list = []
        cycle.append(cycle)
        del cycle

        assert gc.collect() >= 1


def test_paused_collector_restores_state():
    assert gc.isenabled()

    with collector_paused():
        assert not gc.isenabled()

    assert gc.isenabled()
