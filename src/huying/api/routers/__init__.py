"""One router per resource, mounted in ``huying.api.app``."""
