"""Evaluation storage: the run, prediction fields, FiftyOne evaluations, plot and summary."""

import os

import fiftyone as fo

from .. import runs
from ..errors import RunError
from ..names import DEFAULT_EVAL_KEY
from ..runs import state as run_state
from .report import FULL, RANDOM, EvaluationResults, plot_results


def load_evaluation(dataset, eval_key=DEFAULT_EVAL_KEY):
    """The :class:`EvaluationResults` stored on ``dataset`` under ``eval_key``."""
    dataset = dataset._dataset
    if not is_evaluation_run(dataset, eval_key):
        keys = [r["key"] for r in runs.list_runs(dataset, runs.EVALUATION)]
        raise RunError(f"No DsCo evaluation '{eval_key}' on dataset '{dataset.name}'. "
                       f"Evaluations: {keys or 'none'}.")
    return EvaluationResults(runs.load_results(dataset, eval_key))


def delete_evaluation(dataset, eval_key=DEFAULT_EVAL_KEY):
    """Delete an evaluation: its run, prediction fields, FiftyOne evaluations, summary, plot."""
    dataset = dataset._dataset
    if not is_evaluation_run(dataset, eval_key):
        raise RunError(f"No DsCo evaluation '{eval_key}' on dataset '{dataset.name}'.")
    runs.delete(dataset, eval_key)


def is_evaluation_run(dataset, key):
    return (runs.is_dsco_run(dataset, key)
            and runs.run_config(dataset, key).get("dsco_kind") == runs.EVALUATION)


def store(plan, results, first_preds):
    """Write the run, predictions, FiftyOne evaluations, plot and summary (replacing old ones)."""
    ds, key, test = plan["dataset"], plan["eval_key"], plan["test"]
    runs.begin_run(test, key, runs.EVALUATION, _run_config(plan), overwrite=True)  # old one goes
    with runs.writing(ds, key):  # one process at a time
        runs.save_results(ds, key, dict(results))  # records the field names before writing them
        classes, ids = plan["table"].classes, plan["test_table"].ids()
        for arm, (pred, conf) in first_preds.items():
            field, fo_key = runs.evaluation_outputs(key, arm)
            labels = [fo.Classification(label=classes[p], confidence=float(c))
                      for p, c in zip(pred, conf)]
            ds.set_values(field, dict(zip(ids, labels)), key_field="id")
            test.evaluate_classifications(field, gt_field=plan["label_field"], eval_key=fo_key,
                                          classes=classes, progress=False)
        results["plot"] = _save_plot(ds, key, results)
        runs.save_results(ds, key, dict(results))
        runs.set_evaluation_summary(ds, key, _summary(results))


def _run_config(plan):
    sets = {a: dict(name=s["name"], size=len(s["ids"]))
            for a, s in plan["arms"].items() if "ids" in s}
    return dict(label_field=plan["label_field"], arch=plan["arch"], epochs=plan["epochs"],
                full_epochs=plan["full_epochs"], seeds=plan["seeds"],
                convergence=plan["convergence"] and plan["convergence"].to_dict(),
                image_size=plan["image_size"], channels=plan["channels"],
                batch_size=plan["batch_size"], lr=plan["lr"], recipe=plan["recipe"].name,
                soft_labels=plan["soft_labels"],
                add_random=RANDOM in plan["arms"], add_full=FULL in plan["arms"], train_sets=sets)


def _save_plot(ds, key, results):
    folder = runs.media_folder(ds, key)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "accuracy_vs_budget.png")
    plot_results(results).savefig(path, dpi=120)
    return path


def _summary(results):
    arms = {a: {k: r.get(k) for k in ("name", "acc_mean", "acc_std", "size", "ipc", "fraction",
                                      "epochs", "seconds", "pred_field", "eval_key", "ior", "hlr",
                                      "lrs")}
            for a, r in results["arms"].items()}
    out = {k: results.get(k) for k in ("arch", "seeds", "labels", "test_size", "train_size",
                                       "std_ddof", "plot", "timestamp", "convergence")}
    out["recipe"] = results["recipe"]["name"]
    return run_state.jsonable(dict(out, arms=arms))
