"""HTTP: the contract in ``shared/design/api.md``."""
