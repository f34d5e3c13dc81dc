"""FID/KID numerics pinned against closed forms and the scipy reference; the `bclib fid` command."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg

from bclib.metrics import frechet_distance, kernel_inception_distance
from bclib.metrics.distances import _route_costs, mmd2_unbiased, trace_sqrt_product


def sqrtm_reference(a, b):
    """The textbook implementation: scipy.linalg.sqrtm of the covariance product."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(root))


def exact_moments(rng, n, mean, std):
    """n samples whose sample mean and sample covariance are exactly `mean` and diag(std^2)."""
    z = rng.normal(size=(n, len(mean)))
    z -= z.mean(0)
    q, _ = np.linalg.qr(z)  # orthonormal columns, still centred (spanned by centred columns)
    return mean + q * np.sqrt(n - 1) * std


@pytest.mark.parametrize("route", [None, "eigh", "nuclear"])
def test_identical_sets_give_zero(route):
    feats = np.random.default_rng(0).normal(size=(40, 16))
    assert frechet_distance(feats, feats, route=route) == pytest.approx(0, abs=1e-9)


@pytest.mark.parametrize("route", ["eigh", "nuclear"])
def test_diagonal_gaussian_closed_form(route):
    rng = np.random.default_rng(1)
    d = 12
    mu_a, mu_b = rng.normal(size=d), rng.normal(size=d)
    sd_a, sd_b = rng.uniform(0.5, 2, d), rng.uniform(0.5, 2, d)
    a, b = exact_moments(rng, 200, mu_a, sd_a), exact_moments(rng, 300, mu_b, sd_b)
    closed = ((mu_a - mu_b) ** 2).sum() + ((sd_a - sd_b) ** 2).sum()
    assert frechet_distance(a, b, route=route) == pytest.approx(closed, rel=1e-9)


@pytest.mark.parametrize("n, m, d", [(60, 80, 20), (300, 250, 64), (50, 70, 128)])
def test_agrees_with_the_sqrtm_reference(n, m, d):
    rng = np.random.default_rng(n)
    a = rng.normal(size=(n, d))
    b = rng.normal(size=(m, d)) @ rng.normal(scale=0.3, size=(d, d)) + 0.5
    reference = sqrtm_reference(a, b)
    for route in (None, "eigh", "nuclear"):
        assert frechet_distance(a, b, route=route) == pytest.approx(reference, rel=1e-6)


@pytest.mark.parametrize("n, m, d", [(200, 300, 256), (300, 300, 320), (120, 90, 64)])
def test_gram_eigenvalues_give_the_svd_nuclear_norm(n, m, d):
    rng = np.random.default_rng(d)
    a = rng.normal(size=(n, d)) @ rng.normal(size=(d, d))
    b = rng.normal(size=(m, d)) * rng.uniform(0.1, 3, d)
    a, b = a - a.mean(0), b - b.mean(0)
    fast, reference = trace_sqrt_product(a, b, "nuclear"), trace_sqrt_product(a, b, "svd")
    assert fast == pytest.approx(reference, rel=1e-12)
    undeflated = np.linalg.svd(a @ b.T / np.sqrt((n - 1) * (m - 1)), compute_uv=False).sum()
    assert reference == pytest.approx(undeflated, rel=1e-12)  # dropping the centring direction loses nothing


def test_gram_route_falls_back_to_the_svd_when_its_bound_fails():
    from bclib.metrics.distances import _nuclear_norm_by_gram

    rng = np.random.default_rng(5)
    low_rank = rng.normal(size=(100, 3)) @ rng.normal(size=(3, 100))  # 97 zero singular values
    assert _nuclear_norm_by_gram(low_rank) is None
    a = rng.normal(size=(100, 3)) @ rng.normal(size=(3, 50))
    a -= a.mean(0)
    assert trace_sqrt_product(a, a, "nuclear") == pytest.approx(trace_sqrt_product(a, a, "svd"), rel=1e-12)


def chosen_route(n, d):
    costs = _route_costs(n, n, d)
    return min(costs, key=costs.get)


