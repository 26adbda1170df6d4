"""How `entity_requests` reads typed values from the service's JSON (minimal metadata)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from shared.store.entity_requests import _typed


def test_annotated_values_are_typed_and_metadata_left_out():
    raw = {
        "odata.etag": "W/\"datetime'2026'\"",
        "PartitionKey": "p",
        "RowKey": "r",
        "Timestamp@odata.type": "Edm.DateTime",
        "Timestamp": "2026-11-29T14:05:06.1234567Z",
        "When@odata.type": "Edm.DateTime",
        "When": "2026-11-29T14:05:06.1234567Z",
        "Whole@odata.type": "Edm.DateTime",
        "Whole": "2026-01-02T03:04:05Z",
        "Big@odata.type": "Edm.Int64",
        "Big": "9007199254740993",
        "Ratio@odata.type": "Edm.Double",
        "Ratio": 3,
        "Nan@odata.type": "Edm.Double",
        "Nan": "NaN",
        "Plain": 7,
        "Text": "x",
    }
    typed = _typed(raw)
    assert set(typed) == {"PartitionKey", "RowKey", "When", "Whole", "Big", "Ratio", "Nan", "Plain", "Text"}
    assert typed["When"] == datetime(2026, 11, 29, 14, 5, 6, 123456, tzinfo=UTC)
    assert typed["Whole"] == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert typed["Big"] == 9007199254740993 and typed["Plain"] == 7
    assert typed["Ratio"] == 3.0 and isinstance(typed["Ratio"], float) and math.isnan(typed["Nan"])
