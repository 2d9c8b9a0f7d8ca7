"""Media models (owned by the media feature)."""
