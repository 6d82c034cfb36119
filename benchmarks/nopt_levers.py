"""NOpt's objective levers against today's NOpt, herding and random, on a validation split.

    python benchmarks/nopt_levers.py --dataset digits --prior digits-budget-fit --ipc 10

Chooses on validation, never on test: every set is synthesised on the fit split
of ``validation_split`` (10 % of each class's train samples held out, seed 0)
with a prior fitted on that fit split (``--prior``), trained 3 seeds with the
``dsco`` recipe and tested on the validation split (``evaluation.measure``,
which stores nothing). Arms (``--arms``, any of ``LEVERS``): NOpt at today's
defaults, and NOpt with one lever each: a diversity term, DSA augmentation on
both sides, random ConvNet-3 embeddings, no updates in the last half of the
chain (round 2: other step fractions, and the best two levers together), and
NOpt started from herding's real picks noised to a strength of 0.5 or 0.7
(SDEdit; ``real05``, ``real07``), NOpt at guidance 1 or 1.5 instead of 2
(``guidance1``, ``guidance15``), and data-free NOpt at guidance 2 (the
default until December 4), 1 (the default since), 1.5, 4 and 6 (``df``,
``df_guidance1``, ...), and at guidance 1 with a pool of 300 or 1,000 plain
samples per class (``df_pool300``, ``df_pool1000``) or with DSA augmentation or two random
ConvNets on the pool's images (``df_augment``, ``df_nets2``; four or eight: ``df_nets4``,
``df_nets8``; two at guidance 1.5: ``df_nets2_g15``; two with two NOpt iterations per step:
``df_nets2_iter2``), and plain samples of the prior
(``plain``, to compare priors fitted for longer), and data-free NOpt with 50
DDIM steps (``df_steps50``), and real starts brought to the noise level by DDIM
inversion (``real05_inv``, ``real07_inv``), picked by mmd-greedy
(``real05_mmd``) or both (``real05_mmd_inv``), and, to find why NOpt images train ResNet-18
badly, mmd-greedy's starts re-rendered by the prior without NOpt (``sdedit05_mmd``), at
strength 0.3 (``real03_mmd``) and with DSA augmentation or two random ConvNets
(``real05_mmd_augment``, ``real05_mmd_nets2``), and mmd-greedy's starts with histogram
matching (``real05_mmd_match``; herding's: ``real05_herding_match``; prototypes among the
recognised samples': ``real05_protorec_match``; mmd-greedy's at strength 0.3 or 0.7,
``real03_mmd_match``, ``real07_mmd_match``, or with two NOpt iterations per step,
``real05_mmd_match_iter2``; NOpt from noise
matched, the default: ``nopt_match``; every other real-start arm pins it off, as it was when their
rows were made); beside real-only subsets
(``--selectors``, default herding's picks, none with an empty ``--selectors``; mmd-greedy with its
dense kernel, once per ``--bandwidths`` value) and a random real subset of
the same size. ``--arch`` and ``--lr`` train another network (ResNet-18
at lr 0.1: ``--arch resnet18_small --lr 0.1``). With ``--union`` each arm's images are
joint-selection candidates instead: the set of ``--ipc`` images per class is
picked from them and the class's real fit-split samples together by greedy MMD
(``dope(..., joint_pool="union")``; arm ``<arm>_union``). Writes
``benchmarks/results/nopt_levers_<dataset>_ipc<ipc><tag>.json``.
"""

import argparse
import time

import fiftyone_dsco  # noqa: F401  (FiftyOne environment defaults)
from fiftyone_dsco import names
from _env import validation_table

