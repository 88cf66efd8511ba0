"""Data: sources chosen by name (sources.py) and the Grain pipeline (pipeline.py)."""

from gan_jax.data.pipeline import DataPipeline, fit_to_size, make_pipeline
from gan_jax.data.sources import DatasetError, MIXTURES, load_source

__all__ = ['DataPipeline', 'DatasetError', 'MIXTURES', 'fit_to_size', 'load_source',
           'make_pipeline']