def test_route_choice_follows_the_cost():
    # Gram route while there are fewer images than dimensions, Cholesky route beyond
    assert [chosen_route(n, 2048) for n in (500, 2000, 10000, 50000)] == ["nuclear", "nuclear", "cholesky", "cholesky"]
    assert chosen_route(20000, 64) == "cholesky"
    assert "cholesky" not in _route_costs(1000, 2000, 2048)  # both covariances in 2048-d are singular
    assert chosen_route(50000, 2048) == "cholesky"
    costs = _route_costs(50000, 2000, 2048)  # all real images against a class's generated ones
    assert min(costs, key=costs.get) == "cholesky"  # the 50,000-image covariance is factorised
    a = np.random.default_rng(3).normal(size=(30, 10))
    a -= a.mean(0)
    assert trace_sqrt_product(a, a, "eigh") == pytest.approx(trace_sqrt_product(a, a, "nuclear"), rel=1e-10)


@pytest.mark.parametrize("n, m, d", [(400, 300, 64), (150, 500, 100), (50, 400, 64)])
def test_every_route_agrees_with_sqrtm(n, m, d):
    rng = np.random.default_rng(n + d)
    a = np.maximum(rng.normal(size=(n, d)) @ rng.normal(scale=0.4, size=(d, d)), 0)
    b = np.maximum(rng.normal(size=(m, d)) @ rng.normal(scale=0.4, size=(d, d)) + 0.2, 0)
    reference = sqrtm_reference(a, b)
    for route in (None, "cholesky", "eigh", "eigvals", "nuclear", "svd"):
        assert frechet_distance(a, b, route=route) == pytest.approx(reference, rel=1e-8), route


def test_cholesky_route_falls_back_when_a_covariance_is_singular():
    from bclib.metrics.distances import _trace_sqrt_cholesky, covariance

    rng = np.random.default_rng(6)
    a = rng.normal(size=(200, 20))
    a[:, 3] = 1.0  # a constant feature: S_a is singular
    b = rng.normal(size=(300, 20))
    a_c, b_c = a - a.mean(0), b - b.mean(0)
    np.testing.assert_allclose(covariance(a_c), np.cov(a, rowvar=False), rtol=1e-12, atol=1e-14)
    assert _trace_sqrt_cholesky(covariance(a_c), covariance(b_c)) is None  # refused ...
    expected = trace_sqrt_product(a_c, b_c, "nuclear")
    assert trace_sqrt_product(a_c, b_c, "cholesky") == pytest.approx(expected, rel=1e-9)  # ... eigh answers


# -- improved precision and recall --------------------------------------------------------


def test_precision_recall_of_a_set_against_itself_is_one():
    from bclib.metrics import precision_recall

    feats = np.random.default_rng(7).normal(size=(120, 16))
    assert precision_recall(feats, feats) == {"precision": 1.0, "recall": 1.0, "pr_k": 3}


def test_precision_recall_of_far_apart_clusters_is_zero():
    from bclib.metrics import precision_recall

    rng = np.random.default_rng(8)
    real, fake = rng.normal(size=(100, 8)), rng.normal(size=(80, 8)) + 100.0
    assert precision_recall(real, fake) == {"precision": 0.0, "recall": 0.0, "pr_k": 3}


def test_precision_recall_separate_fidelity_from_diversity():
    """Fakes from one of two real modes (mode collapse): nearly all fakes are realistic, half the reals are missed."""
    from bclib.metrics import precision_recall

    rng = np.random.default_rng(9)
    real = np.concatenate([rng.normal(size=(200, 4)), rng.normal(size=(200, 4)) + 50.0])
    fake = rng.normal(size=(200, 4))
    result = precision_recall(real, fake, k=3)
    assert result["precision"] > 0.9
    assert 0.35 < result["recall"] <= 0.5  # the far mode is never covered


