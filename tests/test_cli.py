from click.testing import CliRunner

from fiftyone import ViewField as F

from fiftyone_dsco import names, runs
from fiftyone_dsco.cli import main
from fiftyone_dsco.runs import load_results


def test_help_tells_where_to_start():
    out = CliRunner().invoke(main, ["--help"]).output
    assert "dsco demo" in out and "dsco datasets load digits" in out


def test_load_and_info(digits):
    r = CliRunner().invoke(main, ["datasets", "load", "digits"])
    assert r.exit_code == 0, r.output
    assert "1797 samples" in r.output and "total" in r.output
    r = CliRunner().invoke(main, ["datasets", "info", "dsco-digits"])
    assert r.exit_code == 0 and "test split: 360" in r.output


def test_clear_errors(digits):
    r = CliRunner().invoke(main, ["datasets", "info", "nope"])
    assert r.exit_code != 0 and "dsco datasets load digits" in r.output
    r = CliRunner().invoke(main, ["datasets", "info", "dsco-digits", "--label-field", "x"])
    assert r.exit_code != 0 and "does not exist" in r.output
    for extra in ([], ["--synthetic-run", "s", "--prior", "p"]):  # a run to dope, or real only
        r = CliRunner().invoke(main, ["dope", "dsco-digits", "--budget", "2", *extra])
        assert r.exit_code != 0 and "--synthetic-run" in r.output and "--prior" in r.output


def test_demo_runs_the_whole_job_end_to_end(digits):
    args = ["demo", "--prior-steps", "4", "--seeds", "2", "--epochs", "3", "--budget", "3"]
    n_real = len(digits)
    try:
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 0, r.output
        for step in ("1/4", "2/4", "3/4", "4/4"):
            assert step in r.output
        assert "3 NOpt-synthetic (started from noise) + 0 selected real" in r.output
        for arm in ("dsco", "herding", "random", "full"):  # herding: the best real subset
            assert f"| {arm} |" in r.output
        assert digits.has_run("demo") and digits.has_run("demo_eval")
        assert runs.run_config(digits, "demo_herding")["selector"] == "herding"
        assert "prefer_recognised" not in runs.run_config(digits, "demo_herding")  # plain herding
        # names this job's runs only (not every run of a dataset the benchmarks also use)
        assert "runs demo_syn, demo, demo_herding, demo_eval; saved view 'dsco-demo'" in r.output
        assert ("evaluations demo_eval_dsco_eval, demo_eval_herding_eval, demo_eval_random_eval, "
                "demo_eval_full_eval") in r.output
        # the main job is re-runnable: same key, no duplicated samples
        n = len(digits)
        assert n == n_real + 30
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 0, r.output
        assert len(digits) == n
    finally:  # `dsco runs delete` removes every kind of run with what it wrote
        for key in ("demo_eval", "demo_herding", "demo", "demo_syn"):
            if digits.has_run(key):
                r = CliRunner().invoke(main, ["runs", "delete", digits.name, key])
                assert r.exit_code == 0, r.output
    assert len(digits) == n_real and not digits.list_runs()
    assert not [f for f in digits.get_field_schema() if f.startswith("demo_eval")]
    assert not digits.list_evaluations()


def test_budget_is_images_per_class_or_a_fraction():
    import click
    import pytest

    from fiftyone_dsco.cli import parse_budget

    assert parse_budget("1") == 1 and isinstance(parse_budget("1"), int)
    assert parse_budget("50") == 50 and parse_budget("0.2") == 0.2 and parse_budget("1.0") == 1.0
    for bad in ("2.5", "-0.1", "1.5", "ten"):  # "0" is an int: concentrate() refuses it
        with pytest.raises(click.BadParameter, match="neither an integer"):
            parse_budget(bad)


