"""Joint selection: K x IPC synthetic candidates, recognised ones first, greedy MMD, then doping."""

import numpy as np
import pytest
import torch

from fiftyone_dsco import data, names, runs
from fiftyone_dsco.cli import main
from fiftyone_dsco.concentrate import concentrate
from fiftyone_dsco.errors import OptionError
from fiftyone_dsco.priors import load_prior
from fiftyone_dsco.selection.doping import dope
from fiftyone_dsco.selection.selectors import MMDGreedySelector, select_synthetic, select_union
from fiftyone_dsco.synthesis import synthesize

FAST = dict(steps=3, extractor="random", device="cpu")


@pytest.fixture(scope="module")
def prior(prior_dir):
    return load_prior(prior_dir, device="cpu")


@pytest.fixture(scope="module")
def ds(digits):
    """One clone for the module: the reference classifier (keyed by dataset name) trains once."""
    clone = digits.clone()
    yield clone
    clone.delete()


def test_select_synthetic_is_mmd_greedy_over_a_pool_and_takes_preferred_first():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(60, 5)).astype(np.float32)
    # the pool being the target itself: the mmd-greedy picks
    dense = MMDGreedySelector(backend="numpy").select(target, 7)
    assert np.array_equal(select_synthetic(target, target, 7), dense)
    far = rng.normal(loc=6.0, size=(4, 5)).astype(np.float32)
    pool = np.concatenate([target[:10], far])
    preferred = np.arange(14) >= 10  # only the far ones are "recognised"
    picks = select_synthetic(target, pool, 6, preferred)
    assert set(picks[:4]) == set(range(10, 14)) and len(set(picks)) == 6
    assert sorted(select_synthetic(target, pool, 14)) == list(range(14))
    with pytest.raises(OptionError):
        select_synthetic(target, pool, 15)


def test_select_union_takes_a_candidate_only_where_it_beats_every_real_sample():
    rng = np.random.default_rng(1)
    target = rng.normal(size=(80, 4)).astype(np.float32)
    centre = target.mean(0, keepdims=True)  # lowers MMD^2 more than any real sample as a 1st pick
    far = centre + 9.0  # worse than every real sample
    syn, real = select_union(target, np.concatenate([far, centre]), 5)
    assert list(syn) == [1] and len(real) == 4 and syn.dtype == real.dtype == np.int64
    # without candidates the picks are the real-only greedy MMD's
    dense = MMDGreedySelector(backend="numpy").select(target, 5)
    syn, real = select_union(target, far, 5)
    assert len(syn) == 0 and np.array_equal(real, dense)
    # an unrecognised candidate comes after every real sample, even the best one
    syn, real = select_union(target, centre, 80, recognised=[False])
    assert len(syn) == 0 and len(real) == 80
    syn, _ = select_union(target, centre, 81, recognised=[False])
    assert list(syn) == [0]


def test_union_pool_picks_each_class_budget_from_real_and_candidates(ds, prior):
    synthesize(ds, "ground_truth", prior, ipc=4, run_key="union_syn", iterations=1, **FAST)
    out = dope(ds, "ground_truth", "union_syn", 3, run_key="union", synthetic_per_class=2,
               joint_pool="union", extractor="random", device="cpu")
    assert runs.run_config(ds, "union")["joint_pool"] == "union"
    view = ds.load_saved_view(out["saved_view"])
    candidates = set(runs.synthetic_samples(ds, "union_syn").values("id"))
    kept = set(view.match_tags(names.SYNTHETIC_TAG).values("id"))
    assert kept <= candidates
    per_class = view.count_values("ground_truth.label")
    for c, r in out["classes"].items():  # 2 + 3 per class, the share decided by greedy MMD
        assert r["count"] + r["synthetic"] == 5 == per_class[c], c
        assert r["candidates"] == 4, c
    assert len(view) == 5 * len(out["classes"])
    # the command line: the union's share is decided per class, so the totals are printed
    from click.testing import CliRunner

    r = CliRunner().invoke(main, ["concentrate", ds.name, "--prior", prior.path, "--budget", "2",
                                  "--synthetic-cap", "2", "--joint-pool", "union", "--steps", "3",
                                  "--extractor", "random", "--run-key", "cli_union"])
    assert r.exit_code == 0, r.output
    out = runs.load_results(ds, "cli_union")
    n_syn = sum(c["synthetic"] for c in out["classes"].values())
    assert f"2 images per class, picked from real samples and 2 candidates per class: {n_syn} " \
        f"synthetic + {20 - n_syn} real in all" in r.output
    assert runs.run_config(ds, "cli_union")["joint_pool"] == "union"
    # the synthetic pool (today's default) keeps exactly 2 per class
    fixed = dope(ds, "ground_truth", "union_syn", 3, run_key="fixed", synthetic_per_class=2,
                 extractor="random", device="cpu")
    assert "joint_pool" not in runs.run_config(ds, "fixed")
    assert {r["synthetic"] for r in fixed["classes"].values()} == {2}


