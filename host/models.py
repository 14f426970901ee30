"""Fetch the stories260K model and its tokenizer, checked by sha256.

Copies from a local folder (the shared data folder here) when it has them,
otherwise downloads from Hugging Face's karpathy/tinyllamas.

    python3 host/models.py DEST [--shared DIR]
"""
import argparse
import hashlib
import os
import shutil
import sys
import urllib.request

BASE_URL = "https://huggingface.co/karpathy/tinyllamas/resolve/main/stories260K/"
MODELS = {
    "stories260K.bin": "b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696",
    "tok512.bin": "037cb335abb25d1fa9e8ecae30ed2a3a8ace9302862ebcdc05d51a6bbb10c312",
}


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(url, dest):
    with urllib.request.urlopen(url, timeout=60) as r, open(dest, "wb") as out:
        total = int(r.headers.get("Content-Length") or 0)
        done = 0
        while True:
            chunk = r.read(1 << 16)
            if not chunk:
                break
            out.write(chunk)
            done += len(chunk)
            if total:
                sys.stderr.write("\r  %s: %d%%" % (os.path.basename(dest), 100 * done // total))
        sys.stderr.write("\n")


def fetch(name, digest, dest_dir, shared):
    dest = os.path.join(dest_dir, name)
    if os.path.exists(dest) and sha256_of(dest) == digest:
        print("%s: present" % dest)
        return
    part = dest + ".part"
    local = os.path.join(shared, name) if shared else None
    if local and os.path.exists(local):
        print("%s: copying from %s" % (dest, local))
        shutil.copyfile(local, part)
    else:
        print("%s: downloading %s" % (dest, BASE_URL + name))
        try:
            download(BASE_URL + name, part)
        except OSError as e:  # urllib's URLError included: no network, no DNS, refused
            if os.path.exists(part):
                os.remove(part)
            reason = getattr(e, "reason", None) or e
            raise SystemExit("error: cannot download %s: %s.\nWithout internet, copy %s into %s yourself, or"
                             " give --shared DIR (make models: SHARED_DIR=DIR, which holds models/) where"
                             " they are; either way their sha256 is checked." % (
                                 BASE_URL + name, reason, " and ".join(MODELS), dest_dir))
    got = sha256_of(part)
    if got != digest:
        os.remove(part)
        raise SystemExit("error: %s has sha256 %s, expected %s" % (name, got, digest))
    os.replace(part, dest)  # only a verified file ever gets the real name


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m host models", description=__doc__.splitlines()[0])
    ap.add_argument("dest", help="folder for the model files")
    ap.add_argument("--shared", help="folder to copy from when it has the files")
    args = ap.parse_args(argv)
    os.makedirs(args.dest, exist_ok=True)
    try:
        for name, digest in MODELS.items():
            fetch(name, digest, args.dest, args.shared)
    except OSError as e:
        raise SystemExit("error: %s" % e)


if __name__ == "__main__":
    main()
