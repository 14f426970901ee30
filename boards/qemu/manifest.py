# Frozen modules for the qemu board: the llm package from <repo>/app/llm.
# manifestfile.py runs this file with the current directory set to the
# directory of this file, so relative paths are relative to boards/qemu.
import os

if os.path.isdir("../../app/llm"):
    package("llm", base_path="../../app")