def test_evaluate_needs_a_set_and_prints_the_table(digits_copy):
    r = CliRunner().invoke(main, ["evaluate", digits_copy.name])
    assert r.exit_code != 0 and "--run RUN_KEY or --view" in r.output
    ids = [i for c in range(10) for i in
           digits_copy.match_tags("train").match(F("ground_truth.label") == str(c)).limit(3).values("id")]
    digits_copy.save_view("three", digits_copy.select(ids))
    r = CliRunner().invoke(main, ["evaluate", digits_copy.name, "--view", "three", "--epochs", "2",
                                  "--seeds", "2", "--no-full", "--lr", "0.05", "--eval-key", "cli_eval"])
    assert r.exit_code == 0, r.output
    assert "| three | 3 |" in r.output and "| random | 3 |" in r.output and "| full |" not in r.output
    assert digits_copy.has_run("cli_eval") and load_results(digits_copy, "cli_eval")["lr"] == 0.05


def test_evaluate_full_epochs_takes_a_number_or_converge(digits_copy):
    base = ["evaluate", digits_copy.name, "--view", "any", "--epochs", "2"]
    r = CliRunner().invoke(main, base + ["--full-epochs", "convergee"])
    assert r.exit_code == 2 and "number of epochs >= 1 or 'converge', not 'convergee'" in r.output
    r = CliRunner().invoke(main, base + ["--full-epochs", "0"])
    assert r.exit_code == 2 and "not '0'" in r.output
    r = CliRunner().invoke(main, base + ["--converge-max-epochs", "9"])
    assert r.exit_code == 2 and "goes with --full-epochs converge" in r.output
    digits_copy.save_view("any", digits_copy.match_tags("train").limit(20))
    r = CliRunner().invoke(main, base + ["--full-epochs", "converge"])  # the cap: --epochs
    assert r.exit_code == 1 and "starts at 5 epochs, above its cap 2" in r.output
    assert not digits_copy.list_runs()


