"""The math of every loss term: GAN objectives, penalties and task losses, as pure functions.

Conventions: D outputs an unbounded score ("logit") per sample; for the cross-entropy losses
D(x) = sigmoid(logit). Every loss here is *minimised* by its player. `log D` is computed as
-softplus(-logit) and `log(1 - D)` as -softplus(logit), which is exact and never overflows.
An Objective's G loss sees the real scores too, so relativistic losses (RpGAN, RaGAN) fit.
"""

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax


def _bce_real(logits, target=1.0):
  """Cross-entropy of logits against a (possibly smoothed) real target t:
  -[t log D + (1 - t) log(1 - D)]."""
  return target * jax.nn.softplus(-logits) + (1.0 - target) * jax.nn.softplus(logits)


def cross_entropy_d_loss(real_logits, fake_logits, label_smoothing=0.0):
  """D's loss in the 2014 GAN (Goodfellow et al., arXiv:1406.2661), shared by the minimax and the
  non-saturating games:  L_D = -E_x[log D(x)] - E_z[log(1 - D(G(z)))].

  One-sided label smoothing (Salimans et al. 2016, arXiv:1606.03498): the real target is
  1 - label_smoothing (e.g. 0.9); fake targets stay 0, since smoothing them rewards spurious modes.
  """
  return (jnp.mean(_bce_real(real_logits, 1.0 - label_smoothing))
          + jnp.mean(jax.nn.softplus(fake_logits)))


def minimax_g_loss(fake_logits):
  """Saturating G loss of the 2014 minimax game: L_G = E_z[log(1 - D(G(z)))] (G descends on it).

  Its gradient vanishes when D confidently rejects the fakes, i.e. early in training."""
  return -jnp.mean(jax.nn.softplus(fake_logits))


def non_saturating_g_loss(fake_logits):
  """Non-saturating G loss (Goodfellow et al. 2014, sec. 3): L_G = -E_z[log D(G(z))].

  Same fixed point as the minimax game, strong gradients when G is poor."""
  return jnp.mean(jax.nn.softplus(-fake_logits))


def wasserstein_d_loss(real_logits, fake_logits, label_smoothing=0.0):
  """WGAN critic (Arjovsky et al. 2017, arXiv:1701.07875): L_D = E_z[f(G(z))] - E_x[f(x)].

  -L_D estimates the earth mover's distance when f is 1-Lipschitz, enforced by weight clipping
  (config.weight_clip) or by the gradient penalty (wgan_gp_penalty)."""
  del label_smoothing
  return jnp.mean(fake_logits) - jnp.mean(real_logits)


def wasserstein_g_loss(fake_logits):
  """WGAN generator: L_G = -E_z[f(G(z))]."""
  return -jnp.mean(fake_logits)


def least_squares_d_loss(real_logits, fake_logits, label_smoothing=0.0):
  """LSGAN (Mao et al. 2017, arXiv:1611.04076) with a=0, b=1:
  L_D = 1/2 E_x[(D(x) - 1)^2] + 1/2 E_z[D(G(z))^2]."""
  del label_smoothing
  return 0.5 * squared_error(real_logits, 1.0) + 0.5 * squared_error(fake_logits, 0.0)


def least_squares_g_loss(fake_logits):
  """LSGAN generator with c=1: L_G = 1/2 E_z[(D(G(z)) - 1)^2]."""
  return 0.5 * squared_error(fake_logits, 1.0)


def squared_error(logits, target):
  """mean (p - t)^2: the least-squares term LS(p, t) of LSGAN (least_squares_*, with 1/2) and of
  CycleGAN (without); with t = D(T(x)) the consistency term ||D(x) - D(T(x))||^2 of CR (Zhang et
  al. 2020) and bCR (Zhao et al. 2021)."""
  return jnp.mean((logits - target)**2)


def hinge_d_loss(real_logits, fake_logits, label_smoothing=0.0):
  """Hinge loss (Lim & Ye 2017, arXiv:1705.02894; Miyato et al. 2018):
  L_D = E_x[max(0, 1 - D(x))] + E_z[max(0, 1 + D(G(z)))]."""
  del label_smoothing
  return jnp.mean(jax.nn.relu(1.0 - real_logits)) + jnp.mean(jax.nn.relu(1.0 + fake_logits))


def hinge_g_loss(fake_logits):
  """Hinge-loss generator: L_G = -E_z[D(G(z))]."""
  return -jnp.mean(fake_logits)


