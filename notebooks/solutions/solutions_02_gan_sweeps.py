"""Solutions to notebook 02's exercises (gamma and batch-size sweeps)."""

from __future__ import annotations

from bclib.params import Params


def exercise_1(params: Params, batch_sizes=(16, 32, 64, 128)) -> dict:
    """The R1 weight that ``gamma: auto`` gives at each batch size (StyleGAN2-ADA's heuristic,
    0.0002 x resolution^2 / batch). It falls as the batch grows: a batch sweep that left gamma on auto would
    change two things at once."""
    settings = params.gan.model_dump()
    settings.update(penalty="r1", gamma="auto", d_loss="hinge", g_loss="hinge")
    return {batch: type(params.gan)(**{**settings, "batch_size": batch}).gamma_value for batch in batch_sizes}


def exercise_2(table, column: str = "gamma") -> tuple[object, str]:
    """The swept value with the lowest best-snapshot FID, read from a sweep table like notebook 02's
    (``bclib.experiment.gan_sweeps.sweep_table``: one row per trained sweep point, column ``FID``), and the
    answer to "trained, or a combination?": every row of one sweep table is a run that was trained. A
    combination would arise only by taking the best gamma of the gamma table with the best batch size of
    the batch table, a pair nobody trained, which is why ``select_configuration`` picks one run's pair."""
    best = table.loc[table["FID"].idxmin(), column]
    return best, (f"{column} {best}: a trained point (each row of a sweep table is one run); "
                  "pairing two tables' winners would be a combination nobody trained")
