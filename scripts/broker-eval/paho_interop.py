#!/usr/bin/env python3
"""Runs the Eclipse Paho MQTT 3.1.1 interoperability client tests against a broker and
prints one line per test.

  paho_interop.py --paho /tmp/paho [--host 127.0.0.1] --port 1885 [--name ours] [--json out]

--paho is a checkout of github.com/eclipse/paho.mqtt.testing (the directory that holds
interoperability/, or interoperability/ itself). Nothing of it is copied here: this runs
its interoperability/client_test.py as a script, with its own option parsing and topics;
the only change is that its final `unittest.main()` gets our test runner (to record each
test's outcome and the error it printed) and no command-line arguments of its own.
The tests share two client ids and leave sessions behind, so run them against a fresh
broker. Standard library only.
"""

import argparse
import io
import json
import os
import re
import runpy
import sys
import unittest

RESULTS = {}


class Tee(io.TextIOBase):
    def __init__(self, *streams):
        self.streams = streams

    def write(self, s):
        for st in self.streams:
            st.write(s)
        return len(s)

    def flush(self):
        for st in self.streams:
            st.flush()


class Recorder(unittest.TextTestResult):
    """Keeps each test's outcome and the last error line its output shows."""

    def startTest(self, test):
        self._buf = io.StringIO()
        self._saved = (sys.stdout, sys.stderr)
        sys.stdout = Tee(self._saved[0], self._buf)
        sys.stderr = Tee(self._saved[1], self._buf)
        super().startTest(test)

    def _record(self, test, outcome, err=None):
        text = self._buf.getvalue()
        if err is not None:
            text += "".join(self._exc_info_to_string(err, test))
        reason = ""
        if outcome != "pass":
            all_lines = text.splitlines()
            lines = []
            for i, ln in enumerate(all_lines):
                if not re.match(r"\s*(\w+(Error|Exception)|socket\.timeout|TimeoutError)\b", ln):
                    continue
                if "True != False" in ln or "False != True" in ln:
                    continue  # the test's final assertEqual(succeeded, True)
                ln = ln.strip()
                if ln == "AssertionError":  # a bare assert: show its source line
                    src = [x.strip() for x in all_lines[max(0, i - 3):i]
                           if x.strip() and not set(x.strip()) <= set("^~")]
                    if src:
                        ln += " at `%s`" % src[-1]
                lines.append(ln)
            reason = lines[0] if lines else text.strip().splitlines()[-1] if text.strip() else ""
        RESULTS[test.id().split(".")[-1]] = {"outcome": outcome, "reason": reason[:300]}

    def stopTest(self, test):
        super().stopTest(test)
        sys.stdout, sys.stderr = self._saved

    def addSuccess(self, test):
        super().addSuccess(test)
        self._record(test, "pass")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record(test, "FAIL", err)

    def addError(self, test, err):
        super().addError(test, err)
        self._record(test, "ERROR", err)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--paho", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--name", default="broker")
    ap.add_argument("--json")
    ap.add_argument("tests", nargs="*", help="e.g. Test.test_keepalive (default: all)")
    args = ap.parse_args()

    if args.json:
        args.json = os.path.abspath(args.json)
    idir = args.paho
    if os.path.isdir(os.path.join(idir, "interoperability")):
        idir = os.path.join(idir, "interoperability")
    script = os.path.join(idir, "client_test.py")
    if not os.path.isfile(script):
        sys.exit("no client_test.py under %s" % args.paho)
    sys.path.insert(0, idir)
    os.chdir(idir)

    real_main = unittest.main

    def main_with_recorder(*_a, **_k):
        runner = unittest.TextTestRunner(resultclass=Recorder, verbosity=2)
        real_main(module="__main__", argv=["client_test.py"] + args.tests,
                  testRunner=runner, exit=False)

    unittest.main = main_with_recorder
    # Not "-h": the script tests `o in ("--help")`, a substring test that "-h" matches.
    sys.argv = ["client_test.py", "--hostname=" + args.host, "--port=%d" % args.port]
    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        unittest.main = real_main

    print()
    print("| broker | test | result | reason |")
    print("|---|---|---|---|")
    for name in sorted(RESULTS):
        r = RESULTS[name]
        print("| %s | %s | %s | %s |" % (args.name, name, r["outcome"],
                                         r["reason"].replace("|", "\\|")))
    passed = sum(1 for r in RESULTS.values() if r["outcome"] == "pass")
    print("\n%s: %d of %d Paho client_test.py tests pass" % (args.name, passed, len(RESULTS)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(RESULTS, f, indent=1)


if __name__ == "__main__":
    main()
