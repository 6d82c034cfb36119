"""The data layer: access to a dataset's classes, splits and images, and the built-in datasets.

``access`` (class table, splits, image arrays) and ``builtin`` (digits,
Fashion-MNIST). The access functions are re-exported here.
"""

from .access import (ClassTable, check_files_exist, class_table, find_unreadable,
                     image_array, iter_image_batches, read_image, real_view, split_view,
                     test_view, to_uint8, to_unit_range, train_view, validate_label_field)

__all__ = ["ClassTable", "check_files_exist", "class_table", "find_unreadable", "image_array",
           "iter_image_batches", "read_image", "real_view", "split_view", "test_view",
           "to_uint8", "to_unit_range", "train_view", "validate_label_field"]
