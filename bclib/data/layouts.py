"""The vocabulary of the real dataset layouts, in one place.

Loaders (``index``), the synthetic generator (``synth``) and the audit all
name folders, classes and magnifications from here.
"""

# BreakHis: histology_slides/breast/<class>/SOB/<subtype>/SOB_<B|M>_<code>_<year>-<id>/<mag>/...
BREAKHIS_CLASSES = ["benign", "malignant"]
BREAKHIS_SUBTYPES = {
    # folder name: (class, code in file names)
    "adenosis": ("benign", "A"),
    "fibroadenoma": ("benign", "F"),
    "phyllodes_tumor": ("benign", "PT"),
    "tubular_adenoma": ("benign", "TA"),
    "ductal_carcinoma": ("malignant", "DC"),
    "lobular_carcinoma": ("malignant", "LC"),
    "mucinous_carcinoma": ("malignant", "MC"),
    "papillary_carcinoma": ("malignant", "PC"),
}
BREAKHIS_MAGNIFICATIONS = ("40X", "100X", "200X", "400X")  # the one list: schema, tables and figures read it
# data.task of BreakHis: binary (benign/malignant) or subtype (the eight folders above, in this order).
TASKS = ("binary", "subtype")

# BACH (ICIAR 2018): Photos/<folder>/<prefix>NNN.tif and Photos/microscopy_ground_truth.csv
BACH_CLASS_NAMES = ["normal", "benign", "in_situ", "invasive"]
BACH_FOLDERS = {
    # folder name: (class name used by bclib, file prefix, label in the ground-truth CSV)
    "Normal": ("normal", "n", "Normal"),
    "Benign": ("benign", "b", "Benign"),
    "InSitu": ("in_situ", "is", "InSitu"),
    "Invasive": ("invasive", "iv", "Invasive"),
}

# Written at the top of every dataset bclib synthesises; loaders look for it.
SYNTHETIC_MARKER = "BCLIB_SYNTHETIC.json"


def class_names(dataset: str, task: str = "binary") -> list[str]:
    """The classes of a dataset's task, in label order (BreakHis ``subtype``: the eight subtypes)."""
    if dataset == "breakhis":
        return list(BREAKHIS_SUBTYPES if task == "subtype" else BREAKHIS_CLASSES)
    return list(BACH_CLASS_NAMES)
