# 3 GiB of zeros after a valid header, deflated into about 3 MB (was an OutOfMemoryError)
python3 - <<'PY'
import struct, zlib
h = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 3, 3), }          \n".encode()
head = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h
c = zlib.compressobj(9, zlib.DEFLATED, -15)
parts = [c.compress(head), c.flush(zlib.Z_FULL_FLUSH)]
block = c.compress(b"\0" * (1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
parts += [block] * 3072
parts.append(c.flush(zlib.Z_FINISH))
data = b"".join(parts)
size = len(head) + (3072 << 20)
name = b"0.weight.npy"
local = struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, 0, 8, 0, 0, 0, len(data), size, len(name), 0) + name
cd = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 20, 20, 0, 8, 0, 0, 0, len(data), size, len(name), 0, 0, 0, 0, 0, 0) + name
end = struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 1, 1, len(cd), len(local) + len(data), 0)
open("w.npz", "wb").write(local + data + cd + end)
PY
