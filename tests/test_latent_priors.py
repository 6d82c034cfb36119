"""Latent priors: a DiT fitted in a local VAE's space; a pretrained DiT with ImageNet indices.

Everything is tiny and randomly initialised: a 16 px RGB dataset, a 2-level
AutoencoderKL (16 px -> 8x8x4 latents) and a 1-layer DiT.
"""

import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

import fiftyone as fo

from fiftyone_dsco.errors import ClassMismatchError
from fiftyone_dsco.priors import fit_prior, load_prior
from fiftyone_dsco.priors.latent import LatentCache, fit_latent_prior, load_vae
from fiftyone_dsco.priors.sampler import sample_images

SIZE = 16
CLASSES = ["tench", "Great_White_Shark", "hammer"]
ID2LABEL = {0: "tench, Tinca tinca", 1: "goldfish, Carassius auratus",
            2: "great white shark, white shark, man-eater", 3: "crane",
            4: "hammerhead, hammerhead shark", 5: "crane"}
TINY_DIT = dict(num_layers=1, num_attention_heads=2, attention_head_dim=8, patch_size=2)
FIT = dict(steps=3, batch_size=4, recognisability=False, device="cpu")


def tiny_vae():
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    return AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4,
                         block_out_channels=(8, 16), norm_num_groups=8,
                         down_block_types=("DownEncoderBlock2D",) * 2,
                         up_block_types=("UpDecoderBlock2D",) * 2)


@pytest.fixture(scope="module")
def rgb(tmp_path_factory):
    """A 16 px RGB dataset: 3 classes of 6 coloured images each, tagged train."""
    folder = tmp_path_factory.mktemp("rgb")
    rng = np.random.default_rng(0)
    ds = fo.Dataset("dsco-latent-rgb")
    samples = []
    for k, c in enumerate(CLASSES):
        for i in range(6):
            img = rng.integers(0, 60, (SIZE, SIZE, 3), dtype=np.uint8)
            img[..., k] += 150
            path = str(folder / f"{k}-{i}.png")
            Image.fromarray(img).save(path)
            samples.append(fo.Sample(filepath=path, tags=["train"],
                                     ground_truth=fo.Classification(label=c)))
    ds.add_samples(samples, progress=False)
    ds.default_classes = CLASSES  # the class order
    yield ds
    ds.delete()


@pytest.fixture(scope="module")
def vae_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("vae") / "vae"
    tiny_vae().save_pretrained(out)
    return str(out)


@pytest.fixture(scope="module")
def imagenet_dit(tmp_path_factory):
    """A DiTPipeline folder as the hub's DiT-XL-2-256: classes are ImageNet indices (id2label)."""
    from diffusers import DDIMScheduler, DiTPipeline, DiTTransformer2DModel

    torch.manual_seed(0)
    dit = DiTTransformer2DModel(in_channels=4, out_channels=8, sample_size=SIZE // 2,
                                num_embeds_ada_norm=len(ID2LABEL), **TINY_DIT)  # learned sigma
    out = tmp_path_factory.mktemp("dit") / "DiT-tiny"
    DiTPipeline(transformer=dit, vae=tiny_vae(), scheduler=DDIMScheduler(clip_sample=False)) \
        .save_pretrained(out)
    index = json.loads((out / "model_index.json").read_text())
    index["id2label"] = {str(k): v for k, v in ID2LABEL.items()}
    (out / "model_index.json").write_text(json.dumps(index))
    return str(out)


