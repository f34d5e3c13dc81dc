"""Tissue architecture: where the stroma, glands, nuclei, fat and empty space are.

A tile is built as two concentration maps, haematoxylin (``h``: nuclei) and
eosin (``e``: collagen and cytoplasm), in optical-density units, which
:mod:`.stain` turns into colour. Lengths are measured in *tissue units* of
about 3 micrometres (the radius of a small, normal nucleus); the
magnification says how many pixels one unit takes, so at 40X a tile shows
dozens of glands and at 400X part of one.

What a tile contains depends on three things:

* the **subtype**, through its typical architecture (a *motif*): acini for
  adenosis, slit-like ducts in loose stroma for fibroadenoma, leaf-like clefts
  and cellular stroma for phyllodes tumour, packed tubules for tubular
  adenoma, solid nests for ductal carcinoma, single-file chains for lobular
  carcinoma, mucin lakes for mucinous carcinoma, fronds for papillary
  carcinoma;
* the patient's **grade**, a number between 0 and 1 that sets how large,
  varied, pale-centred (vesicular) and crowded the epithelial nuclei are.
  Its distributions for benign and malignant patients overlap, as nuclear
  atypia does in real tumours;
* the patient's **own habits**: a personal mix of motifs (a ductal carcinoma
  may also show glands), stroma texture, fat, inflammation, blood vessels,
  retraction cracks, how much haematoxylin the collagen takes up, and
  nucleus size.

The stroma carries texture at two scales (fibre bundles and pixel-scale
fibrils) and thin white retraction cracks between bundles, as real sections
do; the amounts of background, fat and gaps, the stain densities and the fine
texture were tuned against real BreakHis tiles (``benchmarks/bench_realism.py``).

Everything is vectorised: nuclei are drawn in one pass from a nearest-seed
map (:func:`scipy.ndimage.distance_transform_edt`), smooth random fields are
made on a coarse grid and interpolated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.special import ndtri

from .staining_optics import Stain

# Typical architecture (motif weights) of each tissue kind.
MOTIFS = ["acini", "tubules", "slits", "clefts", "nests", "filled", "chains", "mucin", "fronds"]
KIND_MOTIFS = {
    "adenosis": {"acini": 1.0},
    "fibroadenoma": {"slits": 1.0},
    "phyllodes_tumor": {"clefts": 1.0},
    "tubular_adenoma": {"tubules": 1.0},
    "ductal_carcinoma": {"nests": 1.0, "filled": 0.25},
    "lobular_carcinoma": {"chains": 1.0},
    "mucinous_carcinoma": {"mucin": 1.0},
    "papillary_carcinoma": {"fronds": 1.0},
    # BACH
    "normal": {"acini": 1.0},
    "benign": {"acini": 0.5, "slits": 0.5, "tubules": 0.3},
    "in_situ": {"filled": 1.0},
    "invasive": {"nests": 1.0, "chains": 0.4},
}
# Mean grade (nuclear atypia) per kind; patients scatter widely around it.
KIND_GRADE = {
    "adenosis": 0.20, "fibroadenoma": 0.16, "phyllodes_tumor": 0.26, "tubular_adenoma": 0.24,
    "ductal_carcinoma": 0.78, "lobular_carcinoma": 0.70, "mucinous_carcinoma": 0.72, "papillary_carcinoma": 0.74,
    "normal": 0.15, "benign": 0.33, "in_situ": 0.58, "invasive": 0.70,
}

# How strongly a patient's motif mix follows the subtype (higher: more typical),
# and the spread of grade between patients and between images of one patient.
TYPICALITY = 2.0
GRADE_SPREAD_PATIENT = 0.15
GRADE_SPREAD_IMAGE = 0.04


@dataclass(frozen=True)
class Biology:
    """One patient's tissue: grade, motif mix and personal habits."""

    grade: float
    motifs: np.ndarray        # weights over MOTIFS, sum 1
    favourites: tuple         # the two motifs (indices into MOTIFS) this patient's tiles show most
    shares: np.ndarray        # and their typical shares
    cellularity: float        # how much epithelium a tile holds
    nucleus_size: float       # multiplies every nucleus radius
    fibre_length: float       # stroma texture: fibre length in units
    fibre_wave: float         # waviness of the collagen
    stroma_density: float     # eosin of collagen
    stroma_cells: float       # fibroblasts per area
    inflammation: float       # lymphocytes per area
    fat: float                # typical share of fat
    background: float         # typical share of empty, white space
    cracks: float             # share of the stroma opened by thin retraction gaps between fibres
    counterstain: float       # haematoxylin taken up by collagen and cytoplasm (the lilac tint of the tissue)
    vessels: float            # small blood vessels (red blood cells) per area

    @classmethod
    def draw(cls, rng: np.random.Generator, kind: str) -> Biology:
        base = np.array([KIND_MOTIFS[kind].get(m, 0.0) for m in MOTIFS])
        motifs = rng.dirichlet(TYPICALITY * base / base.sum() * 3 + 0.25)
        favourites = tuple(int(i) for i in rng.choice(len(MOTIFS), size=2, p=motifs))
        return cls(
            grade=float(np.clip(rng.normal(KIND_GRADE[kind], GRADE_SPREAD_PATIENT), 0.0, 1.0)),
            motifs=motifs,
            favourites=favourites,
            shares=rng.dirichlet([2.0, 1.0]),
            cellularity=float(rng.uniform(0.6, 1.0)),
            nucleus_size=float(rng.lognormal(0, 0.12)),
            fibre_length=float(rng.uniform(2.5, 8.0)),
            fibre_wave=float(rng.uniform(0.0, 4.0)),
            stroma_density=float(rng.uniform(0.15, 0.40)),
            stroma_cells=float(rng.lognormal(0, 0.7) * (3.0 if kind == "phyllodes_tumor" else 1.0)),
            inflammation=float(rng.exponential(0.9)),
            fat=float(rng.beta(0.5, 7.0)),
            background=float(rng.beta(0.5, 7.0)),
            cracks=float(rng.uniform(0.01, 0.09)),
            counterstain=float(rng.uniform(0.3, 1.3)),
            vessels=float(rng.exponential(0.7)),
        )