def test_precision_recall_match_a_direct_reference_on_random_sets():
    """Kynkaanniemi et al. (2019), written directly with scipy: a fake is inside the real manifold when
    it lies within the distance from some real point to that point's k-th nearest real neighbour."""
    from scipy.spatial.distance import cdist

    from bclib.metrics import precision_recall

    def reference(real, fake, k):
        def radii(points):
            return np.sort(cdist(points, points), axis=1)[:, k]  # column 0 is the point itself

        precision = (cdist(fake, real) <= radii(real)[None, :]).any(axis=1).mean()
        recall = (cdist(real, fake) <= radii(fake)[None, :]).any(axis=1).mean()
        return precision, recall

    rng = np.random.default_rng(3)
    for n_real, n_fake, shift, k in [(60, 40, 0.5, 3), (50, 80, 1.5, 5), (30, 30, 0.0, 2)]:
        real = rng.normal(size=(n_real, 6))
        fake = rng.normal(shift, 1.3, size=(n_fake, 6))
        expected = reference(real, fake, k)
        result = precision_recall(real, fake, k=k)
        assert (result["precision"], result["recall"]) == pytest.approx(expected, abs=1e-12)


def test_precision_recall_blocks_do_not_change_the_result():
    from bclib.metrics.manifold import _block_rows, knn_radii, precision_recall

    rng = np.random.default_rng(10)
    real, fake = rng.normal(size=(301, 12)), rng.normal(0.3, 1.2, size=(257, 12))
    whole = precision_recall(real, fake, k=5, memory_mb=1024)
    tiny = precision_recall(real, fake, k=5, memory_mb=0.01)  # blocks of a few rows
    assert whole == tiny
    brute = np.sort(((real[:, None] - real[None]) ** 2).sum(-1), axis=1)[:, 5]  # column 0 is the point itself
    np.testing.assert_allclose(knn_radii(real, 5, memory_mb=0.01), brute, rtol=1e-9)
    assert _block_rows(50_000, 256, 8) * 50_000 * 8 * 2 <= 256 * 2**20  # a block of a 50k set stays in budget


# -- issue #25: precision and recall on equal-size sets ---------------------------------------------


def test_balanced_precision_recall_of_constructed_sets():
    from bclib.metrics.manifold import balanced_precision_recall

    rng = np.random.default_rng(11)
    real = rng.normal(size=(120, 8))
    same = balanced_precision_recall(real, real)
    assert (same["precision"], same["recall"], same["precision_std"], same["pr_n"], same["pr_repeats"]) == \
        (1.0, 1.0, 0.0, 120, 1)  # equal sizes: one draw, the sets as they are
    far = balanced_precision_recall(real, rng.normal(size=(300, 8)) + 100.0)
    assert far["precision"] == 0.0 and far["recall"] == 0.0 and far["pr_n"] == 120 and far["pr_repeats"] == 10
    # a subset of the reals, from one of their two modes: every fake is real, half the reals are missed
    modes = np.concatenate([rng.normal(size=(200, 4)), rng.normal(size=(200, 4)) + 50.0])
    subset = balanced_precision_recall(modes, modes[:150], repeats=5, seed=1)
    assert subset["precision"] > 0.9 and subset["recall"] < 0.55 and subset["recall_std"] > 0


def test_balanced_precision_recall_does_not_depend_on_the_set_sizes():
    """Fakes from a slightly narrower distribution than the reals (d = 64), 200 reals against 200 or 1600
    fakes from one pool: with equal-size sets the scores agree; scored as given, the 1600 fakes' smaller
    k-NN balls pull recall down (by 0.06 on average here)."""
    from bclib.metrics.manifold import balanced_precision_recall

    differences = []
    for seed in range(4):
        rng = np.random.default_rng(seed)
        real, pool = rng.normal(size=(200, 64)), 0.9 * rng.normal(size=(1600, 64))
        small = balanced_precision_recall(real, pool[:200])
        large = balanced_precision_recall(real, pool, repeats=10, seed=seed)
        assert large["pr_n"] == 200 and large["recall_std"] > 0
        differences.append([large["precision"] - small["precision"], large["recall"] - small["recall"]])
    mean = np.mean(differences, axis=0)
    assert abs(mean[0]) < 0.025 and abs(mean[1]) < 0.025, differences


# -- issue #25: sliced Wasserstein distance on Laplacian-pyramid patches ---------------------------------


