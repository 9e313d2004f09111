"""Stage: platform — the loop of policy, services, appeals and behavioural feedback.

The platform scores the records that exist, answers objections, decides at points
of service; residents respond (deterrence, gaming, objections, repayments); the
loop iterates the whole horizon to its fixed point (:mod:`.loop`). A round is the
named steps of :data:`ROUND_STEPS` (:mod:`.steps`): score → appeal_and_repay →
serve → respond, from a frozen :class:`RoundState` to the next.

Platform side (reads no truth; ``tests/test_truth_isolation.py``): ``stream``
(the record stream and row selections), ``appeals`` (answering objections),
``state``, ``steps``, ``loop``, ``models``. World side (``world/``: residents'
behaviour, the court's records, the truth labels): ``world.feedback``,
``world.residents``, ``world.truth``. The platform's steps hand the world side
opaque handles and never name a truth column.

Public API::

    from creditsim.platform import LoopInputs, LoopModels, RunSpec, run_loop
    res = run_loop(LoopInputs(residents, candidates, records, links, policy),
                   RunSpec(seed, days, start_date), LoopModels())
    res.tables, res.rounds, res.timings
"""

from creditsim.platform.appeals import APPEALS_SCHEMA, AppealsModel, RepaymentModel
from creditsim.platform.loop import LoopResult, run_loop
from creditsim.platform.models import LoopModels, RunSpec
from creditsim.platform.state import LoopInputs, RoundState, Sink
from creditsim.platform.steps import ROUND_STEPS, Step
from creditsim.platform.stream import STREAM_COLUMNS, linked_records, record_stream
from creditsim.platform.world.feedback import BOOSTABLE, FeedbackModel
from creditsim.platform.world.truth import RECORD_COLUMNS, platform_view

__all__ = [
    "APPEALS_SCHEMA", "BOOSTABLE", "RECORD_COLUMNS", "ROUND_STEPS", "STREAM_COLUMNS",
    "AppealsModel", "FeedbackModel", "LoopInputs", "LoopModels", "LoopResult", "RepaymentModel",
    "RoundState", "RunSpec", "Sink", "Step", "linked_records", "platform_view", "record_stream",
    "run_loop",
]