@dataclass(frozen=True)
class Patient:
    """Everything that is constant across one patient's photos."""

    stain: Stain
    biology: Biology


# ---------------------------------------------------------------------------
# Random fields


def _upsample(coarse, shape, factor):
    """Linear interpolation of a coarse grid (one sample every ``factor`` pixels, one sample of margin)
    to ``shape`` pixels, one axis after the other: gathers and weights, no matrix products (BLAS threads
    cost more than they save on arrays this small, and a worker process per core is already running)."""
    out = coarse
    for axis, n_out in enumerate(shape):
        pos = np.arange(n_out) / factor + 1
        lower = np.minimum(pos.astype(int), coarse.shape[axis] - 2)
        weight = (pos - lower).astype(np.float32).reshape((-1, 1) if axis == 0 else (1, -1))
        a, b = np.take(out, lower, axis=axis), np.take(out, lower + 1, axis=axis)
        out = a + (b - a) * weight
    return out


def smooth_field(rng, shape, sigma):
    """Gaussian-smoothed noise of unit variance with correlation length ``sigma`` pixels.

    Wide fields are made on a coarse grid and interpolated, which costs little whatever ``sigma`` is.
    """
    if sigma < 4:
        field = ndimage.gaussian_filter(rng.standard_normal(shape, dtype=np.float32), sigma, mode="wrap")
    else:
        factor = sigma / 2.0
        small = (int(np.ceil(shape[0] / factor)) + 3, int(np.ceil(shape[1] / factor)) + 3)
        coarse = ndimage.gaussian_filter(rng.standard_normal(small, dtype=np.float32), 2.0, mode="wrap")
        field = _upsample(coarse, shape, factor)
    return (field - field.mean()) / (field.std() + 1e-8)


