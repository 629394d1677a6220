"""The worker runtime: the claim loop, attempts and runners, the outbox, leases, the reaper,
the handler registry and hooks. It builds on :mod:`ingestq.core` only."""
