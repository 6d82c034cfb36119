"""Data access layer: class tables, splits and streaming image loading.

Every step of the pipeline reads real data through this module, so that the
class order never drifts, synthetic samples never leak into "real" views, and
bad input fails with a clear error before anything is written.
"""

import hashlib
import json
import os

import numpy as np
from PIL import Image

import fiftyone as fo
import fiftyone.core.utils as fou
from fiftyone import ViewField as F

from ..errors import (
    EmptyViewError,
    LabelFieldError,
    MissingLabelsError,
    TooFewSamplesError,
    UnreadableImageError,
    OptionError,
)
from ..names import DSCO_FIELD, TEST_TAG, TRAIN_TAG
from ..paths import cache_dir


# --- views -----------------------------------------------------------------


def real_view(view):
    """The samples of ``view`` that are real, i.e. not written by a DsCo synthesis."""
    return view.match(F(DSCO_FIELD + ".source") != "synthetic")


def split_view(view, split):
    """Real samples of ``view`` tagged with ``split`` (``"train"`` or ``"test"``).

    ``split=None`` returns every real sample.
    """
    real = real_view(view)
    if split is None:
        return real
    return real.match_tags(split)


def train_view(view):
    """Real training samples: tagged ``train`` when the view has split tags, else all real."""
    real = real_view(view)
    if real.match_tags([TRAIN_TAG, TEST_TAG]).count() == 0:
        return real
    return real.match_tags(TRAIN_TAG)


def test_view(view):
    """Real held-out samples (tag ``test``)."""
    return split_view(view, TEST_TAG)


# --- label field and class table --------------------------------------------


def validate_label_field(view, label_field):
    """Raise a clear error unless ``label_field`` is a ``Classification`` field of ``view``."""
    schema = view.get_field_schema()
    cls_fields = sorted(
        name
        for name, field in schema.items()
        if isinstance(field, fo.EmbeddedDocumentField)
        and issubclass(field.document_type, fo.Classification)
    )
    if label_field not in schema:
        raise LabelFieldError(
            f"Label field '{label_field}' does not exist on dataset "
            f"'{view._dataset.name}'. Classification fields available: "
            f"{cls_fields or 'none'}. Pass one of them as label_field."
        )
    field = schema[label_field]
    if label_field not in cls_fields:
        kind = getattr(field, "document_type", type(field))
        name = getattr(kind, "__name__", str(kind))
        raise LabelFieldError(
            f"Label field '{label_field}' holds {name}, but DsCo needs an "
            f"fo.Classification field. Classification fields available: "
            f"{cls_fields or 'none'}."
        )


class ClassTable:
    """The ordered classes of a view's label field and the sample ids of each.

    The class order is stored with every run so that class indices never drift.
    """

    def __init__(self, classes, ids_by_class):
        self.classes = list(classes)
        self.ids_by_class = {c: list(ids_by_class.get(c, [])) for c in self.classes}

    @property
    def counts(self):
        return {c: len(ids) for c, ids in self.ids_by_class.items()}

    @property
    def num_samples(self):
        return sum(self.counts.values())

    def index(self, label):
        return self.classes.index(label)

    def ids(self):
        """All sample ids, class by class in class order."""
        return [i for c in self.classes for i in self.ids_by_class[c]]

    def labels(self):
        """Class indices aligned with :meth:`ids`."""
        return np.concatenate(
            [np.full(len(self.ids_by_class[c]), k, dtype=np.int64) for k, c in enumerate(self.classes)]
        ) if self.classes else np.zeros(0, dtype=np.int64)

    def require(self, min_per_class):
        """Raise if a class has fewer than ``min_per_class`` samples."""
        small = {c: n for c, n in self.counts.items() if n < min_per_class}
        if small:
            raise TooFewSamplesError(
                f"These classes have fewer than {min_per_class} samples: "
                f"{small}. Add samples, drop the classes from the view "
                f"(e.g. view.filter_labels), or lower the requirement."
            )
        return self

    def format(self):
        """A plain-text table of class, index and count."""
        width = max([len(c) for c in self.classes] + [5])
        lines = [f"{'#':>3}  {'class':<{width}}  samples"]
        for k, c in enumerate(self.classes):
            lines.append(f"{k:>3}  {c:<{width}}  {len(self.ids_by_class[c]):>7}")
        lines.append(f"{'':>3}  {'total':<{width}}  {self.num_samples:>7}")
        return "\n".join(lines)

    def to_dict(self):
        return {"classes": self.classes, "counts": self.counts}


