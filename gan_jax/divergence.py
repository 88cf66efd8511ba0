"""Divergence: non-finite losses or parameters stop the run, naming the step and the player.

The check runs where the trainer reads metrics from the devices anyway (every log_every steps)
and before every checkpoint, so a checkpoint never holds NaN or inf and there is no host sync on
the other steps. Once a parameter is non-finite it stays so, so a check finds it at most
log_every steps after it appeared.
"""

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import errors


DivergenceError = errors.DivergenceError


@jax.jit
def _finite_by_player(state) -> dict:
  """For each player of a TrainState (any game), whether all its parameters are finite."""
  return {name: jnp.all(jnp.array([jnp.all(jnp.isfinite(x))
                                   for x in jax.tree.leaves(player.params)]))
          for name, player in state.players.items()}


def check(state, metrics: dict, step: int, last_checkpoint) -> None:
  """Raises DivergenceError when a player's parameters or a metric (host floats) are not finite."""
  players = sorted(name for name, ok in jax.device_get(_finite_by_player(state)).items() if not ok)
  bad_metrics = sorted(k for k, v in metrics.items() if not np.isfinite(v))
  if not players and not bad_metrics:
    return
  where = []
  if players:
    where.append(f'the parameters of {", ".join(players)}')
  if bad_metrics:
    where.append(f'the metrics {", ".join(bad_metrics)}')
  resume = (f'the last checkpoint, step {last_checkpoint}, was finite and is kept'
            if last_checkpoint is not None else 'no checkpoint was written')
  raise DivergenceError(
      f'Training diverged: non-finite values at step {step} in {" and ".join(where)} (finite at '
      f'the previous check, at most log_every steps before); {resume}. Lower the learning rates '
      '(config.g_optimizer / d_optimizer), add a gradient penalty, or check the data; rerunning '
      'resumes from the last checkpoint.', last_checkpoint)
