"""Evaluation protocols by name: what a published number fixes besides the formula.

A FID is comparable with a paper's only when the sample count, the reference images, the feature
network and the preprocessing are the paper's (Parmar et al. 2022: one StyleGAN2 model scores
2.98 with PIL's antialiased bicubic resize and 9.16-9.81 with TF's, OpenCV's or PyTorch's
bicubic). Each protocol fixes all four, and is printed and stored with every number it gives:

  name          metric                   generated   reference (at most)    as in
  fid50k_full   FID                      50,000      every image            StyleGAN2-ADA
  kid50k_full   KID, 100 subsets of 1k   50,000      1,000,000              StyleGAN2-ADA
  pr50k3_full   precision/recall, k = 3  50,000      200,000                StyleGAN2-ADA (*)
  is50k         Inception Score, 10      50,000      -                      StyleGAN2-ADA, and
                splits, logits without                                      Salimans et al.
                the output bias
  fid50k / kid50k / pr50k3               50,000      50,000                 StyleGAN2-ADA
  fid10k_full   FID (for monitoring)     10,000      every image
  fid10k        FID (for monitoring)     10,000      10,000

All on InceptionV3 (the FID weights) with `legacy_tensorflow` preprocessing: uint8 images, TF1's
bilinear resize to 299, (x - 128) / 128, which is what StyleGAN's and TTUR's metrics do.
(*) StyleGAN computes precision/recall on VGG16 features, which gan_jax does not have: its
pr50k3 use InceptionV3's pool3 features, so only their counts and k are StyleGAN's, and their
protocol line says so. The reference is the first images of the split in a seeded order;
'every image' (`_full`) makes the choice irrelevant.
"""

import dataclasses

from gan_jax.evaluation import resize

INCEPTION = 'inception_v3'  # The weights-file kind every protocol's feature network must have.
STYLEGAN = 'StyleGAN2-ADA metrics (Karras et al. 2020)'
VGG_CAVEAT = ('features: InceptionV3 pool3, not the VGG16 of StyleGAN\'s pr50k3 (gan_jax has no '
              'VGG16), so not comparable with StyleGAN\'s published precision/recall')


@dataclasses.dataclass(frozen=True)
class Protocol:
  name: str
  metric: str  # The evaluator's metric it computes: 'fid', 'kid', 'pr' or 'is'.
  num_samples: int
  num_reference: int | None  # The most reference images; None: every image ('full').
  source: str
  preprocessing: str = 'legacy_tensorflow'
  note: str = ''  # What makes it differ from its source, printed with the number.

  @property
  def uses_reference(self) -> bool:
    return self.metric != 'is'

  def value_names(self) -> tuple[str, ...]:
    """The names its numbers are reported under."""
    return {'fid': (self.name,), 'kid': (self.name, f'{self.name}_std'),
            'is': (self.name, f'{self.name}_std'),
            'pr': (f'{self.name}_precision', f'{self.name}_recall')}[self.metric]

  def describe(self, reference: str, preprocessing: str) -> str:
    """The protocol line: counts, reference, network, preprocessing, source."""
    what = {'fid': 'FID', 'kid': 'KID, 100 subsets of 1,000', 'is': 'IS, 10 splits, logits '
            'without the output bias', 'pr': 'precision/recall, k = 3'}[self.metric]
    against = f' vs {reference}' if self.uses_reference else ''
    mode = (preprocessing if preprocessing == self.preprocessing else
            f'{preprocessing} (the protocol\'s own is {self.preprocessing}: not comparable with '
            'numbers made with it)')
    parts = [f'{self.name}: {what}; {self.num_samples:,} generated{against}',
             f'InceptionV3 ({resize.DESCRIPTIONS[preprocessing]})', f'preprocessing {mode}',
             f'as {self.source}'] + ([self.note] if self.note else [])
    return '; '.join(parts)


def _protocols() -> dict[str, Protocol]:
  listed = [
      Protocol('fid50k_full', 'fid', 50_000, None, STYLEGAN),
      Protocol('kid50k_full', 'kid', 50_000, 1_000_000, STYLEGAN),
      Protocol('pr50k3_full', 'pr', 50_000, 200_000, STYLEGAN, note=VGG_CAVEAT),
      Protocol('is50k', 'is', 50_000, None, f'{STYLEGAN} and Salimans et al. 2016'),
      Protocol('fid50k', 'fid', 50_000, 50_000, STYLEGAN),
      Protocol('kid50k', 'kid', 50_000, 50_000, STYLEGAN),
      Protocol('pr50k3', 'pr', 50_000, 50_000, STYLEGAN, note=VGG_CAVEAT),
      Protocol('fid10k_full', 'fid', 10_000, None, 'a short fid50k_full for monitoring'),
      Protocol('fid10k', 'fid', 10_000, 10_000, 'a short fid50k for monitoring'),
  ]
  return {p.name: p for p in listed}


PROTOCOLS = _protocols()


def get(name: str) -> Protocol:
  """The protocol of that name; ValueError listing the known ones."""
  if name not in PROTOCOLS:
    raise ValueError(f'Unknown protocol {name!r}; choose from {list(PROTOCOLS)}.')
  return PROTOCOLS[name]


def reference_count(protocols, available: int) -> int | None:
  """How many reference images the protocols need together: the largest cap (every image for a
  `_full` one), at most `available`; None when none uses a reference."""
  caps = [available if p.num_reference is None else min(p.num_reference, available)
          for p in protocols if p.uses_reference]
  return max(caps) if caps else None
