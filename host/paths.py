"""Where things are, computed once for every host tool.

The repository root, its build and models folders, the shared folder of
models and toolchains (SHARED_DIR in the Makefile), and the ESP32-S3 test
tools that `make s3-tools` unpacks into deps/s3-tools.  The same environment
variables as the Makefile's override the S3 tool paths (S3_QEMU,
S3_QEMU_PLUGINS, S3_BIN), so a tool started by make and one started by hand
find the same binaries.

Stdlib only, and importable both as host.paths and, from a script run as
`python3 host/emulator.py`, as paths.
"""
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(REPO, "build")
MODELS = os.path.join(REPO, "models")
SHARED = os.environ.get("SHARED_DIR") or os.path.normpath(os.path.join(REPO, "..", "shared"))
SHARED_MODELS = os.path.join(SHARED, "models")

S3_TOOLS = os.path.join(REPO, "deps", "s3-tools")
S3_QEMU = os.environ.get("S3_QEMU") or os.path.join(S3_TOOLS, "qemu-xtensa-esp32s3", "bin", "qemu-system-xtensa")
S3_QEMU_PLUGINS = os.environ.get("S3_QEMU_PLUGINS") or os.path.join(S3_TOOLS, "qemu-xtensa-esp32s3", "lib",
                                                                    "qemu-plugins")
S3_BIN = os.environ.get("S3_BIN") or os.path.join(S3_TOOLS, "xtensa-esp32s3-elf", "bin")
# The pcprof TCG plugin (tests/s3kernels/pcprof.c), built by make.
PCPROF = os.path.join(BUILD, "s3kernels", "libpcprof.so")

ESP32_BOARDS = os.path.join(REPO, "boards", "esp32")


def repo(*parts):
    """A path inside the repository."""
    return os.path.join(REPO, *parts)


def s3_tool(name):
    """The S3 compiler's binutils: s3_tool("objdump") -> .../xtensa-esp32s3-elf-objdump."""
    return os.path.join(S3_BIN, "xtensa-esp32s3-elf-" + name)


def model(name):
    """A model file: models/NAME when it is there, else the shared folder's."""
    local = os.path.join(MODELS, name)
    return local if os.path.exists(local) else os.path.join(SHARED_MODELS, name)


def llm_sources():
    """usermod/llm/sources.txt, the module's one source list and flag set, as
    {key: [words]} (keys such as "kernels", "cflags", "file_cflags NAME")."""
    out = {}
    with open(repo("usermod", "llm", "sources.txt")) as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            key, sep, words = line.partition(":")
            if not sep or key in out:
                raise ValueError("usermod/llm/sources.txt: bad or repeated line %r" % line.rstrip())
            out[key] = words.split()
    return out
