"""`bench credentials` at a tiny size: every phase runs on real signed documents and the
report carries each figure it promises."""

from __future__ import annotations

from healthledger.bench.credentials import run_credentials


def test_a_small_run_reports_every_figure() -> None:
    figures = run_credentials(
        credentials=60, members=12, status_changes=9, verifies=20, report=None
    )
    assert set(figures) == {
        "issued_per_s",
        "status_changes_per_s",
        "verify_p50_ms",
        "verify_p99_ms",
        "credentials",
        "members",
        "status_changes",
        "status_list_size",
        "verifies",
        "verified_active",
    }
    for rate in ("issued_per_s", "status_changes_per_s", "verify_p50_ms", "verify_p99_ms"):
        value = figures[rate]
        assert isinstance(value, float) and value > 0, rate
    assert figures["verify_p50_ms"] <= figures["verify_p99_ms"]  # type: ignore[operator]
    assert figures["status_changes"] == 9
    assert figures["status_list_size"] == 131_072
    # 3 of the 60 end revoked (and 3 suspended then reinstated): presented ones mostly verify.
    verified = figures["verified_active"]
    assert isinstance(verified, int) and 0 < verified <= 20
