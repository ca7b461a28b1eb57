#!/usr/bin/env python3
"""Write zpanel backup archives (format 2) from a JSON description, with a manifest whose
checksums are computed here the way zpanel computes them: crafted archives pass the
checksum check and reach the rule under test.

    backup_craft.py OUT SPEC.json     (OUT ending in .gz is gzip-compressed)
    backup_craft.py --many OUT N      (two volume sections of N empty files each)

SPEC: {"project": "p", "sections": [{"kind": "volumes"|"binds"|"files", "key": "data",
       "name": "p_data", "entries": [ENTRY...]}]}
ENTRY: {"path": "a/b" ("" for the root), "type": "f"|"d"|"l"|"h"|"p", "mode": 420,
        "uid": 0, "gid": 0, "data": "text" (files), "link": "target" (symbolic link target,
        or for "h" the target's path inside the section), "xattrs": {"user.x": "v"},
        "sparse_size": N (files: stored sparse, data at offset 0, zeros up to N)}
Entries are written in the given order (zpanel's rules say which orders are valid)."""
import gzip
import hashlib
import io
import json
import sys
import tarfile

KIND_DIR = {"volumes": "volumes", "binds": "binds", "files": "files"}


def section_dir(kind, key):
    if kind == "binds":
        key = key.replace("%", "%25").replace("/", "%2F")
    return "%s/%s" % (kind, key)


class Digest:
    """backup_digest_* of src/backup/digest.c: SHA-256 over the entries' hashes in order."""

    def __init__(self):
        self.tree = hashlib.sha256(b"zpanel-backup-tree-2\0")
        self.n = 0
        self.size = 0

    def entry(self, rel, typ, mode, uid, gid, link, content_sha=None, size=0):
        head = b"zpanel-backup-entry-2\0" + rel.encode() + b"\0"
        head += ("%s\0%o\0%d\0%d\0" % (typ, mode & 0o7777, uid, gid)).encode()
        if typ in ("l", "h"):
            head += link.encode()
        head += b"\0"
        if typ == "f":
            head += ("%d\0%s" % (size, content_sha)).encode()
            self.size += size
        self.tree.update(hashlib.sha256(head).digest())
        self.n += 1

    def hexdigest(self):
        return self.tree.hexdigest()


def zeros_sha(data, total):
    h = hashlib.sha256(data)
    left = total - len(data)
    block = bytes(1 << 20)
    while left > 0:
        n = min(left, len(block))
        h.update(block[:n])
        left -= n
    return h.hexdigest()


def add(tar, name, e, d):
    typ = e.get("type", "f")
    mode = e.get("mode", 0o755 if typ == "d" else 0o644)
    uid, gid = e.get("uid", 0), e.get("gid", 0)
    ti = tarfile.TarInfo(name)
    ti.mode, ti.uid, ti.gid, ti.mtime = mode, uid, gid, 1700000000
    body = None
    pax = {}
    for k, v in e.get("xattrs", {}).items():
        pax["SCHILY.xattr." + k] = v
    if typ == "d":
        ti.type = tarfile.DIRTYPE
        d.entry(e["path"], "d", mode, uid, gid, None)
    elif typ == "l":
        ti.type = tarfile.SYMTYPE
        ti.linkname = e["link"]
        d.entry(e["path"], "l", mode, uid, gid, e["link"])
    elif typ == "h":
        ti.type = tarfile.LNKTYPE
        ti.linkname = e["archive_link"]
        d.entry(e["path"], "h", mode, uid, gid, e["link"])
    elif typ == "p":
        ti.type = tarfile.FIFOTYPE
        d.entry(e["path"], "p", mode, uid, gid, None)
    else:
        data = e.get("data", "").encode()
        body = data
        ti.size = len(data)
        if "sparse_size" in e:
            real = e["sparse_size"]
            pax.update({"GNU.sparse.size": str(real), "GNU.sparse.numblocks": "1",
                        "GNU.sparse.map": "0,%d" % len(data)})
            d.entry(e["path"], "f", mode, uid, gid, None, zeros_sha(data, real), real)
        else:
            d.entry(e["path"], "f", mode, uid, gid, None, hashlib.sha256(data).hexdigest(),
                    len(data))
    ti.pax_headers = pax
    tar.addfile(ti, io.BytesIO(body) if body is not None else None)


