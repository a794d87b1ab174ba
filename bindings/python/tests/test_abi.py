"""The ctypes declarations agree with include/polysock.h, the library is
found where documented, and the constants table becomes module attributes."""

import ctypes
import os
import re
import socket as std
import subprocess
import sys
import unittest

from support import polysock

from polysock import _abi

HEADER = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "include", "polysock.h"
)


def read_header():
    with open(HEADER) as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def header_functions(text):
    """name -> (return type, [argument types]) for every prototype."""
    found = {}
    for m in re.finditer(r"([A-Za-z_][\w \*]*?)\b(polysock_\w+)\s*\(([^)]*)\)\s*;", text):
        ret, name, args = m.group(1).strip(), m.group(2), m.group(3).strip()
        if ret.startswith("typedef"):
            continue
        types = []
        if args and args != "void":
            for arg in args.split(","):
                arg = " ".join(arg.split())
                # Drop the parameter name: the last identifier.
                types.append(re.sub(r"\s*\b\w+$", "", arg).strip())
        found[name] = (ret, types)
    return found


def header_structs(text):
    """struct name -> [(C type, field name)]."""
    structs = {}
    for m in re.finditer(r"typedef struct (\w+) \{(.*?)\} \1;", text, flags=re.S):
        fields = []
        for decl in m.group(2).split(";"):
            decl = " ".join(decl.split())
            if not decl:
                continue
            fm = re.match(r"(.*?)\s*\b(\w+)(\[(\w+)\])?$", decl)
            ctype = fm.group(1) + ("[%s]" % fm.group(4) if fm.group(3) else "")
            fields.append((ctype, fm.group(2)))
        structs[m.group(1)] = fields
    return structs


def header_define(text, name):
    m = re.search(r"#define %s (-?\d+)" % name, text)
    return int(m.group(1)) if m else None


SCALARS = {
    "int64_t": ctypes.c_int64,
    "int32_t": ctypes.c_int32,
    "uint32_t": ctypes.c_uint32,
    "uint64_t": ctypes.c_uint64,
    "uint16_t": ctypes.c_uint16,
    "uint8_t": ctypes.c_uint8,
    "int": ctypes.c_int,
    "size_t": ctypes.c_size_t,
    "polysock_t": ctypes.c_int64,
    "polysock_poller_t": ctypes.c_int64,
}


def ctypes_choices(ctype):
    """The ctypes types that correctly declare C type `ctype`."""
    ctype = " ".join(ctype.replace("*", " * ").split())
    if ctype == "void":
        return [None]
    stars = ctype.count("*")
    base = ctype.replace("*", "").replace("const ", "").replace("struct ", "").strip()
    if stars == 0:
        if base in SCALARS:
            return [SCALARS[base]]
        if hasattr(_abi, base):
            return [getattr(_abi, base)]
        return []
    if base == "void" and stars == 1:
        return [ctypes.c_void_p]
    if base == "char" and stars == 1:
        return [ctypes.c_char_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_char)]
    inner = ctypes_choices(ctype.rsplit("*", 1)[0])
    return [ctypes.POINTER(t) for t in inner if t is not None] + (
        [ctypes.c_void_p] if base in ("void", "char", "uint8_t") else []
    )


class HeaderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(HEADER):
            raise unittest.SkipTest("include/polysock.h not found (installed copy)")
        cls.text = read_header()
        cls.functions = header_functions(cls.text)

    def test_header_parses(self):
        self.assertIn("polysock_socket", self.functions)
        self.assertEqual(self.functions["polysock_send"][1][:2], ["polysock_t", "const void *"])

    def test_every_declaration_matches_the_header(self):
        problems = []
        for name, (restype, argtypes) in _abi.DECLARATIONS.items():
            if name not in self.functions:
                problems.append("%s: declared in _abi.py, absent from the header" % name)
                continue
            c_ret, c_args = self.functions[name]
            if restype not in ctypes_choices(c_ret):
                problems.append("%s: returns %s in the header, %s in _abi.py" % (name, c_ret, restype))
            if len(c_args) != len(argtypes):
                problems.append(
                    "%s: %d arguments in the header, %d in _abi.py"
                    % (name, len(c_args), len(argtypes))
                )
                continue
            for i, (c_arg, py_arg) in enumerate(zip(c_args, argtypes)):
                if py_arg not in ctypes_choices(c_arg):
                    problems.append(
                        "%s: argument %d is %s in the header, %s in _abi.py"
                        % (name, i + 1, c_arg, py_arg)
                    )
        self.assertEqual(problems, [])

    def test_structs_match_the_header(self):
        structs = header_structs(self.text)
        self.assertIn("polysock_addr", structs)
        for name in structs:
            self.assertTrue(hasattr(_abi, name), "struct %s is not declared in _abi.py" % name)
            declared = getattr(_abi, name)._fields_
            fields = structs[name]
            self.assertEqual([f for _, f in fields], [f for f, _ in declared], name)
            for (ctype, field), (_, pytype) in zip(fields, declared):
                m = re.match(r"(.*)\[(\w+)\]$", ctype)
                if m:
                    length = header_define(self.text, m.group(2))
                    self.assertIs(pytype._type_, SCALARS.get(m.group(1), ctypes.c_char))
                    self.assertEqual(pytype._length_, length, "%s.%s" % (name, field))
                else:
                    self.assertIn(pytype, ctypes_choices(ctype), "%s.%s" % (name, field))

    def test_defines_match(self):
        self.assertEqual(header_define(self.text, "POLYSOCK_ADDR_HOST_LEN"), _abi.ADDR_HOST_LEN)
        self.assertEqual(header_define(self.text, "POLYSOCK_ERR_BASE"), _abi.ERR_BASE)
        for name in ("CANONNAME_LEN", "IFNAME_LEN", "SERVER_REUSEPORT", "SERVER_DUALSTACK"):
            value = header_define(self.text, "POLYSOCK_" + name)
            if value is not None:
                self.assertEqual(value, getattr(_abi, name), name)

    def test_header_functions_are_declared(self):
        undeclared = sorted(set(self.functions) - set(_abi.DECLARATIONS))
        self.assertEqual(undeclared, [], "header functions missing from _abi.py")

    def test_a_wrong_declaration_is_caught(self):
        # The checker itself: a size_t declared as int32 is a mismatch.
        self.assertNotIn(ctypes.c_int32, ctypes_choices("size_t"))
        self.assertNotIn(ctypes.c_char_p, ctypes_choices("struct polysock_addr *"))
        self.assertIn(ctypes.POINTER(_abi.polysock_addr), ctypes_choices("struct polysock_addr *"))


