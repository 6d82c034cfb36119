"""Names and option lists of DsCo, in one light module (no torch, faiss or FiftyOne import).

The library, the ``dsco`` CLI and the App's operators take their choices,
defaults and run-key formulas from here, so they cannot drift apart.

Sizes have one name each: ``budget`` of ``concentrate`` is the total images per
class (or a fraction of the train split); it splits into ``synthetic_per_class``
(``ipc`` of ``synthesize``) and ``real_per_class`` (``budget`` of ``dope``, a
run option kept for compatibility); a selector's ``select()`` returns
``num_picks`` indices.
"""

#: Embedded-document field that marks samples written by DsCo.
DSCO_FIELD = "dsco"
#: Tag on every synthetic sample.
SYNTHETIC_TAG = "dsco:synthetic"
#: Split tags that the built-in datasets use and every step respects.
TRAIN_TAG = "train"
TEST_TAG = "test"

#: Synthesis methods: NOpt, or plain sampling of the prior (NOpt with 0 iterations).
METHODS = ("nopt", "plain")
#: Where synthesis starts: noise, or selected real images noised to a strength (SDEdit).
INITS = ("noise", "real")
#: How real starts reach their noise level: forward noising (SDEdit) or DDIM inversion with the
#: prior.
INIT_NOISINGS = ("forward", "ddim-inversion")
#: What joint selection picks from: the synthetic candidates alone (the synthetic share fixed by
#: ``concentrate``'s split of the budget), or real samples and candidates together (greedy MMD
#: decides the share).
JOINT_POOLS = ("synthetic", "union")
#: The selector a union pool is picked with (greedy MMD over real ∪ candidates).
UNION_SELECTOR = "mmd-greedy"
#: Doping selectors (:mod:`fiftyone_dsco.selection.selectors`).
SELECTORS = ("mmd-greedy", "kcenter", "herding", "prototypes", "random")
#: Backends of mmd-greedy: auto (by class size), sparse FAISS kNN kernel, dense NumPy kernel,
#: FAISS k-means summary of the target (large classes).
SELECTION_BACKENDS = ("auto", "faiss", "numpy", "kmeans")
#: Feature extractors (:mod:`fiftyone_dsco.features`).
EXTRACTORS = ("reference", "random", "timm", "prior-latent")
#: Extractors of ``EXTRACTORS`` that see latents, not images: NOpt's image levers (``augment``,
#: ``random_nets``) cannot work with them.
LATENT_EXTRACTORS = ("prior-latent",)
#: NOpt's MMD kernels.
KERNELS = ("gaussian", "linear")
#: Classifiers that evaluation trains.
ARCHITECTURES = ("convnet3", "resnet18_small")
#: Evaluation recipes (:mod:`fiftyone_dsco.evaluation.recipes`; docs/evaluation.md).
RECIPES = ("dsco", "dc", "dsa")
#: DSA's operations (:mod:`fiftyone_dsco.evaluation.augment`); a strategy joins some with "_".
DSA_OPERATIONS = ("color", "crop", "cutout", "flip", "scale", "rotate")
#: Built-in datasets (:mod:`fiftyone_dsco.data.builtin`).
BUILTIN_DATASETS = ("digits", "fashion-mnist")
#: Pixel-prior (UNet2DModel) sizes, smallest first (docs/priors.md). Level k has ``width *
#: mults[k]`` channels; the image size sets how many levels there are
#: (:func:`fiftyone_dsco.priors.presets.unet_shape`). Levels of at most ``attention_px`` pixels
#: get self-attention (0: only the middle block). With no preset given, the first whose
#: ``max_values`` holds size x size x channels is used (None: any).
PRIOR_PRESETS = {
    "tiny": dict(width=32, mults=(1, 2, 2, 2, 2, 2), layers_per_block=1, attention_px=0,
                 head_dim=8, max_values=32 * 32),
    "small": dict(width=64, mults=(1, 2, 2, 4, 4, 4), layers_per_block=2, attention_px=16,
                  head_dim=32, max_values=64 * 64 * 3),
    "base": dict(width=128, mults=(1, 2, 2, 4, 4, 4), layers_per_block=2, attention_px=16,
                 head_dim=32, max_values=None),
}

