"""What every game shares: the train state layout, optimizers, and the interface the trainer uses.

The state is one plain pytree for every game: the step, the players by name (each its parameters,
batch-norm statistics and optimizer state) and what the game keeps besides (`extras`: the EMA of
G's parameters, CycleGAN's history pools, later ADA's p). No PRNG key is stored: step t's
randomness is gan_jax.streams.step_key(seed, t), so a restored state continues the same streams.

A game (gan_game.py, translation_game.py) hands the trainer a `Game`: how to make its state,
its step (a plain function a notebook can call), its data and how many records a step reads,
and its periodic work (sample grids, evaluations, held-out errors). One loop (gan_jax/train.py)
drives every game.
"""

import dataclasses
from typing import Any, Callable, Hashable

import flax
import jax
import optax

PyTree = Any


@flax.struct.dataclass
class Player:
  params: PyTree
  batch_stats: PyTree  # {} when the network has no batch norm.
  opt_state: PyTree


@flax.struct.dataclass
class TrainState:
  step: jax.Array  # int32 scalar: generator updates done.
  players: dict  # name -> Player.
  extras: dict  # What the game keeps besides its players ({} when nothing).

  def params(self, name: str) -> PyTree:
    return self.players[name].params

  def with_player(self, name: str, **changes) -> 'TrainState':
    return self.replace(players={**self.players, name: self.players[name].replace(**changes)})


def new_player(variables: dict, tx: optax.GradientTransformation) -> Player:
  """A player from its Flax variables, with a fresh optimizer state."""
  return Player(params=variables['params'], batch_stats=variables.get('batch_stats', {}),
                opt_state=tx.init(variables['params']))


def apply_gradients(player: Player, grads, tx: optax.GradientTransformation,
                    batch_stats=None) -> Player:
  """The player after one optimizer update (and its new batch statistics, when given)."""
  updates, opt_state = tx.update(grads, player.opt_state, player.params)
  return player.replace(params=optax.apply_updates(player.params, updates), opt_state=opt_state,
                        batch_stats=player.batch_stats if batch_stats is None else batch_stats)


def make_optimizer(spec, schedule: str, num_updates: int) -> optax.GradientTransformation:
  """optax.<name>(**kwargs) from a config entry such as {name: 'adam', learning_rate: 2e-4};
  schedule 'linear_decay' lowers the learning rate linearly to 0 over num_updates updates,
  'constant_then_linear_decay' keeps it for the first half of them, then lowers it linearly to 0
  (CycleGAN's and pix2pix's n_epochs + n_epochs_decay)."""
  spec = dict(spec)
  if schedule == 'linear_decay':
    spec['learning_rate'] = optax.linear_schedule(spec['learning_rate'], 0.0, num_updates)
  elif schedule == 'constant_then_linear_decay':
    half = num_updates // 2
    spec['learning_rate'] = optax.linear_schedule(spec['learning_rate'], 0.0,
                                                  num_updates - half, transition_begin=half)
  return getattr(optax, spec.pop('name'))(**spec)


def apply_module(module, player: Player, x, *args, train: bool, rngs=None, params=None):
  """A player's network on x; returns (output, new batch stats). train=True: batch statistics of
  the batch (updated), the given random streams (noise inputs, dropout)."""
  variables = {'params': player.params if params is None else params,
               'batch_stats': player.batch_stats}
  if not train:
    return module.apply(variables, x, *args, train=False, rngs=rngs or {}), player.batch_stats
  out, updates = module.apply(variables, x, *args, train=True, mutable=['batch_stats'],
                              rngs=rngs or {})
  return out, updates.get('batch_stats', {})


@dataclasses.dataclass(frozen=True)
class PhasedSteps:
  """A step whose work depends on the step number (lazy regularisation) as one program per phase:
  phase_of(step) (state.step before the step) names its phase, step_for(phase) is the train step
  of that phase; the phases repeat every `period` steps. The trainer compiles each and calls the
  one of each step (with steps_per_call > 1 it scans Game.train_step, which decides at run time)."""
  period: int
  phase_of: Callable[[int], Hashable]
  step_for: Callable[[Hashable], Callable]


@dataclasses.dataclass(frozen=True)
class Game:
  """What the trainer needs of a game, built from a config (gan_game.make_game,
  translation_game.make_game): everything but the loop."""
  init: Callable  # key -> TrainState.
  train_step: Callable  # (state, batch) -> (state, metrics), not jitted.
  data: Any  # An iterator of this process's plain host batches (a Grain iterator: checkpointed).
  examples_per_step: int  # Records one step reads (all processes).
  batch_bytes: int  # Bytes of one step's batch on the devices (all of them).
  run_info: dict  # Shapes recorded in WORKDIR/run_info.json (what gan_jax.sample rebuilds from).
  periodic: Callable  # reporter -> [PeriodicWork]; built before the step compiles.
  description: str  # For the log line, e.g. 'dcgan / non_saturating'.
  phased: PhasedSteps | None = None  # Per-phase programs of train_step (lazy terms), if any.


@dataclasses.dataclass(frozen=True)
class PeriodicWork:
  """Work the trainer runs after the checkpoint of every `every`-th step and the last one (a
  failure is logged and recorded, and training goes on): work(step, state)."""
  name: str
  every: int
  work: Callable[[int, TrainState], None]



def scan_steps(train_step: Callable) -> Callable:
  """Several steps in one call: (state, batches [K, ...]) -> (state, the last step's metrics).

  A lax.scan over the leading axis of the batches; equal to K calls of train_step. It saves K - 1
  dispatches per call, which helps small models on accelerators; on CPU, XLA runs convolutions
  inside the loop many times slower (benchmarks/RESULTS.md), so keep steps_per_call = 1 there."""

  def multi_step(state, batches):
    state, metrics = jax.lax.scan(train_step, state, batches)
    return state, jax.tree.map(lambda m: m[-1], metrics)

  return multi_step
