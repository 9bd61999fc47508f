"""``serve`` turns the collector off for start-up; ``tame_gc`` must turn it back on."""

from __future__ import annotations

import gc

from keyhouse.runtime import tame_gc


def test_tame_gc_turns_the_collector_back_on_with_everything_alive_frozen() -> None:
    threshold = gc.get_threshold()
    gc.disable()
    try:
        tame_gc()
        assert gc.isenabled()
        assert gc.get_freeze_count() > 0  # frozen without a collection first
        assert gc.get_threshold()[0] == 20_000
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
        gc.enable()
