"""huying (有呼必应): an event-sourced call-and-response dispatch service."""

__version__ = "0.1.0"