def rpgan_d_loss(real_logits, fake_logits, label_smoothing=0.0):
  """Relativistic pairing GAN, RpGAN (Jolicoeur-Martineau 2019, arXiv:1807.00734, RSGAN; with
  R1 + R2 the loss of Huang et al. 2024, arXiv:2501.05441): each real x_i is paired with the fake
  G(z_i) of the same batch position,  L_D = E_i[softplus(D(G(z_i)) - D(x_i))]
  = -E log sigmoid(D(x_i) - D(G(z_i)))."""
  del label_smoothing
  return jnp.mean(jax.nn.softplus(fake_logits - real_logits))


def rpgan_g_loss(real_logits, fake_logits):
  """RpGAN generator: L_G = E_i[softplus(D(x_i) - D(G(z_i)))], D's loss with the roles swapped."""
  return jnp.mean(jax.nn.softplus(real_logits - fake_logits))


def ragan_d_loss(real_logits, fake_logits, label_smoothing=0.0):
  """Relativistic average GAN, RaSGAN (Jolicoeur-Martineau 2019, eq. 11): each score relative to
  the mean score of the other kind,
    L_D = E_x[softplus(-(D(x) - E D(G(z))))] + E_z[softplus(D(G(z)) - E D(x))]."""
  del label_smoothing
  return (jnp.mean(jax.nn.softplus(jnp.mean(fake_logits) - real_logits))
          + jnp.mean(jax.nn.softplus(fake_logits - jnp.mean(real_logits))))


def ragan_g_loss(real_logits, fake_logits):
  """RaSGAN generator: L_G = E_z[softplus(-(D(G(z)) - E D(x)))] + E_x[softplus(D(x) - E D(G(z)))]."""
  return (jnp.mean(jax.nn.softplus(jnp.mean(real_logits) - fake_logits))
          + jnp.mean(jax.nn.softplus(real_logits - jnp.mean(fake_logits))))


def _of_fakes(g_loss: Callable) -> Callable:
  """A G loss of the fakes' scores alone as (real_logits, fake_logits) -> scalar."""
  return lambda real_logits, fake_logits: g_loss(fake_logits)


class Objective(NamedTuple):
  """An adversarial objective: both players' losses of D's scores on a real and a fake batch."""
  d_loss: Callable  # (real_logits, fake_logits, label_smoothing) -> scalar
  g_loss: Callable  # (real_logits, fake_logits) -> scalar
  supports_label_smoothing: bool
  relativistic: bool = False  # Whether G's loss needs D's scores on real data.


OBJECTIVES = {
    'minimax': Objective(cross_entropy_d_loss, _of_fakes(minimax_g_loss), True),
    'non_saturating': Objective(cross_entropy_d_loss, _of_fakes(non_saturating_g_loss), True),
    'wasserstein': Objective(wasserstein_d_loss, _of_fakes(wasserstein_g_loss), False),
    'least_squares': Objective(least_squares_d_loss, _of_fakes(least_squares_g_loss), False),
    'hinge': Objective(hinge_d_loss, _of_fakes(hinge_g_loss), False),
    'rpgan': Objective(rpgan_d_loss, rpgan_g_loss, False, relativistic=True),
    'ragan': Objective(ragan_d_loss, ragan_g_loss, False, relativistic=True),
}


def _per_sample_grad_norms(critic: Callable, x):
  """||grad_x f(x_i)||_2 for each sample; f must treat samples independently (no batch norm)."""
  grads = jax.grad(lambda inputs: jnp.sum(critic(inputs)))(x)
  return jnp.sqrt(jnp.sum(grads.reshape(x.shape[0], -1)**2, axis=1) + 1e-12)


def wgan_gp_penalty(critic: Callable, real, fake, key):
  """WGAN-GP gradient penalty (Gulrajani et al. 2017, arXiv:1704.00028):
  E_{x^}[(||grad f(x^)||_2 - 1)^2],  x^ = e x + (1 - e) G(z),  e ~ U[0, 1] per sample.

  The caller multiplies by its weight lambda (10 in the paper)."""
  eps = jax.random.uniform(key, (real.shape[0],) + (1,) * (real.ndim - 1), real.dtype)
  interpolates = eps * real + (1.0 - eps) * fake
  return jnp.mean((_per_sample_grad_norms(critic, interpolates) - 1.0)**2)


def r1_penalty(critic: Callable, real, fake=None, key=None):
  """R1 penalty (Mescheder et al. 2018, arXiv:1801.04406): 1/2 E_x[||grad D(x)||^2] on real data.

  The caller multiplies by its weight gamma, giving gamma/2 E||grad D||^2."""
  del fake, key
  return 0.5 * jnp.mean(_per_sample_grad_norms(critic, real)**2)


