"""Evaluation of concentrated sets: accuracy, storage on the dataset, reload, leakage guard."""

import json
import os
import subprocess
import sys

import pytest
import torch

import fiftyone as fo

from fiftyone_dsco import data, evaluation, runs
from fiftyone_dsco.errors import ClassMismatchError, LeakageError, OptionError, RunError

LABEL = "ground_truth"
FAST = dict(epochs=15, seeds=(0, 1), full_epochs=2)  # 15 SGD steps on 50 images, 2 epochs full


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Train on one core: the machine is shared, and 2 threads under load run ~10x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _five_per_class(ds):
    table = data.class_table(data.train_view(ds), LABEL)
    return ds.select([i for c in table.classes for i in table.ids_by_class[c][:5]])


@pytest.fixture(scope="module")
def evaluated(digits):
    """One short evaluation (surrogate, random, full; 2 seeds) on a persistent clone."""
    ds = digits.clone("dsco-eval-tests")
    ds.persistent = True  # readable from a second process whatever happens to this one
    results = evaluation.evaluate(ds, LABEL, {"real 5/class": _five_per_class(ds)}, **FAST)
    yield ds, results
    ds.delete()


def test_every_arm_beats_chance_and_has_a_std(evaluated):
    _, res = evaluated
    assert list(res["arms"]) == ["real_5_class", "random", "full"]
    assert res["labels"] == "hard" and res["std_ddof"] == 1 and res["test_size"] == 360
    assert res["classes"] == [str(d) for d in range(10)]
    for arm in res["arms"].values():
        assert arm["acc_mean"] > 0.3, arm
        assert len(arm["accs"]) == 2 and isinstance(arm["acc_std"], float)
        assert set(arm["per_class"]) == set(res["classes"])
    sur, rnd, full = res["arms"].values()
    assert sur["size"] == rnd["size"] == 50 and sur["ipc"] == 5.0
    assert sur["fraction"] == pytest.approx(50 / 1437) and full["fraction"] == 1.0
    assert (sur["epochs"], rnd["epochs"], full["epochs"]) == (15, 15, 2)
    table = res.format_table()
    assert table.splitlines()[0].startswith("| method | IPC | fraction | top-1 %")
    assert "| real 5/class | 5 | 3.48% |" in table


def test_full_arm_epoch_rule():
    assert evaluation.full_arm_epochs(300, 100, 60000) == evaluation.MIN_FULL_EPOCHS
    assert evaluation.full_arm_epochs(300, 500, 1437) == 100  # 2 steps/epoch vs 6
    assert evaluation.full_arm_epochs(300, 10, 1437) == 50  # not 5: one partial batch per epoch
    assert evaluation.full_arm_epochs(10, 5000, 1437) == 10


