"""The _llm module's contents are listed once (usermod/llm/llm_module_table.h)
and its stub (usermod/llm/_llm.pyi) names the same things; the C module's
format facts (usermod/llm/fileformat.h) are generated from app/llm/fileformat.py;
the test-only kernels are in the host firmware and nowhere a chip's build
takes them."""
import ast
import glob
import os
import re
import subprocess
import sys

from repo import REPO

LLM = os.path.join(REPO, "usermod", "llm")


def read(*path):
    with open(os.path.join(REPO, *path)) as f:
        return f.read()


def table_entries():
    """(name, test_only) of every entry of llm_module_table.h, whatever the #if around it."""
    entries, stack = [], []
    for line in read("usermod", "llm", "llm_module_table.h").splitlines():
        line = line.strip()
        if line.startswith("#if"):
            stack.append(line)
        elif line.startswith("#endif"):
            stack.pop()
        m = re.match(r"LLM_(FUNCTION|TYPE)\(MP_QSTR_(\w+),", line)
        if m:
            entries.append((m.group(2), any("LLM_TEST_KERNELS" in s for s in stack)))
    return entries


def stub_names():
    tree = ast.parse(read("usermod", "llm", "_llm.pyi"))
    return {node.name for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_")}


def test_the_table_and_the_stub_list_the_same_names():
    names = [name for name, _ in table_entries()]
    assert len(names) == len(set(names)), "a name listed twice in llm_module_table.h"
    assert set(names) == stub_names()


def test_the_host_firmware_has_every_name_of_the_table():
    from host import firmware
    names = firmware.run_code("import _llm, json\nprint(json.dumps([n for n in dir(_llm) if not n.startswith('_')]))")
    assert sorted(names) == sorted(name for name, _ in table_entries())


def test_the_test_kernels_are_only_the_single_kernels():
    test_only = {name for name, only in table_entries() if only}
    assert {"matmul", "matmul_q8", "quantize", "rope", "attention", "attention_q8"} <= test_only
    # What the llm package calls is always there.
    app = "".join(read("app", "llm", f) for f in os.listdir(os.path.join(REPO, "app", "llm")) if f.endswith(".py"))
    used = set(re.findall(r"_llm\.(\w+)", app)) | set(re.findall(r"from _llm import (\w+)", app))
    assert used and not (used & test_only)


def test_the_module_list_is_written_nowhere_else():
    # Registration (firmware table and the native module's mpy_init) comes
    # from the table alone: no other file names a function object of it.
    for name in os.listdir(LLM) + ["../natmod/llm_natmod.c"]:
        if not name.endswith(".c"):
            continue
        text = read("usermod", "llm", name)
        assert "mp_store_global(MP_QSTR_" not in text, name
        assert not re.search(r"MP_ROM_QSTR\(MP_QSTR_(matmul|memory|threads|sample)\)", text), name


def test_the_switch_is_off_for_the_chips():
    header = read("usermod", "llm", "modllm.h")
    # Default: on for the unix port only.
    assert re.search(r"#ifndef LLM_TEST_KERNELS\n#if defined\(UNIX\)\n#define LLM_TEST_KERNELS \(1\)\n"
                     r"#else\n#define LLM_TEST_KERNELS \(0\)", header)
    for root, _, files in os.walk(os.path.join(REPO, "boards")):
        if os.path.basename(root) == "unix":
            continue  # the host firmware: on there
        for f in files:
            if f.startswith("mpconfig") or f.endswith((".cmake", ".mk")) or f == "Makefile":
                with open(os.path.join(root, f)) as fh:
                    assert "LLM_TEST_KERNELS" not in fh.read(), os.path.join(root, f)


def test_the_committed_format_header_is_generated_from_fileformat_py():
    r = subprocess.run([sys.executable, "-m", "host.fileformat", "--c-header"], cwd=REPO,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout == read("usermod", "llm", "fileformat.h"), \
        "usermod/llm/fileformat.h is stale: python3 -m host.fileformat --c-header > usermod/llm/fileformat.h"


def test_the_c_bindings_take_the_format_facts_from_the_header():
    model = read("usermod", "llm", "modllm_model.c")
    assert "LLM_FILE_N_TENSORS(" in model and "LLM_FILE_CONFIG(" in model
    assert "LLM_FILE_LAYER_TENSORS(" in model
    for text in (read("usermod", "llm", f) for f in os.listdir(LLM) if f.startswith("modllm")):
        assert not re.search(r"3 \+ 9 \*|\b9 \* l\b|MP_QSTR_hidden_dim|MP_QSTR_rms_ffn", text)


def test_error_messages_fit_micropython_s_decompression_buffer():
    # With compressed ROM text, MicroPython 1.25 sizes the buffer that
    # mp_decompress_rom_string() writes into (py/objexcept.c) by the longest
    # message of the build, with no room for its NUL: a message of ours that
    # is the longest overruns it by one byte (the sanitizer build caught one).
    # So ours stay shorter than MicroPython's own longest.
    def messages(pattern):
        for path in glob.glob(pattern):
            with open(path, errors="replace") as f:
                text = f.read()
            for m in re.finditer(r'MP_ERROR_TEXT\(((?:\s*"(?:[^"\\]|\\.)*")+)\)', text):
                yield os.path.basename(path), "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1)))

    ours = list(messages(os.path.join(LLM, "*.c")))
    core = [len(s) for _, s in messages(os.path.join(REPO, "deps", "micropython-1.25.0", "py", "*.c"))]
    assert len(ours) > 40 and len(core) > 100
    assert [(f, s) for f, s in ours if len(s) >= max(core)] == []
