"""The 考核 arithmetic (docs/metrics.md §11): the weighted mean over the known components, the
督办 deduction, the floor at 0, no composite without residents' 满意率 — and 督办 charged fairly."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

import pytest
from calls import LEAD_DEPARTMENT, STREET, build

from huying.domain.principal import SYSTEM
from huying.projections.ratings import charged_unit
from huying.queries.assessment import COMPONENTS, composite

WEIGHTS = (0.30, 0.25, 0.15, 0.15, 0.15)
F = Fraction


def parts(**known: Fraction | None) -> dict[str, Fraction | None]:
    return {c: known.get(c) for c in COMPONENTS}


def test_every_component_known_is_the_plain_weighted_sum() -> None:
    x = parts(satisfaction=F(4, 5), caller_rating=F(1, 2), response=F(9, 10), solve=F(3, 4), directives=F(1))
    expected = F(3, 10) * F(4, 5) + F(1, 4) * F(1, 2) + F(3, 20) * F(9, 10) + F(3, 20) * F(3, 4) + F(3, 20)
    assert composite(x, WEIGHTS, F(0)) == expected == F(61, 80)


def test_an_unknown_component_gives_its_weight_to_the_others_in_proportion() -> None:
    x = parts(satisfaction=F(1), caller_rating=F(0), response=F(1), solve=F(1))  # no directives
    assert composite(x, WEIGHTS, F(0)) == (F(3, 10) + F(3, 20) + F(3, 20)) / F(17, 20) == F(12, 17)


def test_the_deduction_is_taken_off_and_the_composite_never_goes_below_zero() -> None:
    x = parts(satisfaction=F(1, 2), caller_rating=F(1, 2))
    assert composite(x, WEIGHTS, F(3, 100)) == F(1, 2) - F(3, 100)
    assert composite(x, WEIGHTS, F(1)) == 0


def test_no_composite_without_the_residents_word_nor_with_only_weightless_components() -> None:
    assert composite(parts(caller_rating=F(1), response=F(1)), WEIGHTS, F(0)) is None
    assert composite(parts(satisfaction=F(1)), (0.0, 0.25, 0.25, 0.25, 0.25), F(0)) is None


@pytest.mark.parametrize("weights", [(0.5, 0.5, 0.5, 0.0, 0.0), (1.2, -0.2, 0.0, 0.0, 0.0), (0.2,) * 4])
def test_assessment_weights_must_be_five_non_negative_summing_to_one(weights: tuple[float, ...]) -> None:
    from pydantic import ValidationError

    from huying.settings import Settings

    with pytest.raises(ValidationError, match="assessment_weights"):
        Settings(assessment_weights=weights)


def test_a_flag_on_the_streets_resolution_clock_while_an_order_is_overdue_is_the_departments() -> None:
    story = build("signed")
    story.call.chain[-1].resolution_due = story.now + timedelta(days=1)  # a clock to miss
    deadline = story.call.work_orders[story.lead or ""].deadline
    at = deadline + timedelta(hours=1)
    story.call.supervise(story.cmd(SYSTEM, later=at - story.now), "街道办结超时", clock="stint2:resolution")
    flag = story.call.supervisions[-1]
    assert (flag.unit, flag.overdue_orders[0]) == (STREET, story.lead)
    assert charged_unit(story.call, flag) == LEAD_DEPARTMENT


def test_a_flag_on_the_street_with_no_order_overdue_or_on_another_clock_stays_the_streets() -> None:
    story = build("signed")
    story.call.chain[-1].resolution_due = story.now + timedelta(minutes=30)
    story.call.supervise(story.cmd(SYSTEM), "街道办结超时", clock="stint2:resolution")  # orders not late
    story.call.supervise(story.cmd("supervisor", later=timedelta(days=30)), "统筹不力")  # no clock
    first, second = story.call.supervisions
    assert first.overdue_orders == () and second.overdue_orders != ()
    assert [charged_unit(story.call, f) for f in (first, second)] == [STREET, STREET]
