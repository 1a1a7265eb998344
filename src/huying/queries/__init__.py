"""The read side's queries: what the API asks of the read models (search, ledger, dashboards,
scores, duplicate hints, department queues). The projection writers that fill those tables are
in ``huying.projections``; nothing here writes."""