def test_wasserstein_1d_hand_computed():
    from bclib.metrics.swd import wasserstein_1d

    assert wasserstein_1d([0.0, 1.0], [1.0, 0.0]) == 0.0  # identical sets, in any order
    assert wasserstein_1d([0.0, 1.0, 5.0], [2.5, 3.5, 7.5]) == pytest.approx(2.5)  # a shift by 2.5
    # quantiles of {0, 1}: 0 on (0, 1/2], 1 on (1/2, 1]; of {0, 1, 2, 3}: 0, 1, 2, 3 on quarters
    # -> |0-0|/4 + |0-1|/4 + |1-2|/4 + |1-3|/4 = 1
    assert wasserstein_1d([0.0, 1.0], [3.0, 0.0, 2.0, 1.0]) == pytest.approx(1.0)
    # {0, 1} against {3, 4, 5}: on sixths the quantiles differ by 3, 3, 4, 3, 4, 4 -> 21/6
    assert wasserstein_1d([1.0, 0.0], [3.0, 4.0, 5.0]) == pytest.approx(3.5)
    np.testing.assert_allclose(wasserstein_1d([[0.0, 1.0], [1.0, 2.0]], [[3.0, 4.0, 5.0], [1.0, 2.0, 3.0]]),
                               [3.5, 0.5])  # rows are independent problems


def test_sliced_wasserstein_of_a_shifted_cloud():
    """B = A + s: along a unit direction u every projection moves by u.s, so the distance is the mean
    |u.s| over the directions used, and in expectation |s| E|u_1| = |s| Gamma(d/2) / (sqrt(pi) Gamma((d+1)/2))."""
    from math import gamma, pi, sqrt

    from bclib.metrics.swd import random_directions, sliced_wasserstein

    rng = np.random.default_rng(3)
    a, s = rng.normal(size=(300, 10)), rng.normal(size=10)
    assert sliced_wasserstein(a, a[::-1]) == 0.0
    directions = np.random.default_rng(7)
    used = np.concatenate([random_directions(10, 128, directions) for _ in range(4)], axis=1)
    value = sliced_wasserstein(a, a + s, directions=128, repeats=4, seed=7)
    assert value == pytest.approx(np.abs(used.T @ s).mean(), rel=1e-9)
    expected = np.linalg.norm(s) * gamma(5) / (sqrt(pi) * gamma(5.5))
    assert value == pytest.approx(expected, rel=0.1)


def test_laplacian_pyramid_reconstructs_the_image():
    from bclib.metrics.swd import laplacian_pyramid, pyramid_levels, reconstruct

    images = np.random.default_rng(4).uniform(0, 255, (3, 64, 64, 3)).astype(np.float32)
    pyramid = laplacian_pyramid(images, pyramid_levels(64))
    assert [p.shape[1] for p in pyramid] == [64, 32, 16]
    np.testing.assert_allclose(reconstruct(pyramid), images, atol=1e-3)
    flat = np.full((2, 32, 32, 3), 100.0, np.float32)
    band, coarse = laplacian_pyramid(flat, 2)
    np.testing.assert_allclose(band, 0, atol=1e-4)  # a flat image has no detail
    np.testing.assert_allclose(coarse, 100.0, atol=1e-4)


def test_swd_of_image_sets():
    from scipy.ndimage import gaussian_filter

    from bclib.metrics.swd import swd

    rng = np.random.default_rng(5)
    real = rng.integers(0, 256, (40, 32, 32, 3)).astype(np.uint8)
    same = swd(real, real.copy(), patches_per_image=32)
    assert same["swd"] == 0.0 and set(same) >= {"swd_32", "swd_16"}
    other = swd(real, rng.integers(0, 256, (60, 32, 32, 3)).astype(np.uint8), patches_per_image=32)
    blurred = gaussian_filter(rng.integers(0, 256, (60, 32, 32, 3)).astype(float), (0, 1.5, 1.5, 0))
    blur = swd(real, np.clip(blurred, 0, 255).astype(np.uint8), patches_per_image=32)
    assert blur["swd_32"] > 10 * other["swd_32"]  # fine detail missing: the finest level sees it
    tinted = np.clip(real.astype(int) + [40, -20, 0], 0, 255).astype(np.uint8)
    shifted = swd(real, tinted, patches_per_image=32)
    assert shifted["swd_16"] > 10 * other["swd_16"]  # a colour shift, normalised with the reals' statistics
    assert swd(real, tinted, patches_per_image=32, normalize="each")["swd_16"] < shifted["swd_16"] / 10  # ProGAN's
    with pytest.raises(ValueError, match="one size"):
        swd(real, real[:, :16, :16])


