from click.testing import CliRunner

from fiftyone_dsco.cli import main


def test_help_tells_where_to_start():
    out = CliRunner().invoke(main, ["--help"]).output
    assert "dsco demo" in out and "dsco datasets load digits" in out


def test_load_and_info(digits):
    r = CliRunner().invoke(main, ["datasets", "load", "digits"])
    assert r.exit_code == 0, r.output
    assert "1797 samples" in r.output and "total" in r.output
    r = CliRunner().invoke(main, ["datasets", "info", "dsco-digits"])
    assert r.exit_code == 0 and "test split: 360" in r.output


def test_clear_errors():
    r = CliRunner().invoke(main, ["datasets", "info", "nope"])
    assert r.exit_code != 0 and "dsco datasets load digits" in r.output
    r = CliRunner().invoke(main, ["datasets", "info", "dsco-digits", "--label-field", "x"])
    assert r.exit_code != 0 and "does not exist" in r.output
