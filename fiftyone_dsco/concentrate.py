"""The one-call path: synthesise and dope to a total budget."""

from .data import class_table, train_view
from .errors import OptionError

#: Synthetic images per class before the rest of a budget goes to real samples.
#: Provisional: at IPC 50 the Fashion-MNIST check in docs/method.md found plain
#: and NOpt samples of a CPU-trained prior worth less than random real images.
SYNTHETIC_CAP = 10


def split_budget(images_per_class, synthetic_cap=SYNTHETIC_CAP):
    """``(synthetic, real)`` images per class for a total per-class budget."""
    if images_per_class < 1:
        raise OptionError(f"The budget must give at least 1 image per class, not {images_per_class}.")
    synthetic = min(images_per_class, synthetic_cap)
    return synthetic, images_per_class - synthetic


def budget_per_class(view, label_field, budget):
    """Images per class for ``budget``: an int (per class) or a fraction in (0, 1] of the train split."""
    if isinstance(budget, bool):
        raise OptionError("budget must be a number.")
    if isinstance(budget, float):
        if not 0 < budget <= 1:
            raise OptionError(f"A fractional budget must be in (0, 1], not {budget}.")
        table = class_table(train_view(view), label_field)
        return max(1, round(budget * table.num_samples / len(table.classes)))
    if int(budget) < 1:
        raise OptionError(f"budget must be >= 1 image per class, not {budget}.")
    return int(budget)


def concentrate(view, label_field, prior, budget, run_key="dsco", synthetic_cap=SYNTHETIC_CAP,
                method="nopt", selector="mmd-greedy", seed=0, overwrite=False, progress=None,
                **synthesis_options):
    """Synthesise, then dope, to ``budget`` images per class (int) or fraction of the train split.

    Returns ``{"synthesis": ..., "doping": ..., "run_key": ..., "saved_view": ...}``.
    """
    from .doping import dope
    from .synthesis import synthesize

    per_class = budget_per_class(view, label_field, budget)
    n_syn, n_real = split_budget(per_class, synthetic_cap)
    syn_key = f"{run_key}_syn"
    syn = synthesize(view, label_field, prior, n_syn, method=method, run_key=syn_key, seed=seed,
                     overwrite=overwrite, progress=progress, **synthesis_options)
    dop = dope(view, label_field, syn_key, n_real, selector=selector, run_key=run_key, clamp=True,
               extractor=synthesis_options.get("extractor", "reference"),
               extractor_options=synthesis_options.get("extractor_options"), seed=seed,
               overwrite=overwrite, device=synthesis_options.get("device"), progress=progress)
    return dict(run_key=run_key, synthetic_run=syn_key, images_per_class=per_class,
                synthetic_per_class=n_syn, real_per_class=n_real, synthesis=syn, doping=dop,
                saved_view=dop["saved_view"])