def test_bad_feature_matrices_are_refused():
    with pytest.raises(ValueError, match="2-D"):
        frechet_distance(np.zeros(5), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="feature sizes differ"):
        frechet_distance(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="NaN"):
        kernel_inception_distance(np.full((3, 2), np.nan), np.zeros((3, 2)))


def test_kid_hand_computed_value():
    # d = 1, k(x, y) = (xy + 1)^3. Within X = {0, 1}: k = 1; within Y = {1, 2}: k = 27;
    # across: k(0,1) = k(0,2) = 1, k(1,1) = 8, k(1,2) = 27 -> mean 37/4.
    mean, std = kernel_inception_distance([[0.0], [1.0]], [[1.0], [2.0]])
    assert mean == pytest.approx(1 + 27 - 2 * 37 / 4) and std == 0.0


def test_kid_full_sets_are_deterministic_and_subsets_vary_with_seed():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(30, 8)), rng.normal(0.3, size=(40, 8))
    assert (kernel_inception_distance(a, b, subset_size=40, seed=1)
            == kernel_inception_distance(a, b, subset_size=99, seed=2))
    assert kernel_inception_distance(a, b, subset_size=40)[0] == pytest.approx(mmd2_unbiased(a, b))
    one = kernel_inception_distance(a, b, num_subsets=20, subset_size=10, seed=1)
    assert one == kernel_inception_distance(a, b, num_subsets=20, subset_size=10, seed=1)
    assert one != kernel_inception_distance(a, b, num_subsets=20, subset_size=10, seed=2)
    assert one[1] > 0


def test_kid_is_unbiased_for_identical_distributions():
    rng = np.random.default_rng(5)
    values = [mmd2_unbiased(rng.normal(size=(20, 4)), rng.normal(size=(20, 4))) for _ in range(300)]
    assert abs(np.mean(values)) < 3 * np.std(values) / np.sqrt(len(values))


