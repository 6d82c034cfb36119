
import numpy as np
import pytest

import fiftyone as fo

from fiftyone_dsco import data
from fiftyone_dsco.errors import (
    EmptyViewError, LabelFieldError, MissingLabelsError, TooFewSamplesError,
    UnreadableImageError,
)


def test_class_table_is_ordered_and_counts_train_split(digits):
    table = data.class_table(data.train_view(digits), "ground_truth")
    assert table.classes == [str(d) for d in range(10)]
    assert table.num_samples == 1437
    assert len(table.ids()) == len(table.labels()) == 1437
    assert table.labels()[0] == 0 and table.labels()[-1] == 9
    assert "total" in table.format()


def test_missing_label_field(digits):
    with pytest.raises(LabelFieldError, match="does not exist.*ground_truth"):
        data.class_table(digits, "labels")


def test_wrong_label_type(digits_copy):
    digits_copy.add_sample_field("dets", fo.EmbeddedDocumentField, embedded_doc_type=fo.Detections)
    with pytest.raises(LabelFieldError, match="Detections.*Classification"):
        data.class_table(digits_copy, "dets")


def test_missing_labels_fail_or_skip(digits_copy):
    sample = digits_copy.first()
    sample["ground_truth"] = None
    sample.save()
    with pytest.raises(MissingLabelsError, match=r"view\.exists\('ground_truth\.label'\)"):
        data.class_table(digits_copy, "ground_truth")
    table = data.class_table(digits_copy, "ground_truth", missing="skip")
    assert table.num_samples == len(digits_copy) - 1


def test_too_few_samples(digits):
    view = data.train_view(digits).limit(30)
    with pytest.raises(TooFewSamplesError, match="fewer than 50"):
        data.class_table(view, "ground_truth", min_per_class=50)


def test_empty_view(digits):
    with pytest.raises(EmptyViewError):
        data.class_table(digits.limit(0), "ground_truth")


def test_synthetic_samples_are_not_real(digits_copy):
    s = fo.Sample(filepath=digits_copy.first().filepath,
                  ground_truth=fo.Classification(label="3"), tags=["train"])
    s["dsco"] = fo.DynamicEmbeddedDocument(source="synthetic", run_key="x")
    digits_copy.add_sample(s)
    assert len(data.real_view(digits_copy)) == 1797
    assert len(data.train_view(digits_copy)) == 1437
    assert s.id not in data.class_table(digits_copy, "ground_truth").ids()


def test_images_stream_resize_and_cache(digits):
    ids = data.train_view(digits).limit(10).values("id")
    batches = list(data.iter_image_batches(digits, ids, size=16, batch_size=4))
    assert [len(c) for c, _ in batches] == [4, 4, 2]
    assert batches[0][1].shape == (4, 1, 16, 16) and batches[0][1].dtype == np.uint8
    arr = data.image_array(digits, ids, size=16)
    again = data.image_array(digits, ids, size=16)
    assert isinstance(again, np.memmap) and arr.filename == again.filename
    np.testing.assert_array_equal(np.asarray(arr), np.concatenate([b for _, b in batches]))
    t = data.to_unit_range(arr)
    assert t.min() >= -1 and t.max() <= 1
    np.testing.assert_array_equal(data.to_uint8(t), np.asarray(arr))


def test_unreadable_and_missing_images(digits_copy, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    samples = digits_copy.limit(2)
    first, second = samples.values("id")
    s = digits_copy[first]
    s.filepath = str(bad)
    s.save()
    with pytest.raises(UnreadableImageError, match="bad.png"):
        list(data.iter_image_batches(digits_copy, [first], size=8))
    s2 = digits_copy[second]
    s2.filepath = str(tmp_path / "gone.png")
    s2.save()
    with pytest.raises(UnreadableImageError, match="missing.*gone.png"):
        list(data.iter_image_batches(digits_copy, [first, second], size=8))
