"""Push a model to a MicroPython board over its serial REPL.

Default: into the ROMFS partition, as an image whose file data is 16-byte
aligned so that the weights are read in place from flash.  With --fs: onto
the board's filesystem.  The sha256 of what landed on the board is checked
against the local file afterwards.

An interrupted deploy never leaves a model that llm.load() accepts:
- ROMFS: the partition is erased, the image is written from its second
  chunk on, and the first chunk (the ROMFS header) last; until then the
  partition does not mount.
- filesystem: the file is written under NAME.part and renamed only after
  its sha256 matches.

    python3 -m host deploy PORT MODEL [MORE FILES] [--fs]
"""
import argparse
import binascii
import hashlib
import os
import sys
import zlib

from host import romfs
from host.progress import Bar

CHUNK = 4096
# How long the other end may take to answer as a MicroPython REPL before the
# deploy gives up; an emulator on a busy machine can take several seconds.
CONNECT_TIMEOUT = float(os.environ.get("LLM_DEPLOY_TIMEOUT", "30"))


class NotAREPL(Exception):
    pass


def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Board:
    """A raw-REPL session on the board through mpremote's transport."""

    def __init__(self, port, timeout=CONNECT_TIMEOUT):
        from mpremote.transport_serial import SerialTransport
        self.port = port
        # With a read timeout, entering the raw REPL gives up on a terminal
        # that never answers (without one, its first read waits for good).
        # Nothing but the raw REPL's control bytes (Ctrl-C, Ctrl-A) is
        # written until the other end has answered "raw REPL; CTRL-B to exit".
        self.t = SerialTransport(port, baudrate=115200, timeout=timeout)
        try:
            if not self._answers(timeout):
                raise NotAREPL("no MicroPython REPL answered on %s within %g s (is the board on this port,"
                               " and is no other program using it?)" % (port, timeout))
            self.t.enter_raw_repl(soft_reset=True)
        except BaseException:
            self.t.close()
            raise

    def _answers(self, timeout):
        import time
        serial = self.t.serial
        serial.write(b"\r\x03\x03\r\x01")  # stop a running program, enter the raw REPL
        got = b""
        deadline = time.monotonic() + timeout
        while b"raw REPL; CTRL-B to exit" not in got:
            if time.monotonic() > deadline:
                return False
            serial.timeout = max(0.01, min(1.0, deadline - time.monotonic()))
            got += serial.read(max(1, serial.in_waiting))
        serial.write(b"\x02")  # back to the friendly REPL: enter_raw_repl starts from there
        serial.timeout = timeout
        return True

    def exec(self, code):
        return self.t.exec(code)

    def eval(self, expr):
        return self.t.eval(expr)

    def soft_reset(self):
        self.t.exit_raw_repl()
        self.t.enter_raw_repl(soft_reset=True)

    def sha256(self, path):
        self.exec("import hashlib\n"
                  "def _sha(p):\n"
                  " h=hashlib.sha256()\n"
                  " with open(p,'rb') as f:\n"
                  "  while True:\n"
                  "   b=f.read(4096)\n"
                  "   if not b: break\n"
                  "   h.update(b)\n"
                  " return h.digest().hex()\n")
        return self.eval("_sha(%r)" % path)

    def close(self):
        try:
            self.t.exit_raw_repl()
        finally:
            self.t.close()


def send_chunk(board, chunk):
    # Compressed base64 when the board can inflate, as mpremote does.
    if board.deflate:
        data = binascii.b2a_base64(zlib.compress(chunk, wbits=-9)).strip()
        board.exec("buf=DeflateIO(BytesIO(a2b_base64(%r)),RAW,9).read()" % data)
    else:
        board.exec("buf=a2b_base64(%r)" % binascii.b2a_base64(chunk).strip())


