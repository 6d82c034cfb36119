"""Class batches of synthesis: how many classes share one denoiser call (``class_batch``).

``"auto"``: on a CPU, as many classes as keep a call at :data:`AUTO_CPU_IMAGES`
images or fewer (measured: docs/scaling.md). On CUDA the first call takes one
class and measures its peak memory; later calls take as many classes as fit
:data:`AUTO_CUDA_MEMORY_SHARE` of the free GPU memory at the largest per-class
peak measured so far, and at most :data:`AUTO_CUDA_IMAGES` images. Always at
least one class. Imports no FiftyOne (benchmarks use it).
"""

import contextlib

import torch

#: ``class_batch="auto"`` on a CPU: most images per denoiser call (larger calls sped plain
#: sampling up a little more, NOpt less; docs/scaling.md).
AUTO_CPU_IMAGES = 10
#: ``class_batch="auto"`` on CUDA: most images per denoiser call (guidance doubles what the
#: denoiser sees), and the share of free GPU memory a call's measured peak may take.
AUTO_CUDA_IMAGES, AUTO_CUDA_MEMORY_SHARE = 512, 0.5


def classes_per_call(class_batch, ipc, device, class_bytes=None):
    """Classes that share a denoiser call: ``class_batch``, or by device when ``"auto"``
    (``class_bytes``: the largest measured peak CUDA memory of one class in a call)."""
    if class_batch != "auto":
        return class_batch
    if device.type != "cuda":
        return max(1, AUTO_CPU_IMAGES // ipc)
    if not class_bytes:  # the first call measures one class
        return 1
    free, _ = torch.cuda.mem_get_info(device)
    free += torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    return max(1, min(AUTO_CUDA_IMAGES // ipc, int(AUTO_CUDA_MEMORY_SHARE * free // class_bytes)))


@contextlib.contextmanager
def class_peak(device, n_classes, peaks):
    """Append the block's peak CUDA memory per class (bytes) to ``peaks``; nothing on a CPU."""
    if device.type != "cuda":
        yield
        return
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    yield
    peaks.append((torch.cuda.max_memory_allocated(device) - base) / n_classes)
