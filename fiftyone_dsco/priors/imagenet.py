"""Map a dataset's class names onto a pretrained DiT's ImageNet class indices.

A ``DiTPipeline`` folder (e.g. ``facebook/DiT-XL-2-256`` saved locally) lists its
classes in ``model_index.json``'s ``id2label`` (``{"0": "tench, Tinca tinca", ...}``).
A dataset class maps to an index through an explicit mapping (a dict, or a JSON
file ``{"class name": index}``), else through the pipeline's label names: each
comma-separated name of ``id2label``, as ``DiTPipeline.labels`` reads them,
matched without regard to case, ``_`` or ``-``.
"""

import difflib
import json
import os

from ..errors import ClassMismatchError, OptionError


def read_id2label(folder):
    """``{index: label}`` from a pipeline folder's ``model_index.json``, or None."""
    path = os.path.join(folder, "model_index.json")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        id2label = json.load(f).get("id2label")
    return {int(k): v for k, v in id2label.items()} if id2label else None


def _norm(name):
    return " ".join(str(name).replace("_", " ").replace("-", " ").lower().split())


def label_names(id2label):
    """``{normalised name: {indices}}`` of every comma-separated name (DiTPipeline.labels' rule)."""
    out = {}
    for k, value in id2label.items():
        for name in value.split(","):
            if name.strip():
                out.setdefault(_norm(name), set()).add(int(k))
    return out


def read_class_map(path):
    """A JSON mapping file ``{"class name": index or model class name}``."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise OptionError(f"Cannot read the class mapping file '{path}': {e}. It must be JSON "
                          f"like {{\"golden retriever\": 207, \"tabby cat\": 281}}.") from e
    if not isinstance(data, dict):
        raise OptionError(f"The class mapping file '{path}' must hold a JSON object "
                          f"{{\"class name\": index}}, not {type(data).__name__}.")
    return data


def class_indices(prior, dataset_classes, class_map=None):
    """Model class index of each dataset class (dataset order).

    ``class_map``: a dict or a JSON file path of dataset class -> model index (or
    model class name). A file may name classes the dataset lacks (one file for
    many subsets). Priors with ImageNet labels (``id2label``) map the remaining
    names through them; missing or ambiguous names raise a
    :class:`ClassMismatchError` that lists them and the fix.
    """
    if isinstance(class_map, (str, os.PathLike)):
        wanted = set(dataset_classes)
        class_map = {c: v for c, v in read_class_map(class_map).items() if c in wanted}
    class_map = dict(class_map or {})
    id2label = getattr(prior, "id2label", None)
    if not id2label:
        return prior.card.class_indices(dataset_classes, class_map)
    names, missing, ambiguous = label_names(id2label), [], {}
    for c in dataset_classes:
        if c in class_map:
            continue
        found = names.get(_norm(c), set())
        if len(found) == 1:
            class_map[c] = next(iter(found))
        elif found:
            ambiguous[c] = sorted(found)
        else:
            missing.append(c)
    if missing or ambiguous:
        raise ClassMismatchError(_mapping_error(missing, ambiguous, names, len(id2label)))
    return prior.card.class_indices(dataset_classes, class_map)


def _mapping_error(missing, ambiguous, names, n):
    parts = []
    if missing:
        hints = [f"'{c}'" + (f" (close: {', '.join(close)})" if close else "")
                 for c in missing
                 for close in [difflib.get_close_matches(_norm(c), list(names), n=3)]]
        parts.append(f"These dataset classes are not among the pipeline's {n} ImageNet label "
                     f"names: {', '.join(hints)}.")
    if ambiguous:
        parts.append("These names fit several ImageNet classes: " + ", ".join(
            f"'{c}' -> {idx}" for c, idx in ambiguous.items()) + ".")
    example = ", ".join(f'"{c}": <index>' for c in (missing + list(ambiguous))[:2])
    return (" ".join(parts) + f" Map them with a JSON file {{{example}}} passed as "
            f"class_map=<file> (CLI: --class-map FILE), or rename the classes to label names "
            f"from the pipeline's model_index.json (id2label).")
