"""Doping and concentrate(): selected real samples mixed into a synthesis run."""

import pytest
from fiftyone import ViewField as F

from fiftyone_dsco import runs
from fiftyone_dsco.concentrate import budget_per_class, concentrate, split_budget
from fiftyone_dsco.data import train_view
from fiftyone_dsco.selection.doping import concentrated_view, dope
from fiftyone_dsco.errors import OptionError, RunError, TooFewSamplesError
from fiftyone_dsco.names import REAL_START_ITERATIONS, default_prefer_recognised, default_selector
from fiftyone_dsco.priors import fit_prior
from fiftyone_dsco.synthesis import synthesize

FAST = dict(steps=3, extractor="random", device="cpu")


@pytest.fixture(scope="module")
def prior(digits, tmp_path_factory):
    return fit_prior(digits, "ground_truth", output_dir=str(tmp_path_factory.mktemp("prior")),
                     steps=10, batch_size=16, block_out_channels=(8, 16, 16),
                     recognisability=False, device="cpu")


@pytest.fixture
def synthesized(digits_copy, prior):
    synthesize(digits_copy, "ground_truth", prior, ipc=2, method="plain", run_key="syn", **FAST)
    return digits_copy


def test_dope_tags_selection_and_saves_concentrated_view(synthesized):
    ds = synthesized
    res = dope(ds, "ground_truth", "syn", 3, extractor="random", device="cpu")
    key = "syn_dope3_mmd_greedy"
    selected = ds.match_tags(runs.run_tag(key))
    assert len(selected) == 30 and res["num_selected"] == 30
    assert selected.match_tags("test").count() == 0  # only train candidates
    assert set(selected.count_values("ground_truth.label").values()) == {3}
    conc = concentrated_view(ds, key)
    assert len(conc) == 50 and res["size"] == 50
    for c, r in res["classes"].items():
        assert r["count"] == 3 and r["mmd_after"] < r["mmd_before"], c
    # idempotent: the same run again selects the same samples, no duplicates
    ids = sorted(selected.values("id"))
    dope(ds, "ground_truth", "syn", 3, extractor="random", device="cpu")
    assert sorted(ds.match_tags(runs.run_tag(key)).values("id")) == ids
    runs.delete_run(ds, key)
    assert len(ds.match_tags(runs.run_tag(key))) == 0 and len(ds) == 1797 + 20


@pytest.mark.parametrize("selector", ["kcenter", "herding", "prototypes", "random"])
def test_other_selectors(synthesized, selector):
    res = dope(synthesized, "ground_truth", "syn", 2, selector=selector, extractor="random",
               device="cpu")
    assert res["num_selected"] == 20


def test_budget_edge_cases(synthesized):
    ds = synthesized
    with pytest.raises(OptionError, match=">= 0"):
        dope(ds, "ground_truth", "syn", -1)
    with pytest.raises(TooFewSamplesError, match="clamp=True"):
        dope(ds, "ground_truth", "syn", 1000, extractor="random")
    with pytest.raises(OptionError, match="selector"):
        dope(ds, "ground_truth", "syn", 1, selector="best")
    with pytest.raises(RunError, match="No synthesis run"):
        dope(ds, "ground_truth", "nope", 1)
    assert [r["key"] for r in runs.list_runs(ds)] == ["syn"]  # nothing written
    res = dope(ds, "ground_truth", "syn", 0, extractor="random", device="cpu", run_key="zero")
    assert res["num_selected"] == 0 and res["size"] == 20
    res = dope(ds, "ground_truth", "syn", 1000, clamp=True, extractor="random", device="cpu",
               selector="random", run_key="all")
    assert res["num_selected"] == 1437


def test_selector_options_and_threads_reach_the_run(synthesized):
    ds = synthesized
    with pytest.raises(OptionError, match="k must be"):
        dope(ds, "ground_truth", "syn", 2, selector_options={"k": 0}, run_key="bad")
    with pytest.raises(OptionError, match="no option"):
        dope(ds, "ground_truth", "syn", 2, selector="random", selector_options={"k": 8})
    with pytest.raises(OptionError, match="threads"):
        dope(ds, "ground_truth", "syn", 2, threads=0)
    assert [r["key"] for r in runs.list_runs(ds)] == ["syn"]  # nothing written
    res = dope(ds, "ground_truth", "syn", 2, selector_options={"k": 8, "backend": "faiss"},
               threads=1, run_key="opts", extractor="random", device="cpu")
    assert runs.run_config(ds, "opts")["selector_options"] == {"k": 8, "backend": "faiss"}
    assert res["num_selected"] == 20
    assert res["total_seconds"] >= 0 and res["total_feature_seconds"] > 0


