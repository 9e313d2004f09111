"""Each department's database: what it captures, how late, and how dirty.

Fault rates are per record and configurable; the defaults are assumptions
(no published error rates of Chinese departmental registers were found), each
with its reason. Faults (bit flags of ``truth_faults``):

* ``NAME_TYPO`` — one character replaced by a homophone (pinyin input slip) or a
  different character, or dropped;
* ``ID_MISSING`` — no ID number recorded;
* ``ID_MISTYPED`` — one digit changed or two adjacent digits swapped (the check
  digit then fails), sometimes two digits changed (passes by chance 1 in 11);
* ``ID_OTHER`` — another person's *valid* ID number: a household member's
  (the bill is in the spouse's name, the car is registered to the father) or,
  for people living alone, a random resident's (a borrowed ID);
* ``DUPLICATE`` — the same event entered twice (the copy has its own faults);
* ``BIRTH_WRONG`` — birth date off by a day, a year, or day and month swapped.
"""

from __future__ import annotations

from dataclasses import dataclass

from creditsim.params import Cited

NAME_TYPO = 1
ID_MISSING = 2
ID_MISTYPED = 4
ID_OTHER = 8
DUPLICATE = 16
BIRTH_WRONG = 32
FAULT_BITS = {
    "name_typo": NAME_TYPO, "id_missing": ID_MISSING, "id_mistyped": ID_MISTYPED,
    "id_other": ID_OTHER, "duplicate": DUPLICATE, "birth_wrong": BIRTH_WRONG,
}

A = "assumption"

#: How a mistyped ID number is mistyped (shares, cumulative): one digit replaced below
#: the first value, two adjacent digits swapped below the second, else two digits
#: replaced (records.strings.mistype_u8).
_ID_SLIP_MIX: Cited[tuple[float, float]] = Cited(
    (0.80, 0.95), A + ": most keying slips change one digit, some swap two adjacent "
    "digits, a few change two (cumulative shares: one digit, + swap; the rest two)",
    bounds=(0.0, 1.0))
#: How a wrong birth date is wrong (cumulative): a day off (half +1, half -1) below the
#: first value, the year off by one (half +1, half -1) below the second, else day and
#: month swapped.
_BIRTH_SLIP_MIX: Cited[tuple[float, float]] = Cited(
    (0.4, 0.7), A + ": a wrong birth date is a day off, the year off by one, or day and "
    "month swapped (cumulative shares: day, + year; the rest swapped)", bounds=(0.0, 1.0))
_NAME_DROP_SHARE: Cited[float] = Cited(
    0.1, A + ": share of name typos that drop a character (names of three or more "
    "characters); the others replace one by a homophone")


@dataclass(frozen=True)
class DepartmentModel:
    """One department's register: fields captured, reporting lag, fault rates."""

    name: str
    lag_mean_days: Cited[float]
    p_name_typo: Cited[float]
    p_id_missing: Cited[float]
    p_id_mistyped: Cited[float]
    p_id_other: Cited[float]
    p_duplicate: Cited[float]
    p_birth_wrong: Cited[float]
    captures_birth_date: bool = True
    captures_sex: bool = True
    captures_district: bool = True
    id_slip_mix: Cited[tuple[float, float]] = _ID_SLIP_MIX
    birth_slip_mix: Cited[tuple[float, float]] = _BIRTH_SLIP_MIX
    name_drop_share: Cited[float] = _NAME_DROP_SHARE

    def __post_init__(self) -> None:
        for name in ("id_slip_mix", "birth_slip_mix"):
            lo, hi = getattr(self, name).value
            if lo > hi:
                raise ValueError(f"records.{self.name}.{name}: the shares are cumulative "
                                 f"and must not decrease, got [{lo}, {hi}]")

    def rates(self) -> dict[str, float]:
        return {
            "name_typo": self.p_name_typo.value, "id_missing": self.p_id_missing.value,
            "id_mistyped": self.p_id_mistyped.value, "id_other": self.p_id_other.value,
            "duplicate": self.p_duplicate.value, "birth_wrong": self.p_birth_wrong.value,
        }


def _c(v: float, why: str) -> Cited[float]:
    return Cited(v, f"{A}: {why}")


