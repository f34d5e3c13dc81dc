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
    assert set(record) >= {"fid", "kid_mean", "kid_std", "n_real", "n_fake", "features", "note"}
    assert record["n_real"] == record["n_fake"] == 4 and record["fid"] > 0
    assert record["features"] == "inceptionv3-untrained-75" and "UNTRAINED" in record["note"]
    assert json.loads(result.stdout.strip().splitlines()[-1])["fid"] == record["fid"]
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 2
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)  # cached features, same numbers
    assert json.loads(again.stdout.strip().splitlines()[-1]) == json.loads(result.stdout.strip().splitlines()[-1])
    missing = subprocess.run([str(bclib), "fid", str(tmp_path / "nope"), str(photos / "Benign"), "--weights", "none"],
                             capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and "not a folder of images" in missing.stderr and "Traceback" not in missing.stderr
