"""Sliced Wasserstein distance between two image sets on Laplacian-pyramid patches (Karras et al. 2018).

A metric that needs no pretrained network, for offline runs where the Inception
features of FID/KID are random (``metrics.weights: none``). As in ProGAN's SWD:

1. every image (uint8, N x H x W x 3) is split into a **Laplacian pyramid**: band-pass
   levels at H, H/2, ... down to 16 px, each the image at that scale minus the
   upsampled next-coarser one, and the 16 px Gaussian level last (the binomial
   5x5 kernel [1, 4, 6, 4, 1]^2 / 256 with mirrored borders for blurring);
2. from every level of every image ``patches`` random **7x7 neighbourhoods** are cut
   (centres drawn from ``seed``, the same positions for both sets when they have the
   same shape), each a 7 x 7 x 3 = 147-dimensional descriptor;
3. the descriptors of a level are **normalised per colour channel** (mean 0, std 1);
4. the distance of a level is the **sliced Wasserstein distance**: the mean over
   ``repeats`` x ``directions`` random unit directions of the 1-D Wasserstein-1
   distance between the two sets' projections (sorted values, compared quantile
   by quantile, :func:`wasserstein_1d`);
5. the result is reported, as in ProGAN's tables, times 10^3: per level
   (``swd_<resolution>``) and averaged over the levels (``swd``).

One departure, on purpose: ProGAN normalises each set's descriptors with its own
per-channel statistics, which hides a global colour (stain) shift between the two
sets. Here both sets are normalised with the **real set's** statistics
(``normalize="real"``), so such a shift counts; ``normalize="each"`` is ProGAN's
choice. The fine levels measure texture and edges (nuclei, membranes), the 16 px
level colour and layout. SWD compares distributions of small patches: it sees
blur, wrong textures and wrong colours, but not whether patches are arranged into
plausible tissue, and it is not sensitive to memorisation.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

KERNEL = np.array([1.0, 4.0, 6.0, 4.0, 1.0], np.float32) / 16.0  # separable: KERNEL x KERNEL = the 5x5 / 256
PATCH = 7
SMALLEST_LEVEL = 16


def _blur(images: np.ndarray, gain: float = 1.0) -> np.ndarray:
    from scipy.ndimage import convolve1d

    out = convolve1d(images, KERNEL * gain, axis=1, mode="mirror")
    return convolve1d(out, KERNEL * gain, axis=2, mode="mirror")


def pyramid_down(images: np.ndarray) -> np.ndarray:
    """Blur, then keep every second row and column (N, H, W, C) -> (N, H/2, W/2, C)."""
    return _blur(images)[:, ::2, ::2]


def pyramid_up(images: np.ndarray) -> np.ndarray:
    """Zeros between the samples, then blur with the kernel doubled per axis (keeps the mean)."""
    n, h, w, c = images.shape
    out = np.zeros((n, 2 * h, 2 * w, c), images.dtype)
    out[:, ::2, ::2] = images
    return _blur(out, gain=2.0)


def laplacian_pyramid(images, levels: int) -> list[np.ndarray]:
    """``levels`` arrays: band-pass levels from fine to coarse, the last one the coarse Gaussian level.
    Summing back (:func:`reconstruct`) gives the images exactly."""
    current = np.asarray(images, np.float32)
    out = []
    for _ in range(levels - 1):
        smaller = pyramid_down(current)
        out.append(current - pyramid_up(smaller))
        current = smaller
    return out + [current]


def reconstruct(pyramid: list[np.ndarray]) -> np.ndarray:
    image = pyramid[-1]
    for level in pyramid[-2::-1]:
        image = pyramid_up(image) + level
    return image


def pyramid_levels(size: int) -> int:
    """How many levels an image of side ``size`` gets: down to 16 px (one level below that)."""
    levels, side = 1, int(size)
    while side // 2 >= SMALLEST_LEVEL:
        levels, side = levels + 1, side // 2
    return levels


def patches(level: np.ndarray, per_image: int, rng: np.random.Generator) -> np.ndarray:
    """``per_image`` random 7x7 neighbourhoods of each image of one level, (N * per_image, 7, 7, C)."""
    n, h, w, c = level.shape
    half = PATCH // 2
    if h < PATCH or w < PATCH:
        raise ValueError(f"pyramid level {h}x{w} is smaller than the {PATCH}x{PATCH} neighbourhoods")
    ys = rng.integers(half, h - half, (n, per_image))
    xs = rng.integers(half, w - half, (n, per_image))
    offsets = np.arange(-half, half + 1)
    rows = (ys[:, :, None] + offsets)[:, :, :, None]  # (n, k, 7, 1)
    cols = (xs[:, :, None] + offsets)[:, :, None, :]  # (n, k, 1, 7)
    images = np.arange(n)[:, None, None, None]
    return level[images, rows, cols].reshape(n * per_image, PATCH, PATCH, c)


def wasserstein_1d(a, b) -> np.ndarray:
    """Wasserstein-1 distance between the empirical distributions of ``a`` and ``b`` along their last
    axis (leading axes are independent 1-D problems; the sets may differ in size).

    W1 = integral over t in (0, 1] of |F_a^-1(t) - F_b^-1(t)|: with n and m values the two
    quantile functions are constant between the points k/n and k/m, so the integral is an
    exact sum over those intervals. For n == m it is the mean absolute difference of the
    sorted values.
    """
    a, b = np.sort(np.asarray(a), axis=-1), np.sort(np.asarray(b), axis=-1)
    n, m = a.shape[-1], b.shape[-1]
    if n == m:
        return np.mean(np.abs(a - b), axis=-1)
    t = np.union1d(np.arange(1, n + 1) / n, np.arange(1, m + 1) / m)
    widths = np.diff(np.concatenate([[0.0], t]))
    ia = np.minimum(np.ceil(t * n - 1e-9).astype(int) - 1, n - 1)
    ib = np.minimum(np.ceil(t * m - 1e-9).astype(int) - 1, m - 1)
    return np.sum(widths * np.abs(a[..., ia] - b[..., ib]), axis=-1)


def random_directions(dim: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` random unit vectors in ``dim`` dimensions, as columns (dim, count)."""
    directions = rng.normal(size=(dim, count))
    return directions / np.linalg.norm(directions, axis=0, keepdims=True)


