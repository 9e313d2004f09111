"""Hypothesis strategies: random valid policies, registers and record streams."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import strategies as st

from creditsim.policy import policy_from_data

# A small pool of kinds so that rules, overrides and lists collide often.
KIND_POOL = [
    "traffic_violation",
    "volunteer_hours",
    "drunk_driving",
    "refuse_to_perform",
    "obstruct_enforcement",
    "judgment_performed",
    "loan_arrears",
    "honour",
]
CITE = {"source": "test", "status": "assumption"}


@st.composite
def tiers_for(draw, lo: int, hi: int) -> list[dict]:
    n = draw(st.integers(1, 4))
    cuts = (
        sorted(draw(st.sets(st.integers(lo + 1, hi), min_size=n - 1, max_size=n - 1)))
        if hi > lo
        else []
    )
    bounds = [lo, *cuts, hi + 1]
    tiers = [
        {"name": f"T{i}", "min": bounds[i], "max": bounds[i + 1] - 1, **CITE}
        for i in range(len(bounds) - 1)
    ]
    return list(reversed(tiers))


@st.composite
def rule(draw, i: int, cap_ids: list[str]) -> dict:
    r: dict = {
        "id": f"r{i}",
        "kinds": draw(st.lists(st.sampled_from(KIND_POOL), min_size=1, max_size=3, unique=True)),
        "expires_days": draw(st.integers(1, 400)),
        **CITE,
    }
    sign = draw(st.sampled_from([1, -1]))
    if draw(st.booleans()):
        r["points"] = sign * draw(st.integers(1, 60))
    else:
        n = draw(st.integers(1, 3))
        bounds = sorted(
            draw(
                st.sets(
                    st.sampled_from([0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 33.3, 80.0]),
                    min_size=n - 1,
                    max_size=n - 1,
                )
            )
        )
        brackets = []
        for j in range(n):
            b = {
                "points": sign * draw(st.integers(0, 5)),
                "per": draw(st.sampled_from([0.5, 1.0, 2.0, 3.0, 7.5])),
            }
            if j < n - 1:
                b["upto"] = bounds[j]
            brackets.append(b)
        if all(b["points"] == 0 for b in brackets):
            brackets[0]["points"] = sign
        r["per_unit"] = {
            "accumulate": draw(st.sampled_from(["record", "month", "year", "run"])),
            "brackets": brackets,
        }
    if draw(st.booleans()):
        r["amount_min"] = draw(st.sampled_from([0.0, 1.0, 5.0, 50.0]))
    if draw(st.integers(0, 3)) == 0:
        r["amount_max"] = r.get("amount_min", 0.0) + draw(st.sampled_from([1.0, 20.0, 500.0]))
    if cap_ids and draw(st.booleans()):
        r["cap"] = draw(st.sampled_from(cap_ids))
    return r


@st.composite
def policy_data(draw) -> dict:
    """The data of a random valid policy (without consequences)."""
    scored = draw(st.integers(0, 5)) > 0
    data: dict = {"meta": {"name": "random", "title": "t", "description": "d", "city": "c"}}
    list_ids: list[str] = []
    lists = []
    for j in range(draw(st.integers(0, 2))):
        lid = f"l{j}"
        if scored and draw(st.integers(0, 3)) == 0:
            lists.append(
                {"id": lid, "title": "x", "score_below": draw(st.integers(900, 1010)), **CITE}
            )
        else:
            trig_kinds = draw(
                st.lists(
                    st.sampled_from(
                        [
                            "refuse_to_perform",
                            "obstruct_enforcement",
                            "drunk_driving",
                            "loan_arrears",
                        ]
                    ),
                    min_size=1,
                    max_size=2,
                    unique=True,
                )
            )
            li = {
                "id": lid,
                "title": "x",
                **CITE,
                "triggers": [
                    {
                        "kinds": trig_kinds,
                        "term_days": draw(st.one_of(st.just("indefinite"), st.integers(1, 120))),
                    }
                ],
                "per_case": draw(st.booleans()),
                "grace_days": draw(st.integers(0, 20)),
                "exit_kinds": draw(st.sampled_from([[], ["judgment_performed"]])),
                "exit_after_working_days": draw(st.integers(0, 5)),
            }
            if draw(st.booleans()):
                li["triggers"].append(
                    {"kinds": ["honour"], "term_days": draw(st.integers(1, 100)), "amount_min": 1.0}
                )
            if draw(st.integers(0, 3)) > 0:
                li["aggravating_kinds"] = draw(
                    st.lists(
                        st.sampled_from(
                            ["refuse_to_perform", "obstruct_enforcement", "traffic_violation"]
                        ),
                        min_size=1,
                        max_size=2,
                        unique=True,
                    )
                )
                li["extend_days"] = draw(st.integers(1, 60))
                li["max_extension_days"] = li["extend_days"] * draw(st.integers(1, 3))
            lists.append(li)
        list_ids.append(lid)
    if lists:
        data["lists"] = lists
    if scored:
        lo = draw(st.sampled_from([0, 350, 900]))
        hi = lo + draw(st.sampled_from([100, 200, 600, 1100]))
        base = draw(st.integers(lo, hi))
        data["scale"] = {
            "baseline": base,
            "min": lo,
            "max": hi,
            "expiry_from": draw(st.sampled_from(["event", "recorded"])),
            **CITE,
        }
        if draw(st.booleans()):
            data["coverage"] = {
                "min_age": draw(st.sampled_from([0, 18])),
                "min_years_in_city": draw(st.sampled_from([0.0, 0.5, 1.0])),
                "hukou": draw(st.sampled_from([["local"], ["local", "migrant"]])),
                "consent_required": draw(st.booleans()),
                **CITE,
            }
        tiers = draw(tiers_for(lo, hi))
        data["tiers"] = tiers
        caps = [
            {
                "id": f"c{k}",
                "max_points": draw(st.integers(1, 50)),
                "period": draw(st.sampled_from(["month", "year", "run"])),
                **CITE,
            }
            for k in range(draw(st.integers(0, 2)))
        ]
        if caps:
            data["caps"] = caps
        rules = [draw(rule(i, [c["id"] for c in caps])) for i in range(draw(st.integers(1, 5)))]
        # a cap must not mix signs: keep the first rule's sign per cap
        sign_of: dict = {}
        for r in rules:
            if "cap" in r:
                s = (
                    1
                    if (
                        r.get("points")
                        or sum(b["points"] for b in r.get("per_unit", {}).get("brackets", []))
                    )
                    > 0
                    else -1
                )
                if sign_of.setdefault(r["cap"], s) != s:
                    del r["cap"]
        data["rules"] = rules
        ovs = []
        for k in range(draw(st.integers(0, 2))):
            o: dict = {"id": f"o{k}", **CITE}
            if list_ids and draw(st.booleans()):
                o["on_list"] = draw(st.sampled_from(list_ids))
            else:
                o["kinds"] = [draw(st.sampled_from(KIND_POOL))]
                o["duration_days"] = draw(st.integers(1, 200))
            if draw(st.booleans()):
                o["cap_score"] = draw(st.integers(lo, hi))
            if draw(st.booleans()) or "cap_score" not in o:
                o["cap_tier"] = draw(st.sampled_from([t["name"] for t in tiers]))
            ovs.append(o)
        if ovs:
            data["overrides"] = ovs
    elif not lists:
        data["lists"] = [
            {
                "id": "l0",
                "title": "x",
                **CITE,
                "triggers": [{"kinds": ["drunk_driving"], "term_days": 30}],
            }
        ]
    return data


@st.composite
def policies(draw):
    return policy_from_data(draw(policy_data()))


# A few services, so that several consequences often act on the same one.
SERVICE_POOL = ["flight", "hospital", "transit_fare", "private_school"]


@st.composite
def consequence_data(draw, data: dict) -> list[dict]:
    """Random consequences valid for the policy ``data``: on its lists, tiers,
    scores or coverage, of every effect, spilling over to any relation."""
    conditions = ["on_list"] if data.get("lists") else []
    if "scale" in data:
        conditions += ["tiers", "score_min", "covered"]
    out = []
    for k in range(draw(st.integers(1, 4))):
        c: dict = {"id": f"k{k}", "service": draw(st.sampled_from(SERVICE_POOL)), **CITE}
        cond = draw(st.sampled_from(conditions))
        if cond == "on_list":
            c["on_list"] = draw(st.sampled_from([li["id"] for li in data["lists"]]))
        elif cond == "tiers":
            names = [t["name"] for t in data["tiers"]]
            c["tiers"] = draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
        elif cond == "score_min":
            sc = data["scale"]
            c["score_min"] = draw(st.integers(sc["min"], sc["max"]))
        else:
            c["covered"] = True
        c["effect"] = draw(st.sampled_from(["deny", "expedite", "discount"]))
        if c["effect"] == "discount":
            c["rate"] = draw(st.sampled_from([0.1, 0.2, 0.5, 1.0]))
        c["spill_to"] = draw(st.lists(
            st.sampled_from(["spouse", "child", "parent", "household"]), max_size=3, unique=True))
        c["apply_to_self"] = draw(st.booleans()) if c["spill_to"] else True
        out.append(c)
    return out


@st.composite
def policies_with_consequences(draw):
    data = draw(policy_data())
    data["consequences"] = draw(consequence_data(data))
    return policy_from_data(data)


@st.composite
def families(draw, rows: list[dict]) -> list[dict]:
    """``rows`` with random households, relations and parents (not necessarily a
    consistent family tree: the spillover rules read each field on its own)."""
    n = len(rows)
    household = st.one_of(st.none(), st.integers(0, n // 2))
    relation = st.sampled_from(["head", "spouse", "child", "parent", "other"])
    parent = st.one_of(st.none(), st.integers(0, n - 1))
    return [{**r, "household_id": draw(household), "relation": draw(relation),
             "father_id": draw(parent), "mother_id": draw(parent)} for r in rows]


@st.composite
def populations(draw):
    """(register rows, record tuples, days, start_date)."""
    n = draw(st.integers(1, 6))
    start = date(2020, 11, 1) + timedelta(days=draw(st.integers(0, 500)))
    days = draw(st.integers(10, 420))
    rows = []
    for i in range(n):
        birth = draw(
            st.sampled_from(
                [
                    date(1980, 5, 3),
                    date(2000, 2, 29),
                    date(2003, 7, 15),
                    date(2004, 1, 1),
                    date(1999, 12, 31),
                ]
            )
        )
        row = {
            "resident_id": i,
            "birth_date": birth,
            "hukou": draw(st.sampled_from(["local", "migrant"])),
            "years_in_city": draw(st.sampled_from([0.0, 0.3, 0.75, 1.0, 5.0])),
        }
        if draw(st.booleans()):
            row["consent"] = draw(st.booleans())
        rows.append(row)
    # Sometimes many bystanders without records: the engine then works on the few
    # residents with entries alone (a compact id space), which must change nothing.
    for i in range(n, n + draw(st.sampled_from([0, 0, 0, 120]))):
        rows.append({**rows[i % n], "resident_id": i})
    if any("consent" in r for r in rows):
        for r in rows:
            r.setdefault("consent", True)
    m = draw(st.integers(0, 40))
    ids = draw(st.permutations(list(range(1000, 1000 + m))))
    recs = []
    for k in range(m):
        rec_day = draw(st.integers(-2, days + 2))
        ev_day = max(-30, rec_day - draw(st.integers(0, 40)))
        recs.append(
            (
                ids[k],
                draw(st.one_of(st.none(), st.integers(0, n - 1)))
                if draw(st.integers(0, 9)) == 0
                else draw(st.integers(0, n - 1)),
                draw(
                    st.sampled_from(
                        KIND_POOL
                        + ["judgment_performed", "refuse_to_perform", "obstruct_enforcement"]
                    )
                ),
                ev_day,
                rec_day,
                draw(
                    st.one_of(
                        st.none(), st.sampled_from([0.0, 0.5, 1.0, 2.5, 10.0, 33.3, 100.0, 1000.0])
                    )
                ),
                draw(st.sampled_from([None, "A", "B"])),
            )
        )
    return rows, recs, days, start