DEFAULT_DEPARTMENTS: tuple[DepartmentModel, ...] = (
    DepartmentModel(
        "court",
        lag_mean_days=_c(20, "case registration and entry into the enforcement system"),
        p_name_typo=_c(0.01, "names copied from filings by clerks"),
        p_id_missing=_c(0.02, "parties' ID numbers are normally in the filing"),
        p_id_mistyped=_c(0.01, "manual entry"),
        p_id_other=_c(0.003, "same-name confusion between parties (sources#wang-ximin-2025)"),
        p_duplicate=_c(0.01, "cases re-filed across courts"),
        p_birth_wrong=_c(0.01, "manual entry"),
    ),
    DepartmentModel(
        "tax",
        lag_mean_days=_c(30, "monthly reconciliation"),
        p_name_typo=_c(0.005, "taxpayer register is maintained"),
        p_id_missing=_c(0.005, "taxpayer ID is the ID number"),
        p_id_mistyped=_c(0.005, "manual entry"),
        p_id_other=_c(0.002, "income declared under a relative's ID"),
        p_duplicate=_c(0.005, "re-issued notices"),
        p_birth_wrong=_c(0.0, "birth date not captured"),
        captures_birth_date=False, captures_sex=False,
    ),
    DepartmentModel(
        "traffic",
        lag_mean_days=_c(7, "camera records are processed within days"),
        p_name_typo=_c(0.005, "names come from the licence register"),
        p_id_missing=_c(0.01, "camera violations are booked to the vehicle"),
        p_id_mistyped=_c(0.005, "manual entry at the roadside"),
        p_id_other=_c(0.05, "a camera violation is booked to the car's registered owner, "
                      "often another household member than the driver"),
        p_duplicate=_c(0.01, "the same violation caught by two cameras"),
        p_birth_wrong=_c(0.005, "manual entry"),
    ),
    DepartmentModel(
        "transit",
        lag_mean_days=_c(3, "operators report promptly"),
        p_name_typo=_c(0.03, "names taken down by inspectors"),
        p_id_missing=_c(0.40, "fare evaders often show no ID"),
        p_id_mistyped=_c(0.02, "written by hand"),
        p_id_other=_c(0.02, "someone else's ID card shown"),
        p_duplicate=_c(0.01, "re-entered reports"),
        p_birth_wrong=_c(0.0, "birth date not captured"),
        captures_birth_date=False,
    ),
    DepartmentModel(
        "bank",
        lag_mean_days=_c(35, "monthly reporting cycle to the credit reference centre"),
        p_name_typo=_c(0.002, "verified at account opening"),
        p_id_missing=_c(0.001, "real-name accounts"),
        p_id_mistyped=_c(0.002, "legacy accounts"),
        p_id_other=_c(0.001, "accounts opened with a relative's ID"),
        p_duplicate=_c(0.002, "resubmitted reports"),
        p_birth_wrong=_c(0.002, "legacy accounts"),
    ),
    DepartmentModel(
        "market",
        lag_mean_days=_c(30, "administrative penalty decisions take weeks"),
        p_name_typo=_c(0.02, "names from inspection notes"),
        p_id_missing=_c(0.05, "individual traders identified by shop licence"),
        p_id_mistyped=_c(0.02, "manual entry"),
        p_id_other=_c(0.01, "licence held by a relative"),
        p_duplicate=_c(0.02, "joint campaigns record the same case twice"),
        p_birth_wrong=_c(0.0, "birth date not captured"),
        captures_birth_date=False, captures_sex=False,
    ),
    DepartmentModel(
        "utility",
        lag_mean_days=_c(15, "billing cycle"),
        p_name_typo=_c(0.02, "old account records"),
        p_id_missing=_c(0.10, "many accounts predate real-name registration"),
        p_id_mistyped=_c(0.01, "manual entry"),
        p_id_other=_c(0.15, "the account is in another household member's name"),
        p_duplicate=_c(0.02, "several meters per household"),
        p_birth_wrong=_c(0.0, "birth date not captured"),
        captures_birth_date=False, captures_sex=False,
    ),
    DepartmentModel(
        "civil",
        lag_mean_days=_c(30, "volunteer hours are logged monthly by organisations"),
        p_name_typo=_c(0.03, "entered by volunteer organisations"),
        p_id_missing=_c(0.03, "volunteers register under their real name and ID on the "
                        "volunteer platform; hours logged by small groups sometimes carry "
                        "a name only"),
        p_id_mistyped=_c(0.02, "self-reported"),
        p_id_other=_c(0.01, "a relative's account on the platform"),
        p_duplicate=_c(0.03, "the same hours logged by two organisations"),
        p_birth_wrong=_c(0.02, "self-reported"),
    ),
    DepartmentModel(
        "health",
        lag_mean_days=_c(10, "blood stations report to the health commission"),
        p_name_typo=_c(0.01, "donor registration"),
        p_id_missing=_c(0.01, "ID is required to donate"),
        p_id_mistyped=_c(0.005, "manual entry"),
        p_id_other=_c(0.002, "rare"),
        p_duplicate=_c(0.005, "rare"),
        p_birth_wrong=_c(0.005, "manual entry"),
    ),
)
