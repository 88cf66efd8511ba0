"""Non-finite values stop the run at the next check, naming the step and the player, without
writing a checkpoint of them; the earlier checkpoints stay."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import divergence
from gan_jax import runs
from gan_jax import train
from gan_jax.games import base
from gan_jax.games import gan_step
from tests.helpers import load_config, small


def _poison_steps(monkeypatch):
  """The real step, then D's parameters become NaN from step 5 on while D's learning rate is above
  1.5e-4 (a run that diverges at the config's 2e-4 and not at half of it)."""
  make_train_step = gan_step.make_train_step

  def poisoned(gan):
    train_step = make_train_step(gan)
    diverges = gan.config.d_optimizer.learning_rate > 1.5e-4

    def step(state, batch):
      state, metrics = train_step(state, batch)
      poison = (state.step >= 5) & diverges
      d_params = jax.tree.map(lambda x: jnp.where(poison, jnp.nan, x),
                              state.params('discriminator'))
      return state.with_player('discriminator', params=d_params), metrics

    return step

  monkeypatch.setattr(gan_step, 'make_train_step', poisoned)


def _config(**overrides):
  return small(load_config('dcgan.py'), total_steps=10, log_every=2, checkpoint_every=4,
               sample_every=100, **overrides)


def test_nan_in_a_player_stops_the_run_and_keeps_the_good_checkpoints(tmp_path, monkeypatch):
  _poison_steps(monkeypatch)
  config = _config()
  with pytest.raises(divergence.DivergenceError) as info:
    train.train_and_evaluate(config, str(tmp_path))
  message = str(info.value)
  assert 'step 6 in the parameters of discriminator' in message
  assert 'last checkpoint, step 4, was finite and is kept' in message
  assert sorted(os.listdir(tmp_path / 'checkpoints')) == ['4']
  steps = [json.loads(line)['step'] for line in open(tmp_path / 'metrics.jsonl')]
  assert steps == [2, 4, 6]  # The diverged step's losses are logged too.


def test_translation_players_are_named():
  ok, bad = {'w': jnp.ones(3)}, {'w': jnp.array([1.0, jnp.inf])}
  player = lambda params: base.Player(params=params, batch_stats={}, opt_state={})
  state = base.TrainState(
      step=jnp.zeros((), jnp.int32),
      players={'g_ab': player(ok), 'g_ba': player(ok), 'd_a': player(ok), 'd_b': player(bad)},
      extras={})
  divergence.check(state.with_player('d_b', params=ok), {'g_loss': 1.0}, 3, None)
  with pytest.raises(divergence.DivergenceError, match=r'step 3 in the parameters of d_b and the '
                     r'metrics g_loss .*no checkpoint was written'):
    divergence.check(state, {'g_loss': np.nan, 'd_a_loss': 0.5}, 3, None)


def test_rollback_restarts_from_the_last_checkpoint_with_lower_learning_rates(tmp_path,
                                                                             monkeypatch):
  _poison_steps(monkeypatch)
  state = train.train_and_evaluate(_config(on_nonfinite='rollback'), str(tmp_path))
  assert int(state.step) == 10
  assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(jax.device_get(state)))
  rollbacks = json.load(open(tmp_path / runs.ROLLBACKS))
  assert len(rollbacks) == 1 and rollbacks[0]['restart_step'] == 4
  assert rollbacks[0]['lr_factor'] == 0.5 and 'discriminator' in rollbacks[0]['diverged']
  assert sorted(os.listdir(tmp_path / 'checkpoints')) == ['10', '4', '8']


def test_rollbacks_are_limited(tmp_path, monkeypatch):
  _poison_steps(monkeypatch)
  config = _config(on_nonfinite='rollback', max_rollbacks=0)
  with pytest.raises(divergence.DivergenceError):
    train.train_and_evaluate(config, str(tmp_path))
  assert not os.path.exists(tmp_path / runs.ROLLBACKS)