def craft(out, spec):
    raw = io.BytesIO()
    sections = []
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for s in spec["sections"]:
            kind, key = s["kind"], s["key"]
            top = section_dir(kind, key)
            d = Digest()
            for e in s["entries"]:
                name = top + ("/" + e["path"] if e["path"] else ("" if kind == "files" else "/"))
                if e.get("type") == "h":
                    e = dict(e, archive_link=top + "/" + e["link"])
                add(tar, name, e, d)
            sections.append((kind, key, s.get("name"), d))
        man = {"format": 2, "zpanel_version": "craft", "project": spec.get("project", "p"),
               "created": "2024-01-01T00:00:00Z", "volumes": [], "binds": [], "files": []}
        for kind, key, name, d in sections:
            o = {"key" if kind == "volumes" else "path": key}
            if kind == "volumes":
                o["name"] = name or ("p_" + key)
            o.update({"size": d.size, "files": d.n, "sha256": d.hexdigest()})
            man[kind].append(o)
        body = json.dumps(man, indent=2).encode()
        ti = tarfile.TarInfo("manifest.json")
        ti.size = len(body)
        tar.addfile(ti, io.BytesIO(body))
    data = raw.getvalue()
    if out.endswith(".gz"):
        data = gzip.compress(data, 1)
    open(out, "wb").write(data)


def header(name, size=0, typ=b"0", mode=0o644):
    """A ustar header (short names only), fast."""
    h = bytearray(512)
    h[0:len(name)] = name
    h[100:108] = b"%07o\0" % mode
    h[108:116] = b"0000000\0"
    h[116:124] = b"0000000\0"
    h[124:136] = b"%011o\0" % size
    h[136:148] = b"%011o\0" % 1700000000
    h[148:156] = b"        "
    h[156:157] = typ
    h[257:265] = b"ustar\x0000"
    s = sum(h)
    h[148:156] = b"%06o\0 " % s
    return bytes(h)


def many(out, n):
    """Two volume sections "a" and "b", each a root and n empty files: 2n + 2 entries."""
    empty = hashlib.sha256(b"").hexdigest()
    man = {"format": 2, "zpanel_version": "craft", "project": "p",
           "created": "2024-01-01T00:00:00Z", "volumes": [], "binds": [], "files": []}
    with gzip.open(out, "wb", compresslevel=1) as f:
        for key in ("a", "b"):
            d = Digest()
            f.write(header(b"volumes/%s/" % key.encode(), typ=b"5", mode=0o755))
            d.entry("", "d", 0o755, 0, 0, None)
            buf = []
            for i in range(n):
                rel = "f%09d" % i
                buf.append(header(b"volumes/%s/%s" % (key.encode(), rel.encode())))
                d.entry(rel, "f", 0o644, 0, 0, None, empty, 0)
                if len(buf) == 4096:
                    f.write(b"".join(buf))
                    buf = []
            f.write(b"".join(buf))
            man["volumes"].append({"key": key, "name": "p_" + key, "size": 0, "files": d.n,
                                   "sha256": d.hexdigest()})
        body = json.dumps(man).encode()
        f.write(header(b"manifest.json", size=len(body)))
        f.write(body + bytes((512 - len(body) % 512) % 512))
        f.write(bytes(1024))


if __name__ == "__main__":
    if sys.argv[1] == "--many":
        many(sys.argv[2], int(sys.argv[3]))
    else:
        craft(sys.argv[1], json.load(open(sys.argv[2])))
