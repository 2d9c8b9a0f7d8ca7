"""Codes shown to people (roles, enrolment methods, media kinds and states) as translated labels.

Each feature keeps its own table in its `labels.py` ({kind: {code: lazy label}}); create_app
installs them together, and templates write `{{ code|label('role') }}`.
"""
from collections.abc import Mapping

from flask import Flask, current_app

LabelTables = Mapping[str, Mapping[str, object]]


def install_labels(app: Flask, *tables: LabelTables) -> None:
    """Offer the features' label tables to code (label()) and templates (the `label` filter)."""
    merged: dict[str, Mapping[str, object]] = {}
    for table in tables:
        for kind, labels in table.items():
            if kind in merged:
                raise ValueError(f"two features label the codes of {kind!r}")
            merged[kind] = labels
    app.extensions["xueshi_labels"] = merged
    app.jinja_env.filters["label"] = label


def label(code: str | None, kind: str) -> str:
    """Return the translated label of a code of the given kind (the code itself if it has none; "" for None)."""
    if code is None:
        return ""
    labels = current_app.extensions["xueshi_labels"][kind]
    found = labels.get(code)
    return str(found) if found is not None else str(code)