#: Run kinds.
SYNTHESIS, DOPING, EVALUATION, BUDGET_SEARCH = "synthesis", "doping", "evaluation", "budget_search"
RUN_KINDS = (SYNTHESIS, DOPING, EVALUATION, BUDGET_SEARCH)
#: What a budget search compares at each budget: DsCo's concentrated set (NOpt up to the cap,
#: a real-only selection with its defaults above), the real subsets a user can take without
#: synthesis (herding's and mmd-greedy's picks: neither leads the other on every validation
#: cell, docs/benchmarks.md), random real images. All by default; where two give the same set
#: it is trained once and a tie goes to the first named.
BUDGET_METHODS = ("dsco", "herding", "mmd-greedy", "random")
#: Budget-search methods that pick real samples by a selector of ``SELECTORS`` (nested picks).
BUDGET_REAL_SUBSETS = ("herding", "mmd-greedy")

DEFAULT_LABEL_FIELD = "ground_truth"
DEFAULT_DATASET = "digits"
DEFAULT_METHOD = "nopt"
#: The selector of doping a synthesis run (real picks given its synthetic images).
DEFAULT_SELECTOR = "mmd-greedy"
#: ... and of a real-only selection (``dope`` without a synthesis run, ``concentrate`` above
#: ``SYNTHETIC_CAP``): mmd-greedy too. Prototypes among the recognised samples led it with
#: ConvNet-3 on the validation splits (Fashion-MNIST IPC 10: 81.21 ± 0.20 against 79.79 ± 0.38;
#: digits 98.12 against 96.01) but trailed it far with ResNet-18 (Fashion-MNIST IPC 10,
#: validation: 70.08 against 75.02; test: 64.88 against 72.64, below herding's 69.43), so the
#: default that holds on both networks stays (docs/benchmarks.md, issue #22). At 50 per class
#: with ResNet-18 herding leads it (test: 82.35 ± 0.26 against 81.65 ± 0.08) where it leads
#: herding with ConvNet-3 (85.41 against 84.18): neither leads on both networks there.
DEFAULT_REAL_ONLY_SELECTOR = "mmd-greedy"
#: Real starts (strength 0.5) against noise on the validation splits: level on Fashion-MNIST at
#: IPC 1, 1.4 to 3.1 points behind on digits at IPC 4 (every selector and noising), ahead at IPC 10
#: on both; with histograms matched at IPC 1, ahead on Fashion-MNIST and behind on digits
#: (docs/findings.md, issue #22). No consistent gain where ``concentrate`` makes NOpt images
#: from noise (up to ``SYNTHETIC_CAP``), so noise stays the default of ``synthesize``
#: (``concentrate`` starts from real picks above the cap, ``REAL_START_CAP``).
DEFAULT_INIT = "noise"
#: Real starts picked by mmd-greedy led herding's on Fashion-MNIST's validation split at IPC 10
#: (80.16 against 79.25, forward noising) and trailed them on digits' (94.60 against 95.54 at
#: IPC 4, 96.48 against 97.18 at IPC 10): herding stays.
DEFAULT_INIT_SELECTOR = "herding"
#: Whether real starts are picked among the samples the reference classifier recognises first
#: (as ``dope(prefer_recognised=True)`` picks a real-only set): no, like the real-only
#: selection's default; ``concentrate`` passes its ``prefer_recognised`` on, so that its real
#: starts are the real-only set's picks.
DEFAULT_INIT_PREFER_RECOGNISED = False
#: SDEdit strength of real starts. On digits' validation split 0.3, 0.5 and 0.7 were within one
#: image of each other; on Fashion-MNIST's 0.5 and 0.7 level with inverted starts (issue #22).
DEFAULT_STRENGTH = 0.5
#: Forward noising (SDEdit). DDIM inversion led it on Fashion-MNIST's validation split at IPC 10
#: (80.41 against 79.25, herding's starts) and trailed it on digits' (93.90 against 95.54 at
#: IPC 4, 96.71 against 97.18 at IPC 10): no consistent gain (docs/findings.md, issue #22).
DEFAULT_INIT_NOISING = "forward"
#: Histogram matching (``synthesis.histograms``) of every data-accessible run, whatever its
#: start (``default_match_histograms``; a data-free run reads no real image). NOpt adds a faint
#: haze to the black background of real images (from noise, the prior's samples are grey there
#: too); ResNet-18 learns it. On the validation splits matching lifted NOpt from real starts on
#: both networks (Fashion-MNIST IPC 10: ResNet-18 57.94 to 71.78, ConvNet-3 +0.74). From noise it
#: is a trade on every cell (Fashion-MNIST IPC 1 and 10, digits IPC 4, plain samples): ConvNet-3
#: -0.2 to -2.5 points, ResNet-18 +0.9 to +14.7. A default must hold on the networks users
#: train: on for both starts (docs/findings.md).
DEFAULT_MATCH_HISTOGRAMS = True
#: Synthetic candidates per kept synthetic image in ``concentrate`` (1: no joint selection).
DEFAULT_CANDIDATES = 1
#: Joint selection's pool (``JOINT_POOLS``). On four validation cells the union was 0.9 points
#: ahead on Fashion-MNIST at IPC 10, level at two, 4.2 behind on digits at IPC 4 (issue #22,
#: docs/benchmarks.md): no consistent gain.
DEFAULT_JOINT_POOL = "synthetic"
DEFAULT_EXTRACTOR = "reference"
#: Whether doping a synthesis run picks real samples among those the reference classifier
#: recognises (labels with their own class) first: no (mmd-greedy's picks: 80.57 ± 0.36 against
#: 79.79 ± 0.38 on validation, 79.48 against 79.88 on test; not consistent).
DEFAULT_PREFER_RECOGNISED = False
#: ... and a real-only selection: no (it lifted prototypes with ConvNet-3, 81.21 ± 0.20 against
#: 78.90 ± 0.59 on Fashion-MNIST's validation split at IPC 10, but mmd-greedy's picks only on
#: validation, and neither was measured with it under ResNet-18).
DEFAULT_REAL_ONLY_PREFER_RECOGNISED = False
#: NOpt optimises this first fraction of the sampler steps: every step. 0.5 led on digits'
#: validation split but lost 1.9 points on Fashion-MNIST's (docs/benchmarks.md, issue #22).
DEFAULT_STEP_FRACTION = 1.0
#: Classes that share one denoiser call in synthesis: "auto" (by device; docs/scaling.md) or an
#: integer >= 1.
DEFAULT_CLASS_BATCH = "auto"
DEFAULT_KERNEL = "gaussian"
#: Classifier-free guidance of synthesis from real data (NOpt and plain samples).
DEFAULT_GUIDANCE = 2.0
#: ... and of data-free NOpt, whose target pool is the prior's own samples at the same guidance.
#: On the validation splits guidance 1 and 1.5 both led 2 (Fashion-MNIST IPC 10: 75.39, 75.55
#: against 74.96; digits: 95.54, 94.60 against 94.37); 1 also skips the unconditional pass
#: (docs/findings.md, issue #22).
DEFAULT_DATA_FREE_GUIDANCE = 1.0
#: Fresh random ConvNet-3 embeddings per sampler step that data-free NOpt adds to its objective
#: (with real targets: none). Chosen on the validation splits (docs/findings.md, issue #22): two
#: led none on Fashion-MNIST IPC 10 (76.54 ± 0.23 against 74.78 ± 0.58 in one draw; over five
#: synthesis seeds 75.46 ± 1.26 against 74.69 ± 0.57, ahead in four) and were level on digits
#: (95.07 ± 0.70 against 95.54 ± 0.41, under one of 142 validation images); four and eight
#: were no better (74.78, 74.13). Read on test: 75.98 ± 0.50 against 74.90 ± 0.52 (seed 0);
#: over five draws 75.39 ± 0.67, random + 1.63.
DEFAULT_DATA_FREE_RANDOM_NETS = 2
#: mmd-greedy's kernel bandwidth, a multiple of the median heuristic's sigma^2. On Fashion-MNIST's
#: validation split (IPC 10) 0.5 and 1 were level, 0.125, 0.25 and 2 about a point lower
#: (docs/findings.md, issue #22).
DEFAULT_BANDWIDTH = 1.0
#: Selectors of ``SELECTORS`` that take ``bandwidth`` (a Gaussian kernel).
BANDWIDTH_SELECTORS = ("mmd-greedy",)
DEFAULT_ARCHITECTURE = "convnet3"
DEFAULT_RECIPE = "dsco"
#: ``full_epochs`` of an evaluation that trains the full split until its held-out accuracy stops
#: moving (:class:`fiftyone_dsco.evaluation.Convergence`, docs/evaluation.md). Not the default:
#: the ladder costs up to about twice its last rung, and evaluations default to the step-matched
#: full arm.
CONVERGE = "converge"
#: Epochs of the convergence ladder's first rung; each next rung doubles, up to a cap (default:
#: the sets' epochs).
CONVERGE_START_EPOCHS = 5
#: Least gain (accuracy points) over the previous rung that counts as still moving; a rung must
#: also gain one std over seeds.
CONVERGE_TOLERANCE = 0.2
#: Seeds of an evaluation, one model per seed and set (the CLI and the App ask for their number).
DEFAULT_NUM_SEEDS = 3
DEFAULT_SEEDS = tuple(range(DEFAULT_NUM_SEEDS))
#: Largest budget (images per class) at which ``concentrate`` synthesises from noise; above it
#: NOpt starts from real picks up to ``REAL_START_CAP``, then the set is all real
#: (``split_budget``). Chosen on the validation splits (docs/benchmarks-validation.md, "The
#: synthetic cap"; issue #22): on Fashion-MNIST NOpt leads the best real subset at 5 per
#: class, is level with mmd-greedy's real picks at 7 and 8 (78.51 against 78.19 at 8) and
#: trails them from 9 (77.97 against 79.48); every mix of NOpt and real images measured from
#: 10 per class was level with or below the all-real set there. On digits
#: (142 validation images: one image is 0.70 points) the arms at 8 to 10 are within 1 point.
SYNTHETIC_CAP = 8
#: Largest budget (images per class) at which ``concentrate`` still synthesises, above
#: ``SYNTHETIC_CAP``: from the cap + 1 up to it the set is NOpt started from the real-only
#: selector's picks (``init="real"``, ``init_selector`` that selector, histograms matched), which
#: refines the very images the all-real set would hold; above it the set is all real
#: (``split_budget``). Chosen on the validation splits (docs/benchmarks-validation.md, "Real
#: starts above the cap"; issue #22): NOpt from mmd-greedy's starts, matched, against
#: mmd-greedy's real picks: Fashion-MNIST IPC 10 80.90 against 79.24 (ResNet-18 71.78 against
#: 71.92), IPC 16 82.11 against 81.13 (ResNet-18 76.64 against 74.10); digits IPC 10 96.48
#: against 96.01, IPC 16 98.12 against
#: 96.24. The lead shrinks with the budget and is within one std at 20 on both (Fashion-MNIST
#: 82.66 against 82.45, digits 96.95 against 96.48), where synthesis no longer pays.
REAL_START_CAP = 16
#: NOpt iterations (Adam steps per sampler step) of ``concentrate``'s NOpt from real starts
#: between the caps (``synthesize`` takes 1 unless told). Chosen on the validation splits over
#: four synthesis draws (docs/benchmarks-validation.md, "Real starts above the cap"):
#: Fashion-MNIST IPC 10 80.82 ± 0.25 against 80.37 ± 0.33 at one iteration (ahead in every
#: draw), digits 97.07 ± 0.59 against 96.89 ± 0.23 (level, a quarter of a validation image);
#: ResNet-18 on Fashion-MNIST 72.64 ± 0.41 against 71.21 ± 0.88. About 1.4-1.7 x the band's
#: synthesis time.
REAL_START_ITERATIONS = 2
#: Accuracy points a set may lose against the full data in a budget search.
DEFAULT_TOLERANCE = 0.5
#: Share of each class's train samples held out as the validation split.
DEFAULT_VALIDATION_FRACTION = 0.1
#: Run key of ``concentrate``'s doping run (its synthesis run is ``<key>_syn``).
DEFAULT_CONCENTRATE_KEY = "dsco"
DEFAULT_EVAL_KEY = "dsco_eval"
DEFAULT_BUDGET_KEY = "dsco_budget"
#: Run keys of ``dsco demo``: the concentrated set (its synthesis run is ``demo_syn``), the
#: herding subset and the evaluation.
DEMO_KEY = "demo"
DEMO_HERDING_KEY = f"{DEMO_KEY}_herding"
DEMO_EVAL_KEY = f"{DEMO_KEY}_eval"


