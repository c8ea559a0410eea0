"""Helpers shared by tests/ and scripts/bench-*: probes, loopback forwarders, what a built image holds. Not installed."""
