"""Base rates and modifiers of every kind of behaviour (the truth model).

Each :class:`KindRate` says who can do it (``eligible``), how often a reference
resident does it per year (``base``), how the rate scales with the resident's
latent propensity and attributes, and how large the amount is. Sources are cited
per number as ``sources#<anchor>``, entries of ``docs/sources/``.

Rates are *per eligible resident per year*. A resident's rate is::

    base × trait ** trait_exponent × exp(decile_slope × (income_decile − 5.5))
         × (male_factor if male) × (young_factor if 18 ≤ age < 35)
         × (migrant_factor if migrant)

where ``trait`` is ``truth_propensity`` for breaches and ``truth_civic`` for
good deeds (both log-normal with mean 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from creditsim.params import Cited

A = "assumption"


@dataclass(frozen=True)
class KindRate:
    """How often one kind of behaviour happens, and to whom."""

    kind: str
    base: Cited[float]
    eligible: str = "adult"  # adult | driver | head | donor_age | age12 | all
    trait: str = "propensity"  # propensity | civic
    trait_exponent: float = 1.0
    decile_slope: float = 0.0
    male_factor: float = 1.0
    young_factor: float = 1.0
    migrant_factor: float = 1.0
    # Amount: log-normal with this median and sigma, times (income/mean)**income_elasticity.
    amount_median: float = 0.0
    amount_sigma: float = 0.0
    income_elasticity: float = 0.0
    amount_round: float = 1.0
    modifiers_source: str = "assumption: direction and size of the modifiers"
    amount_source: str = "assumption: amount distribution (median, spread, income elasticity)"

    #: Plain-number parameters and the field holding their source (creditsim.paramspace).
    PARAM_SOURCES: ClassVar[dict[str, str]] = {
        **dict.fromkeys(("trait_exponent", "decile_slope", "male_factor", "young_factor",
                         "migrant_factor"), "modifiers_source"),
        **dict.fromkeys(("amount_median", "amount_sigma", "income_elasticity", "amount_round"),
                        "amount_source"),
    }


@dataclass(frozen=True)
class CourtChain:
    """What follows a lost lawsuit: enforcement, the six listing grounds, performance."""

    p_enforcement: Cited[float] = Cited(
        0.47,
        "6.5 M first-time enforcement cases (2020) over 13.85 M first-instance civil "
        "cases (2019), sources#enforcement-2020, sources#civil-cases-2019",
    )
    enforcement_delay: Cited[tuple[int, int]] = Cited(
        (30, 180), A + ": days from judgment to an enforcement case (appeal period, "
        "voluntary performance window, filing)"
    )
    p_perform_early: Cited[float] = Cited(
        0.30, "fewer than 30% of debtors comply voluntarily, sources#enforcement-compliance"
    )
    perform_early_delay: Cited[tuple[int, int]] = Cited((10, 90), A)
    # Among debtors who do not perform early (grounds are not exclusive).
    p_refuse: Cited[float] = Cited(
        0.40, "about 2 M listings a year (9.59 M cumulative 2013-2017, sources#spc-list-totals) "
        "over about 4.5-6.5 M enforcement cases; assumption: ground 1 is the main one"
    )
    p_obstruct: Cited[float] = Cited(0.02, A + ": violent obstruction is rare")
    p_evade: Cited[float] = Cited(0.05, A)
    p_false_report: Cited[float] = Cited(0.06, A)
    p_violate_ban: Cited[float] = Cited(0.03, A)
    p_breach_settlement: Cited[float] = Cited(0.03, A)
    ground_delay: Cited[tuple[int, int]] = Cited((20, 120), A + ": days after enforcement opens")
    p_perform_late: Cited[float] = Cited(
        0.25, A + ": share of the remaining debtors who perform within the following year "
        "without any sanction (the listing's own effect is modelled by the simulation loop)"
    )
    perform_late_delay: Cited[tuple[int, int]] = Cited((60, 420), A)
    refuse_min_decile: int = 3  # "able to perform" needs some means
    refuse_min_decile_source: str = A + ": only debtors from this income decile up are " \
        "able to perform and so can be listed for refusing"

    PARAM_SOURCES: ClassVar[dict[str, str]] = {"refuse_min_decile": "refuse_min_decile_source"}


@dataclass(frozen=True)
class BehaviourModel:
    """All kinds' rates plus the court chain."""

    kinds: tuple[KindRate, ...] = field(default_factory=lambda: DEFAULT_KINDS)
    court: CourtChain = field(default_factory=CourtChain)