def test_latent_prior_fits_and_round_trips(rgb, vae_dir, tmp_path):
    from diffusers import DiTPipeline

    out = str(tmp_path / "p")
    prior = fit_prior(rgb, "ground_truth", vae=vae_dir, output_dir=out, **FIT)
    card = prior.card
    assert card.family == "latent" and card.classes == CLASSES and card.image_size == SIZE
    assert card.channels == 3 and card.null_class == 3 and card.training["steps"] == 3
    assert card.training["vae"] == load_vae(vae_dir)[1]
    assert DiTPipeline.from_pretrained(out).transformer.config.sample_size == SIZE // 2
    loaded = load_prior(out, device="cpu")
    assert loaded.family == "latent" and loaded.vae is not None
    a = sample_images(loaded, [0, 1, 2], seed=3, steps=2)
    assert a.shape == (3, 3, SIZE, SIZE) and a.min() >= -1 and a.max() <= 1
    torch.testing.assert_close(a, sample_images(prior, [0, 1, 2], seed=3, steps=2))
    # same data and options: reused, not refitted
    mtime = os.path.getmtime(os.path.join(out, "dsco_card.json"))
    fit_prior(rgb, "ground_truth", vae=vae_dir, output_dir=out, **FIT)
    assert os.path.getmtime(os.path.join(out, "dsco_card.json")) == mtime


def test_latent_cache_is_reused_not_recomputed(rgb, vae_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("DSCO_HOME", str(tmp_path / "home"))  # an empty cache
    vae, key = load_vae(vae_dir)
    cache = LatentCache(key, SIZE, (4, SIZE // 2, SIZE // 2))
    ids = rgb.values("id")
    encoded = []

    def encode(x):
        encoded.append(len(x))
        return vae.encode(x).latent_dist.mean.detach().numpy()

    rows, lat = cache.latents(rgb, ids[:10], encode, 3)
    assert sum(encoded) == 10 and lat.shape == (10, 4, 8, 8) and isinstance(lat, np.memmap)
    mtime = os.path.getmtime(cache.data)
    rows2, lat2 = cache.latents(rgb, ids[:10], encode, 3)  # all cached: nothing encoded
    assert sum(encoded) == 10 and os.path.getmtime(cache.data) == mtime
    np.testing.assert_array_equal(lat2[rows2], lat[rows])
    rows3, lat3 = cache.latents(rgb, ids, encode, 3)  # a superset: only the new samples
    assert sum(encoded) == len(ids) and lat3.shape[0] == len(ids)
    np.testing.assert_array_equal(lat3[rows3[:10]], lat[rows])

    # two fits with other options share the cache: the second encodes nothing
    fit_latent_prior(rgb, "ground_truth", vae_dir, output_dir=str(tmp_path / "a"),
                     transformer=TINY_DIT, **FIT)
    size, mtime = os.path.getsize(cache.data), os.path.getmtime(cache.data)
    b = fit_latent_prior(rgb, "ground_truth", vae_dir, output_dir=str(tmp_path / "b"),
                         transformer=TINY_DIT, **dict(FIT, steps=4))
    assert b.card.training["steps"] == 4 and b.card.training["latent_cache"] == cache.folder
    assert os.path.getsize(cache.data) == size and os.path.getmtime(cache.data) == mtime


def test_imagenet_dit_maps_names_and_lists_missing_ones(imagenet_dit, tmp_path):
    from diffusers import DiTPipeline

    prior = load_prior(imagenet_dit, device="cpu")  # no card: classes from id2label
    assert prior.classes == [ID2LABEL[k] for k in range(6)] and prior.card.null_class == 6
    assert DiTPipeline.from_pretrained(imagenet_dit).labels["goldfish"] == 1  # diffusers agrees
    assert prior.class_indices(["goldfish", "Great_White_Shark", "hammerhead"]) == [1, 2, 4]
    with pytest.raises(ClassMismatchError) as e:
        prior.class_indices(["goldfish", "cat", "crane"])
    msg = str(e.value)
    assert "'cat'" in msg and "'crane' -> [3, 5]" in msg and "'goldfish'" not in msg
    assert "class_map=<file>" in msg and "--class-map FILE" in msg and "id2label" in msg
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"cat": 0, "crane": 3, "zebra": 340}))  # extra names are fine
    assert prior.class_indices(["goldfish", "cat", "crane"], str(mapping)) == [1, 0, 3]