class LibraryTest(unittest.TestCase):
    def test_loaded_library_exports_every_declaration(self):
        self.assertEqual(_abi.MISSING, [])

    def test_a_missing_export_raises_not_implemented(self):
        # What a declared function gives with an older library lacking it.
        with self.assertRaises(NotImplementedError) as cm:
            _abi._stub("polysock_not_in_this_build")()
        self.assertIn("polysock_not_in_this_build", str(cm.exception))
        self.assertIn(_abi.LIBRARY_PATH, str(cm.exception))

    def test_version(self):
        self.assertRegex(polysock.library_version, r"^\d+\.\d+\.\d+$")

    def test_found_through_POLYSOCK_LIB(self):
        env = os.environ.get("POLYSOCK_LIB")
        if not env:
            self.skipTest("POLYSOCK_LIB is not set")
        if _abi.LIBRARY_ORIGIN == "next to the package":
            self.skipTest("a library next to the package takes precedence")
        expected = env if os.path.isfile(env) else os.path.join(env, os.path.basename(_abi.LIBRARY_PATH))
        self.assertEqual(os.path.realpath(_abi.LIBRARY_PATH), os.path.realpath(expected))

    def test_a_bad_POLYSOCK_LIB_is_a_clear_import_error(self):
        if _abi.LIBRARY_ORIGIN == "next to the package":
            self.skipTest("a library next to the package takes precedence")
        code = (
            "import sys; sys.path.insert(0, %r)\n"
            "import polysock._abi as a\n"
            "print(a.LIBRARY_ORIGIN)\n"
        ) % os.path.dirname(os.path.dirname(polysock.__file__))
        env = dict(os.environ, POLYSOCK_LIB="/nonexistent/libpolysock.so")
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
        )
        # It falls back to the cargo target dir (or the system) when there is
        # one, and says where it looked when there is none.
        if out.returncode == 0:
            self.assertNotEqual(out.stdout.strip(), "POLYSOCK_LIB")
        else:
            self.assertIn("cannot find the polysock shared library", out.stderr)
            self.assertIn("/nonexistent/libpolysock.so", out.stderr)


class ConstantsTest(unittest.TestCase):
    def test_every_table_entry_is_a_module_attribute(self):
        count = _abi.polysock_constant_count()
        self.assertGreater(count, 50)
        self.assertEqual(len(polysock.constants), count)
        for name, value in polysock.constants.items():
            # The module's EAI_* are the platform's values, as CPython's.
            self.assertEqual(getattr(polysock, name), polysock.EAI_PLATFORM.get(name, value), name)
            self.assertIn(name, polysock.__all__)

    def test_values_agree_with_the_standard_module(self):
        # Same platform, same numbers; polysock's EAI_* codes are its own.
        for name, value in polysock.constants.items():
            if not hasattr(std, name):
                continue
            # The module's EAI_* are the platform's (the table has polysock's).
            self.assertEqual(getattr(polysock, name), getattr(std, name), name)

    def test_enums(self):
        self.assertIsInstance(polysock.AF_INET, polysock.AddressFamily)
        self.assertIs(polysock.AF_UNIX, polysock.AddressFamily.AF_UNIX)
        self.assertEqual(polysock.AF_LOCAL, polysock.AF_UNIX)
        self.assertIsInstance(polysock.SOCK_DGRAM, polysock.SocketKind)
        self.assertEqual(polysock.AF_INET6, std.AF_INET6)
        self.assertEqual(int(polysock.MSG_PEEK | polysock.MSG_WAITALL), std.MSG_PEEK | std.MSG_WAITALL)

    def test_errors_and_aliases(self):
        self.assertIs(polysock.error, OSError)
        self.assertIs(polysock.timeout, TimeoutError)
        self.assertTrue(issubclass(polysock.gaierror, OSError))
        self.assertTrue(issubclass(polysock.herror, OSError))
        self.assertTrue(issubclass(polysock.socket, polysock.SocketType))
        self.assertEqual(polysock.EAI_NONAME, std.EAI_NONAME)

    def test_byte_order(self):
        for value in (0, 1, 0x1234, 0xFFFF):
            self.assertEqual(polysock.htons(value), std.htons(value))
            self.assertEqual(polysock.ntohs(value), std.ntohs(value))
        for value in (0, 1, 0x12345678, 0xFFFFFFFF):
            self.assertEqual(polysock.htonl(value), std.htonl(value))
            self.assertEqual(polysock.ntohl(value), std.ntohl(value))
        self.assertRaises(OverflowError, polysock.htons, 0x10000)


if __name__ == "__main__":
    unittest.main()