def test_fid_command_on_two_folders(tmp_path, bach_root):
    pytest.importorskip("tensorflow")
    photos = bach_root / "ICIAR2018_BACH_Challenge" / "Photos"
    out = tmp_path / "fid.json"
    bclib = Path(sys.executable).with_name("bclib")
    command = [str(bclib), "fid", str(photos / "Benign"), str(photos / "Invasive"), "--weights", "none",
               "--image-size", "75", "--kid-subset-size", "4", "--kid-subsets", "5", "--json", str(out),
               "--cache", str(tmp_path / "cache")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-1500:]
    record = json.loads(out.read_text())
    assert set(record) >= {"fid", "kid", "kid_std", "n_real", "n_fake", "features", "note", "precision",
                           "recall", "precision_std", "recall_std", "pr_n", "swd", "swd_64", "swd_16"}
    assert "kid_mean" not in record  # the key metrics.jsonl uses too: one record, one set of keys
    assert 0 <= record["precision"] <= 1 and 0 <= record["recall"] <= 1 and record["swd"] > 0
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"precision", "recall", "swd"} <= set(printed) and printed["swd"] == record["swd"]
    summary = result.stdout.strip().splitlines()[-2]
    assert summary.startswith("FID ") and "precision" in summary and "recall" in summary and "SWD" in summary
    assert "SWD is measured on pixel patches" in result.stderr
    assert record["n_real"] == record["n_fake"] == 4 and record["fid"] > 0
    assert record["features"] == "inceptionv3-untrained-75" and "UNTRAINED" in record["note"]
    assert json.loads(result.stdout.strip().splitlines()[-1])["fid"] == record["fid"]
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 2
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)  # cached features, same numbers
    assert json.loads(again.stdout.strip().splitlines()[-1]) == json.loads(result.stdout.strip().splitlines()[-1])
    missing = subprocess.run([str(bclib), "fid", str(tmp_path / "nope"), str(photos / "Benign"), "--weights", "none"],
                             capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and "not a folder of images" in missing.stderr and "Traceback" not in missing.stderr


def test_tstr_and_trts_see_whether_generated_images_carry_their_class():
    from bclib.metrics.transfer import transfer_scores

    rng = np.random.default_rng(0)

    def drawn(n, shift=3.0):  # two classes apart along the first of 8 dimensions
        labels = np.arange(n) % 2
        features = rng.normal(size=(n, 8))
        features[:, 0] += shift * labels
        return features, labels

    real_train, real_test, faithful = drawn(80), drawn(80), drawn(80)
    table = transfer_scores(real_train, real_test, faithful, ["benign", "malignant"])
    assert list(table.index) == ["TRTR (reference)", "TRTR, size-matched (reference for TSTR)", "TSTR", "TRTS"]
    assert (table["balanced_accuracy"] > 0.85).all()  # faithful fakes: as good as real ones, both ways
    assert {"recall_benign", "recall_malignant", "n_train", "n_test"} <= set(table.columns)
    # The same images under shuffled labels carry no class: TSTR falls to chance, TRTS too.
    careless = (faithful[0], rng.permutation(faithful[1]))
    shuffled = transfer_scores(real_train, real_test, careless, ["benign", "malignant"])
    assert shuffled.loc["TSTR", "balanced_accuracy"] < 0.7 and shuffled.loc["TRTS", "balanced_accuracy"] < 0.7
    assert shuffled.loc["TRTR (reference)", "balanced_accuracy"] == table.loc["TRTR (reference)", "balanced_accuracy"]
    # Generated images of one class only: TSTR cannot be trained, and says so with an empty row.
    one_class = (faithful[0][faithful[1] == 0], faithful[1][faithful[1] == 0])
    partial = transfer_scores(real_train, real_test, one_class, ["benign", "malignant"])
    assert np.isnan(partial.loc["TSTR", "balanced_accuracy"]) and partial.loc["TRTS", "recall_benign"] > 0.8


def test_the_size_matched_reference_trains_on_as_many_real_images_as_were_generated():
    from bclib.metrics import transfer
    from bclib.metrics.transfer import transfer_scores

    rng = np.random.default_rng(0)
    labels = np.arange(200) % 2
    features = rng.normal(size=(200, 8)) + 0.6 * labels[:, None]
    generated = (features[:12], labels[:12])
    seen = []
    original = transfer._fitted
    transfer._fitted = lambda x, y, seed, groups=None: seen.append((len(y), groups)) or original(x, y, seed, groups)
    try:
        table = transfer_scores((features, labels), (features[100:], labels[100:]), generated, ["b", "m"],
                                train_groups=np.arange(200) // 4, repeats=5)
    finally:
        transfer._fitted = original
    row = table.loc["TRTR, size-matched (reference for TSTR)"]
    assert row["n_train"] == 12 and row["repeats"] == 5 and 0 <= row["balanced_accuracy_sd"]
    assert sorted(n for n, _ in seen).count(12) == 5 + 1  # five size-matched draws and TSTR itself
    assert any(n == 200 and g is not None for n, g in seen)  # the full real set: C on patient-grouped folds


def test_c_is_chosen_on_folds_that_never_split_a_patient():
    from sklearn.model_selection import StratifiedGroupKFold

    from bclib.metrics.transfer import _fitted

    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], 30)
    groups = np.repeat(np.arange(12), 5)
    features = rng.normal(size=(60, 4))
    captured = {}
    import sklearn.model_selection as ms

    original = ms.GridSearchCV.fit

    def spy(self, X, y=None, **kw):
        captured["cv"], captured["groups"] = self.cv, kw.get("groups")
        return original(self, X, y, **kw)

    ms.GridSearchCV.fit = spy
    try:
        _fitted(features, labels, 0, groups)
    finally:
        ms.GridSearchCV.fit = original
    assert isinstance(captured["cv"], StratifiedGroupKFold) and captured["groups"] is groups