def sliced_wasserstein(a, b, directions: int = 128, repeats: int = 4, seed: int = 0) -> float:
    """Mean over ``repeats`` x ``directions`` random unit directions of the 1-D Wasserstein-1 distance
    between the projections of the rows of ``a`` and ``b`` (same width; sizes may differ)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"need two descriptor matrices of the same width, got {a.shape} and {b.shape}")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(repeats):
        d = random_directions(a.shape[1], directions, rng).astype(np.result_type(a, b, np.float32))
        values.append(wasserstein_1d(d.T @ a.T, d.T @ b.T).mean())  # (directions, points): sorted along rows
    return float(np.mean(values))


def level_descriptors(images, level: int, levels: int, per_image: int, seed: int,
                      batch_size: int = 64) -> np.ndarray:
    """The 7x7 descriptors (float32, (N * per_image, 7, 7, 3)) of one pyramid level of every image.

    Computed batch by batch, one level at a time, so memory holds one level's descriptors;
    the positions are drawn from (seed, level), the same for two sets of the same shape.
    """
    rng = np.random.default_rng([seed, level])
    out = []
    for start in range(0, len(images), batch_size):
        chunk = np.asarray(images[start:start + batch_size], np.float32)
        band = laplacian_pyramid(chunk, min(level + 2, levels))[level]  # only the levels this one needs
        out.append(patches(band, per_image, rng))
    return np.concatenate(out)


def _normalised(desc: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return ((desc - mean) / np.where(std > 0, std, 1.0)).reshape(len(desc), -1).astype(np.float32)


def swd(real_u8, fake_u8, patches_per_image: int = 128, directions: int = 128, repeats: int = 4,
        seed: int = 0, normalize: str = "real") -> dict:
    """SWD (x 10^3) between two image sets of the same size in pixels; see the module docstring.

    Returns ``swd`` (the mean over levels), ``swd_<resolution>`` per level and ``swd_n_real`` /
    ``swd_n_fake``.
    """
    if normalize not in ("real", "each"):
        raise ValueError(f"normalize must be 'real' or 'each', got {normalize!r}")
    real_shape, fake_shape = tuple(real_u8.shape[1:]), tuple(fake_u8.shape[1:])
    if real_shape != fake_shape:
        raise ValueError(f"SWD needs images of one size, got {real_shape} and {fake_shape}")
    if min(real_shape[:2]) < SMALLEST_LEVEL:
        raise ValueError(f"SWD needs images of at least {SMALLEST_LEVEL} px, got {real_shape[:2]}")
    record: dict = {}
    side = min(real_shape[:2])
    levels = pyramid_levels(side)
    for level in range(levels):
        r, f = (level_descriptors(images, level, levels, patches_per_image, seed) for images in (real_u8, fake_u8))
        stats = [(d.mean(axis=(0, 1, 2)), d.std(axis=(0, 1, 2))) for d in (r, f)]
        r_stats, f_stats = stats[0], stats[0] if normalize == "real" else stats[1]
        value = sliced_wasserstein(_normalised(r, *r_stats), _normalised(f, *f_stats), directions, repeats,
                                   seed=seed + level)
        record[f"swd_{side >> level}"] = 1e3 * value
    record["swd"] = float(np.mean(list(record.values())))
    record.update(swd_n_real=int(len(real_u8)), swd_n_fake=int(len(fake_u8)))
    return record


def swd_or_none(real_u8, fake_u8, **kwargs) -> Optional[dict]:
    """:func:`swd`, or None when the images are too small for it (below 16 px)."""
    if min(real_u8.shape[1:3]) < SMALLEST_LEVEL or len(real_u8) < 2 or len(fake_u8) < 2:
        return None
    return swd(real_u8, fake_u8, **kwargs)
