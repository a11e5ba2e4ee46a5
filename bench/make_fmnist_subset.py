#!/usr/bin/python3
"""Writes data/fashion-mnist-subset/ from Debian's dataset-fashion-mnist: the first 10,000 training and the
first 2,000 test images and labels, IDX gzip, compressed with mtime 0 so the output bytes are reproducible."""
import gzip, pathlib, struct, sys

SRC = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist")
DST = pathlib.Path(__file__).resolve().parent.parent / "data" / "fashion-mnist-subset"


def write(name, count, images):
    raw = gzip.open(SRC / name).read()
    if images:
        magic, _, rows, cols = struct.unpack(">IIII", raw[:16])
        out = struct.pack(">IIII", magic, count, rows, cols) + raw[16:16 + count * rows * cols]
    else:
        magic, _ = struct.unpack(">II", raw[:8])
        out = struct.pack(">II", magic, count) + raw[8:8 + count]
    with open(DST / name, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", compresslevel=9, mtime=0, filename="") as g:
        g.write(out)


DST.mkdir(parents=True, exist_ok=True)
write("train-images-idx3-ubyte.gz", 10000, True)
write("train-labels-idx1-ubyte.gz", 10000, False)
write("t10k-images-idx3-ubyte.gz", 2000, True)
write("t10k-labels-idx1-ubyte.gz", 2000, False)
