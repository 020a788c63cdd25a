#!/usr/bin/env python3
"""Builds about 1 GiB of real EVTX from the shared attack samples, every
copy with distinct bytes, for the ingest and hunt benchmarks.

Each sample (`../shared/datasets/evtx-attack-samples`, 277 files, 38 MB) is
copied `--copies` times. Copies of one sample are packed into files of about
`--file-mb` MiB, so a file holds one channel, as a host's log does, and the
corpus has the shape of a collection from many hosts: hundreds of files of a
MiB or two. Within a file every record gets a new, increasing record
identifier in its header and the chunk and file headers say so, with their
CRC32 checksums recomputed; each copy's records are also written a second
later in their headers. The events themselves (their XML) are the samples'
own, so a copy's rows are the sample's rows, and no two files share their
bytes (a store keyed by a file's content hash sees every file as new).

    python3 bench/evtx_samples_corpus.py OUT_DIR [--copies 48] [--file-mb 1.5]
"""

import argparse
import os
import struct
import sys
import zlib

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared",
                       "datasets", "evtx-attack-samples")
FILE_HEADER = 4096
CHUNK = 65536
CHUNK_HEADER = 512
FILETIME_SECOND = 10_000_000


def chunks_of(data, path):
    """The chunks of an EVTX file's bytes (the header block left out); a
    chunk that is not "ElfChnk" (an unused, zeroed one at the end) ends it."""
    if data[:8] != b"ElfFile\0":
        raise ValueError(f"{path}: not an EVTX file")
    out = []
    for offset in range(FILE_HEADER, len(data) - CHUNK + 1, CHUNK):
        chunk = data[offset:offset + CHUNK]
        if chunk[:8] != b"ElfChnk\0":
            break
        out.append(chunk)
    return out


def renumber(chunk, first_id, seconds):
    """The chunk with its records numbered from first_id and written
    `seconds` later; returns (bytes, next id)."""
    chunk = bytearray(chunk)
    free = struct.unpack_from("<I", chunk, 48)[0]
    offset, record_id, last_offset = CHUNK_HEADER, first_id, CHUNK_HEADER
    while offset + 24 <= free and chunk[offset:offset + 4] == b"\x2a\x2a\x00\x00":
        size = struct.unpack_from("<I", chunk, offset + 4)[0]
        if size < 28 or offset + size > free:
            break
        struct.pack_into("<Q", chunk, offset + 8, record_id)
        written = struct.unpack_from("<Q", chunk, offset + 16)[0]
        struct.pack_into("<Q", chunk, offset + 16, written + seconds * FILETIME_SECOND)
        last_offset = offset
        record_id += 1
        offset += size
    if record_id == first_id:
        return None, first_id
    # First and last record numbers and identifiers, the last record's offset.
    struct.pack_into("<QQQQ", chunk, 8, first_id, record_id - 1, first_id, record_id - 1)
    struct.pack_into("<I", chunk, 44, last_offset)
    struct.pack_into("<I", chunk, 52, zlib.crc32(bytes(chunk[CHUNK_HEADER:free])))
    struct.pack_into("<I", chunk, 124, zlib.crc32(bytes(chunk[:120]) + bytes(chunk[128:CHUNK_HEADER])))
    return bytes(chunk), record_id


def file_bytes(template_header, chunks, next_id):
    header = bytearray(template_header[:FILE_HEADER])
    struct.pack_into("<QQQ", header, 8, 0, len(chunks) - 1, next_id)
    struct.pack_into("<H", header, 42, len(chunks))
    # Not dirty, not full: the file was closed cleanly.
    struct.pack_into("<I", header, 120, 0)
    struct.pack_into("<I", header, 124, zlib.crc32(bytes(header[:120])))
    return bytes(header) + b"".join(chunks)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", help="output directory (outside the repository)")
    p.add_argument("--samples", default=os.path.normpath(SAMPLES))
    p.add_argument("--copies", type=int, default=48, help="copies of every sample")
    p.add_argument("--file-mb", type=float, default=1.5, help="about how large a file of copies is")
    args = p.parse_args()
    if not os.path.isdir(args.samples):
        sys.exit(f"{args.samples}: missing (the shared datasets)")
    os.makedirs(args.out, exist_ok=True)
    samples = sorted(os.path.join(d, n) for d, _, names in os.walk(args.samples)
                     for n in names if n.lower().endswith(".evtx"))
    files = total = 0
    for index, path in enumerate(samples):
        with open(path, "rb") as f:
            data = f.read()
        chunks = chunks_of(data, path)
        if not chunks:
            continue
        per_file = max(1, int(args.file_mb * 2**20 // (len(chunks) * CHUNK)))
        stem = os.path.splitext(os.path.basename(path))[0][:60].replace(" ", "_")
        for first_copy in range(0, args.copies, per_file):
            out, next_id = [], 1
            for copy in range(first_copy, min(args.copies, first_copy + per_file)):
                for chunk in chunks:
                    renumbered, next_id = renumber(chunk, next_id, copy + 1)
                    if renumbered is not None:
                        out.append(renumbered)
            if not out:
                continue
            name = os.path.join(args.out, f"{index:03d}-{stem}-{first_copy:03d}.evtx")
            content = file_bytes(data, out, next_id)
            with open(name, "wb") as f:
                f.write(content)
            files += 1
            total += len(content)
    print(f"{files} files, {total / 2**30:.2f} GiB from {len(samples)} samples in {args.out}")


if __name__ == "__main__":
    main()
