"""Fetch a tinyllamas model and its tokenizer, checked by sha256.

Copies from a local folder (the shared data folder here) when it has them,
otherwise downloads them: the models from Hugging Face's karpathy/tinyllamas,
the 32000-token tokenizer.bin from llama2.c's GitHub repository.

    python3 -m host models DEST [--shared DIR] [--set stories260K|stories15M]
"""
import argparse
import hashlib
import os
import shutil
import sys
import urllib.request

TINYLLAMAS = "https://huggingface.co/karpathy/tinyllamas/resolve/main/"
# name: (url, sha256), by set.
SETS = {
    "stories260K": {
        "stories260K.bin": (TINYLLAMAS + "stories260K/stories260K.bin",
                            "b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696"),
        "tok512.bin": (TINYLLAMAS + "stories260K/tok512.bin",
                       "037cb335abb25d1fa9e8ecae30ed2a3a8ace9302862ebcdc05d51a6bbb10c312"),
    },
    "stories15M": {
        "stories15M.bin": (TINYLLAMAS + "stories15M.bin",
                           "cd590644d963867a2b6e5a1107f51fad663c41d79c149fbecbbb1f95fa81f49a"),
        "tokenizer.bin": ("https://github.com/karpathy/llama2.c/raw/master/tokenizer.bin",
                          "50a52ef822ee9e83de5ce9d0be0a025a773d019437f58b5ff9dcafb063ece361"),
    },
}
MODELS = SETS["stories260K"]


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


def fetch(name, url, digest, dest_dir, shared, names):
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
        print("%s: downloading %s" % (dest, url))
        try:
            download(url, part)
        except OSError as e:  # urllib's URLError included: no network, no DNS, refused
            if os.path.exists(part):
                os.remove(part)
            reason = getattr(e, "reason", None) or e
            raise SystemExit("error: cannot download %s: %s.\nWithout internet, copy %s into %s yourself, or"
                             " give --shared DIR (make models: SHARED_DIR=DIR, which holds models/) where"
                             " they are; either way their sha256 is checked." % (
                                 url, reason, " and ".join(names), dest_dir))
    got = sha256_of(part)
    if got != digest:
        os.remove(part)
        raise SystemExit("error: %s has sha256 %s, expected %s" % (name, got, digest))
    os.replace(part, dest)  # only a verified file ever gets the real name


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m host models", description=__doc__.splitlines()[0])
    ap.add_argument("dest", help="folder for the model files")
    ap.add_argument("--shared", help="folder to copy from when it has the files")
    ap.add_argument("--set", choices=sorted(SETS), default="stories260K",
                    help="which model and tokenizer (default stories260K: 1 MB; stories15M: 61 MB)")
    args = ap.parse_args(argv)
    os.makedirs(args.dest, exist_ok=True)
    try:
        for name, (url, digest) in SETS[args.set].items():
            fetch(name, url, digest, args.dest, args.shared, list(SETS[args.set]))
    except OSError as e:
        raise SystemExit("error: %s" % e)


if __name__ == "__main__":
    main()