def test_concentrate_checks_doping_options_before_synthesis(synthesized, prior):
    """A doping step that would fail leaves no synthesis run behind."""
    ds = synthesized
    with pytest.raises(OptionError, match="selector"):
        concentrate(ds, "ground_truth", prior, 2, run_key="c1", synthetic_cap=2,
                    selector="best", method="plain", **FAST)
    with pytest.raises(OptionError, match="k must be"):
        concentrate(ds, "ground_truth", prior, 2, run_key="c2", synthetic_cap=2,
                    selector_options={"k": 0}, method="plain", **FAST)
    dope(ds, "ground_truth", "syn", 1, run_key="taken", extractor="random", device="cpu")
    with pytest.raises(RunError, match=r"other options \(budget, clamp, synthetic_run\)"):
        concentrate(ds, "ground_truth", prior, 2, run_key="taken", synthetic_cap=2,
                    method="plain", **FAST)
    ds.save_view("dsco-clash", ds.limit(3))  # the doping run's saved view name is taken
    with pytest.raises(RunError, match="saved view 'dsco-clash'"):
        concentrate(ds, "ground_truth", prior, 2, run_key="clash", synthetic_cap=2,
                    method="plain", **FAST)
    assert sorted(r["key"] for r in runs.list_runs(ds)) == ["syn", "taken"]


def test_concentrate_splits_the_budget(digits_copy, prior):
    # NOpt from noise up to the cap, from real starts up to the second cap, all real above
    assert [split_budget(b, 10, 14) for b in (4, 10, 11, 14, 40)] == [
        (4, 0, "noise"), (10, 0, "noise"), (11, 0, "real"), (14, 0, "real"), (0, 40, None)]
    assert [split_budget(b, 10, 0) for b in (10, 11)] == [(10, 0, "noise"), (0, 11, None)]
    assert split_budget(5, 0, 0) == (0, 5, None) and split_budget(5, 0) == (5, 0, "real")
    with pytest.raises(OptionError):
        split_budget(0)
    with pytest.raises(OptionError, match="real_start_cap"):
        split_budget(5, 2, -1)
    assert budget_per_class(digits_copy, "ground_truth", 0.1) == 14
    with pytest.raises(OptionError):
        budget_per_class(digits_copy, "ground_truth", 1.5)
    out = concentrate(digits_copy, "ground_truth", prior, 2, run_key="conc", synthetic_cap=2,
                      method="plain", **FAST)
    assert (out["synthetic_per_class"], out["real_per_class"]) == (2, 0)
    assert len(digits_copy.load_saved_view(out["saved_view"])) == 20


def test_unreadable_real_images_fail_before_the_run_is_written(synthesized):
    from fiftyone_dsco import data
    from fiftyone_dsco.errors import UnreadableImageError

    ds = synthesized
    real = data.real_view(ds)
    real.set_values("filepath", ["/nonexistent/real-%d.png" % i for i in range(len(real))])
    with pytest.raises(UnreadableImageError, match="nonexistent"):
        dope(ds, "ground_truth", "syn", 2, run_key="bad", extractor="random", device="cpu")
    assert not ds.has_run("bad") and not ds.match_tags(runs.run_tag("bad"))


def test_concentrate_large_budget_is_all_real(digits_copy, prior):
    """Above the cap no synthesis runs: the set is real samples chosen by the selector."""
    out = concentrate(digits_copy, "ground_truth", prior, 9, run_key="big", synthetic_cap=2,
                      real_start_cap=4, method="plain", **FAST)
    assert out["synthetic_run"] is None and out["synthesis"] is None
    assert (out["synthetic_per_class"], out["real_per_class"]) == (0, 9)
    view = digits_copy.load_saved_view(out["saved_view"])
    assert len(view) == 9 * 10
    assert set(view.values("id")) <= set(train_view(digits_copy).values("id"))  # all real train
    cfg = runs.run_config(digits_copy, "big")  # a real-only selection's defaults
    assert cfg["selector"] == default_selector(True)
    assert cfg.get("prefer_recognised", False) is default_prefer_recognised(True)


def test_concentrate_above_the_cap_starts_nopt_from_the_real_only_picks(digits_copy, prior):
    """Between the two caps the set is NOpt started from the real samples the all-real set
    would hold: the real-only selector's picks (or the given selector's), refined with the
    band's NOpt iterations per step; an explicit start or iteration count wins."""
    out = concentrate(digits_copy, "ground_truth", prior, 3, run_key="band", synthetic_cap=2,
                      real_start_cap=4, **FAST)
    assert (out["synthetic_per_class"], out["real_per_class"], out["init"]) == (3, 0, "real")
    cfg = runs.run_config(digits_copy, out["synthetic_run"])
    assert (cfg["init"], cfg["init_selector"]) == ("real", default_selector(True))
    assert cfg["nopt"]["iterations"] == REAL_START_ITERATIONS > 1
    out = concentrate(digits_copy, "ground_truth", prior, 3, run_key="band_i1", synthetic_cap=2,
                      real_start_cap=4, iterations=1, **FAST)
    assert runs.run_config(digits_copy, out["synthetic_run"])["nopt"]["iterations"] == 1
    assert len(digits_copy.load_saved_view(out["saved_view"])) == 3 * 10
    out = concentrate(digits_copy, "ground_truth", prior, 3, run_key="band_h", synthetic_cap=2,
                      real_start_cap=4, selector="herding", **FAST)
    assert runs.run_config(digits_copy, out["synthetic_run"])["init_selector"] == "herding"
    out = concentrate(digits_copy, "ground_truth", prior, 3, run_key="band_n", synthetic_cap=2,
                      real_start_cap=4, init="noise", **FAST)
    assert out["init"] == "noise"
    assert runs.run_config(digits_copy, out["synthetic_run"]).get("init", "noise") == "noise"


