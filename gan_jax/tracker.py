"""Statistics a part of the game keeps across steps, in TrainState.extras[name]: ADA's p and its
r_t accumulator, LeCam's moving averages of D's outputs. They are part of the checkpoints, so a
resumed run continues with the same values, bitwise.

A tracker is updated once per train step, after the D updates, from D's scores on the reals and
on the fakes of each D update of the step (lists of n_critic arrays, gradients stopped):
  init() -> value                                         its initial value (a pytree of arrays)
  update(value, real_scores, fake_scores, step) -> (value, metrics)   step: state.step before it
"""

from typing import Callable, NamedTuple


class Tracker(NamedTuple):
  name: str  # Its key in TrainState.extras.
  init: Callable
  update: Callable