def deploy_romfs(board, files):
    image = romfs.build([(os.path.basename(p), open(p, "rb").read()) for p in files])
    board.exec("import vfs")
    if not board.eval("hasattr(vfs,'rom_ioctl')"):
        raise SystemExit("error: this firmware has no ROMFS (vfs.rom_ioctl); use --fs")
    board.exec("dev=vfs.rom_ioctl(2,0)")
    if board.eval("isinstance(dev,int) and dev<0"):
        raise SystemExit("error: the board has no ROMFS partition; use --fs")
    has_object = board.eval("hasattr(dev,'ioctl')")
    if has_object:
        block = board.eval("dev.ioctl(5,0)")
        size = board.eval("dev.ioctl(4,0)") * block
    else:
        size = board.eval("len(dev)")
    if len(image) > size:
        raise SystemExit("error: the image is %d bytes but the ROMFS partition holds %d" % (len(image), size))
    board.exec("from binascii import a2b_base64")
    try:
        board.exec("from io import BytesIO\nfrom deflate import DeflateIO,RAW")
        board.deflate = True
    except Exception:
        board.deflate = False
    sys.stderr.write("erasing the ROMFS partition (%d bytes)\n" % size)
    board.exec("try:\n vfs.umount('/rom')\nexcept OSError:\n pass")
    chunk_size = CHUNK
    if has_object:
        chunk_size = min(CHUNK, block)
        for off in range(0, len(image), block):
            board.exec("dev.ioctl(6,%d)" % (off // block))
    else:
        chunk_size = max(CHUNK, board.eval("vfs.rom_ioctl(3,0,%d)" % len(image)))
    offsets = list(range(0, len(image), chunk_size))
    # The header chunk goes last: until it is written the partition is not a ROMFS.
    order = offsets[1:] + offsets[:1]
    with Bar("writing ROMFS", len(image), unit="bytes") as bar:
        for n, off in enumerate(order):
            chunk = image[off:off + chunk_size]
            chunk += b"\xff" * (chunk_size - len(chunk)) if has_object else bytes(chunk_size - len(chunk))
            send_chunk(board, chunk)
            if has_object:
                board.exec("dev.writeblocks(%d,buf,%d)" % (off // block, off % block))
            else:
                board.exec("vfs.rom_ioctl(4,0,%d,buf)" % off)
            bar.update(min((n + 1) * chunk_size, len(image)))
    if not has_object:
        board.eval("vfs.rom_ioctl(5,0)")
    board.soft_reset()  # remounts /rom
    return ["/rom/" + os.path.basename(p) for p in files]


def deploy_fs(board, files):
    placed = []
    for p in files:
        name = "/" + os.path.basename(p)
        data = open(p, "rb").read()
        board.exec("import os\ntry:\n os.remove(%r)\nexcept OSError:\n pass" % (name + ".part"))
        with Bar("copying " + name, len(data), unit="bytes") as bar:
            board.t.fs_writefile(name + ".part", data, chunk_size=1024, progress_callback=bar.update)
        placed.append((name, p))
    return placed


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m host deploy", description=__doc__.splitlines()[0])
    ap.add_argument("port", help="the board's serial device, e.g. /dev/ttyACM0")
    ap.add_argument("files", nargs="+", help="model file(s) (.llm, or .bin plus tokenizer)")
    ap.add_argument("--fs", action="store_true", help="copy to the filesystem instead of ROMFS")
    args = ap.parse_args(argv)
    for p in args.files:
        if not os.path.isfile(p):
            sys.stderr.write("error: %s: no such file\n" % p)
            return 1
    try:
        board = Board(args.port)
    except NotAREPL as e:
        sys.stderr.write("error: %s\n" % e)
        return 1
    except Exception as e:
        sys.stderr.write("error: cannot open the board's REPL on %s: %s\n" % (args.port, e))
        return 1
    try:
        if args.fs:
            placed = deploy_fs(board, args.files)
            for name, local in placed:
                got = board.sha256(name + ".part")
                if got != sha256_of(local):
                    sys.stderr.write("error: %s: sha256 on the board %s != local %s; left as %s.part\n"
                                     % (name, got, sha256_of(local), name))
                    return 1
                board.exec("import os\ntry:\n os.remove(%r)\nexcept OSError:\n pass\nos.rename(%r,%r)"
                           % (name, name + ".part", name))
                print("%s: sha256 verified" % name)
        else:
            for name, local in zip(deploy_romfs(board, args.files), args.files):
                got = board.sha256(name)
                if got != sha256_of(local):
                    sys.stderr.write("error: %s: sha256 on the board %s != local %s\n" % (name, got, sha256_of(local)))
                    return 1
                print("%s: sha256 verified" % name)
        # Leave the board as after a boot: the checks' objects would otherwise
        # split the heap, and a model's KV cache needs one piece.
        board.soft_reset()
    except SystemExit:
        raise
    except Exception as e:
        sys.stderr.write("error: deploy failed: %s\n" % e)
        return 1
    finally:
        board.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
