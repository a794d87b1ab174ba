-- Tests of the LuaJIT binding: luajit bindings/luajit/test.lua
--
-- Real sockets on loopback (127.0.0.1, ::1) and Unix paths only; every
-- socket gets a 5 s timeout, so no wait is unbounded. Prints one line per
-- test and a summary; exits non-zero if any test failed. Environment:
--   POLYSOCK_LIB       the library to test (else polysock.lua's search)
--   POLYSOCK_TEST_TMP  a directory for Unix socket paths (else /tmp)

local here = arg and arg[0] and arg[0]:match("^(.*[/\\])") or "./"
package.path = here .. "?.lua;" .. package.path
local ps = require("polysock")
local ffi = require("ffi")

local TMP = os.getenv("POLYSOCK_TEST_TMP") or "/tmp"
local WAIT = 5 -- seconds: the bound on every wait in these tests

local tests = {}
local function test(name, fn)
    tests[#tests + 1] = { name = name, fn = fn }
end

local SKIP = {}
local function skip(why)
    error({ [SKIP] = why }, 0)
end

local function fail(msg, level)
    error(msg, (level or 1) + 1)
end

local function check(cond, msg)
    if not cond then
        fail(msg or "check failed", 2)
    end
    return cond
end

local function eq(got, want, what)
    if got ~= want then
        fail(("%s: expected %q, got %q"):format(what or "value", tostring(want), tostring(got)), 2)
    end
end

-- Passes a successful result through; fails on `nil, message, code`.
local function ok(v, msg, code, ...)
    if v == nil then
        fail(("unexpected failure: %s (%s)"):format(tostring(msg), tostring(code)), 2)
    end
    return v, msg, code, ...
end

-- Expects `nil, message, code` with this code; returns message and extra.
local function fails(want, v, msg, code, extra)
    if v ~= nil then
        fail(("expected failure %s, got %s"):format(want, tostring(v)), 2)
    end
    if code ~= want then
        fail(("expected code %s, got %s (%s)"):format(want, tostring(code), tostring(msg)), 2)
    end
    if type(msg) ~= "string" or msg == "" then
        fail("failure without a message", 2)
    end
    return msg, extra
end

-- Expects a Lua error whose text contains `pattern` (plain text).
local function raises(pattern, fn, ...)
    local okc, err = pcall(fn, ...)
    if okc then
        fail("expected an error containing '" .. pattern .. "'", 2)
    end
    if not tostring(err):find(pattern, 1, true) then
        fail(("expected an error containing '%s', got '%s'"):format(pattern, tostring(err)), 2)
    end
end

local function bounded(s)
    ok(s:settimeout(WAIT))
    return s
end

-- A fresh name for a Unix socket path in TMP.
local counter = 0
local function unix_path()
    local t = os.tmpname()
    os.remove(t)
    counter = counter + 1
    return ("%s/ps%s-%d.sock"):format(TMP, t:match("([^/]+)$"), counter)
end

local function listener(family, host)
    local s = bounded(ok(ps.socket(family, "stream")))
    if family ~= "unix" then
        ok(s:setoption("reuseaddr", true))
    end
    local r, msg, code = s:bind(host, 0)
    if not r then
        s:close()
        return nil, msg, code
    end
    ok(s:listen())
    local _, port = ok(s:getsockname())
    return s, port
end

-- A connected pair of TCP sockets over IPv4 loopback: client, server side.
local function tcp_pair()
    local srv, port = ok(listener("inet", "127.0.0.1"))
    local cli = bounded(ok(ps.tcp()))
    ok(cli:connect("127.0.0.1", port))
    local conn = bounded(ok(srv:accept()))
    srv:close()
    return cli, conn, port
end

local function echo_over(family, host)
    local srv, port = listener(family, host)
    if not srv then
        return nil, port
    end
    local cli = bounded(ok(ps.socket(family, "stream")))
    ok(cli:connect(host, port))
    local conn = bounded(ok(srv:accept()))

    local msg = "hello, polysock"
    eq(ok(cli:send(msg)), #msg, "send returns the last index")
    eq(ok(conn:receive(#msg)), msg, "server receive")
    eq(ok(conn:sendall(msg)), #msg, "sendall")
    eq(ok(cli:receive(5)), "hello", "client receive 5")
    eq(ok(cli:receive(#msg - 5, "pre:")), "pre:, polysock", "receive with prefix")

    -- A longer message, in slices, as LuaSocket's send(data, i, j).
    local big = ("0123456789abcdef"):rep(2048)
    eq(ok(cli:send(big, 1, 16384)), 16384, "send(i, j)")
    eq(ok(cli:send(big, 16385)), #big, "send(i)")
    eq(ok(conn:receive(#big)), big, "big receive")

    local phost, pport, pfamily = ok(cli:getpeername())
    local lhost, lport, lfamily = ok(conn:getsockname())
    eq(pfamily, family, "peer family")
    eq(lfamily, family, "local family")
    eq(phost, lhost, "the client's peer is the server's local address")
    eq(pport, lport, "ports agree")
    if family ~= "unix" then
        eq(pport, port, "peer port")
    end

    ok(cli:shutdown("send"))
    eq(ok(conn:receive("*a")), "", "end of stream after shutdown")
    eq(ok(conn:recv(10)), "", "recv at end of stream")
    ok(conn:close())
    eq(ok(cli:receive("*a")), "", "the client sees the close")
    ok(cli:close())
    ok(srv:close())
    return true
end

---------------------------------------------------------------- the cdef

test("cdef: extracted from the header without preprocessor lines or guard", function()
    check(not ps.cdef:find("#", 1, true), "a preprocessor line reached the cdef")
    check(not ps.cdef:find('extern "C"', 1, true), 'the extern "C" guard reached the cdef')
    check(not ps.cdef:find("/*", 1, true), "a comment reached the cdef")
    check(ps.cdef:find("char host%[%d+%]"), "POLYSOCK_ADDR_HOST_LEN was not replaced by its value")
    check(not ps.cdef:find("POLYSOCK_", 1, true), "a macro name was left in the cdef")
    -- Every function the header declares is declared, and the library has it.
    local header = assert(io.open(ps.header_path)):read("*a")
    local n = 0
    for name in header:gmatch("\n[%w_ %*]-(polysock_[%w_]+)%(") do
        n = n + 1
        check(ps.cdef:find(name .. "(", 1, true), name .. " missing from the cdef")
        check(ps.has(name), name .. " is declared but not usable")
    end
    check(n >= 40, "too few functions found in the header: " .. n)
    eq(ffi.sizeof("polysock_addr"), 16 + ps.ADDR_HOST_LEN, "sizeof(polysock_addr)")
    check(not ps.has("polysock_no_such_function"), "has() of an undeclared function")
end)

test("cdef: the extractor handles guards, conditionals and macro sizes", function()
    local p = ps.parse_header([[
/* banner */
#ifndef X_H
#define X_H
#include <stdint.h>
#define X_LEN 16
#define X_SHIFTED (1 << 2)
#define X_NAME "x"
#if defined(__cplusplus) || 0
#error never
#elif X_LEN > 8 && !defined(NOPE)
typedef struct x_rec { char name[X_LEN]; int32_t bits[X_SHIFTED]; } x_rec;
#else
this is not C;
#endif
#ifdef __cplusplus
extern "C" {
#endif // __cplusplus
int32_t x_fn(const char *s, // trailing comment
             size_t len);
#ifdef __cplusplus
}  // extern "C"
#endif
#endif /* X_H */
]])
    check(not p.cdef:find("#", 1, true), "preprocessor line kept")
    check(not p.cdef:find("extern", 1, true), "extern guard kept")
    check(not p.cdef:find("never", 1, true), "#if branch wrongly taken")
    check(not p.cdef:find("not C", 1, true), "#else branch wrongly taken")
    check(p.cdef:find("char name%[16%]"), "macro size not replaced")
    check(p.cdef:find("bits%[%(1 << 2%)%]"), "expression macro not replaced")
    eq(p.macros.X_LEN, 16, "integer macro")
    eq(p.macros.X_NAME, "x", "string macro")
    check(not p.functions.x_fn, "only polysock_ functions are listed")
    -- The result is valid for the FFI.
    ffi.cdef(p.cdef)
    eq(ffi.sizeof("x_rec"), 16 + 4 * 4, "sizeof(x_rec)")
    -- A header without the guard's #ifdef still loses its extern "C".
    local q = ps.parse_header('extern "C" {\nint32_t polysock_y(void);\n}\n')
    check(not q.cdef:find("extern", 1, true) and not q.cdef:find("}", 1, true), "unguarded extern kept")
    check(q.functions.polysock_y, "function not listed")
end)

---------------------------------------------------------------- constants

test("constants: from the library's table, agreeing with the header", function()
    for _, name in ipairs({ "AF_INET", "AF_INET6", "AF_UNIX", "SOCK_STREAM", "SOCK_DGRAM",
        "SOL_SOCKET", "SO_REUSEADDR", "IPPROTO_TCP", "TCP_NODELAY", "SHUT_RDWR",
        "ECONNREFUSED", "ETIMEDOUT", "EAI_NONAME", "EEOF", "OPT_NODELAY", "SOMAXCONN",
        "ADDR_HOST_LEN", "VERSION_MAJOR" }) do
        check(type(ps[name]) == "number", name .. " missing")
        eq(ps.const[name], ps[name], name)
    end
    local v = ffi.new("int64_t[1]")
    eq(ps.C.polysock_constant_lookup("AF_INET6", v), 0, "lookup")
    eq(tonumber(v[0]), ps.AF_INET6, "AF_INET6 from lookup")
    eq(ps.version(), ps.VERSION_STRING, "version")
    -- The committed header carries Linux's values: on Linux they agree.
    if ffi.os == "Linux" then
        local p = ps.parse_header(assert(io.open(ps.header_path)):read("*a"))
        for _, name in ipairs({ "AF_INET6", "SO_REUSEADDR", "ECONNREFUSED", "EAI_NONAME" }) do
            if p.macros["POLYSOCK_" .. name] then
                eq(ps[name], p.macros["POLYSOCK_" .. name], name .. " vs the header")
            end
        end
    end
    eq(ps.errname(ps.ECONNREFUSED), "ECONNREFUSED", "errname")
    check(ps.strerror(ps.ECONNREFUSED):lower():find("refused"), "strerror")
    eq(ps.errname(ps.EAI_NONAME), "EAI_NONAME", "errname of a resolver code")
end)

---------------------------------------------------------------- echo

test("tcp echo over IPv4", function()
    ok(echo_over("inet", "127.0.0.1"))
end)

test("tcp echo over IPv6", function()
    local r, code = echo_over("inet6", "::1")
    if not r then
        skip("no IPv6 loopback here (" .. tostring(code) .. ")")
    end
end)

test("tcp echo over a Unix socket", function()
    local path = unix_path()
    local r, err = echo_over("unix", path)
    os.remove(path)
    ok(r, err)
end)

test("udp datagrams, unconnected and connected", function()
    local a = bounded(ok(ps.udp()))
    local b = bounded(ok(ps.udp4()))
    ok(a:bind("127.0.0.1", 0))
    ok(b:bind("127.0.0.1", 0))
    local _, pa = a:getsockname()
    local _, pb = b:getsockname()
    eq(ok(b:sendto("ping", "127.0.0.1", pa)), 4, "sendto")
    local data, host, port = ok(a:receivefrom())
    eq(data, "ping", "datagram")
    eq(host, "127.0.0.1", "sender host")
    eq(port, pb, "sender port")
    ok(a:connect("127.0.0.1", pb))
    eq(ok(a:sendsome("pong")), 4, "send on a connected udp socket")
    eq(ok(b:recv(100)), "pong", "recv of a datagram")
    -- A datagram longer than the buffer is cut.
    eq(ok(b:sendto("0123456789", "127.0.0.1", pa)), 10, "sendto")
    eq(ok(a:receivefrom(4)), "0123", "truncated datagram")
    -- An empty datagram is data, not end of stream.
    eq(ok(b:sendto("", "127.0.0.1", pa)), 0, "empty datagram")
    eq(ok(a:receivefrom()), "", "empty datagram received")
    a:close()
    b:close()
end)

-- n bytes of a repeating pattern, so a cut or reordered datagram shows.
local function pattern(n)
    local t = {}
    for i = 0, n - 1 do
        t[#t + 1] = string.char(97 + i % 26)
    end
    return table.concat(t)
end

test("receivefrom() without a size returns each datagram whole", function()
    local a = bounded(ok(ps.udp4()))
    local b = bounded(ok(ps.udp4()))
    ok(a:bind("127.0.0.1", 0))
    ok(b:bind("127.0.0.1", 0))
    ok(a:setoption("recv-buffer-size", 1024 * 1024))
    local _, pa = a:getsockname()
    for _, n in ipairs({ 1, 8192, 8193, 16384, 65507 }) do
        local d = pattern(n)
        eq(ok(b:sendto(d, "127.0.0.1", pa)), n, "sendto " .. n)
        local got = ok(a:receivefrom())
        eq(#got, n, "length of the " .. n .. "-byte datagram")
        check(got == d, "content of the " .. n .. "-byte datagram")
    end
    -- Two queued datagrams come one at a time.
    ok(b:sendto(pattern(9000), "127.0.0.1", pa))
    ok(b:sendto("next", "127.0.0.1", pa))
    eq(#ok(a:receivefrom()), 9000, "the first")
    eq(ok(a:receivefrom()), "next", "then the second")
    -- Nothing waiting on a non-blocking socket: would-block.
    ok(a:settimeout(0))
    fails("EAGAIN", a:receivefrom())
    a:close()
    b:close()
    -- A Unix datagram above 64 KiB, whole.
    local pu, pv = unix_path(), unix_path()
    local u = bounded(ok(ps.unix("dgram")))
    local v = bounded(ok(ps.unix("dgram")))
    ok(u:bind(pu))
    ok(v:bind(pv))
    ok(u:setoption("recv-buffer-size", 1024 * 1024))
    ok(v:setoption("send-buffer-size", 1024 * 1024))
    local big = pattern(100000)
    eq(ok(v:sendto(big, pu)), 100000, "sendto a Unix path")
    local got, host = ok(u:receivefrom())
    eq(#got, 100000, "length of the Unix datagram")
    check(got == big, "content of the Unix datagram")
    eq(host, pv, "sender path")
    u:close()
    v:close()
    os.remove(pu)
    os.remove(pv)
end)

test("udp over IPv6", function()
    local a = ps.udp6()
    if not a or not a:bind("::1", 0) then
        skip("no IPv6 loopback here")
    end
    bounded(a)
    local b = bounded(ok(ps.udp("inet6")))
    ok(b:bind("::1", 0))
    local _, pa = a:getsockname()
    eq(ok(b:sendto("six", "::1", pa)), 3, "sendto ::1")
    local data, host, _, family = a:receivefrom()
    eq(data, "six", "datagram")
    eq(host, "::1", "sender")
    _ = family
    a:close()
    b:close()
end)

test("socketpair, dup, fromfd, info", function()
    local x, y = ok(ps.socketpair())
    bounded(x)
    bounded(y)
    local payload = ("x"):rep(60000)
    eq(ok(x:sendall(payload)), #payload, "sendall on a socketpair")
    eq(ok(y:receive(#payload)), payload, "receive(n) of it all")
    local d = bounded(ok(x:dup()))
    ok(d:sendall("via dup"))
    eq(ok(y:receive(7)), "via dup", "dup shares the connection")
    local f = bounded(ok(ps.fromfd(ok(x:getfd()))))
    ok(f:sendall("via fromfd"))
    eq(ok(y:receive(10)), "via fromfd", "fromfd shares the connection")
    local i = ok(x:info())
    eq(i.family, "unix", "info family")
    eq(i.socktype, ps.SOCK_STREAM, "info socktype")
    eq(i.connected, true, "info connected")
    eq(i.timeout, WAIT, "info timeout")
    eq(i.shutdown, false, "info shutdown")
    ok(x:shutdown("receive"))
    eq(ok(x:info()).shutdown, "receive", "info after shutdown")
    check(tostring(x):find("polysock.socket{unix stream", 1, true), tostring(x))
    for _, s in ipairs({ x, y, d, f }) do
        s:close()
    end
    check(tostring(x):find("closed", 1, true), "tostring of a closed socket")
end)

---------------------------------------------------------------- lines

test("receive('*l') reads lines when the library has readline", function()
    local x, y = ok(ps.socketpair())
    bounded(x)
    bounded(y)
    if not ps.has("polysock_readline") then
        raises("polysock_readline", y.receive, y, "*l")
        x:close()
        y:close()
        skip("polysock_readline is not in the header yet")
    end
    ok(x:sendall("first\r\nsecond\n\nlast"))
    eq(ok(y:receive("*l")), "first", "a CRLF line")
    eq(ok(y:receive()), "second", "the default pattern is a line")
    eq(ok(y:receive("l")), "", "an empty line")
    ok(x:shutdown("send"))
    local msg, partial = fails("POLYSOCK_EEOF", y:receive("*l"))
    _ = msg
    eq(partial, "last", "the partial line at end of stream")
    x:close()
    y:close()
end)

test("receive('*l'): long lines, timeouts keep the bytes, receiveuntil, buffered", function()
    if not ps.has("polysock_readline") then
        skip("polysock_readline is not in the header yet")
    end
    local x, y = ok(ps.socketpair())
    bounded(x)
    bounded(y)
    local long = ("L"):rep(20000)
    ok(x:sendall(long .. "\nnext\n"))
    eq(ok(y:receive("*l")), long, "a line longer than the first buffer")
    eq(ok(y:buffered()), 5, "the read-ahead is buffered")
    eq(ok(y:recv(100)), "next\n", "recv gets the buffered bytes first")
    ok(y:settimeout(0.05))
    ok(x:sendall("half"))
    local _, partial = fails("ETIMEDOUT", y:receive("*l", "p:"))
    eq(partial, "p:", "a timeout returns only the prefix")
    ok(x:sendall(" line\n"))
    ok(y:settimeout(WAIT))
    eq(ok(y:receive("*l")), "half line", "the bytes that came before the timeout are kept")
    local saved = ps.max_line
    ps.max_line = 8192
    ok(x:sendall(("z"):rep(9000) .. "\n"))
    fails("EMSGSIZE", y:receive("*l"))
    ps.max_line = saved
    eq(#ok(y:receive("*l")), 9000, "the long line is still readable")
    if ps.has("polysock_read_until") then
        ok(x:sendall("a\r\n\r\nbody"))
        eq(ok(y:receiveuntil("\r\n\r\n")), "a", "receiveuntil")
        x:close()
        local _, tail = fails("POLYSOCK_EEOF", y:receiveuntil("\r\n\r\n"))
        eq(tail, "body", "the tail at end of stream")
    end
    raises("bad argument #1 to 'receiveuntil'", y.receiveuntil, y, 5)
    y:close()
end)

test("select: readiness of several sockets, with a bounded wait", function()
    if not ps.has("polysock_poll") then
        skip("polysock_poll is not in the header yet")
    end
    local a, b = ok(ps.socketpair())
    local c, d = ok(ps.socketpair())
    local r, w, err = ps.select({ b, d }, nil, 0.02)
    eq(#r, 0, "nothing readable")
    eq(err, "timeout", "select timed out")
    ok(a:sendall("x"))
    r, w, err = ok(ps.select({ b, d }, { c }, WAIT))
    eq(err, nil, "no timeout")
    eq(#r, 1, "one readable")
    eq(r[1], b, "b is readable")
    check(r[b], "readable set keyed by socket")
    eq(w[1], c, "c is writable")
    if ps.has("polysock_readline") then
        bounded(b)
        ok(a:sendall("\nmore\n"))
        eq(ok(b:receive("*l")), "x", "a line")
        -- "more\n" may sit in b's buffer: select must report it at once.
        r = ok(ps.select({ b }, nil, WAIT))
        eq(r[1], b, "buffered data counts as readable")
    end
    a:close()
    r = ok(ps.select({ b }, nil, WAIT))
    eq(r[1], b, "a hang-up is readable")
    raises("table expected", ps.select, 5)
    for _, s in ipairs({ b, c, d }) do
        s:close()
    end
    -- A closed socket is reported at once (a receive then says EBADF).
    r = ok(ps.select({ d }, nil, WAIT))
    eq(r[1], d, "a closed socket is reported")
    fails("EBADF", d:recv(1))
end)

test("poller: add, wait, modify, remove, wake, close", function()
    if not ps.has("polysock_poller_create") then
        skip("the poller is not in the header yet")
    end
    local p = ok(ps.poller())
    local a, b = ok(ps.socketpair())
    ok(p:add(b, "r"))
    eq(#ok(p:wait(0)), 0, "nothing ready yet")
    ok(a:sendall("ping"))
    local evs = ok(p:wait(WAIT))
    eq(#evs, 1, "one event")
    eq(evs[1].socket, b, "the socket object comes back")
    eq(evs[1].readable, true, "readable")
    fails("EEXIST", p:add(b, "r"))
    ok(p:modify(b, "w"))
    evs = ok(p:wait(WAIT))
    eq(evs[1].writable, true, "writable after modify")
    ok(p:remove(b))
    fails("ENOENT", p:remove(b))
    ok(p:wake())
    evs = ok(p:wait(WAIT))
    eq(evs[1].wake, true, "wake entry")
    raises("unknown event", p.add, p, a, "x")
    raises("unknown flag", p.add, p, a, "r", "sideways")
    ok(p:close())
    fails("EBADF", p:wait(0))
    a:close()
    b:close()
end)

test("connect_ex and finish_connect", function()
    if not ps.has("polysock_connect_ex") then
        skip("polysock_connect_ex is not in the header yet")
    end
    local holder = bounded(ok(ps.tcp()))
    ok(holder:bind("127.0.0.1", 0))
    local _, port = holder:getsockname()
    local c = bounded(ok(ps.tcp()))
    local code, msg = c:connect_ex("127.0.0.1", port)
    eq(code, "ECONNREFUSED", "connect_ex gives the code")
    check(msg:find("refused", 1, true), msg)
    c:close()
    holder:close()
    local srv, sport = ok(listener("inet", "127.0.0.1"))
    local n = ok(ps.tcp())
    ok(n:settimeout(0))
    code = n:connect_ex("127.0.0.1", sport)
    check(code == "OK" or code == "EINPROGRESS", "non-blocking connect_ex: " .. tostring(code))
    if code == "EINPROGRESS" then
        local _, w = ok(ps.select(nil, { n }, WAIT))
        eq(w[1], n, "writable once connected")
        ok(n:finish_connect())
    end
    eq(select(2, ok(n:getpeername())), sport, "connected")
    n:close()
    srv:close()
end)

test("sendfile: a path and an fd", function()
    if not ps.has("polysock_sendfile_path") then
        skip("polysock_sendfile is not in the header yet")
    end
    local path = unix_path() .. ".txt"
    local f = assert(io.open(path, "wb"))
    f:write(("0123456789"):rep(1000))
    f:close()
    local x, y = ok(ps.socketpair())
    bounded(x)
    bounded(y)
    eq(ok(x:sendfile(path)), 10000, "the whole file")
    eq(#ok(y:receive(10000)), 10000, "received")
    eq(ok(x:sendfile(path, 9995)), 5, "from an offset")
    eq(ok(y:receive(5)), "56789", "the tail")
    eq(ok(x:sendfile(path, 10, 3)), 3, "a count")
    eq(ok(y:receive(3)), "012", "the slice")
    fails("ENOENT", x:sendfile(path .. ".missing"))
    fails("EINVAL", x:sendfile(path, -1))
    fails("EINVAL", x:sendfile("a\0b"))
    fails("EBADF", x:sendfile(987654))
    os.remove(path)
    x:close()
    y:close()
end)

test("sendhandle and receivehandle pass a socket over a Unix socket", function()
    if not ps.has("polysock_send_handle") then
        skip("polysock_send_handle is not in the header yet")
    end
    local x, y = ok(ps.socketpair())
    bounded(x)
    bounded(y)
    local p, q = ok(ps.socketpair())
    eq(ok(x:sendhandle(p, "h")), 1, "sent with one byte")
    p:close()
    local data, got = ok(y:receivehandle())
    eq(data, "h", "the byte")
    check(got, "a socket came")
    bounded(got)
    ok(got:sendall("through the passed socket"))
    bounded(q)
    eq(ok(q:receive(25)), "through the passed socket", "it is the same socket")
    ok(x:sendall("n"))
    local d2, none = ok(y:receivehandle())
    eq(d2, "n", "plain data")
    eq(none, nil, "no socket with it")
    local u = ok(ps.udp())
    fails("EOPNOTSUPP", u:sendhandle(q))
    for _, s in ipairs({ x, y, q, got, u }) do
        s:close()
    end
end)

test("connect and bind: every address of a name, one deadline", function()
    if not ps.has("polysock_create_connection") then
        skip("polysock_create_connection is not in the header yet")
    end
    local srv = ok(ps.bind("127.0.0.1", 0))
    bounded(srv)
    local _, port, family = ok(srv:getsockname())
    eq(family, "inet", "bind family")
    eq(ok(srv:getoption("reuseaddr")), true, "bind sets SO_REUSEADDR")
    local c = ok(ps.connect("localhost", port, WAIT))
    local conn = bounded(ok(srv:accept()))
    bounded(c)
    ok(c:send("via localhost"))
    eq(ok(conn:receive(13)), "via localhost", "connected by name")
    c:close()
    conn:close()
    local c2 = ok(ps.connect("127.0.0.1", port, nil, "127.0.0.1", 0))
    eq(select(1, c2:getsockname()), "127.0.0.1", "source address")
    c2:close()
    srv:close()
    -- Refused: the message names each address tried.
    local holder = ok(ps.tcp())
    ok(holder:bind("127.0.0.1", 0))
    local _, hport = holder:getsockname()
    local msg = fails("ECONNREFUSED", ps.connect("127.0.0.1", hport, WAIT))
    check(msg:find("127.0.0.1:" .. hport, 1, true), msg)
    holder:close()
    local _, rmsg, rcode = ps.connect("bad..name", 80, WAIT)
    check(rcode and rcode:find("^EAI_"), "resolver failure: " .. tostring(rcode))
    check(rmsg:find("bad..name", 1, true), rmsg)
    fails("EINVAL", ps.connect("127.0.0.1", 70000))
    fails("EINVAL", ps.connect("127.0.0.1", 80, 0))
    fails("EINVAL", ps.bind("127.0.0.1", 0, nil, nil, 0x40))
    raises("unknown flag", ps.bind, "127.0.0.1", 0, nil, nil, "sideways")
    raises("bad argument #1 to 'connect' (string expected, got nil)", ps.connect, nil, 80)
    if ps.has_ipv6() then
        local s6 = ps.bind("::1", 0)
        if s6 then
            local h6 = s6:getsockname()
            eq(h6, "::1", "bind on ::1")
            s6:close()
        end
    end
end)

test("resolver: getaddrinfo, dns, inet_pton/ntop, names", function()
    if not ps.has("polysock_getaddrinfo") then
        skip("polysock_getaddrinfo is not in the header yet")
    end
    local list = ok(ps.getaddrinfo("127.0.0.1", 80, { socktype = "stream" }))
    eq(#list, 1, "one result for a literal")
    eq(list[1].host, "127.0.0.1", "host")
    eq(list[1].port, 80, "port")
    eq(list[1].family, "inet", "family")
    eq(list[1].socktype, "stream", "socktype")
    list = ok(ps.getaddrinfo("localhost", "80", { family = "inet", timeout = WAIT }))
    check(#list >= 1, "localhost resolves")
    eq(list[1].host, "127.0.0.1", "localhost is 127.0.0.1")
    local _, msg, code = ps.getaddrinfo("bad..name", "80")
    check(code and code:find("^EAI_"), "resolver code " .. tostring(code))
    check(msg ~= "", "resolver message")
    fails("EINVAL", ps.getaddrinfo("local\0host", "80"))
    raises("table expected", ps.getaddrinfo, "localhost", "80", 5)
    eq(ok(ps.inet_pton("inet", "127.0.0.1")), "\127\0\0\1", "inet_pton")
    eq(ok(ps.inet_ntop("inet", "\127\0\0\1")), "127.0.0.1", "inet_ntop")
    eq(#ok(ps.inet_pton("inet6", "::1")), 16, "inet_pton ::1")
    eq(ok(ps.inet_ntop("inet6", ok(ps.inet_pton("inet6", "0:0::1")))), "::1", "canonical IPv6 text")
    fails("EINVAL", ps.inet_pton("inet", "300.1.1.1"))
    fails("EINVAL", ps.inet_ntop("inet", "abc"))
    check(#ok(ps.dns.gethostname()) > 0, "gethostname")
    local ip, entry = ok(ps.dns.toip("localhost"))
    eq(ip, "127.0.0.1", "toip")
    eq(type(entry.alias), "table", "aliases")
    eq(ok(ps.dns.tohostname("127.0.0.1")), "localhost", "reverse lookup from /etc/hosts")
    local host, serv = ok(ps.getnameinfo("127.0.0.1", 80, ps.NI_NUMERICHOST + ps.NI_NUMERICSERV))
    eq(host, "127.0.0.1", "getnameinfo host")
    eq(serv, "80", "getnameinfo service")
    eq(ok(ps.getprotobyname("tcp")), ps.IPPROTO_TCP, "getprotobyname")
    check(type(ps.has_ipv6()) == "boolean", "has_ipv6")
    local ifs = ok(ps.interfaces())
    check(#ifs >= 1 and ifs[1].index > 0 and #ifs[1].name > 0, "interfaces")
    eq(ok(ps.if_nametoindex(ifs[1].name)), ifs[1].index, "if_nametoindex")
    eq(ok(ps.if_indextoname(ifs[1].index)), ifs[1].name, "if_indextoname")
    fails("ENODEV", ps.if_nametoindex("no-such-if0"))
    if ps.getservbyname("http", "tcp") then -- /etc/services may be absent
        eq(ok(ps.getservbyport(80, "tcp")), "http", "getservbyport")
        eq(ok(ps.getservbyname("http", "tcp")), 80, "getservbyname")
    end
    fails("EAI_SERVICE", ps.getservbyname("no-such-service-x", "tcp"))
    check(#ok(ps.getfqdn("localhost")) > 0, "getfqdn")
    local d = ok(ps.tcp())
    local fd = ok(d:detach())
    check(fd >= 0, "detach gives the fd")
    fails("EBADF", d:getfd())
    local again = ok(ps.fromfd(fd)) -- a duplicate; the original fd stays ours
    again:close()
    ffi.cdef("int close(int fd);")
    eq(ffi.C.close(fd), 0, "the detached fd was ours to close")
end)

---------------------------------------------------------------- timeouts

test("timeouts: ETIMEDOUT, EAGAIN, and the partial data", function()
    local cli, conn = tcp_pair()
    ok(conn:settimeout(0.05))
    eq(conn:gettimeout(), 0.05, "gettimeout")
    local msg = fails("ETIMEDOUT", conn:recv(10))
    check(msg:lower():find("timed out"), msg)
    ok(cli:sendall("abc"))
    local _, partial = fails("ETIMEDOUT", conn:receive(10))
    eq(partial, "abc", "what came before the timeout")
    ok(conn:settimeout(0))
    local code = select(3, conn:recv(10))
    check(code == "EAGAIN" or code == "EWOULDBLOCK", "non-blocking recv gave " .. tostring(code))
    ok(conn:settimeout(nil))
    eq(conn:gettimeout(), -1, "nil blocks")
    ok(conn:settimeout(-3, "t"))
    eq(conn:gettimeout(), -1, "a negative timeout blocks")
    ok(conn:settimeout(0.0001))
    eq(conn:gettimeout(), 0.001, "a tiny timeout still waits (1 ms)")
    cli:close()
    conn:close()

    local srv = ok(listener("inet", "127.0.0.1"))
    ok(srv:settimeout(0.05))
    fails("ETIMEDOUT", srv:accept())
    srv:close()
end)

test("timeouts: the default timeout applies to new sockets", function()
    eq(ps.getdefaulttimeout(), -1, "initial default")
    ok(ps.setdefaulttimeout(0.25))
    local s = ok(ps.tcp())
    ps.setdefaulttimeout(nil)
    eq(s:gettimeout(), 0.25, "new socket's timeout")
    eq(ps.getdefaulttimeout(), -1, "default restored")
    s:close()
end)

test("end of stream inside receive(n) is POLYSOCK_EEOF with the partial data", function()
    local cli, conn = tcp_pair()
    ok(cli:sendall("abc"))
    cli:close()
    local msg, partial = fails("POLYSOCK_EEOF", conn:receive(10, ">"))
    eq(partial, ">abc", "partial data with the prefix")
    check(msg ~= "", msg)
    conn:close()
end)

---------------------------------------------------------------- errors

test("errors: refused, closed handle, resolver, address family", function()
    -- A bound socket that does not listen refuses connections.
    local holder = bounded(ok(ps.tcp()))
    ok(holder:bind("127.0.0.1", 0))
    local _, port = holder:getsockname()
    local c = bounded(ok(ps.tcp()))
    local msg = fails("ECONNREFUSED", c:connect("127.0.0.1", port))
    check(msg:find("127.0.0.1:" .. port, 1, true), "message has the address: " .. msg)
    check(msg:find("Connection refused", 1, true), "message has the reason: " .. msg)
    eq(ps.errname(ps.errno()), "ECONNREFUSED", "errno after the failure")
    eq(ps.last_error(), msg, "last_error")
    c:close()
    holder:close()

    local s = ok(ps.tcp())
    ok(s:close())
    ok(s:close()) -- twice is harmless
    fails("EBADF", s:bind("127.0.0.1", 0))
    fails("EBADF", s:getfd())
    fails("EBADF", s:settimeout(1))
    fails("EBADF", s:info())

    local r = bounded(ok(ps.tcp()))
    local _, rmsg, rcode = r:connect("bad..name", 80)
    check(rcode and rcode:find("^EAI_"), "resolver failure code " .. tostring(rcode))
    check(rmsg:find("bad..name", 1, true), "message names the host: " .. tostring(rmsg))
    fails("EAFNOSUPPORT", r:bind("::1", 0))
    r:close()

    local u = ok(ps.udp())
    check(select(3, u:listen()) ~= nil, "listen on udp fails")
    u:close()
    fails("ENOTCONN", (ok(ps.tcp())):getpeername())
    check(select(3, ps.socket(123456, "stream")) ~= nil, "an unknown family fails")
    fails("EBADF", ps.wrap(987654321):getfd())
end)

test("bad input: clear errors, never a crash", function()
    local s = bounded(ok(ps.tcp()))
    raises("bad argument #1 to 'bind' (string expected, got number)", s.bind, s, 123, 0)
    raises("bad argument #2 to 'bind' (integer expected", s.bind, s, "127.0.0.1", 1.5)
    raises("bad argument #2 to 'bind' (number expected", s.bind, s, "127.0.0.1", {})
    local msg = fails("EINVAL", s:bind("127.0.0.1\0evil", 0))
    check(msg:find("NUL", 1, true), msg)
    fails("EINVAL", s:bind("127.0.0.1", 70000))
    fails("EINVAL", s:bind("127.0.0.1", -1))
    fails("EINVAL", s:bind("127.0.0.1", 2 ^ 40))
    fails("EINVAL", s:connect("127.0.0.1", 2 ^ 40))
    raises("bad argument #1 to 'connect' (string expected, got nil)", s.connect, s, nil, 80)
    raises("bad self to 'bind'", ps.Socket.bind, {}, "x", 1)
    raises("unsupported option 'nope'", s.setoption, s, "nope", true)
    raises("boolean expected", s.setoption, s, "tcp-nodelay", "yes")
    raises("table expected", s.setoption, s, "linger", 5)
    raises("invalid shutdown method", s.shutdown, s, "sideways")
    fails("EINVAL", s:shutdown(99))
    raises("invalid receive pattern", s.receive, s, "*x")
    raises("size must not be negative", s.receive, s, -1)
    raises("number expected", s.settimeout, s, "soon")
    raises("number expected, got nan", s.settimeout, s, 0 / 0)
    raises("invalid timeout mode", s.settimeout, s, 1, "x")
    raises("unknown family", ps.tcp, "appletalkish")
    raises("unknown socket type", ps.socket, "inet", "bogus")
    fails("EINVAL", s:recv(0))
    fails("EINVAL", s:recv(-1))
    raises("bad argument #1 to 'send' (string expected, got nil)", s.send, s, nil)
    s:close()
    local u = bounded(ok(ps.udp()))
    fails("EINVAL", u:sendto("x", "127.0.0.1\0", 9))
    fails("EINVAL", u:sendto("x", "127.0.0.1", 65536))
    u:close()
end)

---------------------------------------------------------------- options

test("options: LuaSocket names and raw get/setsockopt", function()
    local cli, conn = tcp_pair()
    ok(cli:setoption("tcp-nodelay", true))
    eq(ok(cli:getoption("tcp-nodelay")), true, "tcp-nodelay on")
    ok(cli:setoption("tcp-nodelay", false))
    eq(cli:getoption("tcp-nodelay"), false, "tcp-nodelay off")
    ok(cli:setoption("keepalive", true))
    eq(cli:getoption("keepalive"), true, "keepalive")
    ok(cli:setoption("linger", { on = true, timeout = 3 }))
    local l = ok(cli:getoption("linger"))
    eq(l.on, true, "linger on")
    eq(l.timeout, 3, "linger timeout")
    ok(cli:setoption("linger", { on = false }))
    eq(cli:getoption("linger").on, false, "linger off")
    ok(cli:setoption("recv-buffer-size", 65536))
    check(ok(cli:getoption("recv-buffer-size")) >= 65536, "recv-buffer-size")
    ok(cli:setsockopt(ps.SOL_SOCKET, ps.SO_REUSEADDR, 1))
    eq(ok(cli:getsockopt(ps.SOL_SOCKET, ps.SO_REUSEADDR)), 1, "raw int option")
    ok(cli:setsockopt(ps.SOL_SOCKET, ps.SO_KEEPALIVE, false))
    eq(cli:getsockopt(ps.SOL_SOCKET, ps.SO_KEEPALIVE), 0, "raw boolean option")
    local raw = ok(cli:getsockopt(ps.SOL_SOCKET, ps.SO_LINGER, 64))
    eq(#raw, ffi.sizeof("int") * 2, "struct linger as bytes")
    ok(cli:setsockopt(ps.SOL_SOCKET, ps.SO_LINGER, raw))
    fails("ENOPROTOOPT", cli:setsockopt(ps.SOL_SOCKET, 99999, 1))
    fails("EINVAL", cli:setsockopt(ps.SOL_SOCKET, ps.SO_REUSEADDR, 2 ^ 40))
    check(#ps.options >= 10, "option names listed")
    cli:close()
    conn:close()
end)

---------------------------------------------------------------- lifetime

test("garbage collection closes forgotten sockets", function()
    local h
    do
        local s = ok(ps.tcp())
        h = s.handle
        check(ps.C.polysock_fileno(h) >= 0, "the socket is open")
        s = nil
    end
    collectgarbage()
    collectgarbage()
    eq(ps.C.polysock_fileno(h), -1, "the handle was closed")
    eq(ps.errname(ps.errno()), "EBADF", "a collected handle is EBADF")
    -- close() disarms the finalizer: closing never touches a later socket.
    local a = ok(ps.tcp())
    a:close()
    local b = ok(ps.tcp())
    a = nil
    collectgarbage()
    collectgarbage()
    check(b:getfd(), "a live socket survives the collection of a closed one")
    b:close()
end)

---------------------------------------------------------------- run

local passed, failed, skipped = 0, 0, 0
-- Certificates made by the openssl command, in the test's temp dir.
local function tls_certs()
    local dir = (os.getenv("POLYSOCK_TEST_TMP") or "/tmp") .. "/tls-lua"
    local cmd = table.concat({
        "mkdir -p " .. dir .. " && cd " .. dir,
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
            .. " -keyout ca.key -out ca.pem -days 2 -subj /CN=lua-CA 2>/dev/null",
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
            .. " -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null",
        "printf 'subjectAltName=DNS:localhost\\nbasicConstraints=CA:FALSE\\n' > ext",
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
            .. " -days 2 -extfile ext -out server.pem 2>/dev/null",
    }, " && ")
    local r = os.execute(cmd)
    check(r == 0 or r == true, "openssl made the certificates")
    return dir
end

test("tls: LuaSec-style wrap and dohandshake, both sides non-blocking in one thread", function()
    local dir = tls_certs()
    local cli, conn = tcp_pair()
    local sctx = ok(ps.ssl.newcontext({ mode = "server", certificate = dir .. "/server.pem",
        key = dir .. "/server.key", alpn = "x-lua" }))
    local c = ok(ps.ssl.wrap(cli, { mode = "client", cafile = dir .. "/ca.pem",
        protocol = "tlsv1_3", alpn = { "x-lua" } }))
    local s = ok(ps.ssl.wrap(conn, sctx))
    eq(c, cli, "wrap keeps the socket object")
    ok(c:sni("localhost"))
    c:settimeout(0)
    s:settimeout(0)
    local done, turns, wants = { false, false }, 0, {}
    while not (done[1] and done[2]) do
        turns = turns + 1
        check(turns < 1000, "the handshake ends")
        for i, x in ipairs({ c, s }) do
            if not done[i] then
                local r, why, code = x:dohandshake()
                if r then
                    done[i] = true
                else
                    check(why == "wantread" or why == "wantwrite", "dohandshake: " .. tostring(why))
                    eq(code, "EAGAIN", "code")
                    wants[why] = true
                end
            end
        end
    end
    check(wants.wantread, "a side waited to read")
    local info = ok(c:info())
    eq(info.protocol, "TLSv1.3", "protocol")
    eq(info.alpn, "x-lua", "alpn")
    check(info.subject:find("CN=localhost", 1, true), "subject " .. tostring(info.subject))
    c:settimeout(5)
    s:settimeout(5)
    ok(c:send("hello over tls\n"))
    eq(ok(s:receive("*l")), "hello over tls", "a line over TLS")
    c:close()
    s:close()
end)

test("tls: a wrong name fails with its own code and cause", function()
    local dir = tls_certs()
    local cli, conn = tcp_pair()
    local c = ok(ps.ssl.wrap(cli, { mode = "client", cafile = dir .. "/ca.pem" }))
    ok(ps.ssl.wrap(conn, { mode = "server", certificate = dir .. "/server.pem", key = dir .. "/server.key" }))
    ok(c:sni("other.test"))
    c:settimeout(0)
    conn:settimeout(0)
    local r, msg, code
    for _ = 1, 1000 do
        r, msg, code = c:dohandshake()
        if r or (msg ~= "wantread" and msg ~= "wantwrite") then break end
        conn:dohandshake()
    end
    check(not r, "the handshake fails")
    eq(code, "POLYSOCK_ETLS_HOSTNAME", "code")
    check(msg:find("hostname mismatch: certificate is for localhost", 1, true), msg)
    eq(select(3, ps.ssl.newcontext({ mode = "sideways" })), "EINVAL", "bad mode")
    c:close()
    conn:close()
end)

for _, t in ipairs(tests) do
    local okc, err = xpcall(t.fn, function(e)
        if type(e) == "table" and e[SKIP] then
            return e
        end
        return debug.traceback(tostring(e), 2)
    end)
    if okc then
        passed = passed + 1
        print("ok      " .. t.name)
    elseif type(err) == "table" and err[SKIP] then
        skipped = skipped + 1
        print("skipped " .. t.name .. ": " .. err[SKIP])
    else
        failed = failed + 1
        print("FAILED  " .. t.name .. "\n" .. tostring(err))
    end
    collectgarbage()
end
print(("luajit binding: %d passed, %d failed, %d skipped (polysock %s, %s)"):format(
    passed, failed, skipped, ps.version(), ps.lib_path))
os.exit(failed == 0 and 0 or 1)
