from __future__ import annotations

from gemgate.policy._breaker import CircuitBreaker


def test_opens_at_the_threshold_and_blocks_until_reset() -> None:
    breaker = CircuitBreaker(threshold=3, reset=10.0)
    breaker.failure(0.0)
    breaker.failure(1.0)
    assert breaker.state == "closed"
    assert breaker.blocked_until(1.5) is None

    breaker.failure(2.0)
    assert breaker.state == "open"
    assert breaker.blocked_until(2.0) == 12.0
    assert breaker.blocked_until(11.999) == 12.0


def test_half_opens_after_reset() -> None:
    breaker = CircuitBreaker(threshold=1, reset=5.0)
    breaker.failure(100.0)
    assert breaker.blocked_until(104.9) == 105.0
    assert breaker.blocked_until(105.0) is None  # a probe may go
    assert breaker.blocked_until(500.0) is None


def test_success_closes() -> None:
    breaker = CircuitBreaker(threshold=2, reset=30.0)
    breaker.failure(0.0)
    breaker.failure(0.0)
    assert breaker.blocked_until(1.0) == 30.0
    breaker.success()
    assert breaker.state == "closed"
    assert breaker.failures == 0
    assert breaker.blocked_until(1.0) is None


def test_a_failed_probe_reopens_at_once() -> None:
    breaker = CircuitBreaker(threshold=3, reset=10.0)
    for t in (0.0, 1.0, 2.0):
        breaker.failure(t)
    assert breaker.blocked_until(12.0) is None  # half-open
    breaker.failure(12.0)  # the probe failed: one failure is enough now
    assert breaker.blocked_until(12.0) == 22.0


def test_failures_below_the_threshold_do_not_open() -> None:
    breaker = CircuitBreaker(threshold=5, reset=10.0)
    for t in range(4):
        breaker.failure(float(t))
    assert breaker.state == "closed"
    assert breaker.blocked_until(4.0) is None


def test_success_resets_the_count_of_consecutive_failures() -> None:
    breaker = CircuitBreaker(threshold=3, reset=10.0)
    breaker.failure(0.0)
    breaker.failure(1.0)
    breaker.success()
    breaker.failure(2.0)
    breaker.failure(3.0)
    assert breaker.blocked_until(3.0) is None
    breaker.failure(4.0)
    assert breaker.blocked_until(4.0) == 14.0
