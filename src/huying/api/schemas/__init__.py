"""Wire schemas: the bodies of the HTTP contract. Never domain objects on the wire.

One module per part of the contract: ``requests`` (command bodies), ``calls`` (a call and its
history), ``reads`` (read-model pages), ``figures`` (SLA dashboard and scores), ``audit``.
"""
