"""Service tables beside the event store: API tokens and reporters' contact details."""
