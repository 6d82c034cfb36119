"""Errors name a fix that works when pasted (issue #28)."""

import inspect
import re

import numpy as np
import pytest
from PIL import Image

import fiftyone as fo

import fiftyone_dsco
from fiftyone_dsco import data
from fiftyone_dsco.concentrate import budget_per_class, concentrate
from fiftyone_dsco.errors import DscoError, MissingLabelsError, OptionError, UnreadableImageError


def _paste(pattern, msg, view):
    """Evaluate the view expression that ``msg`` suggests, with ``view`` bound."""
    found = re.search(pattern, msg)
    assert found, msg
    return eval(found.group(0), {"view": view, "fiftyone_dsco": fiftyone_dsco})


def test_missing_labels_fix_removes_both_kinds(digits_copy):
    a, b = digits_copy.limit(2).values("id")
    for i, value in ((a, None), (b, fo.Classification(label=None))):
        sample = digits_copy[i]
        sample["ground_truth"] = value
        sample.save()
    with pytest.raises(MissingLabelsError) as e:
        data.class_table(digits_copy, "ground_truth")
    msg = str(e.value)
    assert "missing=" not in msg  # synthesize, dope, evaluate, concentrate take no such option
    from fiftyone_dsco.selection.doping import dope
    from fiftyone_dsco.evaluation import evaluate
    from fiftyone_dsco.synthesis import synthesize

    for call in (synthesize, dope, evaluate, concentrate):
        assert "missing" not in inspect.signature(call).parameters
    fixed = _paste(r"view\.exists\('[^']+'\)", msg, digits_copy)
    assert data.class_table(fixed, "ground_truth").num_samples == len(digits_copy) - 2
    with pytest.raises(MissingLabelsError):  # the old suggestion keeps label=None
        data.class_table(digits_copy.exists("ground_truth"), "ground_truth")


@pytest.fixture
def png_dataset(tmp_path):
    """Three PNG samples; the second one's file is a truncated (corrupt) PNG."""
    ds = fo.Dataset()
    paths = []
    for k in range(3):
        path = str(tmp_path / f"{k}.png")
        Image.fromarray(np.full((8, 8), 40 * k, dtype=np.uint8)).save(path)
        paths.append(path)
    with open(paths[1], "rb") as f:
        head = f.read()[:40]
    with open(paths[1], "wb") as f:
        f.write(head)
    ds.add_samples([fo.Sample(filepath=p, ground_truth=fo.Classification(label="x"))
                    for p in paths])
    yield ds
    ds.delete()


def test_unreadable_image_names_sample_and_a_working_exclude(png_dataset):
    ds = png_dataset
    ids = ds.values("id")
    bad_path = ds[ids[1]].filepath
    with pytest.raises(UnreadableImageError) as e:
        data.image_array(ds, ids, size=8, cache=False)
    msg = str(e.value)
    assert ids[1] in msg and bad_path in msg and ids[0] not in msg
    for pattern in (r"view\.exclude\(\[[^\]]*\]\)", r"view\.exclude\(fiftyone_dsco[^)]*\)\)"):
        fixed = _paste(pattern, msg, ds)
        assert fixed.values("id") == [ids[0], ids[2]]
        assert data.image_array(fixed, fixed.values("id"), size=8, cache=False).shape == (2, 1, 8, 8)


def test_missing_image_names_sample_and_a_working_exclude(png_dataset):
    ds = png_dataset
    ids = ds.values("id")
    sample = ds[ids[0]]
    sample.filepath = "/nonexistent/gone.png"
    sample.save()
    with pytest.raises(UnreadableImageError) as e:
        list(data.iter_image_batches(ds, [ids[0], ids[2]], size=8))
    msg = str(e.value)
    assert ids[0] in msg and "gone.png" in msg
    assert _paste(r"view\.exclude\(\[[^\]]*\]\)", msg, ds).values("id") == ids[1:]
    assert data.find_unreadable(ds) == ids[:2]


def test_budget_forms(digits):
    for bad in ("abc", "", None, [3], 0, -2, 1.5, 0.0, True):
        with pytest.raises(OptionError, match=r"int >= 1.*fraction.*\(0, 1\]"):
            budget_per_class(digits, "ground_truth", bad)
    assert budget_per_class(digits, "ground_truth", "20") == 20
    assert budget_per_class(digits, "ground_truth", " 0.1 ") == 14
    assert budget_per_class(digits, "ground_truth", np.int64(7)) == 7


def test_budget_above_the_largest_class_is_refused(digits):
    counts = data.class_table(data.train_view(digits), "ground_truth").counts
    largest = max(counts.values())
    assert budget_per_class(digits, "ground_truth", largest) == largest
    for too_many in (largest + 1, 10**9):
        with pytest.raises(OptionError, match=rf"largest class has \({largest} train.*fraction"):
            budget_per_class(digits, "ground_truth", too_many)
    with pytest.raises(DscoError, match="largest class"):  # before any prior is loaded
        concentrate(digits, "ground_truth", None, 10**9)
