"""Field sync (API.md §6): batch push of offline mutations and a changes feed."""
