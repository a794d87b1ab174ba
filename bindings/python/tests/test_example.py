"""The example in examples/ runs: server and client in one process."""

import os
import subprocess
import sys
import unittest

EXAMPLE = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "examples", "echo.py"
)


class ExampleTest(unittest.TestCase):
    def test_echo_example(self):
        out = subprocess.run(
            [sys.executable, EXAMPLE], capture_output=True, text=True, timeout=60
        )
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("echo: hello\n", out.stdout)
        self.assertIn("echo: over ctypes\n", out.stdout)


if __name__ == "__main__":
    unittest.main()