def test_training_on_arrays_needs_no_fiftyone():
    """train_classifier/predict run where FiftyOne is not installed (a GPU box, say)."""
    code = ("import sys; sys.modules['fiftyone'] = None\n"  # any FiftyOne import now fails
            "import torch\n"
            "from fiftyone_dsco.evaluation.training import predict, train_classifier\n"
            "x = torch.rand(20, 1, 16, 16) * 2 - 1; y = torch.arange(20) % 2\n"
            "model, secs = train_classifier(x, y, 2, epochs=2, batch_size=8)\n"
            "print(tuple(predict(model, x).shape))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "(20, 2)"


def test_results_are_stored_on_the_dataset(evaluated):
    ds, res = evaluated
    assert "dsco_eval" in ds.list_runs()
    assert runs.run_config(ds, "dsco_eval")["dsco_kind"] == runs.EVALUATION
    assert len(ds.load_run_view("dsco_eval")) == 360  # registered on the test split
    for arm in res["arms"].values():
        assert arm["eval_key"] in ds.list_evaluations()
        field = ds.get_field(arm["pred_field"])
        assert isinstance(field, fo.EmbeddedDocumentField)
        assert issubclass(field.document_type, fo.Classification)
        assert ds.exists(arm["pred_field"]).count() == 360
        report = ds.get_evaluation_info(arm["eval_key"]).config
        assert report.pred_field == arm["pred_field"] and report.gt_field == LABEL
    summary = ds.info["dsco_evaluations"]["dsco_eval"]
    assert summary["arms"]["full"]["acc_mean"] == res["arms"]["full"]["acc_mean"]
    assert type(summary["arms"]["random"]["acc_std"]) is float
    with open(res["plot"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert res.plot().axes[0].get_ylabel() == "top-1 accuracy (%)"


def test_results_reload_in_a_new_process(evaluated):
    ds, res = evaluated
    code = (
        "import json, fiftyone as fo\n"
        "from fiftyone_dsco.evaluation import load_evaluation\n"
        f"r = load_evaluation(fo.load_dataset({ds.name!r}), 'dsco_eval')\n"
        "print(json.dumps({a: v['accs'] for a, v in r['arms'].items()}))\n"
        "print(r.format_table().splitlines()[2])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert json.loads(lines[-2]) == {a: v["accs"] for a, v in res["arms"].items()}
    assert lines[-1].startswith("| real 5/class |")


def _nothing_written(ds, fields_before):
    assert not ds.list_runs() and not ds.list_evaluations()
    assert set(ds.get_field_schema()) == fields_before
    assert "dsco_evaluations" not in ds.info


def test_leakage_guard_fires_before_anything_is_written(digits_copy):
    ds, before = digits_copy, set(digits_copy.get_field_schema())
    leaky = ds.select(data.train_view(ds).limit(30).values("id")
                      + ds.match_tags("test").limit(7).values("id"))
    with pytest.raises(LeakageError, match="7 with training set 'leaky'"):
        evaluation.evaluate(ds, LABEL, {"leaky": leaky}, **FAST)
    _nothing_written(ds, before)
    # a synthesis run that read the whole dataset, test split included
    runs.begin_run(ds, "syn", runs.SYNTHESIS, {})
    with pytest.raises(LeakageError, match="360 with synthesis run 'syn'"):
        evaluation.evaluate(ds, LABEL, {"ok": _five_per_class(ds)}, **FAST)
    assert ds.list_runs() == ["syn"] and not ds.list_evaluations()
    # its key cannot be reused as an eval key (that would delete the synthesis run)
    runs.delete_run(ds, "syn")
    runs.begin_run(data.train_view(ds), "syn", runs.SYNTHESIS, {})
    with pytest.raises(RunError, match="another run"):
        evaluation.evaluate(ds, LABEL, {"ok": _five_per_class(ds)}, eval_key="syn", **FAST)


def test_bad_training_sets_are_refused(digits_copy):
    ds = digits_copy
    fake = fo.Sample(filepath=ds.first().filepath, ground_truth=fo.Classification(label="x"))
    fake["dsco"] = fo.DynamicEmbeddedDocument(source="synthetic", run_key="r")
    ds.add_sample(fake)
    with pytest.raises(ClassMismatchError, match=r"\['x'\]"):
        evaluation.evaluate(ds, LABEL, {"syn": ds.select(fake.id)}, **FAST)
    with pytest.raises(OptionError, match="reserved"):
        evaluation.evaluate(ds, LABEL, {"random": _five_per_class(ds)}, **FAST)
    with pytest.raises(OptionError, match="synthetic"):
        evaluation.evaluate(ds, LABEL, {"a": _five_per_class(ds)}, test_view=ds.select(fake.id))
    assert not ds.list_runs()


def test_rerun_replaces_old_outputs_and_delete_cleans_up(evaluated):
    ds, _ = evaluated
    five = _five_per_class(ds)
    quick = dict(epochs=3, seeds=(0,), add_full=False, eval_key="again")
    evaluation.evaluate(ds, LABEL, {"a": five}, **quick)
    assert ds.has_sample_field("again_a") and ds.has_evaluation("again_a_eval")
    res = evaluation.evaluate(ds, LABEL, {"b": five}, add_random=False, **quick)
    assert res["std_ddof"] == 0 and res["arms"]["b"]["acc_std"] == 0.0
    assert not ds.has_sample_field("again_a") and not ds.has_evaluation("again_a_eval")
    assert not ds.has_sample_field("again_random")
    assert ds.has_sample_field("again_b") and ds.has_evaluation("again_b_eval")
    evaluation.delete_evaluation(ds, "again")
    assert not ds.has_run("again") and not ds.has_sample_field("again_b")
    assert "again" not in ds.info["dsco_evaluations"] and "dsco_eval" in ds.info["dsco_evaluations"]


def test_soft_labels_train_students_on_a_teacher(evaluated):
    ds, _ = evaluated
    res = evaluation.evaluate(ds, LABEL, {"five": _five_per_class(ds)}, epochs=15, seeds=(0,),
                              full_epochs=2, add_full=False, soft_labels=True, eval_key="soft")
    assert res["labels"] == "soft" and res["teacher"]["epochs"] == 2
    assert res["teacher"]["acc"] > 0.3
    for arm in res["arms"].values():
        assert arm["acc_mean"] > 0.2, arm
    evaluation.delete_evaluation(ds, "soft")


def test_plotly_traces_draw_one_line_per_method_across_evaluations(evaluated):
    ds, res = evaluated
    traces = evaluation.plotly_traces(ds)
    names = [t["name"] for t in traces]
    assert names[:2] == ["random", "real 5/class"] and names[2].startswith("full (")
    rnd = traces[0]
    assert rnd["x"] == [5.0] and rnd["y"] == [round(100 * res["arms"]["random"]["acc_mean"], 2)]
    assert rnd["error_y"]["array"] == [round(100 * res["arms"]["random"]["acc_std"], 2)]
    assert traces[2]["line"]["dash"] == "dash"


def test_evaluate_operator_sdk_call_returns_table_and_chart(digits_copy, installed_plugin):
    import fiftyone.operators as foo

    ds = digits_copy
    ds.save_view("five", _five_per_class(ds))
    out = foo.get_operator("@dsco/fiftyone-dsco/evaluate")(
        ds, LABEL, ["five"], epochs=3, num_seeds=2, full_epochs=1, lr=0.05, eval_key="op_eval",
        recipe="dc")
    assert "| five | 5 |" in out["table"] and out["eval_key"] == "op_eval"
    assert runs.load_results(ds, "op_eval")["lr"] == 0.05
    assert runs.run_config(ds, "op_eval")["recipe"] == "dc" and "recipe 'dc'" in out["table"]
    assert out["arms"]["five"]["ior"] is not None
    assert {t["name"] for t in out["chart"]} >= {"five", "random"}
    assert "op_eval_five_eval" in ds.list_evaluations()  # the App's evaluation panel


def test_dd_ranking_scores_come_from_the_arms_of_the_same_evaluation(evaluated):
    import math

    ds, res = evaluated
    sur, rnd, full = res["arms"].values()
    assert sur["ior"] == pytest.approx(sur["acc_mean"] - rnd["acc_mean"])
    assert sur["hlr"] == pytest.approx(full["acc_mean"] - sur["acc_mean"])
    alpha = 0.5 * sur["ior"] - 0.5 * sur["hlr"]
    assert sur["lrs"] == pytest.approx((math.exp(alpha) - math.exp(-1)) / (math.e - math.exp(-1)))
    assert rnd.get("ior") is None and full.get("hlr") is None
    table = res.format_table()
    assert "| IOR | HLR |" in table.splitlines()[0] and "recipe 'dsco'" in table
    assert f"{100 * sur['ior']:+.2f}" in table.splitlines()[2]
    assert ds.info["dsco_evaluations"]["dsco_eval"]["arms"]["real_5_class"]["ior"] == sur["ior"]
    assert res["recipe"]["name"] == "dsco" and runs.run_config(ds, "dsco_eval")["recipe"] == "dsco"


def test_unknown_recipe_fails_before_anything_is_written(digits_copy):
    ds, before = digits_copy, set(digits_copy.get_field_schema())
    with pytest.raises(OptionError, match="Unknown recipe 'dsb'.*'dsco', 'dc', 'dsa'"):
        evaluation.evaluate(ds, LABEL, {"s": _five_per_class(ds)}, recipe="dsb")
    _nothing_written(ds, before)


def test_dc_recipe_trains_standardised_and_is_recorded(digits_copy):
    res = evaluation.evaluate(digits_copy, LABEL, {"s": _five_per_class(digits_copy)},
                              recipe="dc", epochs=4, seeds=(0,), add_full=False, eval_key="dc")
    assert res["recipe"]["name"] == "dc" and res["recipe"]["schedule"] == "step"
    assert res["recipe"]["augment"] == "none" and res["recipe"]["epochs"] == 4
    assert res["epochs"] == 4 and res["arms"]["random"]["epochs"] == 4
    assert runs.run_config(digits_copy, "dc")["recipe"] == "dc"
    assert "recipe 'dc'" in res.format_table()


def test_full_arm_climbs_its_ladder_to_the_cap_while_the_accuracy_moves(evaluated):
    """Rungs of 1, 2, 4 epochs (one seed): with tolerance 0 it climbs to the cap (a few
    epochs in, every rung gains); the full arm is the last rung, and the curve is stored."""
    ds, _ = evaluated
    res = evaluation.evaluate(ds, LABEL, {"five": _five_per_class(ds)}, epochs=4, seeds=(0,),
                              add_random=False, lr=0.05, eval_key="conv",
                              full_epochs=evaluation.Convergence(1, 4, tolerance=0))
    rec, full = res["convergence"], res["arms"]["full"]
    assert [r["epochs"] for r in rec["curve"]] == [1, 2, 4] and not rec["converged"]
    assert full["epochs"] == res["full_epochs"] == rec["epochs"] == 4
    assert full["accs"] == rec["curve"][-1]["accs"] and full["acc_mean"] == rec["curve"][-1][
        "acc_mean"] > rec["curve"][0]["acc_mean"]
    assert res["arms"]["five"]["hlr"] == pytest.approx(full["acc_mean"]
                                                       - res["arms"]["five"]["acc_mean"])
    stored = ds.info["dsco_evaluations"]["conv"]["convergence"]
    assert [(r["epochs"], r["acc_mean"], r["acc_std"]) for r in stored["curve"]] == \
        [(r["epochs"], r["acc_mean"], r["acc_std"]) for r in rec["curve"]]
    assert runs.run_config(ds, "conv")["convergence"]["tolerance"] == 0
    assert evaluation.load_evaluation(ds, "conv")["convergence"]["curve"] == rec["curve"]
    table = res.format_table()
    assert "full split by epochs (top-1 %): 1: " in table and "cap reached" in table
    evaluation.delete_evaluation(ds, "conv")


class Stop(Exception):
    pass


def _stop_after(total, models):
    """A ``progress`` callable that interrupts an evaluation once ``models`` are done."""
    def interrupt(pb):
        if pb.total == total and pb.iteration == models:
            raise Stop
    return interrupt


def _saved_fits():
    """``{path: {seed: record}}`` of the fits an interrupted evaluation left to resume from."""
    from fiftyone_dsco.paths import cache_dir

    folder = cache_dir("fits")
    out = {}
    for name in os.listdir(folder) if os.path.isdir(folder) else []:
        with open(os.path.join(folder, name)) as f:
            out[os.path.join(folder, name)] = json.load(f)
    return out


def test_an_offloaded_full_arm_climbs_the_ladder_where_it_trains(evaluated, tmp_path):
    """benchmarks/offload.py with ``full_epochs`` a ladder: the training machine climbs it by
    evaluate()'s rule, and the results carry the curve and the last rung as the full arm."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "benchmarks"))
    import offload

    ds, _ = evaluated
    recipe = offload.export(ds, LABEL, {"five": _five_per_class(ds)}, str(tmp_path), "conv_off",
                            epochs=4, seeds=(0,), add_random=False, lr=0.05,
                            full_epochs=evaluation.Convergence(1, 4, tolerance=100))
    assert recipe["convergence"]["max_epochs"] == 4
    res = offload.train_job(str(tmp_path), recipe, str(tmp_path / "conv_off.json"), "cpu")
    rec = res["convergence"]
    assert [r["epochs"] for r in rec["curve"]] == [1, 2] and rec["converged"]
    assert res["arms"]["full"]["epochs"] == 2
    assert res["arms"]["full"]["accs"] == rec["curve"][-1]["accs"]
    assert offload.load(str(tmp_path), "conv_off", recipe)["convergence"] == rec


def test_ladder_stops_at_a_plateau_and_an_interrupted_one_resumes(evaluated):
    """A huge tolerance stops after the second rung. Interrupted after rung 1 trained (and
    saved), the rerun reads rung 1 back and trains rung 2 only; nothing is left behind."""
    ds, _ = evaluated
    options = dict(epochs=4, seeds=(0,), add_random=False, lr=0.05, eval_key="conv_resume",
                   full_epochs=evaluation.Convergence(1, 4, tolerance=100))
    with pytest.raises(Stop):  # the models' bar: 1 set + 3 rungs at most, less the full arm
        evaluation.evaluate(ds, LABEL, {"five": _five_per_class(ds)},
                            progress=_stop_after(4, 1), **options)
    ((path, saved),) = _saved_fits().items()
    assert list(saved) == ["0"] and saved["0"]["fit"]["epochs"] == 1
    res = evaluation.evaluate(ds, LABEL, {"five": _five_per_class(ds)}, **options)
    rec = res["convergence"]
    assert [r["epochs"] for r in rec["curve"]] == [1, 2] and rec["converged"]
    assert rec["curve"][0]["seconds"] == saved["0"]["fit"]["seconds"]  # read, not retrained
    assert rec["curve"][0]["accs"] == [saved["0"]["fit"]["acc"]]
    assert res["arms"]["full"]["epochs"] == res["full_epochs"] == 2
    assert res["arms"]["full"]["accs"] == rec["curve"][-1]["accs"]
    assert not _saved_fits()
    evaluation.delete_evaluation(ds, "conv_resume")


def test_an_interrupted_evaluation_keeps_its_finished_seeds(evaluated):
    """Interrupted after a set's first seed, the rerun reads that seed back (its fit and its
    stored predictions) and trains only the second; another set is not read from it."""
    ds, _ = evaluated
    options = dict(epochs=3, seeds=(0, 1), add_random=False, add_full=False, lr=0.05)
    sets = {"five": _five_per_class(ds)}
    with pytest.raises(Stop):
        evaluation.evaluate(ds, LABEL, sets, progress=_stop_after(2, 1), **options)
    ((_, saved),) = _saved_fits().items()
    assert list(saved) == ["0"] and len(saved["0"]["pred"]) == len(data.test_view(ds))
    other = evaluation.evaluate(ds, LABEL, {"five": _five_per_class(ds).skip(1)}, **options)
    assert other["arms"]["five"]["seconds_per_seed"][0] != saved["0"]["fit"]["seconds"]
    assert list(_saved_fits().values()) == [saved]  # the other set's files went, this one stays
    res = evaluation.evaluate(ds, LABEL, sets, eval_key="resumed", **options)
    five = res["arms"]["five"]
    assert five["seconds_per_seed"][0] == saved["0"]["fit"]["seconds"]  # read, not retrained
    assert five["accs"][0] == saved["0"]["fit"]["acc"] and len(five["accs"]) == 2
    preds = ds.match_tags("test").values(f"{five['pred_field']}.label")
    assert sum(p is not None for p in preds) == len(preds) == len(saved["0"]["pred"])
    assert not _saved_fits()
    evaluation.delete_evaluation(ds, "resumed")


def test_kept_seeds_are_keyed_by_the_images_trained_not_only_the_sample_ids(evaluated):
    """The same samples with one pixel changed (a rewritten file, a transformed copy) miss the
    seeds kept for the original images, as does another recipe; the same arrays find them."""
    from fiftyone_dsco.evaluation import protocol
    from fiftyone_dsco.evaluation.resume import FitStore

    ds, _ = evaluated

    def plan_and_arrays(recipe="dsco"):
        plan = protocol._plan(ds, LABEL, {"five": _five_per_class(ds)}, None, "convnet3", 3,
                              (0,), None, None, False, False, None, None, None, None, False,
                              recipe)
        return plan, protocol._load_arrays(plan, False)

    plan, arrays = plan_and_arrays()
    store = FitStore(plan, arrays)
    store.save("five", 3, 0, dict(acc=0.5))
    assert FitStore(*plan_and_arrays()).load("five", 3)[0][0] == dict(acc=0.5)
    changed = dict(arrays, five=arrays["five"].copy())
    changed["five"][0, 0, 0] ^= 1
    assert FitStore(plan, changed).load("five", 3) == {}
    assert FitStore(*plan_and_arrays("dc")).load("five", 3) == {}
    store.clear()
    assert not _saved_fits()


def test_soft_label_teacher_is_the_last_rung_of_the_ladder(evaluated):
    ds, _ = evaluated
    res = evaluation.evaluate(ds, LABEL, {"five": _five_per_class(ds)}, epochs=3, seeds=(0,),
                              add_full=False, soft_labels=True, eval_key="conv_soft", lr=0.05,
                              full_epochs=evaluation.Convergence(1, 2, tolerance=100))
    rec = res["convergence"]
    assert [r["epochs"] for r in rec["curve"]] == [1, 2] and "full" not in res["arms"]
    assert res["teacher"]["epochs"] == res["full_epochs"] == 2
    assert res["teacher"]["acc"] == rec["curve"][-1]["accs"][0]  # its first-seed model
    evaluation.delete_evaluation(ds, "conv_soft")


@pytest.mark.parametrize("bad, match", [
    ("convergee", "full_epochs must be .*'converge'.*got 'convergee'"),
    (0, "got 0"), (-2, "got -2"), (2.5, "got 2.5"),
    (evaluation.Convergence(start=0), "integers >= 1"),
    (evaluation.Convergence(start=4, max_epochs=2), "max_epochs 2 is below start 4"),
    ("converge", "starts at 5 epochs, above its cap 3"),  # the cap defaults to the sets' epochs
])
def test_bad_full_epochs_fail_before_anything_trains(digits_copy, bad, match):
    ds, before = digits_copy, set(digits_copy.get_field_schema())
    with pytest.raises(OptionError, match=match):
        evaluation.evaluate(ds, LABEL, {"s": _five_per_class(ds)}, epochs=3, full_epochs=bad)
    _nothing_written(ds, before)
    assert not os.path.isdir(os.path.join(os.environ["DSCO_HOME"], "cache", "fits")) or \
        not os.listdir(os.path.join(os.environ["DSCO_HOME"], "cache", "fits"))


def test_measure_trains_at_the_learning_rate_it_is_given(digits_copy):
    """A choice on validation may need another rate than the recipe's (ResNet-18: 0.1)."""
    from fiftyone_dsco.data.splits import validation_split

    split = validation_split(digits_copy, "ground_truth")
    sets = {"a": data.train_view(split.fit).limit(20)}
    res = evaluation.measure(split.fit, "ground_truth", sets, split.val, epochs=1, seeds=(0,),
                             add_random=False, lr=0.05)
    assert res["lr"] == 0.05
    assert evaluation.measure(split.fit, "ground_truth", sets, split.val, epochs=1, seeds=(0,),
                              add_random=False)["lr"] == 0.01  # the dsco recipe's
