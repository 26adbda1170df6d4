"""The simulator's SOQL parser (the subset our code sends)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from devstack.sf_sim.ids import case_safe_suffix, looks_like_id, mint
from devstack.sf_sim.soql import BoolOp, Compare, InList, Not, SoqlError, like_to_regex, parse


def test_fields_parents_children_order_limit():
    q = parse(
        "select Id, Account.Name, (SELECT Contact.Email FROM OpportunityContactRoles LIMIT 5) "
        "FROM Opportunity ORDER BY SystemModstamp, Id DESC NULLS LAST LIMIT 10 OFFSET 2"
    )
    assert [r.path for r in q.fields] == [("Id",), ("Account", "Name")]
    assert q.subqueries[0].sobject == "OpportunityContactRoles" and q.subqueries[0].limit == 5
    assert [(o.field.text, o.descending, o.nulls_last) for o in q.order] == [
        ("SystemModstamp", False, None),
        ("Id", True, True),
    ]
    assert (q.limit, q.offset) == (10, 2)


def test_where_precedence_and_literals():
    q = parse(
        "SELECT Id FROM Opportunity WHERE A = 'x\\'y' "
        "OR NOT (B > 2024-01-01T00:00:00+02:00 AND C IN (1, 2.5)) "
        "AND D = 2030-01-31 AND E = null AND F = TRUE"
    )
    assert isinstance(q.where, BoolOp) and q.where.op == "OR"
    first, second = q.where.parts
    assert isinstance(first, Compare) and first.value == "x'y"
    assert isinstance(second, BoolOp) and second.op == "AND"
    negated = second.parts[0]
    assert isinstance(negated, Not)
    assert isinstance(negated.part, BoolOp)
    inner = negated.part.parts
    assert isinstance(inner[0], Compare) and inner[0].value == datetime(2023, 12, 31, 22, 0, tzinfo=UTC)
    assert isinstance(inner[1], InList) and inner[1].values == (1, 2.5)
    assert [p.value for p in second.parts[1:] if isinstance(p, Compare)] == [date(2030, 1, 31), None, True]


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "SELECT FROM Opportunity",
        "SELECT Id FROM Opportunity WHERE",
        "SELECT Id FROM Opportunity LIMIT x",
        "SELECT Id FROM Opportunity WHERE Name = 'unterminated",
        "SELECT Id FROM Opportunity extra",
    ],
)
def test_malformed_queries_raise(bad):
    with pytest.raises(SoqlError):
        parse(bad)


def test_like_is_case_insensitive_with_escapes():
    assert like_to_regex("con%").match("Contoso")
    assert like_to_regex("a_c").match("ABC") and not like_to_regex("a_c").match("abbc")
    assert like_to_regex("100\\%").match("100%") and not like_to_regex("100\\%").match("1000")


def test_minted_ids_carry_the_case_safe_suffix():
    rid = mint("006", 12345)
    assert len(rid) == 18 and rid.startswith("006") and looks_like_id(rid) and looks_like_id(rid[:15])
    assert case_safe_suffix("001A0000006Vm9r") == "IAC"  # the documented example id 001A0000006Vm9rIAC
