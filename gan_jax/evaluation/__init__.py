"""Measurements of what a GAN learned."""

# Each registers the loader of its kind of weights file with features.load_extractor. Not
# inception.py (the converter): `python -m` runs it, and its package must not import it first.
from gan_jax.evaluation import classifier, inception_net  # noqa: F401
