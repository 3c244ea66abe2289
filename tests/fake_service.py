"""The fake trading bot the tests run on the hosts: `/usr/bin/python3 SCRIPT [VERSION] [MODE]`.

The harness uploads this file's text (tests/service_kit.py SERVICE_PY); it runs under the
host's /usr/bin/python3, on a Mac the Command Line Tools' 3.9 (FACTS 5.4), which is why it
is listed in .ci/mac-python-files.

VERSION (default v1) is only printed: `ps` shows which version runs. A first argument that
names a mode is the mode, with version v1. Modes:
  run          run until killed (the default)
  ignore-term  ignore SIGTERM; the file /tmp/ignoring-term.PID says when it does, since a
               Mac's ps has no sigignore keyword
  never-dies   the same: paired with ExitTimeOut 0, launchd never SIGKILLs it (FACTS 4)
  crash        exit 1 at once
  exit-N       exit N at once
  serve-PORT   HTTP on 127.0.0.1:PORT: 200 for /ok, 500 for anything else
"""

import os
import signal
import sys
import threading
import time

FIXED_MODES = ("run", "ignore-term", "never-dies", "crash")


def is_mode(arg: str) -> bool:
    return arg in FIXED_MODES or arg.startswith(("exit-", "serve-"))


def serve(port: int) -> None:
    """The health endpoint, in a thread; imported only here, to keep start-up short."""
    import http.server

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/ok" else 500)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", port), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main(args: list[str]) -> None:
    if args and is_mode(args[0]):
        args = ["v1", *args]
    version = args[0] if args else "v1"
    mode = args[1] if len(args) > 1 else "run"
    if mode == "crash":
        sys.exit(1)
    if mode.startswith("exit-"):
        sys.exit(int(mode[5:]))
    if mode in ("ignore-term", "never-dies"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        open(f"/tmp/ignoring-term.{os.getpid()}", "w").close()
    if mode.startswith("serve-"):
        serve(int(mode[6:]))
    print("started", version, os.getpid(), flush=True)
    while True:
        time.sleep(0.5)


if __name__ == "__main__":
    main(sys.argv[1:])
