"""SECURITY.md test 10: the canary secret, sent through many tests of this session, never
reached a log line. (Responses are checked as they happen by ``CheckedClient``; audit rows
by the keys tests.) This module runs last: pytest collects ``zz_final`` after the rest."""

from __future__ import annotations

import pytest

from tests.conftest import CANARY, CANARY_USES, LOG_SINK


def test_canary_never_reached_a_log_line() -> None:
    if CANARY_USES[0] == 0:
        pytest.skip("no test of this run sent the canary (run the whole suite)")
    assert len(LOG_SINK.lines) > 100
    leaked = [line for line in LOG_SINK.lines if CANARY in line or CANARY[-12:] in line]
    assert leaked == []
