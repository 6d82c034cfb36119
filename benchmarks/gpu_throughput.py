"""Throughput of fitting and sampling, for four priors side by side in one run.

    python benchmarks/gpu_throughput.py            # on a GPU: writes results/gpu_throughput.json
    python benchmarks/gpu_throughput.py --quick    # seconds on a CPU, tiny sizes, writes nothing

Priors (randomly initialised: throughput does not depend on the weights):

    grey28     28 px grey pixel UNet, sized as fit_prior sizes it (its preset for 28x28x1)
    rgb64      64 px RGB pixel UNet, likewise (the preset for 64x64x3)
    dit256-S   256 px latent DiT of fit_latent_prior's default size, in an SD-architecture VAE
    dit256-XL  256 px latent DiT-XL/2 (the publication's prior, 1000 classes), same VAE

Per prior: fit steps/s (one AdamW step of the denoiser on a batch, as fit_prior and
fit_latent_prior do it: bf16 autocast on CUDA; latent fits train on cached latents, so the
VAE is not in the step); plain and NOpt images/s over ``--classes`` classes of ``--ipc``
images sampled one class per denoiser call (``--steps`` DDIM steps, guidance 2, NOpt at
its defaults with a random ConvNet-3 on the decoded images, as
``synthesize(extractor="random")``; a 500-row target batch from a CPU bank, as
``real_features`` gives); NOpt/plain time ratio; peak GPU memory.

Class batches: the same classes with ``class_batch="auto"`` on this device (its value, and
the auto / one-class-per-call throughput ratios of plain and NOpt); ``--class-batches``
adds explicit values (their ratios in the JSON's ``class_batch_ratios``). Needs torch,
diffusers and timm, not FiftyOne.
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as nnf

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

from fiftyone_dsco.evaluation.classifiers import create_classifier, embed  # noqa: E402
from fiftyone_dsco.priors.card import PriorCard  # noqa: E402
from fiftyone_dsco.priors.latent import DIT_DEFAULTS  # noqa: E402
from fiftyone_dsco.priors.presets import unet_shape  # noqa: E402
from fiftyone_dsco.priors.prior import DiffusionPrior  # noqa: E402
from fiftyone_dsco.priors.sampler import denoise, initial_noise  # noqa: E402
from fiftyone_dsco.synthesis.batching import class_peak, classes_per_call  # noqa: E402
from fiftyone_dsco.synthesis.nopt import NOptBatch, NOptHook, NOptOptions  # noqa: E402

DIT_XL = dict(num_layers=28, num_attention_heads=16, attention_head_dim=72, patch_size=2)
TINY_DIT = dict(num_layers=1, num_attention_heads=2, attention_head_dim=8, patch_size=2)
SD_VAE = dict(block_out_channels=(128, 256, 512, 512), layers_per_block=2, norm_num_groups=32)
TINY_VAE = dict(block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=8)


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes: a CPU check in seconds")
    p.add_argument("--ipc", type=int, help="images per class sampled at once (default 10; quick 2)")
    p.add_argument("--steps", type=int, help="DDIM steps (default 25; quick 2)")
    p.add_argument("--fit-batch", type=int, help="fit batch size (default 64; quick 4)")
    p.add_argument("--fit-steps", type=int, help="timed fit steps (default 20; quick 2)")
    p.add_argument("--classes", type=int, help="classes sampled per timing (default 10; quick 3)")
    p.add_argument("--class-batches", type=int, nargs="*", default=[],
                   help="class_batch values measured beside 1 and auto")
    p.add_argument("--repeats", type=int, default=2, help="sampling repeats (median)")
    p.add_argument("--priors", nargs="+", default=["grey28", "rgb64", "dit256-S", "dit256-XL"])
    p.add_argument("--no-autocast", action="store_true", help="float32 everywhere")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", help="results JSON (default results/gpu_throughput.json; quick: none)")
    return p.parse_args()


def pixel_prior(size, channels, classes=10):
    from diffusers import DDIMScheduler, UNet2DModel

    arch = unet_shape(size, channels)
    unet = UNet2DModel(sample_size=size, in_channels=channels, out_channels=channels,
                       layers_per_block=arch["layers_per_block"],
                       attention_head_dim=arch["attention_head_dim"],
                       block_out_channels=tuple(arch["block_out_channels"]),
                       down_block_types=tuple(arch["down_block_types"]),
                       up_block_types=tuple(arch["up_block_types"]),
                       num_class_embeds=classes + 1, norm_num_groups=8)
    card = PriorCard("pixel", [str(k) for k in range(classes)], size, channels, null_class=classes)
    sched = DDIMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2")
    return DiffusionPrior(unet, sched, card), f"UNet {arch['preset']} {arch['block_out_channels']}"


def latent_prior(size, dit, vae_cfg, classes, learned_sigma):
    from diffusers import AutoencoderKL, DDIMScheduler, DiTTransformer2DModel

    levels = len(vae_cfg["block_out_channels"])
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * levels,
                        up_block_types=("UpDecoderBlock2D",) * levels, **vae_cfg)
    latent = size // 2 ** (levels - 1)
    model = DiTTransformer2DModel(in_channels=4, out_channels=8 if learned_sigma else 4,
                                  sample_size=latent, num_embeds_ada_norm=classes, **dit)
    card = PriorCard("latent", [str(k) for k in range(classes)], size, 3, null_class=classes,
                     latent_scale=vae.config.scaling_factor)
    prior = DiffusionPrior(model, DDIMScheduler(clip_sample=False), card, vae)
    width = dit["num_attention_heads"] * dit["attention_head_dim"]
    return prior, f"DiT {dit['num_layers']}x{width}/{dit['patch_size']} + VAE"


def build(name, quick):
    if name == "grey28":
        return pixel_prior(12 if quick else 28, 1)
    if name == "rgb64":
        return pixel_prior(16 if quick else 64, 3)
    size, vae = (16, TINY_VAE) if quick else (256, SD_VAE)
    if name == "dit256-S":
        return latent_prior(size, TINY_DIT if quick else DIT_DEFAULTS, vae, 10, False)
    if name == "dit256-XL":
        return latent_prior(size, TINY_DIT if quick else DIT_XL, vae, 1000, True)
    raise SystemExit(f"unknown prior {name!r}")


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def fit_rate(prior, batch, n_steps, dev, amp):
    """Fit steps/s: AdamW steps of a copy of the denoiser in train mode, on random batches."""
    import copy

    model = copy.deepcopy(prior.denoiser).train().requires_grad_(True)
    pixel = prior.family == "pixel"
    if pixel and dev.type == "cuda":
        model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    shape = (batch,) + tuple(prior.latent_shape)
    n_cls = prior.card.null_class

    def step():
        x = torch.randn(shape, device=dev)
        t = torch.randint(0, 1000, (batch,), device=dev)
        y = torch.randint(0, n_cls + 1, (batch,), device=dev)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            out = (model(x, t, class_labels=y) if pixel else
                   model(x, timestep=t, class_labels=y)).sample
        loss = nnf.mse_loss(out[:, : x.shape[1]].float(), x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(2):
        step()
    sync(dev)
    start = time.perf_counter()
    for _ in range(n_steps):
        step()
    sync(dev)
    rate = n_steps / (time.perf_counter() - start)
    del model, opt
    return rate


class RandomConvNet:
    """The ``random`` extractor: a randomly initialised ConvNet-3 on decoded images."""

    space = "image"

    def __init__(self, channels, size, dev):
        torch.manual_seed(0)
        self.module = create_classifier("convnet3", 10, channels, size).to(dev).eval()
        self.module.requires_grad_(False)

    def __call__(self, x):
        return embed(self.module, x)


def sample_seconds(prior, extractor, bank, ipc, steps, iterations, dev, classes=1, batch=1):
    """Seconds to sample ``classes`` classes of ``ipc`` images, ``batch`` classes per call."""
    sync(dev)
    start = time.perf_counter()
    for first in range(0, classes, batch):
        group = range(first, min(first + batch, classes))
        labels = [torch.full((ipc,), k % prior.card.null_class, device=dev) for k in group]
        noise = torch.cat([initial_noise(prior, ipc, k, dev) for k in group])
        hook = None
        if iterations:
            hook = NOptBatch([NOptHook(prior, extractor, bank, y, 2.0, steps,
                                       NOptOptions(iterations), k) for k, y in zip(group, labels)])
        x0 = denoise(prior, noise, torch.cat(labels), steps, 2.0, hook)
        with torch.no_grad():
            prior.decode(x0).clamp(-1, 1)
    sync(dev)
    return time.perf_counter() - start


def measure(name, args, dev):
    torch.manual_seed(0)
    prior, arch = build(name, args.quick)
    prior.to(dev)
    prior.autocast = not args.no_autocast
    amp = dev.type == "cuda" and not args.no_autocast
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    size, ch = prior.card.image_size, prior.card.channels
    row = dict(prior=name, arch=arch, image=f"{size}px x {ch}",
               params_m=round(sum(p.numel() for p in prior.denoiser.parameters()) / 1e6, 2),
               fit_steps_per_s=round(fit_rate(prior, args.fit_batch, args.fit_steps, dev, amp), 3))
    extractor = RandomConvNet(ch, size, dev)
    with torch.no_grad():
        dim = extractor(torch.zeros(1, ch, size, size, device=dev)).shape[1]
    bank = np.random.default_rng(0).standard_normal((500, dim), dtype=np.float32)
    peaks = []
    with class_peak(dev, 1, peaks):  # warm-up; measures one class for "auto"
        sample_seconds(prior, extractor, bank, args.ipc, 2, 1, dev)
    auto = min(args.classes, classes_per_call("auto", args.ipc, dev, max(peaks, default=None)))
    batches = sorted({1, auto, *args.class_batches})
    times = {(m, b): [] for m in ("plain", "nopt") for b in batches}
    for _ in range(args.repeats):  # interleaved, so all see the same conditions
        for m, b in times:
            times[m, b].append(sample_seconds(prior, extractor, bank, args.ipc, args.steps,
                                              int(m == "nopt"), dev, args.classes, b))
    rate = {k: args.classes * args.ipc / statistics.median(v) for k, v in times.items()}
    row.update(plain_images_per_s=round(rate["plain", 1], 3),
               nopt_images_per_s=round(rate["nopt", 1], 3),
               nopt_over_plain=round(rate["plain", 1] / rate["nopt", 1], 2), class_batch_auto=auto,
               plain_auto_over_1=round(rate["plain", auto] / rate["plain", 1], 2),
               nopt_auto_over_1=round(rate["nopt", auto] / rate["nopt", 1], 2),
               class_batch_ratios={b: [round(rate[m, b] / rate[m, 1], 2) for m in ("plain", "nopt")]
                                   for b in batches})
    if dev.type == "cuda":
        row["peak_gib"] = round(torch.cuda.max_memory_allocated(dev) / 2**30, 1)
    del prior, extractor
    if dev.type == "cuda":
        torch.cuda.empty_cache()
    return row


def table(rows):
    cols = ["prior", "arch", "image", "params_m", "fit_steps_per_s", "plain_images_per_s",
            "nopt_images_per_s", "nopt_over_plain", "class_batch_auto", "plain_auto_over_1",
            "nopt_auto_over_1", "peak_gib"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r.get(c, "-")) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def main():
    args = parse()
    q = args.quick
    args.ipc = args.ipc or (2 if q else 10)
    args.steps = args.steps or (2 if q else 25)
    args.classes = args.classes or (3 if q else 10)
    args.fit_batch = args.fit_batch or (4 if q else 64)
    args.fit_steps = args.fit_steps or (2 if q else 20)
    if q:
        args.repeats = 1
    dev = torch.device(args.device)
    rows = []
    for name in args.priors:
        rows.append(measure(name, args, dev))
        print(json.dumps(rows[-1]), flush=True)
    args.autocast = "off" if args.no_autocast or dev.type != "cuda" else "bf16"
    print(f"\nIPC {args.ipc}, {args.classes} classes, {args.steps} DDIM steps, fit batch "
          f"{args.fit_batch}, autocast {args.autocast}, {dev}\n")
    print(table(rows))
    if not q or args.out:
        from _env import results_path, write_meta

        out = args.out or results_path("gpu_throughput.json")
        with open(out, "w") as f:
            json.dump(dict(settings={k: v for k, v in vars(args).items() if k != "out"},
                           rows=rows), f, indent=1)
        write_meta(out)
        print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
