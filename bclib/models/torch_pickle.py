"""Reading a PyTorch state dict saved in the *legacy* format (``torch.save`` before 1.6) without PyTorch,
and without letting the file run code.

A ``.pth`` file is a Python pickle, and unpickling an untrusted pickle can call any function it names
(``os.system`` included). PyTorch's own guard, ``torch.load(weights_only=True)``, needs PyTorch (GBs);
no well-kept library reads these files without it (safetensors, numpy and h5py read other formats), so
bclib reads them itself with :class:`StateDictUnpickler`, whose :meth:`~StateDictUnpickler.find_class`
resolves only the four names a state dict of tensors needs and refuses every other name before anything
is called. ``tools/check_lite0_against_torch.py`` checks the result against ``torch.load``.

The legacy layout, as ``torch.serialization._legacy_save`` writes it: five pickles in a row (a magic
number, the protocol version, a small dict about the writing machine, the object itself with each
storage replaced by a persistent id ``('storage', type, key, device, numel, view)``, then the sorted list
of storage keys), followed by each storage's bytes in that order, each after its element count as a
little-endian int64. Anything else (the zip format of PyTorch >= 1.6, a truncated or padded file, a
storage whose count disagrees with its id) is refused with a :class:`UnsafeOrDamagedPickle` error.
"""

from __future__ import annotations

import io
import pickle
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch.serialization.MAGIC_NUMBER
LEGACY_PROTOCOL = 1001  # torch.serialization.PROTOCOL_VERSION
# The storage classes a state dict of ordinary tensors holds, with their little-endian element types.
STORAGE_DTYPES = {
    "FloatStorage": np.dtype("<f4"), "DoubleStorage": np.dtype("<f8"), "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"), "IntStorage": np.dtype("<i4"), "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"), "ByteStorage": np.dtype("u1"), "BoolStorage": np.dtype("?"),
}


class UnsafeOrDamagedPickle(UserError):
    """The file is not a plain legacy state dict: it names code to run, or it is cut short or altered."""


@dataclass(frozen=True)
class _StorageType:
    name: str


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: np.dtype
    numel: int


@dataclass(frozen=True)
class _TensorRef:
    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, *rest):
    """Stands in for ``torch._utils._rebuild_tensor_v2``: records where the tensor's numbers are."""
    if not isinstance(storage, _StorageRef):
        raise UnsafeOrDamagedPickle("a tensor is rebuilt from something that is not a storage")
    if not (isinstance(storage_offset, int) and all(isinstance(v, int) and v >= 0 for v in (*size, *stride))):
        raise UnsafeOrDamagedPickle("a tensor's offset, size or stride is not a whole number")
    return _TensorRef(storage, storage_offset, tuple(size), tuple(stride))


class StateDictUnpickler(pickle.Unpickler):
    """An unpickler that builds only ordered dicts, tensors and storages; any other global is refused."""

    ALLOWED = {
        ("collections", "OrderedDict"): OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        **{("torch", name): _StorageType(name) for name in STORAGE_DTYPES},
    }

    def __init__(self, file, origin: str):
        super().__init__(file)
        self.origin = origin
        self.storages: dict[str, _StorageRef] = {}

    def find_class(self, module, name):
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise UnsafeOrDamagedPickle(
                f"{self.origin}: refused to load: the pickle names '{module}.{name}', which a state dict of "
                "tensors never needs (a pickle that names code can run it when loaded)") from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and isinstance(pid[2], str) and isinstance(pid[4], int)):
            raise UnsafeOrDamagedPickle(f"{self.origin}: a storage reference of an unknown form: {pid!r:.80}")
        if pid[5] is not None:
            raise UnsafeOrDamagedPickle(f"{self.origin}: storage views (old PyTorch) are not supported")
        ref = _StorageRef(pid[2], STORAGE_DTYPES[pid[1].name], pid[4])
        if self.storages.setdefault(ref.key, ref) != ref:
            raise UnsafeOrDamagedPickle(f"{self.origin}: storage {ref.key} is described twice, differently")
        return ref


