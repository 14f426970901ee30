"""Typed stubs: mypy checks app/ against MicroPython's stubs and the C
module's stub, and the committed stubs of the llm package match the code."""
import filecmp
import os
import shutil
import subprocess
import sys
from repo import REPO, make



def mypy(*paths, config=None):
    cmd = [sys.executable, "-m", "mypy", "--config-file", config or os.path.join(REPO, "mypy.ini")] + list(paths)
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)


def test_app_type_checks_against_micropython_stubs():
    r = make("typecheck")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Success: no issues found" in r.stdout


def test_type_check_catches_a_wrong_call(tmp_path):
    # The same check on a copy of app/ with one bad call must fail.
    app = tmp_path / "app" / "llm"
    shutil.copytree(os.path.join(REPO, "app", "llm"), app)
    with open(app / "repl.py", "a") as f:
        f.write("\n\ndef _broken(model: 'Model') -> None:\n    model.generate(prompt=3, steps='many')\n")
    r = mypy(str(app))
    assert r.returncode != 0
    assert "repl.py" in r.stdout and "incompatible type" in r.stdout


def test_example_script_checks_against_the_public_stubs():
    r = mypy("examples/story.py")
    assert r.returncode == 0, r.stdout + r.stderr


def test_c_module_stub_covers_the_module():
    from host import firmware
    names = firmware.run_code("import _llm, json\nprint(json.dumps([n for n in dir(_llm) if not n.startswith('_')]))")
    stub = open(os.path.join(REPO, "usermod", "llm", "_llm.pyi")).read()
    for name in names:
        assert ("def %s(" % name) in stub or ("class %s" % name) in stub, name


def test_committed_stubs_match_the_package(tmp_path):
    out = tmp_path / "stubs"
    r = subprocess.run([sys.executable, "-c", "import sys; from mypy.stubgen import main; main(sys.argv[1:])",
                        "-q", "--no-import", "--include-docstrings", "-o", str(out)]
                       + sorted(os.path.join("app", "llm", f) for f in os.listdir(os.path.join(REPO, "app", "llm"))
                                if f.endswith(".py") and f != "__main__.py"),
                       cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    committed = os.path.join(REPO, "stubs", "llm")
    fresh = out / "llm"
    assert sorted(os.listdir(committed)) == sorted(os.listdir(fresh))
    for name in os.listdir(fresh):
        assert filecmp.cmp(os.path.join(committed, name), fresh / name, shallow=False), \
            "stubs/llm/%s is stale: run make stubs" % name