DEFAULT_KINDS: tuple[KindRate, ...] = (
    KindRate(
        "lawsuit_lost",
        Cited(0.0072, "13.85 M first-instance civil cases (2019, sources#civil-cases-2019); "
              "assumption: ~60% have a natural person on the losing side, over ~1.15 bn adults"),
        decile_slope=-0.08, amount_median=30_000, amount_sigma=1.2, income_elasticity=0.6,
        amount_round=100,
    ),
    KindRate(
        "tax_arrears", Cited(0.002, A + ": tax-arrears counts NOT FOUND (sources#gap-tax)"),
        decile_slope=0.05, amount_median=4_000, amount_sigma=1.0, income_elasticity=1.0,
    ),
    KindRate(
        "tax_evasion", Cited(0.0002, A + ": NOT FOUND (sources#gap-tax)"),
        decile_slope=0.15, amount_median=50_000, amount_sigma=1.2, income_elasticity=1.0,
        amount_round=100,
    ),
    KindRate(
        "traffic_violation",
        Cited(1.0, A + ": violation totals NOT FOUND (sources#gap-traffic-totals); about one "
              "recorded violation per driver-year"),
        eligible="driver", trait_exponent=0.6, young_factor=1.4, male_factor=1.3,
        amount_median=150, amount_sigma=0.4, amount_round=50,
    ),
    KindRate(
        "drunk_driving",
        Cited(0.004, "901 k drink/drunk-driving cases in H1 2019 (≈1.8 M a year) over "
              "456 M drivers, sources#drink-driving-2019, sources#drivers-2020"),
        eligible="driver", trait_exponent=1.2, male_factor=6.0, young_factor=1.5,
        modifiers_source="women are 2.3% of drink-driving cases and ages 20-49 85% "
        "(sources#drink-driving-2019); factors are set to reproduce that",
    ),
    KindRate(
        "fare_evasion", Cited(0.01, A + ": counts NOT FOUND (sources#gap-fare-evasion)"),
        eligible="age12", young_factor=1.8, decile_slope=-0.1, amount_median=5, amount_sigma=0.4,
    ),
    KindRate(
        "rail_misconduct",
        Cited(5.5e-6, "China Railway listed 528 people in Aug 2019 (sources#npcic-2019-08): "
              "≈6,300 a year over ~1.15 bn adults"),
        male_factor=2.0, trait_exponent=1.5,
    ),
    KindRate(
        "air_misconduct",
        Cited(1.0e-5, "CAAC listed 946 people in Aug 2019 (sources#npcic-2019-08): ≈11,400 a year "
              "over ~1.15 bn adults"),
        male_factor=2.0, trait_exponent=1.5, decile_slope=0.1,
    ),
    KindRate(
        "loan_arrears",
        Cited(0.03, A + ": months in arrears per adult-year; the personal-loan NPL ratio "
              "was NOT FOUND (sources#gap-loan-npl)"),
        trait_exponent=0.6, decile_slope=-0.18, amount_median=3_000, amount_sigma=0.9,
        income_elasticity=0.7, amount_round=10,
    ),
    KindRate(
        "card_arrears",
        Cited(0.08, A + ": months in arrears per adult-year, consistent with 1.1-1.2% of "
              "card credit being > 6 months overdue (sources#card-overdue-2020)"),
        trait_exponent=0.6, decile_slope=-0.15, young_factor=1.3, amount_median=1_500,
        amount_sigma=1.0, income_elasticity=0.7, amount_round=10,
    ),
    KindRate(
        "counterfeit_goods",
        Cited(1.5e-4, "316 k market-regulation campaign cases in 2020 (sources#samr-2020); "
              "assumption: about half involve an individual trader"),
        migrant_factor=1.3, amount_median=8_000, amount_sigma=1.3, amount_round=100,
    ),
    KindRate(
        "commercial_fraud", Cited(1.0e-4, A + ": pyramid selling and fraud cases NOT FOUND"),
        trait_exponent=1.3, amount_median=40_000, amount_sigma=1.4, amount_round=100,
    ),
    KindRate(
        "utility_late_fee",
        Cited(0.10, A + ": one late bill per ten households a year"),
        eligible="head", trait_exponent=0.5, decile_slope=-0.12, amount_median=300,
        amount_sigma=0.7,
    ),
    KindRate(
        "utility_theft",
        Cited(5.0e-4, A + ": local spot checks only (sources#utility-theft-local), biased upward"),
        eligible="head", trait_exponent=1.3, decile_slope=-0.1, amount_median=2_000,
        amount_sigma=1.0,
    ),
    KindRate(
        "heating_tamper", Cited(2.0e-4, A), eligible="head", trait_exponent=1.3,
    ),
    KindRate(
        "volunteer_hours",
        Cited(0.66, "Beijing: 4.49 M registered volunteers (20.5% of residents) and 570 M "
              "cumulative hours (sources#beijing-volunteers-2022) ≈ 13 h a year per "
              "volunteer; assumption: logged as ~3 monthly records of ~4 h"),
        eligible="age12", trait="civic", trait_exponent=1.0, decile_slope=0.03,
        amount_median=3.5, amount_sigma=0.7, amount_round=0.5,
    ),
    KindRate(
        "heroic_act",
        Cited(1.0e-5, "~40 k people confirmed for heroic acts nationally Oct 2022-Jul 2025 "
              "(sources#heroic-acts-2025) ≈ 14.5 k a year over 1.41 bn, sources#china-census-2020"),
        eligible="all", trait="civic", male_factor=3.0, young_factor=1.5,
    ),
    KindRate(
        "honour", Cited(5.0e-4, A + ": civic commendations per adult-year"),
        trait="civic",
    ),
    KindRate(
        "blood_donation",
        Cited(0.017, "15.53 M voluntary donations nationally in 2020 "
              "(sources#blood-donation-2020) over ~0.9 bn residents aged 18-60"),
        eligible="donor_age", trait="civic", trait_exponent=0.8, male_factor=1.2,
        amount_median=300, amount_sigma=0.25, amount_round=100,
    ),
)