def fibre_field(rng, shape, along, across, angle, wave):
    """Oriented texture: noise stretched along ``angle`` (fibres ``along`` x ``across`` pixels), bent by waves.

    The noise lives on a grid whose steps are about a correlation length in each direction (fine across the
    fibres, coarse along them), so it stays small and cheap to filter whatever the magnification.
    """
    rows, cols = shape
    step_q, step_p = max(1.0, across / 1.2), max(1.0, along / 1.2)
    wave_px = wave * across * 3
    diagonal = np.hypot(rows, cols)
    size = (int((diagonal + 4 * wave_px) / step_q) + 8, int(diagonal / step_p) + 8)
    noise = ndimage.gaussian_filter(rng.standard_normal(size, dtype=np.float32),
                                    (across / step_q, along / step_p), mode="wrap", truncate=3.0)
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float32)
    y -= rows / 2
    x -= cols / 2
    p = x * np.cos(angle) + y * np.sin(angle)
    q = -x * np.sin(angle) + y * np.cos(angle)
    period = along * rng.uniform(6, 14)
    # Collagen waves, but not regularly: a sine wave mixed with a smooth random bend.
    bend = smooth_field(rng, shape, period / 4)
    q = q + wave_px * (0.5 * np.sin(2 * np.pi * p / period + rng.uniform(0, 2 * np.pi)) + 0.8 * bend)
    out = ndimage.map_coordinates(noise, [q / step_q + size[0] / 2, p / step_p + size[1] / 2], order=1, mode="wrap")
    return (out - out.mean()) / (out.std() + 1e-8)


def region(rng, shape, sigma, fraction, within=None):
    """A blobby mask covering about ``fraction`` of the tile (of ``within`` when given)."""
    if fraction <= 0.002:
        return np.zeros(shape, bool)
    field = smooth_field(rng, shape, sigma) + 0.12 * smooth_field(rng, shape, max(1.0, sigma / 20))  # ragged edges
    values = field[within] if within is not None and within.any() else field
    threshold = np.quantile(values, 1 - min(fraction, 0.98))
    mask = field > threshold
    return mask & within if within is not None else mask


def grid_points(rng, mask, spacing, jitter=0.35):
    """Centres of cells packed in ``mask`` on a jittered hexagonal grid of ``spacing`` pixels."""
    rows, cols = mask.shape
    ys = np.arange(spacing / 2, rows, spacing * 0.866)
    pts = []
    for i, y in enumerate(ys):
        xs = np.arange((i % 2) * spacing / 2, cols, spacing)
        pts.append(np.column_stack([np.full(len(xs), y), xs]))
    pts = np.concatenate(pts) + rng.normal(0, jitter * spacing, (sum(len(p) for p in pts), 2))
    pts = pts[(pts[:, 0] >= 0) & (pts[:, 0] < rows) & (pts[:, 1] >= 0) & (pts[:, 1] < cols)]
    return pts[mask[pts[:, 0].astype(int), pts[:, 1].astype(int)]]


# ---------------------------------------------------------------------------
# The canvas


