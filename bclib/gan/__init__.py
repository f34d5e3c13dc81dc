"""The cWGAN (the paper's name; the real profiles train it with hinge loss and R1, the smoke profiles as a
WGAN-GP: docs/gan.md): models, losses, training, generation, checks.

- ``models``       generator and projection critic (Keras 3 functional models), the networks a run builds
                   (compute policy, EMA copy), and loading them from a snapshot
- ``losses``       hinge / Wasserstein / logistic losses, WGAN-GP and R1 penalties, drift, feature matching
- ``loss``         the objective as one object: critic and generator gradients for the configured losses,
                   with R1 as a phase of its own (losses.r1_penalty through the augmentation)
- ``critic_augment`` differentiable critic augmentation, fixed or adaptive probability (StyleGAN2-ADA)
- ``train``        the training loop: the trainer orchestrating the pieces, in kimg, with a snapshot every
                   snapshot_kimg and metrics.jsonl
- ``checkpointing`` writing, pruning and restoring snapshots, and the checks that a snapshot may be resumed
- ``batches``      which real images each iteration shows (per-epoch permutations, random square crops)
- ``training_images`` the training images decoded once (row file), their centre squares, uint8 conversion, grids
- ``conditions``   what G and D are conditioned on (class, or class and magnification) and how many images each
                   condition gets
- ``image_provenance`` the training-set record, the leakage guard and the check that a folder matches its data
- ``snapshots``    the snapshots on disk and the selected (lowest-FID) one that tables and generation use
- ``generate``     labelled synthetic images from a snapshot
- ``scoring_hook`` FID/KID/precision/recall/SWD at every snapshot (the metrics package never imports gan)
- ``analysis``     memorisation check and the critic-as-classifier linear probe
- ``training_figures`` loss and score curves, fakes over time, nearest training images, the sweep figure
- ``workflow``     from a parameter profile to a trained cWGAN (what ``bclib gan train`` and notebook 01 share)

The sweeps and the GAN of each split as jobs are :mod:`bclib.experiment`'s.
"""
