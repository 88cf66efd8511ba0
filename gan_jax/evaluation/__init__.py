"""Measurements of what a GAN learned."""
