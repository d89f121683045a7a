"""The trust ladder: which state a leaderboard row reaches from its reproductions, and why each
reproduction counts or does not. Pure functions over what was already checked (signatures,
verdicts) and an editor's keyring of known operators.

Two vocabularies (REFERENCE §1):

    quality rows   COMMUNITY → VERIFIED (an operator re-ran it on their own rig within ±2 pp);
                   FIRST-PARTY when an operator's key signed the row itself
    tok/s rows     Community submitted → Reproduced (an operator re-ran it on the same hardware
                   within ±10%) → Independently reproduced (two or more operators, the original
                   submitter not among them)
    either kind    Rejected (the original failed verification, or every operator's re-run landed
                   outside tolerance) or Related (every operator's re-run matched three of four
                   dimensions: a related benchmark, a new row)

A reproduction counts when, in this order: it is signed, its signature is valid, by another key
than the original's and with another signed handle, a key in the keyring, whose operator is not
the row's submitter (by keyring handle) and owns the hardware it ran on (when the keyring lists
any), its verdict is within tolerance, and its operator has not already counted on the same
hardware (one machine measured ten times does not raise confidence). The first rule it breaks
is its reason.

A tok/s row's confidence: low (nothing counts), moderate (one operator), high (two or more
independent operators on distinct hardware), very-high (four or more counted reproductions
across distinct hardware).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

Kind = Literal["quality", "speed"]
# A reproduction's verdict as `rla reproduce` gives it (review/reproduce.py).
WITHIN = ("reproduced", "verified on the editor's rig")
OUTSIDE = ("not reproduced",)
RELATED = ("related benchmark",)

COMMUNITY = "COMMUNITY"
VERIFIED = "VERIFIED"
FIRST_PARTY = "FIRST-PARTY"
SUBMITTED = "Community submitted"
REPRODUCED = "Reproduced"
INDEPENDENT = "Independently reproduced"
REJECTED = "Rejected"
RELATED_STATE = "Related"


@dataclass(frozen=True)
class Operator:
    """One keyring entry: who holds a key, and the hardware they own (hardware slugs)."""

    handle: str
    key_id: str
    public_key: str
    hardware: tuple[str, ...] = ()


@dataclass(frozen=True)
class Keyring:
    operators: tuple[Operator, ...] = ()

    def by_key(self, key_id: str | None) -> Operator | None:
        return next((o for o in self.operators if o.key_id == key_id), None)


@dataclass(frozen=True)
class Signed:
    """A record as the ladder sees it: where it came from, who signed it (the key id of a valid
    signature, and the handle signed with it), what is wrong with its signature when it has an
    invalid one, and its hardware slug."""

    label: str
    signer: str | None
    hardware: str | None
    handle: str | None = None
    signature_problem: str | None = None


@dataclass(frozen=True)
class Rerun:
    """A reproduction: the re-run's record and its verdict against the original."""

    record: Signed
    verdict: str
    summary: str = ""  # e.g. "headline +0.4 pp"


@dataclass(frozen=True)
class Judged:
    rerun: Rerun
    counts: bool
    reason: str
    operator: str | None  # the keyring handle of its signer
    # a known operator, not the submitter, on hardware they own: its verdict decides
    eligible: bool = False


@dataclass(frozen=True)
class LadderState:
    kind: Kind
    state: str
    reasons: tuple[str, ...]
    judged: tuple[Judged, ...]
    confidence: str | None  # tok/s rows only

    @property
    def counted(self) -> tuple[Judged, ...]:
        return tuple(j for j in self.judged if j.counts)