def class_batch_value(text):
    """``class_batch`` from text (CLI, App form): an integer when it reads as one, else the text
    (``"auto"``; anything else is refused by ``synthesize``)."""
    text = str(text).strip()
    return int(text) if text.lstrip("+-").isdigit() else text


def default_guidance(data_free):
    """The guidance scale a synthesis run takes when none is given: one per mode."""
    return DEFAULT_DATA_FREE_GUIDANCE if data_free else DEFAULT_GUIDANCE


def default_random_nets(data_free, extractor=DEFAULT_EXTRACTOR):
    """Random ConvNets per NOpt step when not told: ``DEFAULT_DATA_FREE_RANDOM_NETS`` for a
    data-free NOpt run, else 0; 0 with ``LATENT_EXTRACTORS`` (they see no image)."""
    return DEFAULT_DATA_FREE_RANDOM_NETS if data_free and extractor not in LATENT_EXTRACTORS else 0


def default_match_histograms(data_free):
    """Whether a synthesis run matches histograms when not told: ``DEFAULT_MATCH_HISTOGRAMS``,
    never data-free (it has no real pixels to match)."""
    return DEFAULT_MATCH_HISTOGRAMS and not data_free


def default_selector(real_only):
    """The selector a doping run takes when none is given: one per mode (real-only or not)."""
    return DEFAULT_REAL_ONLY_SELECTOR if real_only else DEFAULT_SELECTOR


