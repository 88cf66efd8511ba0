"""gan_jax: Generative Adversarial Networks in JAX/Flax with one functional, sharded train step."""

__version__ = '0.1.0'
