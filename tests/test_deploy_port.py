"""`python3 -m host deploy` to a terminal that exists but is no MicroPython
REPL (the emulator's /dev/pts/N changes between runs): it gives up with a
message naming the port, having written only the raw REPL's control bytes."""
import os
import pty
import select
import subprocess
import sys
import tty

from repo import REPO


def test_a_terminal_that_never_answers(tmp_path):
    model = tmp_path / "m.llm"
    model.write_bytes(b"not used")
    master, slave = pty.openpty()
    tty.setraw(slave)
    port = os.ttyname(slave)
    try:
        env = dict(os.environ, LLM_DEPLOY_TIMEOUT="3")
        # The timeout is a guard: before the fix the deploy waited for good.
        r = subprocess.run([sys.executable, "-m", "host", "deploy", port, str(model)], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=300)
        written = b""
        while select.select([master], [], [], 0)[0]:
            written += os.read(master, 4096)
    finally:
        os.close(master)
        os.close(slave)
    assert r.returncode == 1
    assert r.stderr == ("error: no MicroPython REPL answered on %s within 3 s (is the board on this port,"
                        " and is no other program using it?)\n" % port), r.stderr
    assert set(written) <= set(b"\r\x03\x01"), written