def r2_penalty(critic: Callable, real, fake, key=None):
  """R2 penalty (Mescheder et al. 2018; R3GAN's second regulariser): 1/2 E_z[||grad D(G(z))||^2]
  at the (stopped-gradient) fakes. The caller multiplies by gamma."""
  del real, key
  return 0.5 * jnp.mean(_per_sample_grad_norms(critic, fake)**2)


# (critic, real, fake, key) -> scalar, each multiplied by its weight by the caller
# (config.regularizers.NAME.weight, or config.gp_weight for config.gradient_penalty).
GRADIENT_PENALTIES = {'wgan_gp': wgan_gp_penalty, 'r1': r1_penalty, 'r2': r2_penalty}
# The penalties taken at the fakes: a conditional critic is penalised at the fakes' labels there
# (at the reals' for the others, WGAN-GP's interpolates included).
PENALISED_AT_FAKES = ('r2',)


def class_cross_entropy(class_logits, labels):
  """Mean cross-entropy of class logits [B, K] against integer labels [B]: AC-GAN's L_C (Odena et
  al. 2017) and the semi-supervised GAN's supervised loss (Salimans et al. 2016)."""
  return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(class_logits, labels))


def feature_matching(real_features, fake_features):
  """Feature matching (Salimans et al. 2016, sec. 3.1): ||E f(x) - E f(G(z))||^2 on D's last hidden
  features f, averaged over the features as in their code."""
  return jnp.mean((jnp.mean(real_features, 0) - jnp.mean(fake_features, 0))**2)


def lecam(real_logits, fake_logits, real_anchor, fake_anchor):
  """LeCam regulariser (Tseng et al. 2021): E[relu(D(x) - a_F)^2] + E[relu(a_R - D(G(z)))^2],
  a_R, a_F moving averages of D's mean outputs on reals and fakes (the hinge as in the paper's
  code: only outputs past the other side's anchor are pulled back)."""
  return (jnp.mean(jax.nn.relu(real_logits - fake_anchor)**2)
          + jnp.mean(jax.nn.relu(real_anchor - fake_logits)**2))


def l1(x, y):
  """Mean absolute error |x - y|_1 / n: pix2pix's reconstruction term, CycleGAN's cycle and
  identity terms."""
  return jnp.mean(jnp.abs(x - y))


def minimax_value(real_logits, fake_logits):
  """V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))]; equals 2 JSD(p_data || p_g) - log 4 at the
  optimal D*(x) = p_data(x) / (p_data(x) + p_g(x)) (Goodfellow et al. 2014, Theorem 1)."""
  return -cross_entropy_d_loss(real_logits, fake_logits)


def entropy(weights):
  """H(w) = -sum_k w_k log w_k of mixture weights."""
  return -jnp.sum(weights * jnp.log(weights + 1e-12))


def _pair_weights(d_weights, g_weights):
  return d_weights[:, None] * g_weights[None, :]


def mixture_d_loss(objective: Objective, real_logits, fake_logits, d_weights, g_weights,
                   label_smoothing=0.0, entropy_weight=0.1):
  """MIX+GAN (Arora et al. 2017, sec. 4): the payoff of two mixtures is the weighted sum of the
  payoffs of all pairs (G_i, D_j); each player adds an entropy regulariser on its own weights so
  that they do not collapse onto one component:

    L_D = sum_ij w^D_j w^G_i L_D(D_j; G_i) - lambda H(w^D),   lambda = entropy_weight.

  real_logits [Kd, B] (D_j on the reals), fake_logits [Kd, Kg, B] (D_j on G_i's samples)."""
  pair = jax.vmap(jax.vmap(objective.d_loss, (None, 0, None)), (0, 0, None))(
      real_logits, fake_logits, label_smoothing)  # [Kd, Kg]
  return (jnp.sum(_pair_weights(d_weights, g_weights) * pair)
          - entropy_weight * entropy(d_weights))


def mixture_g_loss(objective: Objective, fake_logits, d_weights, g_weights, entropy_weight=0.1,
                   real_logits=None):
  """MIX+GAN generator: L_G = sum_ij w^D_j w^G_i L_G(D_j; G_i) - lambda H(w^G); real_logits [Kd, B]
  are needed by the relativistic objectives only."""
  if real_logits is None:
    if objective.relativistic:
      raise ValueError('A relativistic objective needs D\'s scores on real data (real_logits).')
    real_logits = jnp.zeros(fake_logits.shape[:1] + fake_logits.shape[2:], fake_logits.dtype)
  pair = jax.vmap(jax.vmap(objective.g_loss, (None, 0)))(real_logits, fake_logits)  # [Kd, Kg]
  return (jnp.sum(_pair_weights(d_weights, g_weights) * pair)
          - entropy_weight * entropy(g_weights))
