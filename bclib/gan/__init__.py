"""The conditional Wasserstein GAN: models, losses, training, generation, checks.

- ``models``       generator and projection critic (Keras 3 functional models)
- ``losses``       Wasserstein / hinge losses, WGAN-GP and R1 penalties, feature matching
- ``train``        kimg-based training with atomic snapshots, resume and metrics.jsonl
- ``generate``     labelled synthetic images from a snapshot
- ``analysis``     memorisation check and the critic-as-classifier linear probe
"""
