"""Beijing, from the 2020 (seventh) national census and municipal statistics.

Sources are cited per field as ``sources#<anchor>``, entries of ``docs/sources/``.
"""

from __future__ import annotations

from creditsim.cities.model import CityProfile
from creditsim.params import Cited

CENSUS = (
    "Beijing Municipal Bureau of Statistics, Communiqué of the Seventh National Population "
    "Census of Beijing (2020), sources#beijing-census-2020"
)

BEIJING = CityProfile(
    name="beijing",
    districts=Cited(
        ("Dongcheng", "Xicheng", "Chaoyang", "Fengtai", "Shijingshan", "Haidian",
         "Mentougou", "Fangshan", "Tongzhou", "Shunyi", "Changping", "Daxing",
         "Huairou", "Pinggu", "Miyun", "Yanqing"),
        "GB/T 2260 division list for Beijing (16 districts), sources#gbt-2260",
    ),
    district_names_zh=Cited(
        ("东城区", "西城区", "朝阳区", "丰台区", "石景山区", "海淀区", "门头沟区", "房山区",
         "通州区", "顺义区", "昌平区", "大兴区", "怀柔区", "平谷区", "密云区", "延庆区"),
        "GB/T 2260, sources#gbt-2260",
    ),
    district_codes=Cited(
        (110101, 110102, 110105, 110106, 110107, 110108, 110109, 110111,
         110112, 110113, 110114, 110115, 110116, 110117, 110118, 110119),
        "GB/T 2260 administrative division codes, sources#gbt-2260",
    ),
    district_population=Cited(
        (708_829, 1_106_214, 3_452_460, 2_019_764, 567_851, 3_133_469, 392_606, 1_312_778,
         1_840_295, 1_324_044, 2_269_487, 1_993_591, 441_040, 457_313, 527_683, 345_671),
        CENSUS + " (resident population by district, total 21,893,095)",
    ),
    migrant_share=Cited(
        (0.385,) * 16,
        CENSUS + " (8.418 M non-local residents = 38.5% city-wide); "
        "assumption: the same share in every district (sources#gap-district-nonlocal)",
    ),
    district_income_effect=Cited(
        (0.20, 0.20, 0.10, -0.05, 0.0, 0.15, -0.20, -0.20,
         -0.10, -0.10, -0.05, -0.10, -0.25, -0.25, -0.25, -0.30),
        "assumption: core districts richer, outer suburbs poorer (the municipal statistics "
        "publish district income figures with the same ordering; shifts are in log units)",
    ),
    district_car_effect=Cited(
        (-0.10, -0.10, 0.0, 0.0, 0.0, 0.0, 0.05, 0.08,
         0.05, 0.08, 0.05, 0.05, 0.08, 0.08, 0.08, 0.08),
        "assumption: fewer cars per household in the dense core, more in the suburbs",
    ),
    origin_codes=Cited(
        (130102, 410102, 370102, 140105, 230102, 420102, 340102, 210102, 510104, 320102,
         610102, 220102, 150102, 620102, 430102, 500101, 360102, 440103, 120101, 330102),
        "GB/T 2260 codes of one county-level division in each main origin province of "
        "Beijing's migrants; the province prefix is used, migrants are spread over 30 "
        "county-level codes per province (assumption, population/synth.py), sources#gbt-2260",
    ),
    origin_weights=Cited(
        (864_387, 467_355, 348_129, 225_032, 194_387, 168_903, 165_935, 155_032, 150_839,
         110_839, 105_097, 104_774, 103_355, 97_871, 94_839, 82_129, 80_581, 68_452, 67_355,
         58_065),
        "inter-provincial migration flows into Beijing 2010-2015 (1% sample survey, via "
        "G. Abel), sources#migration-2010-2015 [SECONDARY]; a proxy for the 2020 stock, "
        "which was not found",
    ),
    male_share=Cited(0.511, CENSUS + " (males 51.1%, sex ratio 104.7)"),
    age_shares=Cited(
        {"0-14": 0.119, "15-59": 0.685, "60+": 0.196},
        CENSUS + " (0–14: 11.9%, 15–59: 68.5%, 60+: 19.6%)",
    ),
    household_size_shares=Cited(
        (0.29, 0.32, 0.25, 0.087, 0.04, 0.013),
        "Beijing 2010 census family-household sizes (24.8/30.2/29.1/9.3/4.8/1.8% for "
        "1..6+, sources#beijing-census-2010-households) shifted towards smaller households so the "
        "mean is the 2020 census 2.31 (assumption: sources#gap-households-2020)",
    ),
    mean_household_size=Cited(2.31, CENSUS + " (average family household size 2.31)"),
    education_shares=Cited(
        {"tertiary": 0.4198, "senior_secondary": 0.1759, "junior_secondary": 0.2329,
         "primary": 0.10503},
        CENSUS + " (per 100,000 residents: university 41,980; senior secondary 17,593; "
        "junior secondary 23,289; primary 10,503; sources#census-education-2020)",
    ),
    mean_income=Cited(
        69_434.0,
        "Beijing Municipal Bureau of Statistics, 2020 per-capita disposable income of "
        "residents, 69,434 yuan (sources#beijing-income-2020)",
    ),
    cars_per_resident=Cited(
        0.24,
        "5.24 M private cars in Beijing in 2021 (sources#beijing-cars-2021 [SECONDARY]) "
        "over 21.9 M residents",
    ),
    start_date=Cited("2021-01-01", "assumption: the first full year after the 2020 census"),
)
