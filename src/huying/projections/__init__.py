"""Read models built from the event log, and the projector that keeps them up to date.

One module per read model (escalation state, work queues, SLA facts, evaluation facts); each
is a pure function from a call to its rows. ``runner`` feeds them; ``search``, ``dashboard``
and ``scores`` answer the read endpoints.
"""
