"""Training and inference throughput of the evaluation classifiers, side by side.

One training step is exactly the step of ``training.train_classifier`` (±2 px
shifts, forward, cross-entropy, backward, SGD with momentum); inference is the
forward pass of ``training.predict`` in eval mode. Each measurement repeats
full batches until ``--seconds`` have passed (at least ``--min-iters``), after
one warm-up step on a small batch. Random inputs: throughput does not depend
on the pixels.

    python benchmarks/eval_throughput.py --threads 1
    python benchmarks/eval_throughput.py --device cuda --seconds 5
"""

import argparse
import json
import os
import platform
import sys
import time

import torch
import torch.nn.functional as nnf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _env import results_path, write_meta  # noqa: E402

from fiftyone_dsco.devices import device as pick_device  # noqa: E402
from fiftyone_dsco.evaluation.classifiers import ARCHITECTURES, create_classifier  # noqa: E402
from fiftyone_dsco.evaluation.training import augment_shift  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=results_path("eval_throughput.json"))
    p.add_argument("--archs", nargs="+", default=list(ARCHITECTURES), choices=ARCHITECTURES)
    p.add_argument("--size", type=int, default=28, help="image side (default 28)")
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--seconds", type=float, default=3.0, help="time budget per measurement")
    p.add_argument("--min-iters", type=int, default=2)
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's default)")
    p.add_argument("--device", help="torch device (default: CUDA when present)")
    return p.parse_args()


def _sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _repeat(step, dev, seconds, min_iters):
    """Run ``step`` until ``seconds`` passed and ``min_iters`` ran; return (iters, seconds)."""
    _sync(dev)
    start, n = time.perf_counter(), 0
    while n < min_iters or time.perf_counter() - start < seconds:
        step()
        n += 1
    _sync(dev)
    return n, time.perf_counter() - start


def measure(arch, args, dev):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    shape = (args.batch_size, args.channels, args.size, args.size)
    x = torch.rand(shape).mul_(2).sub_(1)
    y = torch.randint(0, 10, (args.batch_size,))
    model = create_classifier(arch, 10, args.channels, args.size).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    def train_step(xb=x, yb=y):
        loss = nnf.cross_entropy(model(augment_shift(xb, 2, gen).to(dev)), yb.to(dev))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    @torch.no_grad()
    def infer_step():
        model(x.to(dev)).float().cpu()

    model.train()
    train_step(x[:16], y[:16])  # warm-up
    n_train, s_train = _repeat(train_step, dev, args.seconds, args.min_iters)
    model.eval()
    infer_step()
    n_infer, s_infer = _repeat(infer_step, dev, args.seconds, args.min_iters)
    train_rate = n_train * args.batch_size / s_train
    return dict(
        params=sum(p.numel() for p in model.parameters()),
        train_img_per_s=round(train_rate, 1),
        train_ms_per_step=round(1000 * s_train / n_train, 1),
        train_steps_timed=n_train,
        infer_img_per_s=round(n_infer * args.batch_size / s_infer, 1),
        infer_batches_timed=n_infer,
        epoch_60k_s=round(60000 / train_rate, 1),
    )


def markdown(report):
    b = report["batch_size"]
    lines = [
        f"| arch | params | train img/s (batch {b}) | ms / train step | inference img/s "
        f"| one 60k-image epoch |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for arch, r in report["results"].items():
        lines.append(f"| {arch} | {r['params'] / 1e6:.2f} M | {r['train_img_per_s']:.0f} | "
                     f"{r['train_ms_per_step']:.0f} | {r['infer_img_per_s']:.0f} | "
                     f"{r['epoch_60k_s']:.0f} s |")
    lines.append("")
    lines.append(f"{report['image']} images, device {report['device']}, {report['threads']} "
                 f"torch thread(s), load average {report['loadavg_before']} before / "
                 f"{report['loadavg_after']} after, torch {report['torch']}.")
    return "\n".join(lines)


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = pick_device(args.device)
    report = dict(
        device=str(dev) if dev.type != "cuda" else torch.cuda.get_device_name(dev),
        cpu=platform.processor() or platform.machine(), cpu_count=os.cpu_count(),
        threads=torch.get_num_threads(), torch=torch.__version__,
        image=f"{args.size}x{args.size}x{args.channels}", batch_size=args.batch_size,
        loadavg_before=[round(v, 2) for v in os.getloadavg()], results={},
    )
    start = time.perf_counter()
    for arch in args.archs:
        report["results"][arch] = measure(arch, args, dev)
    report["loadavg_after"] = [round(v, 2) for v in os.getloadavg()]
    report["wall_s"] = round(time.perf_counter() - start, 1)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    write_meta(args.out)
    print(markdown(report))
    print(f"\nsaved {args.out} ({report['wall_s']} s)")


if __name__ == "__main__":
    main()