#: DSA's strategy without flip (digits and letters are not mirror-symmetric), as in `dsa`.
NO_FLIP = "color_crop_cutout_scale_rotate"
LEVERS = {
    "nopt": {"init": "noise"},
    "diversity05": {"diversity": 0.5},
    "diversity2": {"diversity": 2.0},
    "augment": {"augment": NO_FLIP},
    "random_nets2": {"random_nets": 2},
    "early_half": {"step_fraction": 0.5},
    "early_quarter": {"step_fraction": 0.25},
    "early_3q": {"step_fraction": 0.75},
    "early_half_augment": {"step_fraction": 0.5, "augment": NO_FLIP},
    "real05": {"init": "real", "strength": 0.5},
    "real07": {"init": "real", "strength": 0.7},
    # NOpt with real targets at lower classifier-free guidance (default 2; data-free chose 1)
    "guidance1": {"guidance": 1.0},
    "guidance15": {"guidance": 1.5},
    # data-free NOpt (target: a pool of the prior's own samples) at five guidance scales; 2 was
    # the default until these arms chose 1 (names.DEFAULT_DATA_FREE_GUIDANCE)
    "df": {"data_free": True, "guidance": 2.0},
    "df_guidance1": {"data_free": True, "guidance": 1.0},
    "df_guidance15": {"data_free": True, "guidance": 1.5},
    "df_guidance4": {"data_free": True, "guidance": 4.0},
    "df_guidance6": {"data_free": True, "guidance": 6.0},
    # data-free NOpt at its default guidance with a larger pool per class (target and the
    # pool-trained extractor; default max(10 * ipc, 100))
    "df_pool300": {"data_free": True, "guidance": 1.0, "pool_size": 300},
    "df_pool1000": {"data_free": True, "guidance": 1.0, "pool_size": 1000},
    # data-free NOpt with the two levers meant to generalise (DSA augmentation on both sides,
    # two random ConvNets), on the pool's images: no real image read
    "df_augment": {"data_free": True, "guidance": 1.0, "augment": NO_FLIP},
    "df_nets2": {"data_free": True, "guidance": 1.0, "random_nets": 2},
    # ... with more random ConvNets per step (distribution matching draws one per iteration)
    "df_nets4": {"data_free": True, "guidance": 1.0, "random_nets": 4},
    "df_nets8": {"data_free": True, "guidance": 1.0, "random_nets": 8},
    # ... two at guidance 1.5 (without random nets it led guidance 1 on test by 0.36)
    "df_nets2_g15": {"data_free": True, "guidance": 1.5, "random_nets": 2},
    # ... two with two NOpt iterations per sampler step (the default: one)
    "df_nets2_iter2": {"data_free": True, "guidance": 1.0, "random_nets": 2, "iterations": 2},
    # plain samples of the prior (no NOpt): how good a training set the prior alone gives
    "plain": {"method": "plain"},
    # data-free NOpt at its default guidance with 50 DDIM steps instead of 25 (pool and chain)
    "df_steps50": {"data_free": True, "guidance": 1.0, "steps": 50},
    # real starts brought to the noise level by DDIM inversion instead of forward noising, and
    # real starts picked by mmd-greedy (dense kernel) instead of herding
    "real05_inv": {"init": "real", "strength": 0.5, "init_noising": "ddim-inversion"},
    "real07_inv": {"init": "real", "strength": 0.7, "init_noising": "ddim-inversion"},
    "real05_mmd": {"init": "real", "strength": 0.5, "init_selector": "mmd-greedy"},
    "real05_mmd_inv": {"init": "real", "strength": 0.5, "init_selector": "mmd-greedy",
                       "init_noising": "ddim-inversion"},
    # why NOpt from real starts trains ResNet-18 badly: the prior's re-rendering alone (SDEdit,
    # no NOpt update), a lower strength, and the two levers meant to generalise across networks
    "sdedit05_mmd": {"method": "plain", "init": "real", "strength": 0.5,
                     "init_selector": "mmd-greedy"},
    "real03_mmd": {"init": "real", "strength": 0.3, "init_selector": "mmd-greedy"},
    "real05_mmd_augment": {"init": "real", "strength": 0.5, "init_selector": "mmd-greedy",
                           "augment": NO_FLIP},
    "real05_mmd_nets2": {"init": "real", "strength": 0.5, "init_selector": "mmd-greedy",
                         "random_nets": 2},
    # the same starts with histogram matching, the default since December 5
    "real05_mmd_match": {"init": "real", "strength": 0.5, "init_selector": "mmd-greedy",
                         "match_histograms": True},
    # NOpt from noise with histogram matching: what `synthesize()` makes by default
    "nopt_match": {"init": "noise", "match_histograms": True},
    # the band's NOpt started from herding's picks instead (herding led mmd-greedy at 16 on test)
    "real05_herding_match": {"init": "real", "strength": 0.5, "init_selector": "herding",
                             "match_histograms": True},
    # ... and from the strongest real set under ConvNet-3: prototypes among the samples the
    # reference classifier recognises (`dope(selector="prototypes", prefer_recognised=True)`)
    "real05_protorec_match": {"init": "real", "strength": 0.5, "init_selector": "prototypes",
                              "init_prefer_recognised": True, "match_histograms": True},
    # the band's NOpt (mmd-greedy's starts, matched) at other strengths, and with two NOpt
    # iterations per sampler step
    "real03_mmd_match": {"init": "real", "strength": 0.3, "init_selector": "mmd-greedy",
                         "match_histograms": True},
    "real07_mmd_match": {"init": "real", "strength": 0.7, "init_selector": "mmd-greedy",
                         "match_histograms": True},
    "real05_mmd_match_iter2": {"init": "real", "strength": 0.5, "init_selector": "mmd-greedy",
                               "match_histograms": True, "iterations": 2},
}
# every other data-accessible arm without histogram matching, as when its rows were made (it
# became real starts' default on December 5, every data-accessible run's that evening)
for _options in LEVERS.values():
    if not _options.get("data_free"):
        _options.setdefault("match_histograms", False)