def _load_one(stream, origin: str, unpickler: StateDictUnpickler | None = None):
    try:
        return (unpickler or StateDictUnpickler(stream, origin)).load()
    except UnsafeOrDamagedPickle:
        raise
    except Exception as exc:  # EOFError, UnpicklingError, ...: the file is cut short or not a pickle
        raise UnsafeOrDamagedPickle(f"{origin}: not a legacy PyTorch state dict, or damaged ({exc})") from None


def read_state_dict(path: str | Path) -> "OrderedDict[str, np.ndarray]":
    """The tensors of a legacy ``torch.save`` state dict as float/int NumPy arrays, names in file order."""
    path = Path(path)
    origin = str(path)
    data = path.read_bytes()
    if data[:2] == b"PK":
        raise UnsafeOrDamagedPickle(f"{origin}: a zip-format PyTorch file (torch >= 1.6); only the legacy "
                                    "format is read here")
    stream = io.BytesIO(data)
    if _load_one(stream, origin) != LEGACY_MAGIC:
        raise UnsafeOrDamagedPickle(f"{origin}: not a legacy PyTorch file (wrong magic number)")
    if _load_one(stream, origin) != LEGACY_PROTOCOL:
        raise UnsafeOrDamagedPickle(f"{origin}: unknown legacy PyTorch protocol version")
    info = _load_one(stream, origin)
    if not (isinstance(info, dict) and info.get("little_endian") is True):
        raise UnsafeOrDamagedPickle(f"{origin}: written on a big-endian machine or without its machine record")
    unpickler = StateDictUnpickler(stream, origin)
    state = _load_one(stream, origin, unpickler)
    keys = _load_one(stream, origin)
    if not isinstance(state, dict) or not all(isinstance(v, _TensorRef) for v in state.values()):
        raise UnsafeOrDamagedPickle(f"{origin}: the pickle holds something other than a dict of tensors")
    if keys != sorted(unpickler.storages):
        raise UnsafeOrDamagedPickle(f"{origin}: the storage list disagrees with the tensors' storages")
    buffers = _read_storages(data, stream.tell(), [unpickler.storages[k] for k in keys], origin)
    return OrderedDict((name, _tensor(ref, buffers[ref.storage.key], origin, name)) for name, ref in state.items())


def _read_storages(data: bytes, position: int, storages: list[_StorageRef], origin: str) -> dict[str, np.ndarray]:
    buffers = {}
    for ref in storages:
        if position + 8 > len(data):
            raise UnsafeOrDamagedPickle(f"{origin}: cut short (storage {ref.key} missing)")
        count = int.from_bytes(data[position:position + 8], "little", signed=True)
        end = position + 8 + count * ref.dtype.itemsize
        if count != ref.numel:
            raise UnsafeOrDamagedPickle(f"{origin}: storage {ref.key} holds {count} numbers, its id says {ref.numel}")
        if end > len(data):
            raise UnsafeOrDamagedPickle(f"{origin}: cut short (storage {ref.key} incomplete)")
        buffers[ref.key] = np.frombuffer(data, ref.dtype, count, position + 8)
        position = end
    if position != len(data):
        raise UnsafeOrDamagedPickle(f"{origin}: {len(data) - position} unexpected bytes after the last storage")
    return buffers


def _tensor(ref: _TensorRef, buffer: np.ndarray, origin: str, name: str) -> np.ndarray:
    last = ref.offset + sum((n - 1) * s for n, s in zip(ref.size, ref.stride)) if all(ref.size) else ref.offset - 1
    if ref.offset < 0 or last >= buffer.size:
        raise UnsafeOrDamagedPickle(f"{origin}: tensor {name} reaches outside its storage")
    strides = tuple(s * buffer.itemsize for s in ref.stride)
    view = np.lib.stride_tricks.as_strided(buffer[ref.offset:], shape=ref.size, strides=strides, writeable=False)
    return np.array(view, dtype=buffer.dtype.newbyteorder("="))
