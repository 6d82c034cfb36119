"""FiftyOne operators of fiftyone-dsco: one module per capability.

Each operator is a form, validation, and one call into ``fiftyone_dsco``; the
panel "DsCo" shows what the runs stored.
"""

from .budget_search import BudgetSearch
from .concentrate import Concentrate
from .dope import Dope
from .evaluate import Evaluate
from .fit_prior import FitPrior
from .load_builtin_dataset import LoadBuiltinDataset
from .manage_runs import ManageRuns
from .panel import DscoPanel
from .synthesize import Synthesize

OPERATORS = [LoadBuiltinDataset, FitPrior, Synthesize, Dope, Concentrate, Evaluate, BudgetSearch,
             ManageRuns]
PANELS = [DscoPanel]
