"""`bench supply`'s EPCIS phase at a tiny size: the feed is the mix it claims, every event
commits, and the figure is reported beside the other phases'."""

from __future__ import annotations

from collections import Counter

from healthledger.bench.supply import run_supply
from healthledger.bench.supply_epcis import GLNS, feed_document
from healthledger.domains.supply.importer import check_document
from healthledger.domains.supply.parties import resolve_party


def test_the_feed_is_six_custody_three_observations_one_sensor_report_in_ten() -> None:
    document, packages = feed_document(100)
    registry = {
        gln: org for org, held in GLNS.items() for gln in (held["party"], *held["locations"])
    }

    def org_of_party(uri: str) -> str:
        return resolve_party(uri, registry.get)

    checked = check_document(document, org_of_party, "maker")
    assert checked.ok, [r.error for r in checked.reports if r.error]
    became = Counter(report.became for report in checked.reports)
    assert became == {
        "custody:ship": 60,
        "observation attested": 20,  # the distributor's storing events
        "observation confirmed": 10,  # the maker's own inspections
        "sensor": 10,
    }
    assert packages == 70  # 60 shipped, 10 kept by the maker
    assert len({report.event_id for report in checked.reports}) == 100


def test_every_event_of_the_feed_commits_and_is_reported() -> None:
    figures = run_supply(serials=20, events=4, verifies=2, report=None, epcis_events=50)
    assert figures["epcis_events"] == 50
    rate = figures["epcis_events_imported_per_s"]
    assert isinstance(rate, float) and rate > 0
    assert figures["commissioned_per_s"] is not None and figures["events_per_s"] is not None