class Canvas:
    """Concentration maps plus the list of nuclei still to be drawn."""

    def __init__(self, shape, unit, rng):
        self.shape, self.u, self.rng = shape, unit, rng
        self.h = np.zeros(shape, np.float32)
        self.e = np.zeros(shape, np.float32)
        self.empty = np.zeros(shape, np.float32)  # 1 = no tissue (lumen, fat, background)
        self.occupied = np.zeros(shape, bool)     # epithelium already drawn here
        self._nuclei = []

    def add_nuclei(self, centres, radius, aspect=1.0, angle=None, dark=0.8, vesicular=0.0, cyto=0.0,
                   irregular=0.05):
        n = len(centres)
        if n == 0:
            return
        def full(v):
            return np.broadcast_to(np.asarray(v, dtype=float), (n,))

        if angle is None:
            angle = self.rng.uniform(0, np.pi, n)
        self._nuclei.append(np.column_stack([
            centres[:, 0], centres[:, 1], full(radius), full(aspect), full(angle), full(dark),
            full(vesicular), full(cyto), full(irregular),
        ]))

    def epithelial(self, centres, grade, size, cyto=1.0, angle=None, spread=1.0):
        """Epithelial nuclei whose look follows the grade: bigger, more varied, vesicular, nucleolated."""
        n = len(centres)
        rng = self.rng
        g = np.clip(grade + rng.normal(0, 0.05, n), 0, 1)
        radius = size * self.u * (0.8 + 0.7 * g) * rng.lognormal(0, (0.05 + 0.22 * g) * spread, n)
        aspect = 1 + np.abs(rng.normal(0, 0.12 + 0.25 * g, n))
        dark = (0.40 + 0.28 * g) * rng.lognormal(0, 0.08 + 0.12 * g, n)
        dark *= np.where(rng.random(n) < 0.4 * g ** 2, 1.9, 1.0)  # some hyperchromatic nuclei in high grades
        vesicular = np.clip(1.6 * g - 0.55 + rng.normal(0, 0.15, n), 0, 1)
        self.add_nuclei(centres, radius, aspect, angle, dark, vesicular, cyto, 0.03 + 0.2 * g)

    def draw_nuclei(self):
        """Draw every nucleus (and its cytoplasm) at once, through the nearest-centre map."""
        if not self._nuclei:
            return
        nuc = np.concatenate(self._nuclei)
        rows, cols = self.shape
        inside = (nuc[:, 0] >= 0) & (nuc[:, 0] < rows) & (nuc[:, 1] >= 0) & (nuc[:, 1] < cols)
        nuc = nuc[inside][self.rng.permutation(int(inside.sum()))]
        cy, cx, r, aspect, angle, dark, vesic, cyto, irregular = nuc.T
        seeds = np.zeros(self.shape, np.int32)
        seeds[cy.astype(int), cx.astype(int)] = np.arange(1, len(nuc) + 1)
        dist, (ny, nx) = ndimage.distance_transform_edt(seeds == 0, return_indices=True)
        label = seeds[ny, nx] - 1
        reach = np.where(cyto > 0, 2.2, 1.25) * r * np.sqrt(aspect) + 1.5
        sel = np.flatnonzero(dist.ravel() < reach[label.ravel()])
        k = label.ravel()[sel]
        py, px = np.divmod(sel, cols)
        dy, dx = py - cy[k], px - cx[k]
        ca, sa = np.cos(angle[k]), np.sin(angle[k])
        along, across = dx * ca + dy * sa, -dx * sa + dy * ca
        stretch = np.sqrt(aspect[k])
        rho = np.sqrt((along / (r[k] * stretch)) ** 2 + (across * stretch / r[k]) ** 2)
        wobble = smooth_field(self.rng, self.shape, max(1.5, 0.3 * self.u)).ravel()[sel]
        grain = smooth_field(self.rng, self.shape, max(0.6, 0.1 * self.u)).ravel()[sel]
        rho = rho * (1 + irregular[k] * wobble)
        edge = np.clip((1 - rho) * r[k] + 0.5, 0, 1)  # about one pixel of anti-aliasing
        v = vesic[k]
        profile = 1 - v * 0.6 * np.clip(1 - rho**2, 0, 1) + v * 0.9 * np.exp(-((rho / 0.22) ** 2))
        chromatin = np.clip(1 + (0.25 + 0.35 * v) * grain, 0.3, None)
        value = dark[k] * edge * profile * chromatin
        halo = np.clip((2.0 - rho) * 1.5, 0, 1) * (1 - edge) * cyto[k]
        h, e, empty = self.h.ravel(), self.e.ravel(), self.empty.ravel()
        e[sel] = e[sel] * (1 - halo) + halo * 0.20 + edge * 0.05
        h[sel] = np.maximum(h[sel] + halo * 0.05, value)
        empty[sel] *= 1 - np.maximum(edge, halo)
        self._nuclei = []


# ---------------------------------------------------------------------------
# Structures


def _ellipse_rho(canvas, cy, cx, ry, rx, angle, ragged=0.0):
    """Normalised elliptical radius around one centre, on its bounding box (slices, rho)."""
    rows, cols = canvas.shape
    reach = max(ry, rx) * 1.15 + 2
    y0, y1 = int(max(0, cy - reach)), int(min(rows, cy + reach + 1))
    x0, x1 = int(max(0, cx - reach)), int(min(cols, cx + reach + 1))
    if y0 >= y1 or x0 >= x1:
        return None, None
    y, x = np.mgrid[y0:y1, x0:x1]
    dy, dx = y - cy, x - cx
    ca, sa = np.cos(angle), np.sin(angle)
    a, b = dx * ca + dy * sa, -dx * sa + dy * ca
    rho = np.sqrt((a / rx) ** 2 + (b / ry) ** 2)
    if ragged:
        theta = np.arctan2(b, a)
        k = canvas.rng.integers(3, 7)
        rho = rho * (1 + ragged * np.sin(k * theta + canvas.rng.uniform(0, 6.3)))
    return (slice(y0, y1), slice(x0, x1)), rho


