"""How many threads the local engine scores on when the caller does not say."""

from __future__ import annotations

from bcecli.run.request import MAPPED_SCORING_THREADS, SCORING_THREADS, LocalEngine


def test_binary_arrays_get_one_thread_the_rest_the_default() -> None:
    auto = LocalEngine()
    assert MAPPED_SCORING_THREADS == 1
    assert auto.threads_for(mapped=True, multiclass=False) == 1
    assert auto.threads_for(mapped=False, multiclass=False) == SCORING_THREADS
    assert auto.threads_for(mapped=True, multiclass=True) == SCORING_THREADS


def test_a_count_the_caller_gives_is_kept() -> None:
    assert LocalEngine(threads=3).threads_for(mapped=True, multiclass=False) == 3
    assert LocalEngine(threads=1).threads_for(mapped=False, multiclass=True) == 1
