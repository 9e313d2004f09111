"""The world side of the platform stage: what residents do and what really happened.

Reads the truth, by design (exempt from ``tests/test_truth_isolation.py``, each
module for its reason there):

* ``feedback`` — deterrence and gaming, as thinning of the candidate events;
* ``residents`` — who objects to a wrongful listing, who repays a debt;
* ``truth`` — the truth handles the rounds pass around, the court's repayment
  records, the truth about each spell, the final labels (with the truth-world
  scoring of tier- and score-caused decisions) and what happened.
"""
