"""Properties of the three-way merge over generated states (hypothesis).

Values come from tiny domains so that "equal", "changed" and "both changed" all happen often.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shared.core.canonical import SYNCED_FIELDS
from shared.core.merge import (
    PARTNER_CENTER_TO_SALESFORCE_ONLY,
    SALESFORCE_TO_PARTNER_CENTER_ONLY,
    STATUS_UNIT,
    OwnerPolicy,
    merge,
)
from shared.core.plan import adoption_base, base_after_interrupted_sync
from shared.core.stages import VALID_STATUSES

STATUSES = [(s, sub) for s, subs in VALID_STATUSES.items() for sub in subs]
LISTS = [[], [{"email": "a@x.example"}], [{"email": "b@x.example"}, {"email": "c@x.example"}]]
OVERRIDABLE = [
    f for f in SYNCED_FIELDS if f not in PARTNER_CENTER_TO_SALESFORCE_ONLY | SALESFORCE_TO_PARTNER_CENTER_ONLY
]


def _value(field: str) -> st.SearchStrategy:
    if field == "visible":
        return st.booleans()
    if field in ("contacts", "solutions"):
        return st.sampled_from(LISTS)
    return st.sampled_from([None, "a", "b"])


@st.composite
def states(draw):
    """A full comparable dict (status/substatus drawn as a valid pair)."""
    state = {f: draw(_value(f)) for f in SYNCED_FIELDS if f not in STATUS_UNIT}
    state["status"], state["substatus"] = draw(st.sampled_from(STATUSES))
    return state


@st.composite
def edited(draw, base):
    """`base` with some fields changed, as one side would after an edit."""
    other = draw(states())
    keep = draw(st.sets(st.sampled_from([f for f in SYNCED_FIELDS if f != "substatus"])))
    result = {f: (base[f] if f in keep else other[f]) for f in SYNCED_FIELDS}
    if "status" in keep:
        result["substatus"] = base["substatus"]
    else:
        result["substatus"] = other["substatus"]
    return result


@st.composite
def scenarios(draw):
    snapshot = draw(states())
    sf = draw(edited(snapshot))
    pc = draw(edited(snapshot))
    overrides = draw(
        st.dictionaries(st.sampled_from(OVERRIDABLE), st.sampled_from(["salesforce", "partner_center"]))
    )
    policy = OwnerPolicy.parse(",".join(f"{k}={v}" for k, v in overrides.items()))
    return sf, pc, draw(st.sampled_from([snapshot, None])), policy


def _rejected_fields(result) -> set[str]:
    fields: set[str] = set()
    for reason in result.rejected:
        name = reason.split(":", 1)[0]
        fields.update(STATUS_UNIT if name == "status" else (name,))
    return fields


@given(state=states(), policy_case=scenarios(), push=st.booleans())
def test_merging_an_already_synced_state_writes_nothing(state, policy_case, push):
    policy = policy_case[3]
    for snapshot in (state, None):
        result = merge(state, state, snapshot, policy, push_to_partner_center=push)
        assert result.writes_nothing
        assert result.conflicts == ()
        assert result.rejected == ()
        assert result.merged == state


@given(case=scenarios())
def test_applying_the_writes_makes_both_sides_equal_to_merged(case):
    sf, pc, snapshot, policy = case
    result = merge(sf, pc, snapshot, policy)
    sf_after, pc_after = {**sf, **result.to_salesforce}, {**pc, **result.to_partner_center}
    refused = _rejected_fields(result)
    for field in SYNCED_FIELDS:
        if field in refused:
            assert field not in result.to_salesforce or field in STATUS_UNIT
            continue
        if field in PARTNER_CENTER_TO_SALESFORCE_ONLY:
            # a Salesforce edit of a Partner Center field is left alone, never pushed
            assert pc_after[field] == pc[field] == result.merged[field]
            assert sf_after[field] in (result.merged[field], sf[field])
        elif field in SALESFORCE_TO_PARTNER_CENTER_ONLY:
            assert sf_after[field] == sf[field] == result.merged[field]
            assert pc_after[field] in (result.merged[field], pc[field])
        else:
            assert sf_after[field] == pc_after[field] == result.merged[field], field


@given(case=scenarios(), push=st.booleans())
def test_merging_again_after_the_writes_landed_writes_nothing(case, push):
    sf, pc, snapshot, policy = case
    first = merge(sf, pc, snapshot, policy, push_to_partner_center=push)
    sf_after, pc_after = {**sf, **first.to_salesforce}, {**pc, **first.to_partner_center}
    again = merge(sf_after, pc_after, first.merged, policy, push_to_partner_center=push)
    assert again.writes_nothing, (again.to_salesforce, again.to_partner_center)
    assert again.conflicts == ()
    assert again.merged == first.merged


@given(case=scenarios())
def test_the_owner_policy_decides_every_conflict(case):
    sf, pc, snapshot, policy = case
    result = merge(sf, pc, snapshot, policy)
    expected = set()
    if snapshot is not None:
        for field in SYNCED_FIELDS:
            if field in ("substatus", "visible"):
                continue
            names = STATUS_UNIT if field == "status" else (field,)
            s, p, n = ([d[k] for k in names] for d in (sf, pc, snapshot))
            if n not in (s, p) and s != p:
                expected.add(field)
    assert {c.field for c in result.conflicts} == expected
    for conflict in result.conflicts:
        assert conflict.winner == policy.owner(conflict.field)
        names = STATUS_UNIT if conflict.field == "status" else (conflict.field,)
        winner_side = sf if conflict.winner == "salesforce" else pc
        if (
            not _rejected_fields(result) & set(names)
            and conflict.field not in PARTNER_CENTER_TO_SALESFORCE_ONLY
        ):
            assert [result.merged[k] for k in names] == [winner_side[k] for k in names]


@given(case=scenarios())
def test_on_hold_nothing_goes_to_partner_center_and_partner_center_values_stay_in_the_snapshot(case):
    sf, pc, snapshot, policy = case
    result = merge(sf, pc, snapshot, policy, push_to_partner_center=False)
    assert result.to_partner_center == {}
    for field in SYNCED_FIELDS:
        if field not in SALESFORCE_TO_PARTNER_CENTER_ONLY:
            assert result.merged[field] == pc[field] or (field == "visible" and result.merged[field] is True)


@given(case=scenarios())
def test_visibility_never_goes_from_true_to_false(case):
    sf, pc, snapshot, policy = case
    result = merge(sf, pc, snapshot, policy)
    assert result.to_partner_center.get("visible", True) is True
    assert result.to_salesforce.get("visible", True) is True
    if sf["visible"] or pc["visible"]:
        assert result.merged["visible"] is True


@given(states(), states(), st.sampled_from(["salesforce", "partner_center"]))
def test_adopting_a_pair_without_a_snapshot_never_lets_an_empty_value_wipe_a_held_one(sf, pc, origin):
    """A pair linked by a job that never saved its snapshot (a crash, a refused write) is merged
    against `adoption_base`: the origin's values win, except that emptiness never wins."""
    base = adoption_base(sf, pc, origin=origin)
    result = merge(sf, pc, base, OwnerPolicy())
    origin_values, other = (sf, pc) if origin == "salesforce" else (pc, sf)
    assert not result.conflicts
    for name in SYNCED_FIELDS:
        if name not in OVERRIDABLE or name in STATUS_UNIT or name == "visible":
            continue  # one-way, merged as a unit, or only ever true: covered by their own tests
        if _filled(other[name]) and not _filled(origin_values[name]):
            assert result.merged[name] == other[name], name
        else:
            assert result.merged[name] == origin_values[name], name


def _filled(value: object) -> bool:
    return value not in (None, "", [])


@given(
    states(),
    st.sampled_from(["salesforce", "partner_center"]),
    st.sampled_from(["a", "b", "c"]),
    st.sampled_from(["a", "b", "c"]),
    st.booleans(),
)
def test_after_an_interrupted_sync_the_source_side_edit_since_always_wins(
    snapshot, target, written, source_now, landed
):
    """A sync wrote `written` to `target` (or died before it landed) and never saved its snapshot;
    meanwhile the source side moved on to `source_now`. The next merge must end on the source's
    current value: a landed write is our echo, never an edit that beats the source."""
    field_name = "name"
    snapshot = {**snapshot, field_name: "s"}  # the old agreed value, different from every write
    target_now = written if landed else "s"
    sf, pc = dict(snapshot), dict(snapshot)
    (sf if target == "salesforce" else pc)[field_name] = target_now
    (pc if target == "salesforce" else sf)[field_name] = source_now
    pending = {target: {field_name: written}}
    base = base_after_interrupted_sync(snapshot, pending, sf, pc)
    result = merge(sf, pc, base, OwnerPolicy())
    assert result.merged[field_name] == source_now
