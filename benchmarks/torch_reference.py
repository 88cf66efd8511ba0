"""PyTorch reference of gan_jax's train step, for benchmarks/speed.py: the same architectures,
initialisation, loss, optimizers, EMA and batch, written as an experienced PyTorch user would.

One step = one D update on a real batch and G(z1) (no autograd graph through G), then one G update
on fresh z2 with D's parameters frozen (no wasted D weight gradients), Adam for both players, and
the EMA of G's parameters, min(decay, (1 + t) / (10 + t)), with torch._foreach ops. Batch norm
matches flax (momentum 0.9 = torch 0.1, eps 1e-5). The first D layer and G's last layer have
biases, the others feed batch norm and have none, as in gan_jax/models/dcgan.py.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from gan_jax.models.dcgan import spatial_plan  # (base, n): size = base * 2**n, as in gan_jax.


def _init_dcgan(module: nn.Module) -> None:
  """N(0, 0.02) weights, zero biases, batch-norm scales N(1, 0.02) (Radford et al. 2016)."""
  for m in module.modules():
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
      nn.init.normal_(m.weight, 0.0, 0.02)
      if m.bias is not None:
        nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
      nn.init.normal_(m.weight, 1.0, 0.02)
      nn.init.zeros_(m.bias)


class DCGANGenerator(nn.Module):

  def __init__(self, image_size: int, channels: int, latent_dim: int = 100, width: int = 64):
    super().__init__()
    base, n = spatial_plan(image_size)
    features = width * 2**(n - 1)
    self.base, self.features = base, features
    self.project = nn.Linear(latent_dim, base * base * features, bias=False)
    layers = [nn.BatchNorm2d(features, momentum=0.1, eps=1e-5), nn.ReLU()]
    for i in range(n - 1):
      out = features // 2**(i + 1)
      layers += [nn.ConvTranspose2d(out * 2, out, 4, 2, 1, bias=False),
                 nn.BatchNorm2d(out, momentum=0.1, eps=1e-5), nn.ReLU()]
    layers += [nn.ConvTranspose2d(features // 2**(n - 1), channels, 4, 2, 1), nn.Tanh()]
    self.body = nn.Sequential(*layers)
    _init_dcgan(self)

  def forward(self, z):
    x = self.project(z).view(z.shape[0], self.features, self.base, self.base)
    return self.body(x)


class DCGANDiscriminator(nn.Module):

  def __init__(self, image_size: int, channels: int, width: int = 64):
    super().__init__()
    base, n = spatial_plan(image_size)
    layers, cin = [], channels
    for i in range(n):
      cout = width * 2**i
      layers.append(nn.Conv2d(cin, cout, 4, 2, 1, bias=(i == 0)))
      if i > 0:
        layers.append(nn.BatchNorm2d(cout, momentum=0.1, eps=1e-5))
      layers.append(nn.LeakyReLU(0.2))
      cin = cout
    self.body = nn.Sequential(*layers)
    self.score = nn.Linear(cin * base * base, 1)
    _init_dcgan(self)

  def forward(self, x):
    return self.score(self.body(x).flatten(1))[:, 0]


class MLPGenerator(nn.Module):
  """The toy GAN's G (configs/gan_toy2d.py): ReLU MLP, no batch norm, linear output."""

  def __init__(self, latent_dim=2, hidden=(400, 400, 400, 400), out=2):
    super().__init__()
    layers, d = [], latent_dim
    for h in hidden:
      layers += [nn.Linear(d, h), nn.ReLU()]
      d = h
    layers.append(nn.Linear(d, out))
    self.body = nn.Sequential(*layers)

  def forward(self, z):
    return self.body(z)


class MLPDiscriminator(nn.Module):

  def __init__(self, hidden=(200, 200, 200), inp=2):
    super().__init__()
    layers, d = [], inp
    for h in hidden:
      layers += [nn.Linear(d, h), nn.LeakyReLU(0.2)]
      d = h
    layers.append(nn.Linear(d, 1))
    self.body = nn.Sequential(*layers)

  def forward(self, x):
    return self.body(x)[:, 0]


class ReferenceGAN:
  """Non-saturating GAN step (Goodfellow et al. 2014) with Adam and an EMA of G."""

  def __init__(self, generator, discriminator, latent_dim, lr=2e-4, b1=0.5, b2=0.999,
               ema_decay=0.999, channels_last=False):
    self.g, self.d, self.latent_dim = generator, discriminator, latent_dim
    self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
    if channels_last:
      self.g.to(memory_format=torch.channels_last)
      self.d.to(memory_format=torch.channels_last)
    self.g_opt = torch.optim.Adam(self.g.parameters(), lr=lr, betas=(b1, b2), eps=1e-8)
    self.d_opt = torch.optim.Adam(self.d.parameters(), lr=lr, betas=(b1, b2), eps=1e-8)
    self.ema = [p.detach().clone() for p in self.g.parameters()]
    self.ema_decay, self.t = ema_decay, 0

  def step(self, real: torch.Tensor) -> dict:
    batch = real.shape[0]
    if real.dim() == 4:
      real = real.contiguous(memory_format=self.memory_format)
    # D update: -E log D(x) - E log(1 - D(G(z1))).
    with torch.no_grad():
      fake = self.g(torch.randn(batch, self.latent_dim))
    d_loss = F.softplus(-self.d(real)).mean() + F.softplus(self.d(fake)).mean()
    self.d_opt.zero_grad(set_to_none=True)
    d_loss.backward()
    self.d_opt.step()
    # G update: -E log D(G(z2)), D frozen.
    self.d.requires_grad_(False)
    g_loss = F.softplus(-self.d(self.g(torch.randn(batch, self.latent_dim)))).mean()
    self.g_opt.zero_grad(set_to_none=True)
    g_loss.backward()
    self.g_opt.step()
    self.d.requires_grad_(True)
    # EMA of G's parameters with warm-up.
    decay = min(self.ema_decay, (1.0 + self.t) / (10.0 + self.t))
    with torch.no_grad():
      torch._foreach_lerp_(self.ema, [p.detach() for p in self.g.parameters()], 1.0 - decay)
    self.t += 1
    return {'d_loss': d_loss, 'g_loss': g_loss}


def dcgan(image_size: int, channels: int, latent_dim: int = 100, width: int = 64,
          channels_last: bool = False) -> ReferenceGAN:
  return ReferenceGAN(DCGANGenerator(image_size, channels, latent_dim, width),
                      DCGANDiscriminator(image_size, channels, width), latent_dim,
                      channels_last=channels_last)


def mlp_toy(latent_dim: int = 2) -> ReferenceGAN:
  return ReferenceGAN(MLPGenerator(latent_dim), MLPDiscriminator(), latent_dim, lr=1e-3)


def num_parameters(module: nn.Module) -> int:
  return sum(math.prod(p.shape) for p in module.parameters())
