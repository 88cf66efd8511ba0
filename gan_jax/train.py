"""train_and_evaluate(config, workdir): the one training loop, for every game (gan_jax/games).

Builds the mesh and the game (its data, networks and periodic work), creates or restores the
state (the latest checkpoint in the workdir, with the data iterator's position), then runs the
jitted step, reporting every `log_every` steps, checkpointing every `checkpoint_every` steps and
at the end, and running the game's periodic work (sample grids, evaluations, held-out errors)
after the checkpoint of its step; a failed piece of periodic work is logged and training goes
on. Metrics are fetched from the device only when they are reported; the next batch is read and
put on the devices while the current step runs. With steps_per_call K, one dispatch runs K steps
(lax.scan) and the loop advances K steps at a time. The loop's pieces are gan_jax/loop.py.
"""

import os

import jax
import ml_collections
import numpy as np
from absl import logging

from gan_jax import configuration
from gan_jax import divergence
from gan_jax import games
from gan_jax import loop
from gan_jax import preemption
from gan_jax import reporting
from gan_jax import runs
from gan_jax import sharding
from gan_jax import workdir_lock
from gan_jax.games import base


def train_and_evaluate(config, workdir: str):
  """Trains (or resumes training) to config.total_steps; returns the final state.

  Before anything compiles: the config is validated for the mesh, the workdir and everything the
  run writes there is checked to be writable, the workdir is locked against a second run, and a
  workdir with checkpoints must have been trained with a config that agrees on every key that
  defines the run (gan_jax/runs.py).

  Divergence (gan_jax/divergence.py) stops the run, or with config.on_nonfinite='rollback'
  restarts it from the last checkpoint (all of whose values were finite) with the learning rates
  times config.rollback_lr_factor, at most config.max_rollbacks times. The rollbacks are logged
  and kept in WORKDIR/rollbacks.json, whose learning-rate scale a resumed run applies too.
  """
  mesh = sharding.make_mesh()
  configuration.validate(config, num_data_shards=mesh.devices.size)
  is_main = jax.process_index() == 0
  runs.prepare(workdir, is_main)
  with workdir_lock.Lock(workdir, enabled=is_main):
    changed = runs.check_resume(workdir, config)
    rollbacks = runs.read_rollbacks(workdir)
    while True:
      scale = float(np.prod([r['lr_factor'] for r in rollbacks]))
      segment = loop.Segment(mesh, config, scale, changed)
      changed = {}  # A rollback's restart changes only the learning-rate scale.
      try:
        return train_segment(_scale_learning_rates(config, scale), workdir, segment)
      except divergence.DivergenceError as e:
        restart_step = e.last_checkpoint
        if (config.on_nonfinite != 'rollback' or restart_step is None
            or len(rollbacks) >= config.max_rollbacks):
          raise
        rollbacks.append({'diverged': str(e), 'restart_step': restart_step,
                          'lr_factor': config.rollback_lr_factor})
        logging.warning('%s\nRollback %d of at most %d: restarting from step %d with the '
                        'learning rates times %g.', e, len(rollbacks), config.max_rollbacks,
                        restart_step, scale * config.rollback_lr_factor)
        if is_main:
          runs.write_json(os.path.join(workdir, runs.ROLLBACKS), rollbacks)


def _scale_learning_rates(config, scale: float):
  if scale == 1.0:
    return config
  config = ml_collections.ConfigDict(config.to_dict())
  for key in ('g_optimizer', 'd_optimizer'):
    config[key].learning_rate = config[key].learning_rate * scale
  return config


def train_segment(config, workdir: str, segment: loop.Segment) -> base.TrainState:
  """One segment of training (to the end, a stop request or divergence) of any game."""
  mesh, is_main = segment.mesh, segment.is_main
  game = games.make_game(config)
  steps_per_call = config.steps_per_call
  state, checkpointer = loop.create_or_restore(
      game.init, config, workdir, segment, game.data,
      batch_bytes=game.batch_bytes * steps_per_call // mesh.devices.size, **game.run_info)
  start_step = int(state.step)
  if start_step % steps_per_call:
    raise configuration.ConfigError(
        f'config.steps_per_call={steps_per_call} does not divide the step {start_step} of the '
        f'checkpoint in {checkpointer.directory}; resume with a steps_per_call that divides it.')
  state_sharding = jax.tree.map(lambda x: x.sharding, state)
  jit = lambda fn: sharding.jit_train_step(fn, mesh, steps_per_call, state_sharding)
  batch_sharding = sharding.batch_sharding(mesh, steps_per_call)

  def next_batch():
    """The next call's batch on the devices: [steps_per_call, B, ...] (no leading axis for 1)."""
    batches = [next(game.data) for _ in range(steps_per_call)]
    batch = batches[0] if steps_per_call == 1 else jax.tree.map(lambda *b: np.stack(b), *batches)
    return sharding.global_batch(batch, batch_sharding)

  reporter = reporting.Reporter(workdir, config.total_steps,
                                images_per_step=game.examples_per_step, start_step=start_step,
                                enabled=is_main)
  periodic_work = game.periodic(reporter)  # Loads feature networks, references: before compiling.
  logging.info('Training %s from step %d to %d on %d device(s).', game.description, start_step,
               config.total_steps, mesh.devices.size)
  batch, run_step = None, None
  if start_step < config.total_steps:
    batch = next_batch()
    run_step = _compiled_steps(game, jit, steps_per_call, start_step, state, batch)
  with preemption.StopRequest() as stop, loop.closing(checkpointer, reporter):
    for step in range(start_step + steps_per_call, config.total_steps + 1, steps_per_call):
      state, metrics = run_step(step - steps_per_call, state, batch)  # Dispatched asynchronously.
      is_last = step == config.total_steps
      stopping = stop.requested(step)  # SIGTERM / SIGINT: checkpoint this step and return.
      saving = step % config.checkpoint_every == 0 or is_last or stopping
      loop.report_and_check(config, step, state, metrics, reporter, checkpointer, is_last, saving)
      if saving:  # The iterator is at the consumed batches.
        checkpointer.save(step, state, game.data)
      if stopping:
        loop.finish_stop(checkpointer, step)
        break
      for work in periodic_work:
        if step % work.every == 0 or is_last:
          loop.periodic(reporter, step, work.name, lambda work=work: work.work(step, state))
      if not is_last:  # Reading and transferring the next batch overlaps the running step.
        batch = next_batch()

  return state


def _compiled_steps(game: base.Game, jit, steps_per_call: int, start_step: int, state, batch):
  """run_step(step, state, batch): the game's step compiled (and its memory plan checked) before
  the loop; for a phased game (lazy terms) one program per phase, called by the step number."""
  if game.phased is None or steps_per_call > 1:
    step_fn = game.train_step if steps_per_call == 1 else base.scan_steps(game.train_step)
    compiled = loop.compile_step(jit(step_fn), state, batch)
    return lambda step, state, batch: compiled(state, batch)
  phase_of = game.phased.phase_of
  phases = {phase_of(s) for s in range(start_step, start_step + game.phased.period)}
  compiled = {p: loop.compile_step(jit(game.phased.step_for(p)), state, batch) for p in phases}
  logging.info('Compiled %d programs of the step, one per phase of its lazy terms.', len(phases))
  return lambda step, state, batch: compiled[phase_of(step)](state, batch)
