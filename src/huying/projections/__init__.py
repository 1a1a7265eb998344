"""Read models built from the event log (escalation state, queues, dashboards, scores, ledger).

They arrive with the read-side work; until then every read comes straight from the event store.
"""