# every data-free arm without random ConvNets unless it names them, as when its rows were made
# (two became data-free NOpt's default on December 6)
for _options in LEVERS.values():
    if _options.get("data_free"):
        _options.setdefault("random_nets", 0)


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", choices=names.BUILTIN_DATASETS, default=names.DEFAULT_DATASET)
    p.add_argument("--prior", required=True, help="a prior fitted on the fit split")
    p.add_argument("--ipc", type=int, default=10)
    p.add_argument("--arms", nargs="*", default=list(LEVERS)[:6], choices=list(LEVERS),
                   help="default: today's NOpt and one lever each (round 1)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int)
    p.add_argument("--arch", default="convnet3", help="the network trained on every set")
    p.add_argument("--lr", type=float, help="its SGD rate (default: the recipe's)")
    p.add_argument("--tag", default="", help="suffix of the results file")
    p.add_argument("--key-suffix", default="",
                   help="suffix of the arms' run keys (another prior needs runs of its own)")
    p.add_argument("--selectors", nargs="*", default=["herding"], choices=list(names.SELECTORS),
                   help="real-only subsets trained beside the arms (a selector's picks)")
    p.add_argument("--bandwidths", nargs="*", type=float, default=[names.DEFAULT_BANDWIDTH],
                   help="mmd-greedy's bandwidths (multiples of the median heuristic's sigma^2): "
                        "one real subset each")
    p.add_argument("--no-random", action="store_true", help="skip the random arm")
    p.add_argument("--synthesis-seed", type=int, default=0,
                   help="synthesize()'s seed: the arms' images drawn again (how much a set's "
                        "accuracy moves with its draw, beside the training seeds)")
    p.add_argument("--union", action="store_true",
                   help="train each arm's union-pool set (real ∪ the arm's images, greedy MMD) "
                        "instead of the arm's images")
    return p.parse_args()


def main():
    args = parse()
    from fiftyone_dsco.data.builtin import load_builtin
    from fiftyone_dsco.data.splits import validation_split
    from fiftyone_dsco.selection.doping import concentrated_view, dope
    from fiftyone_dsco.synthesis import synthesize

    ds = load_builtin(args.dataset)
    split = validation_split(ds, "ground_truth")
    ipc, sets, seconds = args.ipc, {}, {}
    for arm in args.arms:
        t0, key = time.time(), f"val_{arm}_ipc{ipc}{args.key_suffix}"
        if args.synthesis_seed:
            key += f"_s{args.synthesis_seed}"
        res = synthesize(split.fit, "ground_truth", args.prior, ipc, run_key=key, progress=True,
                         seed=args.synthesis_seed, **LEVERS[arm])
        name = f"{arm}_union" if args.union else arm
        if args.union:
            res = dope(split.fit, "ground_truth", key, 0, run_key=f"{key}_union",
                       synthetic_per_class=ipc, joint_pool="union")
            print(f"{name}: {sum(r['synthetic'] for r in res['classes'].values())} of "
                  f"{ipc * len(res['classes'])} images synthetic", flush=True)
        sets[name] = ds.load_saved_view(res["saved_view"])
        seconds[name] = round(time.time() - t0, 1)
        print(f"built {name} in {seconds[name]} s", flush=True)
    for selector, bandwidth in _real_subsets(args.selectors, args.bandwidths):
        name, key = selector, f"val_{selector.replace('-', '_')}_b{ipc}"
        options = None
        if selector in names.BANDWIDTH_SELECTORS:  # dense on every class, as the union pool is
            options = {"backend": "numpy"}
            if bandwidth != names.DEFAULT_BANDWIDTH:
                name, key = f"{name}_bw{bandwidth:g}", f"{key}_bw{bandwidth:g}".replace(".", "")
                options["bandwidth"] = bandwidth
        dope(split.fit, "ground_truth", None, ipc, selector=selector, prior=args.prior,
             run_key=key, selector_options=options, prefer_recognised=False)  # the plain rules
        sets[name] = concentrated_view(ds, key)
    validation_table(split, sets, f"nopt_levers_{args.dataset}_ipc{ipc}{args.tag}.json",
                     args.prior, args.seeds, args.epochs, seconds, not args.no_random,
                     arch=args.arch, lr=args.lr,
                     dataset=args.dataset, ipc=ipc, **_prior_fit(args.prior),
                     options={arm: LEVERS[arm] for arm in args.arms},
                     **({"synthesis_seed": args.synthesis_seed} if args.synthesis_seed else {}),
                     **({"joint_pool": "union"} if args.union else {}))


def _prior_fit(name):
    """The prior's fit steps and card recognisability (the rows compare priors fitted longer)."""
    from fiftyone_dsco.paths import priors_dir
    from fiftyone_dsco.priors.card import PriorCard

    card = PriorCard.load(priors_dir(name))
    training, scores = (card.training or {}, card.recognisability or {}) if card else ({}, {})
    return dict(prior_steps=training.get("steps_done"),
                prior_recognisability=scores.get("overall"))


def _real_subsets(selectors, bandwidths):
    """(selector, bandwidth) per real subset: mmd-greedy once per bandwidth."""
    return [(s, b) for s in selectors
            for b in (bandwidths if s in names.BANDWIDTH_SELECTORS else [names.DEFAULT_BANDWIDTH])]


if __name__ == "__main__":
    main()