def test_synthesize_and_dope_pass_their_options_to_the_runs(digits_copy, tmp_path):
    from fiftyone_dsco.priors import fit_prior
    from fiftyone_dsco.runs import run_config

    fit_prior(digits_copy, "ground_truth", output_dir=str(tmp_path / "prior"), steps=5,
              batch_size=8, block_out_channels=(8, 16, 16), recognisability=False, device="cpu")
    args = ["synthesize", digits_copy.name, "--prior", str(tmp_path / "prior"), "--ipc", "1",
            "--steps", "2", "--extractor", "random", "--lr", "0.05", "--no-reuse-prediction",
            "--run-key", "cli_opts"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    nopt = run_config(digits_copy, "cli_opts")["nopt"]
    assert nopt["lr"] == 0.05 and nopt["reuse_prediction"] is False
    args = ["dope", digits_copy.name, "--synthetic-run", "cli_opts", "--budget", "1", "--k", "4",
            "--backend", "faiss", "--bandwidth", "0.5", "--threads", "1", "--extractor", "random",
            "--prefer-recognised", "--run-key", "cli_dope"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert run_config(digits_copy, "cli_dope")["selector_options"] == {
        "k": 4, "backend": "faiss", "bandwidth": 0.5}
    assert run_config(digits_copy, "cli_dope")["prefer_recognised"] is True
    # a real-only selection takes its mode's defaults unless told
    from fiftyone_dsco import names

    real = ["dope", digits_copy.name, "--prior", str(tmp_path / "prior"), "--budget", "2",
            "--extractor", "random"]
    r = CliRunner().invoke(main, real + ["--run-key", "cli_real"])
    assert r.exit_code == 0, r.output
    cfg = run_config(digits_copy, "cli_real")
    assert cfg["selector"] == names.default_selector(True)
    assert cfg.get("prefer_recognised", False) is names.default_prefer_recognised(True)
    r = CliRunner().invoke(main, real + ["--run-key", "cli_rec", "--prefer-recognised",
                                         "--selector", "herding"])
    assert r.exit_code == 0, r.output
    cfg = run_config(digits_copy, "cli_rec")
    assert cfg["selector"] == "herding" and cfg["prefer_recognised"] is True


def test_budget_search_prints_the_answer_and_refuses_bad_input(digits_copy, prior_dir):
    ds = digits_copy
    r = CliRunner().invoke(main, ["budget-search", ds.name, "--prior", prior_dir, "--ladder", "a,b"])
    assert r.exit_code != 0 and "--ladder" in r.output and "1,2,5,10" in r.output
    r = CliRunner().invoke(main, ["budget-search", ds.name, "--prior", prior_dir,
                                  "--tolerance", "-1"])
    assert r.exit_code != 0 and "tolerance" in r.output and ds.list_runs() == []
    for shard, message in (("2/2", "0 <= K < N"), ("0/11", "at most 10 shards")):
        r = CliRunner().invoke(main, ["budget-search", ds.name, "--prior", prior_dir,
                                      "--shard", shard])
        assert r.exit_code != 0 and message in r.output and ds.list_runs() == []
    r = CliRunner().invoke(main, ["budget-search", ds.name, "--prior", prior_dir, "--ladder", "1,2",
                                  "--tolerance", "99", "--epochs", "2", "--seeds", "2",
                                  "--methods", "herding,random", "--run-key", "cli_bs"])
    assert r.exit_code == 0, r.output
    assert "Smallest budget with no loss on validation: 1 images per class" in r.output
    assert ds.has_saved_view("dsco-cli-bs") and ds.has_run("cli_bs_test")


def test_prior_fit_takes_a_preset_and_continues_with_more_steps(digits, tmp_path):
    out = str(tmp_path / "p")
    args = ["prior", "fit", digits.name, "--output-dir", out, "--preset", "tiny", "--steps", "3",
            "--batch-size", "4", "--block-out-channels", "8,16,16", "--no-recognisability"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert "3 steps, the step cap" in r.output and "preset tiny, widths [8, 16, 16]" in r.output
    r = CliRunner().invoke(main, args + ["--more-steps", "2"])
    assert r.exit_code == 0, r.output
    assert "5 steps, the step cap" in r.output
    r = CliRunner().invoke(main, args[:-1] + ["--preset", "huge"])
    assert r.exit_code != 0 and "'huge' is not one of 'tiny', 'small', 'base'" in r.output
    r = CliRunner().invoke(main, args + ["--block-out-channels", "8,x"])
    assert r.exit_code != 0 and "give integers separated by commas" in r.output


def test_synthesize_passes_the_nopt_levers(digits_copy, prior_dir):
    r = CliRunner().invoke(main, ["synthesize", digits_copy.name, "--prior", prior_dir,
                                  "--ipc", "1", "--augment", "crop_blur", "--random-nets", "1"])
    assert r.exit_code != 0 and "blur" in r.output, r.output
    args = ["synthesize", digits_copy.name, "--prior", prior_dir, "--ipc", "1", "--steps", "3",
            "--extractor", "random", "--diversity", "0.5", "--random-nets", "1",
            "--step-fraction", "0.5",
            "--run-key", "cli_levers"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    nopt = runs.run_config(digits_copy, "cli_levers")["nopt"]
    assert nopt["diversity"] == 0.5 and nopt["random_nets"] == 1 and nopt["step_fraction"] == 0.5


def test_concentrate_leaves_the_start_to_the_budget_unless_given(digits_copy, prior_dir):
    """Between the caps `dsco concentrate` starts NOpt from the real-only picks with the band's
    NOpt iterations, as the library does; an explicit --init noise or --iterations wins."""
    base = ["concentrate", digits_copy.name, "--prior", prior_dir, "--budget", "3",
            "--synthetic-cap", "2", "--real-start-cap", "4", "--steps", "3",
            "--extractor", "random"]
    r = CliRunner().invoke(main, [*base, "--run-key", "band"])
    assert r.exit_code == 0, r.output
    assert "3 synthetic (NOpt from real) + 0 real" in r.output
    assert runs.run_config(digits_copy, "band_syn")["init"] == "real"
    assert runs.run_config(digits_copy, "band_syn")["nopt"]["iterations"] == \
        names.REAL_START_ITERATIONS
    r = CliRunner().invoke(main, [*base, "--run-key", "band1", "--iterations", "1"])
    assert r.exit_code == 0, r.output
    assert runs.run_config(digits_copy, "band1_syn")["nopt"]["iterations"] == 1
    r = CliRunner().invoke(main, [*base, "--run-key", "noise", "--init", "noise"])
    assert r.exit_code == 0, r.output
    assert "3 synthetic (NOpt from noise) + 0 real" in r.output