def _same_handle(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and str(a).casefold() == str(b).casefold()


def _judge(original: Signed, operator_of_original: Operator | None, rerun: Rerun,
           keyring: Keyring, counted: set[tuple[str, str | None]]) -> Judged:
    record = rerun.record

    def no(reason: str, operator: str | None = None, eligible: bool = False) -> Judged:
        return Judged(rerun, False, reason, operator, eligible)

    if record.signature_problem:
        return no(f"its signature is invalid: {record.signature_problem}")
    if record.signer is None:
        return no("unsigned: nothing shows who ran it")
    operator = keyring.by_key(record.signer)
    if original.signer is not None and record.signer == original.signer:
        return no("signed by the same key as the original: the submitter reproducing their "
                  "own row", operator.handle if operator else None)
    if _same_handle(record.handle, original.handle):
        return no(f"the submitter ({record.handle}, the handle both signatures carry) "
                  "reproducing their own row", operator.handle if operator else None)
    if operator is None:
        return no(f"unknown key {record.signer}: not in the keyring of operators")
    submitter = operator_of_original.handle if operator_of_original else original.handle
    if _same_handle(operator.handle, submitter):
        return no(f"the submitter ({operator.handle}) reproducing their own row",
                  operator.handle)
    if operator.hardware and record.hardware not in operator.hardware:
        return no(f"run on {record.hardware or 'unstated hardware'}, which {operator.handle} is "
                  f"not known to own ({', '.join(operator.hardware)})", operator.handle)
    summary = f": {rerun.summary}" if rerun.summary else ""
    if rerun.verdict in OUTSIDE:
        return no(f"outside tolerance{summary}", operator.handle, True)
    if rerun.verdict not in WITHIN:
        return no(f"its verdict is {rerun.verdict}{summary}", operator.handle, True)
    machine = (operator.handle.casefold(), record.hardware)
    if machine in counted:
        return no(f"{operator.handle} already counted on {record.hardware or 'this hardware'}: "
                  "the same operator measuring one machine again", operator.handle, True)
    counted.add(machine)
    return Judged(rerun, True, f"{rerun.verdict} by {operator.handle}{summary}",
                  operator.handle, True)


def _confidence(counted: Sequence[Judged]) -> str:
    operators = {str(j.operator).casefold() for j in counted}
    machines = {(str(j.operator).casefold(), j.rerun.record.hardware) for j in counted}
    if len(counted) >= 4 and len(machines) >= 4:
        return "very-high"
    if len(operators) >= 2:
        return "high"
    return "moderate" if counted else "low"


def ladder_state(kind: Kind, original: Signed, reruns: Iterable[Rerun], keyring: Keyring, *,
                 original_problems: Sequence[str] = ()) -> LadderState:
    """The state `original` reaches from `reruns`. `original_problems`: why the original itself
    failed verification (then it is Rejected whatever its reproductions say)."""
    operator_of_original = keyring.by_key(original.signer)
    counted: set[tuple[str, str | None]] = set()
    judged = tuple(_judge(original, operator_of_original, r, keyring, counted) for r in reruns)
    confidence = _confidence([j for j in judged if j.counts]) if kind == "speed" else None

    def state(name: str, *reasons: str) -> LadderState:
        return LadderState(kind, name, reasons, judged, confidence)

    if original_problems:
        return state(REJECTED, *(f"the original failed verification: {p}"
                                 for p in original_problems))
    if original.signature_problem:
        return state(REJECTED, f"the original's signature is invalid: "
                     f"{original.signature_problem}")
    good = [j for j in judged if j.counts]
    operators = sorted({str(j.operator) for j in good})
    if kind == "quality":
        if operator_of_original is not None:
            return state(FIRST_PARTY, f"signed by operator {operator_of_original.handle}")
        if good:
            return state(VERIFIED, f"re-run within tolerance on an operator's own rig by "
                         f"{', '.join(operators)}")
    elif len(operators) >= 2:
        return state(INDEPENDENT, f"reproduced by {len(operators)} operators "
                     f"({', '.join(operators)}), the submitter not among them")
    elif good:
        return state(REPRODUCED, f"reproduced by {operators[0]}; independently reproduced "
                     "needs a second operator")
    # operators' re-runs that were judged on their figures or dimensions, none within
    eligible = [j for j in judged if j.eligible]
    if eligible and all(j.rerun.verdict in OUTSIDE for j in eligible):
        return state(REJECTED, *(f"{j.operator}'s re-run landed outside tolerance"
                                 + (f": {j.rerun.summary}" if j.rerun.summary else "")
                                 for j in eligible))
    if eligible and all(j.rerun.verdict in RELATED for j in eligible):
        return state(RELATED_STATE, "every operator's re-run matched three of four dimensions: "
                     "a related benchmark, submitted as a new row")
    base = COMMUNITY if kind == "quality" else SUBMITTED
    return state(base, "no reproduction counts yet" if judged else "no reproductions given")