def class_table(view, label_field, classes=None, missing="fail", min_per_class=1):
    """Build the :class:`ClassTable` of ``view``'s ``label_field``.

    Args:
        view: a FiftyOne dataset or view (only its real samples are used)
        label_field: a ``Classification`` field
        classes (None): the class order to use; by default the dataset's
            ``classes[label_field]`` or ``default_classes`` when they cover
            every label, else the sorted distinct labels
        missing ("fail"): what to do with samples that have no label:
            ``"fail"`` raises, ``"skip"`` leaves them out
        min_per_class (1): raise if a class has fewer samples than this
    """
    if missing not in ("fail", "skip"):
        raise OptionError(f"missing must be 'fail' or 'skip', not {missing!r}")
    validate_label_field(view, label_field)
    real = real_view(view)
    if real.count() == 0:
        raise EmptyViewError(
            "The view holds no real samples. Select samples (or clear the "
            "filters) before running DsCo."
        )
    ids, labels = real.values(["id", label_field + ".label"])
    unlabeled = [i for i, y in zip(ids, labels) if y is None]
    if unlabeled and missing == "fail":
        raise MissingLabelsError(
            f"{len(unlabeled)} samples have no label in '{label_field}' "
            f"(e.g. {unlabeled[:3]}). Label them, or leave them out: "
            f"view.exists('{label_field}.label')."
        )
    present = sorted({y for y in labels if y is not None})
    if not present:
        raise EmptyViewError(f"No sample of the view has a label in '{label_field}'.")
    if classes is None:
        ds = view._dataset
        for known in (ds.classes.get(label_field), ds.default_classes):
            if known and set(present) <= set(known):
                classes = [c for c in known if c in set(present)]
                break
        else:
            classes = present
    unknown = sorted(set(present) - set(classes))
    if unknown:
        raise OptionError(
            f"Labels {unknown} are not in the given class list {list(classes)}."
        )
    by_class = {c: [] for c in classes}
    for i, y in zip(ids, labels):
        if y is not None:
            by_class[y].append(i)
    return ClassTable(classes, by_class).require(min_per_class)


# --- images ------------------------------------------------------------------


def read_image(path, size=None, channels=1, sample_id=None):
    """Read one image as a uint8 array ``(channels, H, W)``, resized to ``size``.

    Raises :class:`UnreadableImageError` naming the file (and ``sample_id``)
    when it is missing or cannot be decoded.
    """
    try:
        with Image.open(path) as img:
            img = img.convert("L" if channels == 1 else "RGB")
            if size is not None and img.size != (size, size):
                img = img.resize((size, size), Image.BILINEAR)
            arr = np.asarray(img, dtype=np.uint8)
    except (OSError, ValueError) as e:
        if sample_id is None:
            what, fix = f"image '{path}'", f"view.match(F('filepath') != {str(path)!r})"
        else:
            what = f"the image of sample '{sample_id}' ('{path}')"
            fix = (f"{_exclude_fix([sample_id])} (every unreadable sample: "
                   f"{_exclude_fix(None)})")
        raise UnreadableImageError(
            f"Cannot read {what}: {e}. Fix the file, or leave the sample out: {fix}."
        ) from e
    if arr.ndim == 2:
        arr = arr[None]
    else:
        arr = arr.transpose(2, 0, 1)
    return arr