def default_prefer_recognised(real_only):
    """Whether a doping run prefers recognised real samples when not told: one per mode."""
    return DEFAULT_REAL_ONLY_PREFER_RECOGNISED if real_only else DEFAULT_PREFER_RECOGNISED


def synthesis_run_key(method, ipc, data_free=False):
    """Default key of a synthesis run: ``<method>[_df]_ipc<ipc>``."""
    return f"{method}{'_df' if data_free else ''}_ipc{int(ipc)}"


def doping_run_key(synthetic_run, budget, selector=None):
    """Default key of a doping run: ``<synthetic_run or 'real'>_dope<budget>_<selector>``
    (selector None: the mode's, :func:`default_selector`)."""
    selector = default_selector(synthetic_run is None) if selector is None else selector
    return f"{synthetic_run or 'real'}_dope{int(budget)}_{selector.replace('-', '_')}"


def concentrate_synthesis_key(run_key):
    """Key of the synthesis run that ``concentrate(run_key=...)`` makes: ``<run_key>_syn``."""
    return f"{run_key}_syn"


def run_tag(run_key):
    """The sample tag of a run's samples (synthetic ones and selected real ones)."""
    return f"dsco:{run_key}"


def saved_view_name(run_key):
    """The name of a run's saved view: ``dsco-<run-key>``."""
    return "dsco-" + run_key.replace("_", "-")


def budget_child_keys(run_key, budget, synthetic_per_class):
    """Run keys a budget search makes at ``budget``: ``(synthesis, doping)``.

    The synthesis run ``<key>_syn<n>`` is shared by every budget with ``n``
    synthetic images per class; ``<key>_b<budget>`` is the concentrated set.
    """
    return budget_synthesis_key(run_key, synthetic_per_class), f"{run_key}_b{int(budget)}"


def budget_synthesis_key(run_key, synthetic_per_class):
    """Key of a budget search's synthesis run with ``n`` synthetic images per class:
    ``<key>_syn<n>`` (what its class shards prepare)."""
    return f"{run_key}_syn{int(synthetic_per_class)}"


def budget_test_key(run_key):
    """Evaluation key of a budget search's one test-split measurement: ``<key>_test``."""
    return f"{run_key}_test"