def test_concentrate_with_imagenet_dit_writes_decoded_pngs(rgb, imagenet_dit, tmp_path):
    from fiftyone_dsco.concentrate import concentrate

    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"hammer": 4}))
    out = concentrate(rgb, "ground_truth", imagenet_dit, budget=2, synthetic_cap=2, steps=2,
                      extractor="random", class_map=str(mapping), run_key="inet")
    assert rgb.get_run_info("inet_syn").config.model_classes == [0, 2, 4]
    syn = rgb.match_tags("dsco:inet_syn")
    assert len(syn) == 2 * len(CLASSES)
    for path in syn.values("filepath"):
        with Image.open(path) as img:
            assert img.format == "PNG" and img.mode == "RGB" and img.size == (SIZE, SIZE)
    assert len(rgb.load_saved_view(out["saved_view"])) == 2 * len(CLASSES)


def test_latent_fit_resumes_to_the_same_weights(rgb, vae_dir, tmp_path):
    opts = dict(FIT, steps=4, checkpoint_every=2, transformer=TINY_DIT)
    straight = fit_latent_prior(rgb, "ground_truth", vae_dir, output_dir=str(tmp_path / "a"), **opts)

    def crash(step):
        if step == 3:
            raise KeyboardInterrupt

    out = str(tmp_path / "b")
    with pytest.raises(KeyboardInterrupt):
        fit_latent_prior(rgb, "ground_truth", vae_dir, output_dir=out, callback=crash, **opts)
    assert os.path.isfile(os.path.join(out + ".partial", "checkpoint.pt"))
    resumed = fit_latent_prior(rgb, "ground_truth", vae_dir, output_dir=out, **opts)
    assert not os.path.exists(out + ".partial")
    for (k, v), (_, w) in zip(straight.denoiser.state_dict().items(),
                              resumed.denoiser.state_dict().items()):
        assert torch.equal(v, w), k


def test_gpu_throughput_quick_runs_without_fiftyone():
    """The benchmark for the GPU machine (no FiftyOne there) runs on a CPU with --quick."""
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    block = ("import runpy, sys\n"
             "class Block:\n"
             "    def find_spec(self, name, path=None, target=None):\n"
             "        if name.split('.')[0] == 'fiftyone':\n"
             "            raise ImportError('no FiftyOne on the GPU machine')\n"
             "sys.meta_path.insert(0, Block())\n"
             "sys.argv = ['gpu_throughput.py', '--quick', '--priors', 'grey28', 'dit256-XL']\n"
             "runpy.run_path('benchmarks/gpu_throughput.py', run_name='__main__')\n")
    env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    res = subprocess.run([sys.executable, "-c", block], cwd=root, env=env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "| grey28 |" in res.stdout and "| dit256-XL |" in res.stdout and "wrote" not in res.stdout


def test_cli_prior_fit_with_vae(rgb, vae_dir, tmp_path):
    from click.testing import CliRunner

    from fiftyone_dsco.cli import main

    out = str(tmp_path / "p")
    res = CliRunner().invoke(main, ["prior", "fit", rgb.name, "--vae", vae_dir, "--output-dir", out,
                                    "--steps", "2", "--batch-size", "4", "--no-recognisability"])
    assert res.exit_code == 0, res.output
    assert "family: latent" in res.output and load_prior(out, device="cpu").vae is not None


def test_real_only_doping_with_an_imagenet_dit_needs_no_class_map(rgb, imagenet_dit):
    from fiftyone_dsco.selection.doping import dope

    res = dope(rgb, "ground_truth", None, 2, selector="herding", prior=imagenet_dit,
               extractor="random", run_key="inet_real")
    assert res["complete"] and len(rgb.load_saved_view(res["saved_view"])) == 2 * len(CLASSES)