def find_unreadable(view):
    """Ids of the samples of ``view`` whose image is missing or cannot be decoded.

    Leave them out with ``view.exclude(find_unreadable(view))``.
    """
    bad = []
    for i, path in zip(*view.values(["id", "filepath"])):
        try:
            with Image.open(path) as img:
                img.load()
        except (OSError, ValueError):
            bad.append(i)
    return bad


def _exclude_fix(ids):
    """A view expression that leaves the samples ``ids`` (None: every unreadable one) out."""
    if ids is not None and len(ids) <= 5:
        return f"view.exclude({list(ids)!r})"
    return "view.exclude(fiftyone_dsco.data.find_unreadable(view))"


def check_files_exist(paths_by_id):
    """Raise :class:`UnreadableImageError` naming the samples whose file does not exist."""
    missing = [i for i, p in paths_by_id.items() if not os.path.isfile(p)]
    if missing:
        shown = ", ".join(f"'{i}' ({paths_by_id[i]})" for i in missing[:3])
        raise UnreadableImageError(
            f"{len(missing)} image files are missing, of samples {shown}"
            f"{' ...' if len(missing) > 3 else ''}. Restore them, or leave the samples "
            f"out: {_exclude_fix(missing)}."
        )


def iter_image_batches(view, ids, size, channels=1, batch_size=256, progress=None):
    """Stream images of the samples ``ids`` in batches of uint8 ``(B, C, H, W)``.

    Only one batch is in memory at a time, so a view of any size can be read.
    """
    paths = dict(zip(*view._dataset.select(ids).values(["id", "filepath"])))
    check_files_exist({i: paths[i] for i in ids})
    with fou.ProgressBar(total=len(ids), progress=progress) as pb:
        for start in range(0, len(ids), batch_size):
            chunk = ids[start : start + batch_size]
            batch = np.stack([read_image(paths[i], size, channels, sample_id=i) for i in chunk])
            pb.update(len(chunk))
            yield chunk, batch


def image_array(view, ids, size, channels=1, progress=None, cache=True):
    """All images of ``ids`` as one uint8 array ``(N, C, size, size)``.

    With ``cache=True`` the array is written once to a memory-mapped file
    under the DsCo cache, keyed by the ids, their files and the size, and
    reused by later calls without decoding any image again.
    """
    n = len(ids)
    shape = (n, channels, size, size)
    if not cache:
        out = np.empty(shape, dtype=np.uint8)
        k = 0
        for chunk, batch in iter_image_batches(view, ids, size, channels, progress=progress):
            out[k : k + len(chunk)] = batch
            k += len(chunk)
        return out
    paths = view._dataset.select(ids, ordered=True).values("filepath")
    key = hashlib.sha1(
        json.dumps([list(ids), paths, size, channels]).encode()
    ).hexdigest()[:20]
    folder = cache_dir("images")
    path = os.path.join(folder, f"{key}.u8")
    if os.path.isfile(path):
        return np.memmap(path, dtype=np.uint8, mode="r", shape=shape)
    os.makedirs(folder, exist_ok=True)
    tmp = path + f".tmp{os.getpid()}"
    try:
        out = np.memmap(tmp, dtype=np.uint8, mode="w+", shape=shape)
        k = 0
        for chunk, batch in iter_image_batches(view, ids, size, channels, progress=progress):
            out[k : k + len(chunk)] = batch
            k += len(chunk)
        out.flush()
        del out
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return np.memmap(path, dtype=np.uint8, mode="r", shape=shape)


def to_unit_range(images):
    """uint8 images (array or tensor) to float32 torch tensor in [-1, 1]."""
    import torch

    t = torch.from_numpy(np.array(images, dtype=np.uint8, copy=True))
    return t.float().div_(127.5).sub_(1.0)


def to_uint8(images):
    """Float images in [-1, 1] (torch tensor) to a uint8 numpy array."""
    x = images.detach().float().clamp(-1, 1).add(1).mul(127.5).round()
    return x.to("cpu").numpy().astype(np.uint8)
