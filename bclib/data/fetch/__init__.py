"""Fetching the real archives (``bclib fetch breakhis|bach``): resumable download, checksum, safe unpack, verify."""

from .download import Transfer
from .record import describe, find_record, read_record, record_path
from .run import fetch
from .sources import SOURCES, bach_manifest, breakhis_manifest

__all__ = ["SOURCES", "Transfer", "bach_manifest", "breakhis_manifest", "describe", "fetch", "find_record",
           "read_record", "record_path"]
