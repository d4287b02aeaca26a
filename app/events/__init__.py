"""Events (API.md §7): an outbox written in the changing transaction and a pull feed."""
