"""Watch-time tracking models (owned by the tracking feature)."""
