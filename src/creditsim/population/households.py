"""Households and their members, drawn block by block.

A district's households are drawn in fixed blocks of
:data:`creditsim.rng.HOUSEHOLD_BLOCK` households, each block from its own random
stream ``(seed, "population.households", district, block)``, so the population
does not depend on how blocks are batched for processing.

Household types (an assumption, tuned so the size distribution and the broad age
structure match the cited census figures — see ``creditsim/cities/data/beijing.toml``
and the population tests):

====  ==============================================  ====
type  members (in order)                              size
====  ==============================================  ====
0     head                                            1
1     head, spouse                                    2
2     head, spouse, child                             3
3     head, spouse, child, child                      4
4     head (lone parent), child                       2
5     head, spouse, child, parent                     4
6     head, spouse, child, parent, parent             5
7     head, spouse, child, child, parent, parent      6
====  ==============================================  ====

"parent" members are the head's parents (the child's grandparents).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from creditsim.params import Cited

HEAD, SPOUSE, CHILD, PARENT = 0, 1, 2, 3
PAD = -1
ROLES = np.array(
    [
        [HEAD, PAD, PAD, PAD, PAD, PAD],
        [HEAD, SPOUSE, PAD, PAD, PAD, PAD],
        [HEAD, SPOUSE, CHILD, PAD, PAD, PAD],
        [HEAD, SPOUSE, CHILD, CHILD, PAD, PAD],
        [HEAD, CHILD, PAD, PAD, PAD, PAD],
        [HEAD, SPOUSE, CHILD, PARENT, PAD, PAD],
        [HEAD, SPOUSE, CHILD, PARENT, PARENT, PAD],
        [HEAD, SPOUSE, CHILD, CHILD, PARENT, PARENT],
    ],
    dtype=np.int8,
)
SIZES = (ROLES != PAD).sum(axis=1).astype(np.int8)

_ASSUME = "assumption: household-type mix tuned to the cited size and age targets"


@dataclass(frozen=True)
class HouseholdModel:
    """Parameters of household composition. Each is a stated assumption."""

    type_probs_local: Cited[tuple[float, ...]] = Cited(
        (0.24, 0.29, 0.26, 0.05, 0.04, 0.06, 0.03, 0.03), _ASSUME
    )
    type_probs_migrant: Cited[tuple[float, ...]] = Cited(
        (0.37, 0.26, 0.23, 0.05, 0.03, 0.03, 0.02, 0.01),
        _ASSUME + "; migrants live alone or as couples more often (13% of Beijing "
        "residents live in collective households, sources#beijing-census-2020)",
    )
    #: Edges of the head-age bands (years; 7 bands) the head_age_* shares are over.
    head_band_edges: Cited[tuple[float, ...]] = Cited(
        (18.0, 25.0, 35.0, 45.0, 55.0, 65.0, 75.0, 92.0),
        _ASSUME + " (band edges; an age is uniform within its band)", unit="years")
    # Head-age band probabilities over head_band_edges, by type group.
    head_age_single_local: Cited[tuple[float, ...]] = Cited(
        (0.06, 0.20, 0.11, 0.10, 0.13, 0.17, 0.23), _ASSUME
    )
    head_age_single_migrant: Cited[tuple[float, ...]] = Cited(
        (0.24, 0.40, 0.18, 0.11, 0.05, 0.02, 0.0), _ASSUME
    )
    head_age_couple_local: Cited[tuple[float, ...]] = Cited(
        (0.01, 0.16, 0.05, 0.09, 0.23, 0.27, 0.19), _ASSUME
    )
    head_age_couple_migrant: Cited[tuple[float, ...]] = Cited(
        (0.07, 0.40, 0.22, 0.18, 0.09, 0.03, 0.01), _ASSUME
    )
    head_age_family: Cited[tuple[float, ...]] = Cited(
        (0.0, 0.12, 0.33, 0.33, 0.22, 0.0, 0.0), _ASSUME
    )
    head_age_threegen: Cited[tuple[float, ...]] = Cited(
        (0.0, 0.30, 0.46, 0.24, 0.0, 0.0, 0.0), _ASSUME
    )
    single_male_local: Cited[float] = Cited(0.50, _ASSUME)
    single_male_migrant: Cited[float] = Cited(0.66, _ASSUME)
    lone_parent_female: Cited[float] = Cited(0.75, "assumption: most lone parents are mothers")
    child_male: Cited[float] = Cited(
        0.53, "assumption: sex ratio at birth around 1.12 for the cohorts born 1995-2020"
    )
    mother_age_at_birth: Cited[tuple[float, float]] = Cited(
        (23.0, 36.0), "assumption: uniform range of mothers' ages at birth"
    )
    grandparent_gap: Cited[tuple[float, float]] = Cited(
        (24.0, 34.0), "assumption: parents are 24-34 years older than the head"
    )
    couple_age_shift: Cited[float] = Cited(
        -2.0, "assumption: a spouse (and the second of a grandparent pair) is on average "
        "2 years younger than the head (the first)", unit="years")
    couple_age_sd: Cited[float] = Cited(
        3.0, "assumption: spread of a couple's age difference (logistic, this standard "
        "deviation)", unit="years")
    couple_age_clip: Cited[float] = Cited(
        8.0, "assumption: a couple's age difference departs from its mean by at most this",
        unit="years")
    sibling_spacing: Cited[tuple[float, float]] = Cited(
        (1.5, 9.5), "assumption: the second child is born 1.5-9.5 years after the first "
        "(uniform)", unit="years")
    second_birth_extra: Cited[float] = Cited(
        6.0, "assumption: a mother is at most this many years older at a second birth than "
        "the top of mother_age_at_birth", unit="years")
    oldest_grandparent_ages: Cited[tuple[float, float]] = Cited(
        (85.0, 99.0), "assumption: a grandparent whose drawn age exceeds the upper value is "
        "given a uniform age in this range instead (no pile-up at the top)", unit="years")
    lone_grandparent_female: Cited[float] = Cited(
        0.65, "assumption: share of women among grandparents living without their spouse "
        "(women outlive men)")

    def __post_init__(self) -> None:
        edges = self.head_band_edges.value
        if any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
            raise ValueError(f"households.head_band_edges must increase, got {list(edges)}")


def _band_ages(u_band: np.ndarray, u_in: np.ndarray, probs: np.ndarray, edges: np.ndarray
               ) -> np.ndarray:
    cdf = np.cumsum(probs / probs.sum())
    cdf[-1] = 1.0
    b = np.searchsorted(cdf, u_band, side="right")
    lo, hi = edges[b], edges[b + 1]
    return lo + u_in * (hi - lo)


def draw_block(rng: np.random.Generator, n_households: int, migrant_share: float,
               model: HouseholdModel) -> dict[str, np.ndarray]:
    """Draw ``n_households`` households; return member-level arrays.

    Returned arrays (one entry per member, households contiguous, head first):
    ``hh`` (household index within the block), ``role``, ``age`` (float years at
    day 0), ``male`` (bool), ``migrant`` (bool), ``slot`` (member index in its
    household), plus household-level ``hh_size``.
    """
    h = n_households
    u = rng.random((h, 12))
    # Hukou is household-level. Choose the household probability so the expected
    # *resident* share equals migrant_share given the two type mixes' mean sizes.
    pl_ = np.asarray(model.type_probs_local.value)
    pm_ = np.asarray(model.type_probs_migrant.value)
    s_l = float((pl_ / pl_.sum()) @ SIZES)
    s_m = float((pm_ / pm_.sum()) @ SIZES)
    m = migrant_share
    q = m * s_l / (m * s_l + (1 - m) * s_m) if 0 < m < 1 else m
    migrant_h = u[:, 0] < q
    cdf_l = np.cumsum(pl_ / pl_.sum())
    cdf_m = np.cumsum(pm_ / pm_.sum())
    cdf_l[-1] = cdf_m[-1] = 1.0
    htype = np.where(
        migrant_h,
        np.searchsorted(cdf_m, u[:, 1], side="right"),
        np.searchsorted(cdf_l, u[:, 1], side="right"),
    ).astype(np.int8)

    # Head age by type group.
    head_age = np.empty(h)
    groups = [
        ((htype == 0) & ~migrant_h, model.head_age_single_local),
        ((htype == 0) & migrant_h, model.head_age_single_migrant),
        ((htype == 1) & ~migrant_h, model.head_age_couple_local),
        ((htype == 1) & migrant_h, model.head_age_couple_migrant),
        (np.isin(htype, (2, 3, 4)), model.head_age_family),
        (htype >= 5, model.head_age_threegen),
    ]
    edges = np.asarray(model.head_band_edges.value, dtype=np.float64)
    for mask, probs in groups:
        head_age[mask] = _band_ages(u[mask, 2], u[mask, 3], np.asarray(probs.value), edges)

    single_male_p = np.where(migrant_h, model.single_male_migrant.value,
                             model.single_male_local.value)
    head_male = np.where(
        htype == 0, u[:, 4] < single_male_p,
        np.where(htype == 4, u[:, 4] >= model.lone_parent_female.value, True),
    )
    shift, sd, clip = (model.couple_age_shift.value, model.couple_age_sd.value,
                       model.couple_age_clip.value)
    spouse_age = head_age + shift + np.clip(sd * _norm(u[:, 5]), -clip, clip)
    # Reflect rather than clip at 18 and 99.9, so no birth date piles up.
    spouse_age = np.where(spouse_age < 18.0, 18.0 + (18.0 - spouse_age) * 0.5, spouse_age)
    spouse_age = np.where(spouse_age > 99.9, 99.9 - (spouse_age - 99.9), spouse_age)
    mother_age = np.where(htype == 4, head_age, np.where(head_male, spouse_age, head_age))
    lo, hi = model.mother_age_at_birth.value
    # Child ages: the mother's age minus an age-at-birth, never negative.
    gap1 = lo + u[:, 6] * (hi - lo)
    s_lo, s_hi = model.sibling_spacing.value
    gap2 = np.minimum(gap1 + s_lo + u[:, 7] * (s_hi - s_lo), hi + model.second_birth_extra.value)
    # If the mother is younger than the drawn gap, the child's age is drawn
    # uniformly below (younger parent's age − 18) instead, so no age piles up at 0.
    parents_min = np.where(htype == 4, head_age, np.minimum(head_age, spouse_age))
    room = np.maximum(parents_min - 18.0, 0.25)
    child1_age = np.where(mother_age >= gap1, mother_age - gap1, u[:, 11] * room)
    child2_age = np.where(mother_age >= gap2, mother_age - gap2, u[:, 11] * room * 0.5)
    glo, ghi = model.grandparent_gap.value
    gp1_age = head_age + glo + u[:, 8] * (ghi - glo)
    # Very old grandparents are spread over 85-99 rather than clipped to one age.
    o_lo, o_hi = model.oldest_grandparent_ages.value
    gp1_age = np.where(gp1_age > o_hi, o_lo + u[:, 10] * (o_hi - o_lo), gp1_age)
    gp2_age = gp1_age + shift + np.clip(sd * _norm(u[:, 9]), -clip, clip)
    gp2_age = np.where(gp2_age > 99.9, 99.9 - (gp2_age - 99.9), gp2_age)
    gp_single_female = u[:, 10] < model.lone_grandparent_female.value

    sizes = SIZES[htype].astype(np.int64)
    n = int(sizes.sum())
    hh = np.repeat(np.arange(h, dtype=np.int64), sizes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    slot = np.arange(n, dtype=np.int64) - np.repeat(starts, sizes)
    t = htype[hh]
    role = ROLES[t, slot]

    # Which child / parent is this member (0 or 1)?
    is_child = role == CHILD
    is_parent = role == PARENT
    first_child_slot = np.where(t == 4, 1, 2)[...]
    child_k = np.where(is_child, slot - first_child_slot, 0)
    first_parent_slot = np.where(t == 7, 4, 3)
    parent_k = np.where(is_parent, slot - first_parent_slot, 0)

    # Each member takes one of six household-level ages / sexes by its position.
    which = np.where(role == HEAD, 0, np.where(role == SPOUSE, 1, np.where(
        is_child, 2 + child_k, 4 + parent_k))).astype(np.int64)
    ages = np.stack([head_age, spouse_age, child1_age, child2_age, gp1_age, gp2_age])
    age = ages[which, hh]
    # Sex: heads per draw; spouses the other sex; children drawn; grandparents:
    # a lone grandparent drawn, a pair one man and one woman.
    u_m = rng.random(n)
    sexes = np.stack([head_male, ~head_male, np.zeros(h, dtype=bool), np.zeros(h, dtype=bool),
                      np.where(htype == 5, ~gp_single_female, True), np.zeros(h, dtype=bool)])
    male = np.where(is_child, u_m < model.child_male.value, sexes[which, hh])
    return {
        "hh": hh,
        "hh_size": sizes,
        "htype": htype,
        "role": role.astype(np.int8),
        "slot": slot.astype(np.int8),
        "age": age,
        "male": male.astype(bool),
        "migrant": migrant_h[hh],
        "migrant_h": migrant_h,
    }


def _norm(u: np.ndarray) -> np.ndarray:
    """Approximate standard normal from uniforms (logistic quantile scaled)."""
    u = np.clip(u, 1e-12, 1 - 1e-12)
    return np.log(u / (1 - u)) * 0.5513