def test_joint_selection_with_k1_and_all_candidates_kept_equals_doping_the_nopt_run(ds, prior):
    synthesize(ds, "ground_truth", prior, ipc=2, run_key="nopt", iterations=1, **FAST)
    plain = dope(ds, "ground_truth", "nopt", 3, run_key="doped", extractor="random",
                 device="cpu")
    joint = dope(ds, "ground_truth", "nopt", 3, run_key="joint", synthetic_per_class=2,
                 extractor="random", device="cpu")
    assert runs.run_config(ds, "joint")["synthetic_per_class"] == 2
    assert "synthetic_per_class" not in runs.run_config(ds, "doped")
    assert set(ds.load_saved_view(joint["saved_view"]).values("id")) == \
        set(ds.load_saved_view(plain["saved_view"]).values("id"))
    for c, r in plain["classes"].items():
        j = joint["classes"][c]
        assert j["candidates"] == j["synthetic"] == 2  # every candidate kept
        assert (j["mmd_before"], j["mmd_after"]) == (r["mmd_before"], r["mmd_after"]), c


def _predictions(ds, ids, prior):
    """The reference classifier's class indices for samples ``ids``."""
    from fiftyone_dsco.data import class_table, train_view
    from fiftyone_dsco.features.reference import reference_classifier

    table = class_table(train_view(ds), "ground_truth")
    size, ch = prior.card.image_size, prior.card.channels
    clf = reference_classifier(train_view(ds), table, size, ch)
    with torch.no_grad():
        images = data.to_unit_range(data.image_array(ds, ids, size, ch, cache=False))
        return clf(images).argmax(1).numpy()


def test_k2_keeps_ipc_synthetic_per_class_recognised_first_and_drops_the_rest(ds, prior):
    before = len(ds)
    # real starts at strength 0.8 (6 steps): some candidates are recognised, some are not
    out = concentrate(ds, "ground_truth", prior, 2, run_key="jk2", synthetic_cap=2,
                      candidates_per_image=2, init="real", strength=0.8, **dict(FAST, steps=6))
    assert (out["synthetic_per_class"], out["real_per_class"], out["candidates_per_image"]) == \
        (2, 0, 2)
    assert runs.run_config(ds, "jk2_syn")["ipc"] == 4
    assert runs.run_config(ds, "jk2")["synthetic_per_class"] == 2
    view = ds.load_saved_view(out["saved_view"])
    syn_view = view.match_tags(names.SYNTHETIC_TAG)
    assert set(syn_view.count_values("ground_truth.label").values()) == {2}
    assert not len(view.match_tags(names.SYNTHETIC_TAG, bool=False))  # a budget of the cap
    candidates = runs.synthetic_samples(ds, "jk2_syn")
    kept = set(syn_view.values("id"))
    dropped = [i for i in candidates.values("id") if i not in kept]
    assert len(candidates) == 40 and len(dropped) == 20
    assert not set(dropped) & set(view.values("id"))  # dropped candidates stay out of the set
    classes = runs.run_config(ds, "jk2_syn")["classes"]
    ids, labels = candidates.values("id"), candidates.values("ground_truth.label")
    hit = _predictions(ds, ids, prior) == np.array([classes.index(c) for c in labels])
    counts = []
    for c in classes:
        rows = [r for r, lab in enumerate(labels) if lab == c]
        recognised = sum(hit[r] for r in rows)
        kept_recognised = sum(hit[r] for r in rows if ids[r] in kept)
        assert kept_recognised == min(2, recognised), c  # recognised ones first
        assert out["doping"]["classes"][c]["recognised"] == recognised
        counts.append(recognised)
    assert any(0 < n < 4 for n in counts), counts  # the classifier decided somewhere
    # renaming carries the set along; deleting each run removes exactly what it wrote
    concentrated = sorted(view.values("id"))
    ds.rename_run("jk2", "jk2b")
    renamed = ds.load_saved_view(runs.load_results(ds, "jk2b")["saved_view"])
    assert sorted(renamed.values("id")) == concentrated
    runs.delete(ds, "jk2b")
    assert not ds.match_tags(runs.run_tag("jk2b")) and len(candidates) == 40
    runs.delete(ds, "jk2_syn")
    assert len(ds) == before


def test_candidates_options(digits_copy, prior):
    with pytest.raises(OptionError, match="candidates_per_image"):
        concentrate(digits_copy, "ground_truth", prior, 5, run_key="bad", synthetic_cap=2,
                    candidates_per_image=0, **FAST)
    synthesize(digits_copy, "ground_truth", prior, ipc=1, method="plain", run_key="one", **FAST)
    with pytest.raises(OptionError, match="synthetic_per_class"):
        dope(digits_copy, "ground_truth", "one", 1, synthetic_per_class=2)
    for bad, match in (("both", "Unknown joint_pool"), ("union", "mmd-greedy")):
        with pytest.raises(OptionError, match=match):  # refused before anything is written
            concentrate(digits_copy, "ground_truth", prior, 5, run_key="bad", synthetic_cap=2,
                        joint_pool=bad, selector="herding", **FAST)
    with pytest.raises(OptionError, match="needs synthetic_per_class"):
        dope(digits_copy, "ground_truth", "one", 1, joint_pool="union")
    assert [r["key"] for r in runs.list_runs(digits_copy)] == ["one"]
    param = next(p for p in main.commands["concentrate"].params if p.name == "candidates_per_image")
    assert param.default == names.DEFAULT_CANDIDATES == 1
