"""Games by name (config.task): each builds the trainer's `Game` from a config."""

from gan_jax.games import gan_game
from gan_jax.games import translation_game

GAMES = {'gan': gan_game.make_game, 'pix2pix': translation_game.make_game,
         'cyclegan': translation_game.make_game}


def make_game(config):
  """The Game of a validated config (loads its data, builds its networks)."""
  return GAMES[config.task](config)
