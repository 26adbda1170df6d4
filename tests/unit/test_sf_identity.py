"""The integration user's id comes from the token response's identity URL (`id`,
../shared/spec/salesforce.md §1); a response without one (or an odd one) yields no id, and the poll
then falls back to the SystemModstamp comparison alone."""

from __future__ import annotations

import pytest

from shared.salesforce.login import _user_id


@pytest.mark.parametrize(
    ("identity", "user"),
    [
        ("https://login.salesforce.com/id/00DXX0000000001EAA/005XX0000000001AAA", "005XX0000000001AAA"),
        ("https://test.salesforce.com/id/00DXX0000000001/005XX0000000001/", "005XX0000000001"),
        (None, ""),
        ("", ""),
        ("https://login.salesforce.com/id/00DXX0000000001EAA/00GXX0000000001AAA", ""),  # not a User
        ("https://login.salesforce.com/id/00D/005?x=1", ""),
    ],
)
def test_the_user_id_is_the_identity_urls_last_segment_when_it_is_a_user(identity: object, user: str) -> None:
    assert _user_id(identity) == user