def test_concentrate_band_starts_from_the_recognised_real_only_picks(digits_copy, prior):
    """With ``prefer_recognised`` NOpt's real starts between the caps are still the samples the
    all-real set would hold: the selector's picks among the recognised samples first."""
    out = concentrate(digits_copy, "ground_truth", prior, 3, run_key="band_r", synthetic_cap=2,
                      real_start_cap=4, selector="herding", prefer_recognised=True, **FAST)
    syn = runs.run_config(digits_copy, out["synthetic_run"])
    assert (syn["init_selector"], syn["init_prefer_recognised"]) == ("herding", True)
    dope(digits_copy, "ground_truth", None, 3, selector="herding", prefer_recognised=True,
         run_key="real_r", prior=prior, extractor=FAST["extractor"], device="cpu")
    real = concentrated_view(digits_copy, "real_r")
    starts = out["synthesis"]["classes"]
    for c, record in starts.items():
        picks = real.match(F("ground_truth.label") == c).values("id")
        assert sorted(record["init_ids"]) == sorted(picks), c


def test_concentrate_between_the_caps_with_a_small_class_is_the_all_real_set(digits_copy, prior):
    """A class with fewer train samples than the budget cannot give NOpt its real starts: the set
    is then the real-only selection the band refines, which takes such classes whole."""
    from fiftyone import ViewField as F

    zeros = train_view(digits_copy).match(F("ground_truth.label") == "0")
    digits_copy.delete_samples(zeros.skip(5))
    out = concentrate(digits_copy, "ground_truth", prior, 6, run_key="small", synthetic_cap=2,
                      real_start_cap=6, **FAST)
    assert out["synthetic_run"] is None and out["init"] is None
    assert (out["synthetic_per_class"], out["real_per_class"]) == (0, 6)
    assert len(digits_copy.load_saved_view(out["saved_view"])) == 6 * 9 + 5
    # joint selection starts from K real images per kept image: 2 x 3 > 5
    out = concentrate(digits_copy, "ground_truth", prior, 3, run_key="small_k2",
                      synthetic_cap=2, real_start_cap=6, candidates_per_image=2, **FAST)
    assert out["synthetic_run"] is None and out["init"] is None
    assert len(digits_copy.load_saved_view(out["saved_view"])) == 3 * 10


def test_options_for_another_selector_name_the_modes_default(digits_copy, prior, monkeypatch):
    """Selector options given without a selector go to the mode's default; where it does not
    take them the error says which default it was, before anything is written."""
    import fiftyone_dsco.selection.doping as doping

    monkeypatch.setattr(doping, "default_selector", lambda real_only: "prototypes")
    with pytest.raises(OptionError, match="default selector of a real-only selection"):
        dope(digits_copy, "ground_truth", None, 2, prior=prior.path,
             selector_options={"bandwidth": 0.5})
    assert not digits_copy.list_runs()
    with pytest.raises(OptionError, match="needs prior="):
        dope(digits_copy, "ground_truth", None, 3)


def test_prefer_recognised_picks_real_samples_the_reference_recognises(synthesized):
    """With ``prefer_recognised`` every real pick is labelled with its own class by the
    reference classifier (the run records how many were recognised); the option is recorded."""
    ds = synthesized
    with pytest.raises(OptionError, match="prefer_recognised"):
        dope(ds, "ground_truth", "syn", 2, prefer_recognised="yes", run_key="bad")
    res = dope(ds, "ground_truth", "syn", 3, selector="random", prefer_recognised=True,
               run_key="rec", device="cpu")
    assert runs.run_config(ds, "rec")["prefer_recognised"] is True
    for c, r in res["classes"].items():
        assert r["recognised_real"] >= 3 and r["picked_recognised"] == 3, c
    plain = dope(ds, "ground_truth", "syn", 3, selector="random", run_key="any", device="cpu")
    assert "prefer_recognised" not in runs.run_config(ds, "any")
    assert all("picked_recognised" not in r for r in plain["classes"].values())
