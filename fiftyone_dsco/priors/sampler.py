"""The deterministic DDIM denoising loop shared by plain sampling and NOpt.

A ``step_hook(x, t, k) -> (x, eps)`` may replace the state ``x_t`` before
each sampler step (NOpt optimises it there; plain sampling passes no hook)
and may hand over the noise prediction to step with (``None``: predict it).
"""

import torch


def initial_noise(prior, n, seed, device=None):
    """``n`` starting noises, reproducible from ``seed`` whatever the device."""
    gen = torch.Generator().manual_seed(int(seed))
    x = torch.randn((n,) + tuple(prior.latent_shape), generator=gen)
    return x.to(device or prior.device)


def _scheduler(prior, steps):
    from diffusers import DDIMScheduler

    # prior.predict returns the noise prediction whatever the model's parameterisation
    scheduler = DDIMScheduler.from_config(prior.scheduler.config, prediction_type="epsilon")
    scheduler.set_timesteps(steps)
    return scheduler


def start_step(strength, steps):
    """The first of ``steps`` sampler steps that an SDEdit start at ``strength`` runs.

    ``strength`` 1 runs every step (from almost pure noise), 0 none (the start is returned).
    """
    return int(round((1.0 - float(strength)) * steps))


def noised(prior, x0, noise, steps, first_step):
    """Clean states ``x0`` forward-noised to the timestep of sampler step ``first_step`` (SDEdit)."""
    scheduler = _scheduler(prior, steps)
    if first_step >= steps:
        return x0
    t = scheduler.timesteps[first_step]
    return scheduler.add_noise(x0, noise, t.reshape(1).to(x0.device))


def inverted(prior, x0, labels, steps, first_step):
    """Clean states ``x0`` taken to the timestep of sampler step ``first_step`` by DDIM inversion.

    Runs the deterministic DDIM steps backwards with the conditional model
    (guidance 1): each step predicts the noise at the state it has and the
    timestep it goes to (diffusers' ``DDIMInverseScheduler`` convention), so
    :func:`denoise` from ``first_step`` with guidance 1 about returns ``x0``.
    """
    scheduler = _scheduler(prior, steps)
    ratio = scheduler.config.num_train_timesteps // scheduler.num_inference_steps
    x = x0
    for t in reversed(scheduler.timesteps[first_step:].tolist()):
        a_from, a_to = (_alpha_bar(scheduler, s).to(x.device, x.dtype) for s in (t - ratio, t))
        with torch.no_grad():
            eps, _ = prior.predict(x, t, labels, 1.0)
            x0_hat = (x - (1 - a_from).sqrt() * eps) / a_from.sqrt()
            x = a_to.sqrt() * x0_hat + (1 - a_to).sqrt() * eps
    return x


def _alpha_bar(scheduler, t):
    """alpha-bar at timestep ``t``, the final one below 0, as ``DDIMScheduler.step`` takes it."""
    return scheduler.alphas_cumprod[t] if t >= 0 else scheduler.final_alpha_cumprod


def denoise(prior, noise, labels, steps=25, guidance=2.0, step_hook=None, first_step=0):
    """Run ``steps`` DDIM steps (eta = 0) from ``noise`` and return clean samples x0.

    Args:
        prior: a :class:`~fiftyone_dsco.priors.DiffusionPrior`
        noise: starting states ``x_T`` (or, with ``first_step``, the states at that step)
        labels: model class indices (long tensor, one per state)
        steps: number of sampler steps
        guidance: classifier-free guidance scale (1 = conditional only)
        step_hook: optional ``hook(x, t, k) -> (x, eps or None)`` called before step ``k``
        first_step: skip the sampler steps before this one (an SDEdit start, see :func:`noised`)
    """
    scheduler = _scheduler(prior, steps)
    x = noise
    for k, t in enumerate(scheduler.timesteps):
        if k < first_step:
            continue
        eps = None
        if step_hook is not None:
            x, eps = step_hook(x, t, k)
        with torch.no_grad():
            if eps is None:
                eps, _ = prior.predict(x, t, labels, guidance)
            x = scheduler.step(eps, t, x, eta=0.0).prev_sample
    return x


def sample_images(prior, labels, seed=0, steps=25, guidance=2.0, step_hook=None):
    """Decoded images in [-1, 1] for model class indices ``labels``."""
    labels = torch.as_tensor(labels, dtype=torch.long, device=prior.device)
    noise = initial_noise(prior, len(labels), seed)
    x0 = denoise(prior, noise, labels, steps, guidance, step_hook)
    with torch.no_grad():
        return prior.decode(x0).clamp(-1, 1)