def _place(rng, tissue, n, min_dist):
    """Up to ``n`` centres in ``tissue``, at least ``min_dist`` pixels apart."""
    ys, xs = np.nonzero(tissue)
    if len(ys) == 0:
        return np.zeros((0, 2))
    pick = rng.integers(0, len(ys), n * 4)
    candidates = np.column_stack([ys[pick], xs[pick]]).astype(float)
    kept = []
    for p in candidates:
        if all((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2 >= min_dist**2 for q in kept):
            kept.append(p)
            if len(kept) == n:
                break
    return np.array(kept).reshape(-1, 2)


def glands(c, tissue, grade, bio, amount, size, aspect=1.0, layers=1, filled=False, myo=True, lumen_pale=0.0):
    """Ducts and acini: a ring of epithelium with nuclei around a lumen (or a duct filled with cells)."""
    rng, u = c.rng, c.u
    mean_r = size * u * bio.nucleus_size
    area = tissue.sum()
    n = int(np.clip(amount * area / (np.pi * mean_r**2 * aspect * 2.2), 1 if amount > 0 else 0, 120))
    for cy, cx in _place(rng, tissue, n, mean_r * 1.6):
        ry = mean_r * rng.lognormal(0, 0.25)
        rx = ry * aspect * rng.lognormal(0, 0.2)
        angle = rng.uniform(0, np.pi)
        box, rho = _ellipse_rho(c, cy, cx, ry, rx, angle, ragged=0.02 + 0.12 * grade)
        if box is None:
            continue
        thick = (2.6 + 1.6 * (layers - 1)) * u * (1 + 0.3 * grade)
        lumen_r = max(0.0, 1 - thick / min(ry, rx))
        inside = rho < 1
        c.e[box][inside] = 0.2 + 0.08 * rng.random()
        c.h[box][inside] += 0.03
        c.occupied[box] |= inside
        if filled:  # carcinoma in situ: solid, sometimes with punched-out (cribriform) spaces or central necrosis
            spaces = smooth_field(rng, rho.shape, 1.8 * u) > 1.3
            c.empty[box][(rho < lumen_r) & spaces] = 1.0
            if grade > 0.7 and rng.random() < 0.5:
                core = rho < 0.35
                c.e[box][core] = 0.30
                c.h[box][core] += 0.12 * rng.random(core.sum())
            pts = grid_points(rng, inside & (rho < 0.95), (3.0 - 0.4 * grade) * u)
            c.epithelial(pts + [box[0].start, box[1].start], grade, 1.0)
        else:
            lumen = rho < lumen_r
            c.empty[box][lumen] = 1.0 - lumen_pale
            c.e[box][lumen] = lumen_pale * 0.25
            spacing = (2.3 - 0.3 * grade) * u
            for layer in range(layers):
                rr = 1 - (layer + 0.5) / layers * (1 - lumen_r) if lumen_r > 0 else 0.5
                perimeter = np.pi * (ry + rx) * rr
                count = max(4, int(perimeter / spacing))
                t = np.linspace(0, 2 * np.pi, count, endpoint=False) + rng.uniform(0, 6.3)
                jitter = rng.normal(0, 0.05 + 0.1 * grade, count)
                a = rx * (rr + jitter) * np.cos(t)
                b = ry * (rr + jitter) * np.sin(t)
                ca, sa = np.cos(angle), np.sin(angle)
                pts = np.column_stack([cy + a * sa + b * ca, cx + a * ca - b * sa])
                c.epithelial(pts, grade, 1.0, angle=t + angle)  # elongated across the ring, like columnar cells
            if myo and grade < 0.55:
                count = max(3, int(np.pi * (ry + rx) / (6 * u)))
                t = np.linspace(0, 2 * np.pi, count, endpoint=False) + rng.uniform(0, 6.3)
                a, b = rx * 1.02 * np.cos(t), ry * 1.02 * np.sin(t)
                ca, sa = np.cos(angle), np.sin(angle)
                pts = np.column_stack([cy + a * sa + b * ca, cx + a * ca - b * sa])
                c.add_nuclei(pts, 0.8 * u, aspect=4.0, angle=t + angle + np.pi / 2, dark=0.6)


def nests(c, tissue, grade, bio, amount, lumens=0.0):
    """Solid nests and sheets of tumour cells in desmoplastic stroma."""
    rng, u = c.rng, c.u
    mask = region(rng, c.shape, (6 + 6 * rng.random()) * u, amount, within=tissue & ~c.occupied)
    c.e[mask] = 0.26
    c.h[mask] += 0.03
    c.occupied |= mask
    if lumens:
        holes = mask & (smooth_field(rng, c.shape, 1.5 * u) > 2.2 - lumens)
        c.empty[holes] = 1.0
        mask = mask & ~holes
    c.epithelial(grid_points(rng, mask, (3.4 - 0.5 * grade) * u * bio.nucleus_size), grade, bio.nucleus_size)


def chains(c, tissue, grade, bio, amount):
    """Lobular pattern: small, uniform, discohesive cells in single file through the stroma."""
    rng, u = c.rng, c.u
    rows, cols = c.shape
    spacing = 2.4 * u * bio.nucleus_size
    n_cells = int(amount * tissue.sum() / (spacing * spacing * 3))
    length = int(rng.uniform(6, 20))
    n_chains = max(1, n_cells // length)
    starts = np.column_stack([rng.uniform(0, rows, n_chains), rng.uniform(0, cols, n_chains)])
    heading = rng.uniform(0, np.pi) + rng.normal(0, 0.4, n_chains)
    turns = np.cumsum(rng.normal(0, 0.18, (n_chains, length)), axis=1) + heading[:, None]
    steps = spacing * np.stack([np.sin(turns), np.cos(turns)], axis=-1)
    pts = (starts[:, None, :] + np.cumsum(steps, axis=1)).reshape(-1, 2)
    singles = np.column_stack([rng.uniform(0, rows, n_cells // 4), rng.uniform(0, cols, n_cells // 4)])
    pts = np.concatenate([pts, singles])
    c.epithelial(pts, 0.6 * grade, bio.nucleus_size, cyto=0.8, spread=0.5)


def mucin(c, tissue, grade, bio, amount):
    """Mucinous pattern: pale blue-grey lakes of mucin with floating clusters of tumour cells."""
    rng, u = c.rng, c.u
    lakes = region(rng, c.shape, 12 * u, amount, within=tissue & ~c.occupied)
    wisps = smooth_field(rng, c.shape, 1.5 * u)
    c.e[lakes] = 0.05 + 0.03 * wisps[lakes]
    c.h[lakes] = np.clip(0.09 + 0.04 * wisps[lakes], 0, None)
    c.empty[lakes] = 0.35
    c.occupied |= lakes
    clusters = lakes & (smooth_field(rng, c.shape, 2.5 * u) > 0.5)
    c.e[clusters] = 0.22
    c.empty[clusters] = 0.0
    c.epithelial(grid_points(rng, clusters, 2.4 * u * bio.nucleus_size), grade, bio.nucleus_size)


def fronds(c, tissue, grade, bio, amount):
    """Papillary pattern: branching fibrovascular cores lined by stacked columnar cells, in a cyst space."""
    rng, u = c.rng, c.u
    rows, cols = c.shape
    space = region(rng, c.shape, 20 * u, min(0.9, amount), within=tissue & ~c.occupied)
    if not space.any():
        return
    lines = np.zeros(c.shape, bool)
    n = max(2, int(amount * rows * cols / (22 * u) ** 2))
    for _ in range(n):
        y, x = rng.uniform(0, rows), rng.uniform(0, cols)
        heading = rng.uniform(0, 2 * np.pi)
        turns = heading + np.cumsum(rng.normal(0, 0.25, 60))
        path = np.column_stack([y + np.cumsum(np.sin(turns)) * u, x + np.cumsum(np.cos(turns)) * u])
        inside = (path[:, 0] >= 0) & (path[:, 0] < rows) & (path[:, 1] >= 0) & (path[:, 1] < cols)
        lines[path[inside, 0].astype(int), path[inside, 1].astype(int)] = True
    if not lines.any():
        return
    dist, (ny, nx) = ndimage.distance_transform_edt(~lines, return_indices=True)
    core_w = rng.uniform(1.5, 3.5) * u
    epi_w = core_w + (2.5 + 2.0 * grade) * u
    core = space & (dist < core_w)
    epi = space & (dist >= core_w) & (dist < epi_w)
    c.empty[space] = 1.0
    c.e[space] = 0.0
    c.empty[core | epi] = 0.0
    c.e[core] = bio.stroma_density * 0.9
    c.e[epi] = 0.22
    c.occupied |= space
    pts = grid_points(rng, epi, (2.6 - 0.3 * grade) * u * bio.nucleus_size)
    iy, ix = pts[:, 0].astype(int), pts[:, 1].astype(int)
    angle = np.arctan2(iy - ny[iy, ix], ix - nx[iy, ix])  # long axis away from the core
    c.epithelial(pts, grade, bio.nucleus_size, angle=angle)


# ---------------------------------------------------------------------------
# One tile


def _ground(c, bio, angle):
    """Stroma with the patient's fibre texture, then empty background and fat; returns the tissue mask."""
    rng, u, shape = c.rng, c.u, c.shape
    # Stroma: collagen fibres with the patient's texture, in a random direction.
    fibres = fibre_field(rng, shape, bio.fibre_length * u, 0.5 * u, angle, bio.fibre_wave)
    # Fibrils: a finer, less regular texture inside the bundles, at about a pixel's scale.
    fibrils = fibre_field(rng, shape, 0.4 * bio.fibre_length * u, max(0.6, 0.2 * u), angle + rng.normal(0, 0.3),
                          0.5 * bio.fibre_wave)
    patches = smooth_field(rng, shape, 25 * u)
    density = bio.stroma_density * rng.lognormal(0, 0.1)
    c.e[:] = np.clip(density * (1 + 0.25 * fibres + 0.35 * fibrils + 0.25 * patches), 0.02, 2 * density)
    c.h[:] = c.e * bio.counterstain * 0.25
    # Gaps: loose stroma shows wide ones; all stroma has thin retraction cracks between bundles.
    crack_level = ndtri(1 - np.clip(bio.cracks * rng.lognormal(0, 0.3), 1e-4, 0.5))
    c.empty[:] = np.maximum(np.clip(-0.6 - 0.45 * fibres, 0, 0.6) * (density < 0.25),
                            np.clip((0.7 * fibres + 0.7 * fibrils - crack_level) * 2.0, 0, 1))

    # Empty space (slide background, tears) and fat.
    # At high magnification the photographer centres the field on cells: less background and fat.
    close_up = min(1.0, (4.0 * min(shape) / 460 / u) ** 0.6)
    bg = region(rng, shape, rng.uniform(40, 100) * min(shape) / 460,
                min(0.45, bio.background * close_up * rng.lognormal(0, 0.15)))
    c.empty[bg] = 1.0
    tissue = ~bg
    fat_mask = region(rng, shape, 30 * u, bio.fat * close_up * rng.lognormal(0, 0.15), within=tissue)
    if fat_mask.any():
        cell = 12 * u * rng.uniform(0.8, 1.3)
        seeds = grid_points(rng, np.ones(shape, bool), cell, jitter=0.3)
        lab = np.zeros(shape, np.int32)
        lab[seeds[:, 0].astype(int).clip(0, shape[0] - 1), seeds[:, 1].astype(int).clip(0, shape[1] - 1)] = \
            np.arange(1, len(seeds) + 1)
        _, (ny, nx) = ndimage.distance_transform_edt(lab == 0, return_indices=True)
        lab = lab[ny, nx]
        wall = (np.diff(lab, axis=0, prepend=lab[:1]) != 0) | (np.diff(lab, axis=1, prepend=lab[:, :1]) != 0)
        wall = ndimage.binary_dilation(wall, iterations=max(0, int(u / 3)))
        c.empty[fat_mask] = 1.0
        c.e[fat_mask] = 0.0
        c.empty[fat_mask & wall] = 0.0
        c.e[fat_mask & wall] = 0.25
        tissue = tissue & ~fat_mask
    return tissue


def vessels(c, stroma, bio):
    """Capillaries and small vessels cut across or along: a thin wall round a lumen packed with red blood cells
    (small, strongly eosinophilic discs), the reddest thing on an H&E slide."""
    rng, u = c.rng, c.u
    n = rng.poisson(bio.vessels * stroma.sum() / (70 * u) ** 2)
    for cy, cx in _place(rng, stroma, n, 8 * u):
        ry = rng.uniform(1.2, 3.5) * u
        box, rho = _ellipse_rho(c, cy, cx, ry, ry * rng.uniform(1, 5), rng.uniform(0, np.pi), ragged=0.1)
        if box is None:
            continue
        wall, lumen = (rho < 1) & (rho >= 0.75), rho < 0.75
        c.e[box][wall] = 0.35
        full = rng.uniform(0.3, 1.0)  # how full of blood the lumen is
        cells = np.clip((smooth_field(rng, rho.shape, max(0.6, 0.5 * u)) + 1.6 * full - 0.6) * 1.5, 0, 1)
        c.e[box][lumen] = 0.65 * cells[lumen]
        c.h[box][lumen] = 0.0
        c.empty[box][lumen] = 1 - cells[lumen]
        c.occupied[box] |= rho < 1


def _epithelium(c, tissue, grade, bio):
    """Two motifs from the patient's personal mix, drawn where there is still free tissue."""
    rng = c.rng
    tissue_area = max(1, int(tissue.sum()))
    amount_total = bio.cellularity * rng.uniform(0.93, 1.07) * (0.02 + 1.0 * grade)
    if rng.random() < 0.8:  # usually the patient's favourite pair, sometimes any motif of their mix
        picks, shares = bio.favourites, rng.dirichlet(12 * bio.shares)
    else:
        picks, shares = rng.choice(len(MOTIFS), size=2, p=bio.motifs), rng.dirichlet([2.0, 1.0])
    for motif_index, share in zip(picks, shares):
        motif, amount = MOTIFS[motif_index], float(np.clip(amount_total * share, 0, 0.85))
        if tissue_area < 50 or amount < 0.01:
            continue
        free = tissue & ~c.occupied
        if motif == "acini":
            glands(c, free, grade, bio, amount, size=rng.uniform(5, 9), layers=1, lumen_pale=0.2)
        elif motif == "tubules":
            glands(c, free, grade, bio, amount * 1.4, size=rng.uniform(4, 6), layers=1)
        elif motif == "slits":
            glands(c, free, grade, bio, amount, size=rng.uniform(4, 7), aspect=rng.uniform(3, 7), layers=1)
        elif motif == "clefts":
            glands(c, free, grade, bio, amount * 0.6, size=rng.uniform(5, 9), aspect=rng.uniform(5, 10), layers=1)
        elif motif == "nests":
            nests(c, free, grade, bio, amount, lumens=0.5 * (1 - grade))
        elif motif == "filled":
            glands(c, free, grade, bio, amount, size=rng.uniform(10, 18), filled=True, myo=False)
        elif motif == "chains":
            chains(c, free, grade, bio, amount)
        elif motif == "mucin":
            mucin(c, free, grade, bio, amount * 1.2)
        elif motif == "fronds":
            fronds(c, free, grade, bio, amount)


def draw_tissue(kind: str, shape: tuple[int, int], unit: float, patient: Patient,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Haematoxylin and eosin concentration maps of one tile (``unit``: pixels per tissue unit)."""
    if kind not in KIND_MOTIFS:
        raise ValueError(f"unknown tissue kind {kind!r}")
    bio = patient.biology
    c = Canvas(shape, unit, rng)
    u = unit
    grade = float(np.clip(bio.grade + rng.normal(0, GRADE_SPREAD_IMAGE), 0, 1))

    angle = rng.uniform(0, np.pi)
    tissue = _ground(c, bio, angle)
    _epithelium(c, tissue, grade, bio)

    vessels(c, tissue & ~c.occupied & (c.empty < 0.5), bio)
    # Stromal cells: spindle fibroblasts along the fibres, and lymphocytes.
    stroma = tissue & ~c.occupied & (c.empty < 0.5)
    n_fib = int(stroma.sum() / (50 * u * u) * bio.stroma_cells * rng.lognormal(0, 0.2))
    if n_fib:
        ys, xs = np.nonzero(stroma)
        pick = rng.integers(0, len(ys), n_fib)
        pts = np.column_stack([ys[pick], xs[pick]]) + rng.uniform(-0.5, 0.5, (n_fib, 2))
        c.add_nuclei(pts, 0.9 * u * bio.nucleus_size, aspect=rng.uniform(3, 6, n_fib),
                     angle=angle + rng.normal(0, 0.25, n_fib), dark=rng.uniform(0.45, 0.7, n_fib))
    n_lym = int(stroma.sum() / (400 * u * u) * bio.inflammation * rng.lognormal(0, 0.5))
    if n_lym:
        ys, xs = np.nonzero(stroma)
        pick = rng.integers(0, len(ys), n_lym)
        pts = np.column_stack([ys[pick], xs[pick]]).astype(float)
        c.add_nuclei(pts, 0.75 * u, aspect=1.1, dark=rng.uniform(0.7, 0.9, n_lym))
    c.draw_nuclei()

    keep = 1 - np.clip(c.empty, 0, 1)
    return c.h * keep, c.e * keep
