"""Stage: appeals, repayment and list exits — what residents do about a listing.

* :func:`objections` — residents wrongly affected (someone else's record, or a
  debt already paid) may object; who does depends on who they are (education,
  income, hukou: an assumption, configurable). The platform answers after a
  delay and, if it upholds the objection, corrects the profile and ends the spell.
* :func:`repayments` — rightly listed debtors repay at a rate that depends on
  their means; the performance is recorded by the court and the platform
  deletes the entry within the policy's working days.

Residents know the truth about themselves, so this stage reads it; the
platform's side is only the processing delay and the success rate.
"""

from creditsim.appeals.model import AppealsModel, RepaymentModel, objections, repayments

__all__ = ["AppealsModel", "RepaymentModel", "objections", "repayments"]
