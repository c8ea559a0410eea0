"""Helpers shared by tests/ and scripts/bench-*: probes and loopback forwarders. Not installed."""
