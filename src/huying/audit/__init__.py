"""审计 — what auditors need to trust the record.

- ``links`` and ``checkpoints``: 防篡改, a hash chain over the event log — kept by a tracked
  projection beside the read models (``huying.projections.chain``) — with periodic checkpoints
  that can be kept elsewhere;
- ``verify``: recompute the chain from the stored events and name the first break;
- ``feed`` and ``export``: the global ordered event feed, events as JSON Lines, unit scores as
  CSV — never a reporter's contact details, only their opaque reference;
- ``replay``: rebuild every read model into a scratch database and compare, row by row.
"""
