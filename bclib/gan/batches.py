"""Which real images each training iteration shows the critic, drawn statelessly so that a resumed run
shows exactly the images an uninterrupted one would.

The order is a fresh permutation per epoch, drawn from (seed, epoch); with ``crop: random`` the square
taken from each stored strip is drawn from (seed, iteration). Both depend only on counters a snapshot
records, never on a random state that would have to be saved.
"""

from __future__ import annotations

import numpy as np


def batch_indices(seed: int, images_seen: int, n: int, n_critic: int, batch_size: int) -> np.ndarray:
    """Indices (n_critic, batch_size) of the next ``n_critic * batch_size`` of ``n`` real images, after
    ``images_seen`` were shown."""
    positions = images_seen + np.arange(n_critic * batch_size)
    epochs, offsets = np.divmod(positions, n)
    out = np.empty_like(positions)
    for epoch in np.unique(epochs):
        order = np.random.default_rng([seed, 7, int(epoch)]).permutation(n)
        mask = epochs == epoch
        out[mask] = order[offsets[mask]]
    return out.reshape(n_critic, batch_size)


def real_batch(image_file, idx: np.ndarray, side: int, seed: int, iteration: int) -> np.ndarray:
    """The real images ``idx`` (n_critic, batch) of ``image_file`` as uint8 (side x side) squares: stored
    squares as they are, or for ``crop: random`` a random square of each stored strip."""
    images = image_file.gather(idx.ravel())
    width = images.shape[2]
    if width > side:
        offsets = np.random.default_rng([seed, 11, iteration]).integers(0, width - side + 1, len(images))
        columns = offsets[:, None] + np.arange(side)
        images = np.take_along_axis(images, columns[:, None, :, None], axis=2)
    return images.reshape(*idx.shape, side, side, images.shape[-1])
