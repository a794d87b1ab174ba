-- polysock for LuaJIT: the C ABI through the FFI, with a small LuaSocket-like
-- wrapper (sockets as objects with methods, failures as `nil, message, code`).
--
-- The C declarations are not written here: they are extracted from
-- polysock.h when the module loads (preprocessor lines, comments and the
-- extern "C" guard removed, macros used in declarations replaced by their
-- values), so the module and the header cannot drift apart. The constants
-- come from the library's own table (polysock_constant_count/at), which
-- holds the values of the platform the library runs on.
--
-- Where things are found (see README.md):
--   library: $POLYSOCK_LIB (the file or its directory), libpolysock.so next
--            to this file, the cargo target dirs of the repository this file
--            sits in, then the system's search path;
--   header:  $POLYSOCK_HEADER, polysock.h next to this file, the
--            repository's include/polysock.h, /usr/local/include, /usr/include.
--
-- No socket logic lives here: every call is one polysock call, plus the
-- conversions between Lua values and the C ABI.

local ffi = require("ffi")

local M = {}

---------------------------------------------------------------- files

local function file_exists(path)
    local f = io.open(path, "rb")
    if f then
        f:close()
        return true
    end
    return false
end

local function read_file(path)
    local f, err = io.open(path, "rb")
    if not f then
        return nil, err
    end
    local text = f:read("*a")
    f:close()
    return text
end

-- The directory of this file ("" when loaded from the current directory).
local HERE = (function()
    local source = debug.getinfo(1, "S").source
    if source:sub(1, 1) == "@" then
        return source:sub(2):match("^(.*[/\\])") or ""
    end
    return ""
end)()

-- bindings/luajit/ -> the repository root.
local REPO = HERE .. "../../"

local LIB_NAME = (ffi.os == "OSX" and "libpolysock.dylib")
    or (ffi.os == "Windows" and "polysock.dll")
    or "libpolysock.so"

---------------------------------------------------------------- header -> cdef

-- A tiny evaluator for `#if` expressions: integers, macro names (their
-- value, 0 when unknown), defined(X), !, ~, unary -, * / %, + -, << >>,
-- < <= > >=, == !=, &, ^, |, &&, ||, parentheses.
local function eval_if(expr, ints, defined)
    local toks = {}
    local i, n = 1, #expr
    while i <= n do
        local c = expr:sub(i, i)
        if c:match("%s") then
            i = i + 1
        else
            local num = expr:match("^0[xX]%x+", i) or expr:match("^%d+", i)
            local id = expr:match("^[%a_][%w_]*", i)
            local op = expr:match("^&&", i) or expr:match("^||", i) or expr:match("^==", i)
                or expr:match("^!=", i) or expr:match("^<=", i) or expr:match("^>=", i)
                or expr:match("^<<", i) or expr:match("^>>", i)
            if num then
                toks[#toks + 1] = { "n", tonumber(num) }
                i = i + #num
                i = i + #(expr:match("^[uUlL]*", i))
            elseif id then
                toks[#toks + 1] = { "id", id }
                i = i + #id
            elseif op then
                toks[#toks + 1] = { op }
                i = i + #op
            else
                toks[#toks + 1] = { c }
                i = i + 1
            end
        end
    end
    local pos = 1
    local function peek()
        return toks[pos] and toks[pos][1]
    end
    local function take()
        pos = pos + 1
        return toks[pos - 1]
    end
    local expr_at
    local function primary()
        local t = take()
        if not t then
            error("unexpected end of #if expression: " .. expr)
        end
        if t[1] == "n" then
            return t[2]
        elseif t[1] == "id" then
            if t[2] == "defined" then
                local paren = peek() == "("
                if paren then
                    take()
                end
                local name = take()
                if paren then
                    take()
                end
                return defined[name and name[2]] and 1 or 0
            end
            return ints[t[2]] or 0
        elseif t[1] == "(" then
            local v = expr_at(1)
            take()
            return v
        elseif t[1] == "!" then
            return primary() == 0 and 1 or 0
        elseif t[1] == "-" then
            return -primary()
        elseif t[1] == "+" then
            return primary()
        elseif t[1] == "~" then
            return -primary() - 1
        end
        error("cannot evaluate #if " .. expr)
    end
    local binary = {
        { "||" }, { "&&" }, { "|" }, { "^" }, { "&" }, { "==", "!=" },
        { "<", "<=", ">", ">=" }, { "<<", ">>" }, { "+", "-" }, { "*", "/", "%" },
    }
    local function apply(op, a, b)
        if op == "||" then return (a ~= 0 or b ~= 0) and 1 or 0
        elseif op == "&&" then return (a ~= 0 and b ~= 0) and 1 or 0
        elseif op == "|" then return bit.bor(a, b)
        elseif op == "^" then return bit.bxor(a, b)
        elseif op == "&" then return bit.band(a, b)
        elseif op == "==" then return a == b and 1 or 0
        elseif op == "!=" then return a ~= b and 1 or 0
        elseif op == "<" then return a < b and 1 or 0
        elseif op == "<=" then return a <= b and 1 or 0
        elseif op == ">" then return a > b and 1 or 0
        elseif op == ">=" then return a >= b and 1 or 0
        elseif op == "<<" then return a * 2 ^ b
        elseif op == ">>" then return math.floor(a / 2 ^ b)
        elseif op == "+" then return a + b
        elseif op == "-" then return a - b
        elseif op == "*" then return a * b
        elseif op == "/" then return b ~= 0 and (a - a % b) / b or 0
        else return b ~= 0 and a % b or 0
        end
    end
    function expr_at(level)
        if level > #binary then
            return primary()
        end
        local v = expr_at(level + 1)
        while true do
            local op, found = peek(), false
            for _, o in ipairs(binary[level]) do
                if o == op then
                    found = true
                end
            end
            if not found then
                return v
            end
            take()
            v = apply(op, v, expr_at(level + 1))
        end
    end
    return expr_at(1) ~= 0
end

-- Turns the text of polysock.h into what ffi.cdef accepts. Returns
--   cdef:      the declarations, without comments, preprocessor lines or
--              the extern "C" guard, with integer macros replaced by values;
--   macros:    { NAME = value } for every #define with an integer or string
--              value (the header's view of the constants);
--   functions: { name = true } for every polysock_* function declared.
function M.parse_header(text)
    text = text:gsub("\r\n", "\n")
    -- Comments (the header has no comment markers inside string literals).
    text = text:gsub("/%*.-%*/", function(c)
        return (c:gsub("[^\n]", ""))
    end)
    text = text:gsub("//[^\n]*", "")
    text = text:gsub("\\\n", " ")

    local defined, ints, macros, raw = {}, {}, {}, {}
    local lines, stack = {}, {}
    local function active()
        return #stack == 0 or stack[#stack].active
    end
    for line in (text .. "\n"):gmatch("([^\n]*)\n") do
        local directive, rest = line:match("^%s*#%s*(%a*)%s*(.-)%s*$")
        if directive then
            local top = stack[#stack]
            if directive == "ifdef" or directive == "ifndef" or directive == "if" then
                local cond
                if directive == "if" then
                    cond = active() and eval_if(rest, ints, defined)
                else
                    cond = defined[rest] and true or false
                    if directive == "ifndef" then
                        cond = not cond
                    end
                end
                stack[#stack + 1] = { parent = active(), active = active() and cond, taken = cond }
            elseif directive == "elif" then
                assert(top, "#elif without #if")
                local cond = not top.taken and top.parent and eval_if(rest, ints, defined)
                top.active = top.parent and cond
                top.taken = top.taken or cond
            elseif directive == "else" then
                assert(top, "#else without #if")
                top.active = top.parent and not top.taken
                top.taken = true
            elseif directive == "endif" then
                assert(top, "#endif without #if")
                stack[#stack] = nil
            elseif directive == "define" and active() then
                local name, value = rest:match("^([%a_][%w_]*)%s*(.-)$")
                if name and not rest:match("^[%a_][%w_]*%(") then
                    defined[name] = true
                    raw[name] = value
                    local body = value:gsub("^%((.*)%)$", "%1")
                    local num = body:match("^%-?%d+$") or body:match("^0[xX]%x+$")
                    if num then
                        ints[name] = tonumber(num)
                        macros[name] = ints[name]
                    elseif value:match('^"[^"]*"$') then
                        macros[name] = value:sub(2, -2)
                    elseif value ~= "" and value:match("^[%w_%s%(%)<>|&+%-%*~]+$") then
                        -- A constant expression such as (1 << 3): a cdef
                        -- array size may use it as it stands, once the
                        -- macros in it are replaced by their values.
                        local v = value:gsub("[%a_][%w_]*", function(id)
                            return ints[id] and tostring(ints[id])
                        end)
                        raw[name] = v:match("^%b()$") and v or "(" .. v .. ")"
                    end
                end
            elseif directive == "undef" and active() then
                defined[rest] = nil
                ints[rest] = nil
                macros[rest] = nil
            end
            -- include, pragma, error, line: not for the FFI.
        elseif active() then
            lines[#lines + 1] = line
        end
    end
    assert(#stack == 0, "unterminated #if in the header")

    local cdef = table.concat(lines, "\n")
    -- The extern "C" guard sits under #ifdef __cplusplus and is gone by now;
    -- a header written without that guard still must not reach the FFI.
    local unguarded
    cdef, unguarded = cdef:gsub('extern%s*"C"%s*{', "")
    if unguarded > 0 then
        cdef = cdef:gsub("}([^}]*)$", "%1")
    end
    assert(not cdef:find('extern%s*"C"'), 'an extern "C" guard was left in the cdef')
    -- Macros used in declarations (char host[POLYSOCK_ADDR_HOST_LEN]).
    cdef = cdef:gsub("[%a_][%w_]*", function(id)
        if ints[id] then
            return tostring(ints[id])
        elseif raw[id] and raw[id]:match("^%(") then
            return raw[id]
        end
    end)
    cdef = cdef:gsub("\n%s*\n+", "\n")

    local functions = {}
    for name in cdef:gmatch("(polysock_[%w_]+)%s*%(") do
        functions[name] = true
    end
    return { cdef = cdef, macros = macros, functions = functions }
end

---------------------------------------------------------------- loading

local function find_header()
    local env = os.getenv("POLYSOCK_HEADER")
    if env and env ~= "" then
        return env
    end
    for _, path in ipairs({
        HERE .. "polysock.h",
        REPO .. "include/polysock.h",
        "/usr/local/include/polysock.h",
        "/usr/include/polysock.h",
    }) do
        if file_exists(path) then
            return path
        end
    end
    error("polysock: polysock.h not found (set POLYSOCK_HEADER to its path)", 3)
end

local function lib_candidates()
    local list = {}
    local env = os.getenv("POLYSOCK_LIB")
    if env and env ~= "" then
        -- A directory (io.open succeeds on one, so look inside it first)
        -- or the library file itself.
        local inside = env:gsub("/*$", "") .. "/" .. LIB_NAME
        list[#list + 1] = file_exists(inside) and inside or env
        return list, true
    end
    list[#list + 1] = HERE .. LIB_NAME
    local roots = {}
    local target = os.getenv("CARGO_TARGET_DIR")
    if target and target ~= "" then
        roots[#roots + 1] = target:gsub("/*$", "") .. "/"
    end
    roots[#roots + 1] = REPO .. "target/"
    for _, root in ipairs(roots) do
        for _, sub in ipairs({ "release/", "debug/", "debug/deps/", "release/deps/" }) do
            list[#list + 1] = root .. sub .. LIB_NAME
        end
    end
    return list, false
end

local function load_library()
    local candidates, from_env = lib_candidates()
    local tried = {}
    for _, path in ipairs(candidates) do
        if file_exists(path) then
            local ok, lib = pcall(ffi.load, path)
            if ok then
                return lib, path
            end
            tried[#tried + 1] = path .. ": " .. tostring(lib)
        else
            tried[#tried + 1] = path .. ": not found"
        end
    end
    if not from_env then
        for _, name in ipairs({ "polysock", "libpolysock.so.0" }) do
            local ok, lib = pcall(ffi.load, name)
            if ok then
                return lib, name
            end
            tried[#tried + 1] = name .. ": " .. tostring(lib)
        end
    end
    error("polysock: cannot load the library (set POLYSOCK_LIB):\n  " .. table.concat(tried, "\n  "), 3)
end

M.header_path = find_header()
local header_text = assert(read_file(M.header_path))
local parsed = M.parse_header(header_text)
M.cdef = parsed.cdef

-- Declare once per process (a second `require` after package.loaded was
-- cleared must not redefine the structs).
if not pcall(ffi.typeof, "polysock_addr") then
    ffi.cdef(parsed.cdef)
end

local C, lib_path = load_library()
M.C = C
M.lib_path = lib_path

-- Whether the header declares `name` and the library exports it.
function M.has(name)
    if not parsed.functions[name] then
        return false
    end
    return (pcall(function()
        return C[name]
    end))
end

---------------------------------------------------------------- constants

-- Every constant of the library's table, by name without the POLYSOCK_
-- prefix (AF_INET, SO_REUSEADDR, ECONNREFUSED, EAI_NONAME, EEOF,
-- OPT_NODELAY...), then the header's own macros the table lacks
-- (VERSION_*, ADDR_HOST_LEN, ERR_BASE).
M.const = {}
do
    local name, value = ffi.new("const char *[1]"), ffi.new("int64_t[1]")
    for i = 0, tonumber(C.polysock_constant_count()) - 1 do
        if C.polysock_constant_at(i, name, value) == 0 then
            local key = ffi.string(name[0]):gsub("^POLYSOCK_", "")
            M.const[key] = tonumber(value[0])
        end
    end
    for macro, v in pairs(parsed.macros) do
        local key = macro:match("^POLYSOCK_(.+)$")
        if key and key ~= "H" and M.const[key] == nil then
            M.const[key] = v
        end
    end
    for key, v in pairs(M.const) do
        M[key] = v
    end
end
local K = M.const

---------------------------------------------------------------- errors

-- `nil, message, code` for the failure polysock just recorded on this
-- thread: the message with its context ("connect 127.0.0.1:4000:
-- Connection refused"), the code's name ("ECONNREFUSED").
local function failure(extra)
    local code = C.polysock_errno()
    local msg = ffi.string(C.polysock_last_error())
    return nil, msg, ffi.string(C.polysock_errname(code)), extra
end

-- A failure found before calling the library (a string the C ABI cannot
-- carry: a NUL byte, a number beyond int32).
local function invalid(op, what)
    return nil, op .. ": " .. what, "EINVAL"
end

function M.errno()
    return C.polysock_errno()
end

function M.last_error()
    return ffi.string(C.polysock_last_error())
end

function M.strerror(code)
    return ffi.string(C.polysock_strerror(code))
end

function M.errname(code)
    return ffi.string(C.polysock_errname(code))
end

function M.version()
    return ffi.string(C.polysock_version())
end

---------------------------------------------------------------- arguments

local function argerror(n, fname, msg)
    error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), 3)
end

local function check_string(v, n, fname)
    if type(v) ~= "string" then
        argerror(n, fname, "string expected, got " .. type(v))
    end
end

local function check_int(v, n, fname, default)
    if v == nil and default ~= nil then
        return default
    end
    if type(v) == "string" and tonumber(v) then
        v = tonumber(v)
    end
    if type(v) ~= "number" then
        argerror(n, fname, "number expected, got " .. type(v))
    end
    if v ~= math.floor(v) then
        argerror(n, fname, "integer expected, got " .. tostring(v))
    end
    return v
end

local INT32_MIN, INT32_MAX = -2 ^ 31, 2 ^ 31 - 1

local function in_int32(v)
    return v >= INT32_MIN and v <= INT32_MAX
end

-- A host for the C ABI: nil stays NULL (any address), a string must have
-- no NUL byte (C would see only the part before it).
local function host_arg(op, host, n, fname)
    if host == nil or host == "*" then
        return true, nil
    end
    check_string(host, n, fname)
    if host:find("\0", 1, true) then
        return invalid(op, ("host %q contains a NUL byte"):format(host))
    end
    return true, host
end

local function port_arg(op, port, n, fname)
    port = check_int(port, n, fname, 0)
    if not in_int32(port) then
        return invalid(op, ("port %d out of range 0..65535"):format(port))
    end
    return true, port
end

local FAMILY_NAMES = {}
local FAMILY_BY_NAME = {}
for name, key in pairs({ inet = "AF_INET", inet6 = "AF_INET6", unix = "AF_UNIX", unspec = "AF_UNSPEC" }) do
    if K[key] then
        FAMILY_NAMES[K[key]] = name
        FAMILY_BY_NAME[name] = K[key]
    end
end

local function family_arg(family, n, fname, default)
    if family == nil then
        return default
    end
    if type(family) == "string" then
        local f = FAMILY_BY_NAME[family] or K[family]
        if not f then
            argerror(n, fname, "unknown family '" .. family .. "'")
        end
        return f
    end
    return check_int(family, n, fname)
end

-- host, port, family name ("inet", "inet6", "unix") of a polysock_addr.
local function addr_values(a)
    local family = tonumber(a.family)
    return ffi.string(a.host), tonumber(a.port), FAMILY_NAMES[family] or family
end

---------------------------------------------------------------- sockets

local Socket = {}
Socket.__index = Socket
M.Socket = Socket

local function close_box(box)
    C.polysock_close(box[0])
end

-- Wraps a handle the library issued; the handle is closed when the object
-- is garbage collected without close().
local function wrap(h)
    h = tonumber(h)
    local box = ffi.gc(ffi.new("int64_t[1]", h), close_box)
    return setmetatable({ handle = h, _box = box }, Socket)
end
M.wrap = wrap

function Socket:__tostring()
    local info = ffi.new("polysock_socket_info")
    if C.polysock_info(self.handle, info) ~= 0 then
        return ("polysock.socket{closed, handle=%d}"):format(self.handle)
    end
    local kind = ({ [K.SOCK_STREAM] = "stream", [K.SOCK_DGRAM] = "dgram" })[tonumber(info.socktype)]
        or tostring(info.socktype)
    return ("polysock.socket{%s %s, fd=%d, handle=%d}"):format(
        FAMILY_NAMES[tonumber(info.family)] or tostring(info.family), kind, info.fd, self.handle)
end

--- Creation.

-- socket(family, type[, protocol]): numbers, or family names "inet",
-- "inet6", "unix" and type names "stream", "dgram", "seqpacket", "raw".
function M.socket(family, socktype, protocol)
    family = family_arg(family, 1, "socket", K.AF_INET)
    if type(socktype) == "string" then
        local t = K["SOCK_" .. socktype:upper()]
        if not t then
            argerror(2, "socket", "unknown socket type '" .. socktype .. "'")
        end
        socktype = t
    end
    socktype = check_int(socktype, 2, "socket", K.SOCK_STREAM)
    protocol = check_int(protocol, 3, "socket", 0)
    if not (in_int32(family) and in_int32(socktype) and in_int32(protocol)) then
        return invalid("socket", "argument out of range")
    end
    local h = C.polysock_socket(family, socktype, protocol)
    if h < 0 then
        return failure()
    end
    return wrap(h)
end

function M.tcp(family)
    return M.socket(family_arg(family, 1, "tcp", K.AF_INET), K.SOCK_STREAM, 0)
end

function M.tcp4()
    return M.socket(K.AF_INET, K.SOCK_STREAM, 0)
end

function M.tcp6()
    return M.socket(K.AF_INET6, K.SOCK_STREAM, 0)
end

function M.udp(family)
    return M.socket(family_arg(family, 1, "udp", K.AF_INET), K.SOCK_DGRAM, 0)
end

function M.udp4()
    return M.socket(K.AF_INET, K.SOCK_DGRAM, 0)
end

function M.udp6()
    return M.socket(K.AF_INET6, K.SOCK_DGRAM, 0)
end

-- unix([type]): an AF_UNIX socket, "stream" (default), "dgram" or "seqpacket".
function M.unix(socktype)
    return M.socket(K.AF_UNIX, socktype or K.SOCK_STREAM, 0)
end

-- socketpair([type]): two connected AF_UNIX sockets.
function M.socketpair(socktype)
    if type(socktype) == "string" then
        socktype = K["SOCK_" .. socktype:upper()] or argerror(1, "socketpair", "unknown socket type")
    end
    socktype = check_int(socktype, 1, "socketpair", K.SOCK_STREAM)
    local pair = ffi.new("polysock_t[2]")
    if C.polysock_socketpair(K.AF_UNIX, socktype, 0, pair) ~= 0 then
        return failure()
    end
    return wrap(pair[0]), wrap(pair[1])
end

-- fromfd(fd): a new socket object on a duplicate of `fd` (which stays yours).
function M.fromfd(fd)
    fd = check_int(fd, 1, "fromfd")
    if not in_int32(fd) then
        return invalid("fromfd", "fd out of range")
    end
    local h = C.polysock_fromfd(fd)
    if h < 0 then
        return failure()
    end
    return wrap(h)
end

-- Seconds (LuaSocket's unit) to polysock's milliseconds: nil, a negative
-- value or math.huge block; 0 is non-blocking; any positive value waits at
-- least 1 ms.
local function to_ms(value, n, fname)
    if value == nil then
        return -1
    end
    if type(value) ~= "number" or value ~= value then
        argerror(n, fname, "number expected, got " .. (type(value) == "number" and "nan" or type(value)))
    end
    if value < 0 or value == math.huge then
        return -1
    end
    return math.ceil(value * 1000)
end

local function from_ms(ms)
    ms = tonumber(ms)
    if ms < 0 then
        return -1
    end
    return ms / 1000
end

function M.setdefaulttimeout(seconds)
    if seconds ~= nil and type(seconds) ~= "number" then
        argerror(1, "setdefaulttimeout", "number expected, got " .. type(seconds))
    end
    if C.polysock_setdefaulttimeout(to_ms(seconds, 1, "setdefaulttimeout")) ~= 0 then
        return failure()
    end
    return 1
end

function M.getdefaulttimeout()
    return from_ms(C.polysock_getdefaulttimeout())
end

--- Methods. Each returns a value (1 when there is nothing to return) or
--- `nil, message, code`.

local function h_of(self, fname)
    if getmetatable(self) ~= Socket then
        error(("bad self to '%s' (polysock socket expected, got %s)"):format(fname, type(self)), 3)
    end
    return self.handle
end

function Socket:bind(host, port)
    local h = h_of(self, "bind")
    local ok, hv, code = host_arg("bind", host, 1, "bind")
    if not ok then
        return nil, hv, code
    end
    local okp, pv, pcode = port_arg("bind", port, 2, "bind")
    if not okp then
        return nil, pv, pcode
    end
    if C.polysock_bind(h, hv, pv) ~= 0 then
        return failure()
    end
    return 1
end

-- listen([backlog]): without a backlog, min(SOMAXCONN, 128).
function Socket:listen(backlog)
    local h = h_of(self, "listen")
    backlog = check_int(backlog, 1, "listen", -1)
    if not in_int32(backlog) then
        return invalid("listen", "backlog out of range")
    end
    if C.polysock_listen(h, backlog) ~= 0 then
        return failure()
    end
    return 1
end

-- accept(): the new connection as a socket object, waiting as the
-- socket's timeout allows.
function Socket:accept()
    local h = h_of(self, "accept")
    local c = C.polysock_accept(h, nil)
    if c < 0 then
        return failure()
    end
    return wrap(c)
end

function Socket:connect(host, port)
    local h = h_of(self, "connect")
    local ok, hv, code = host_arg("connect", host, 1, "connect")
    if not ok then
        return nil, hv, code
    end
    if hv == nil then
        argerror(1, "connect", "string expected, got nil")
    end
    local okp, pv, pcode = port_arg("connect", port, 2, "connect")
    if not okp then
        return nil, pv, pcode
    end
    if C.polysock_connect(h, hv, pv) ~= 0 then
        return failure()
    end
    return 1
end

local function slice(data, i, j, fname)
    check_string(data, 1, fname)
    if i == nil and j == nil then
        return data, 1
    end
    i = check_int(i, 2, fname, 1)
    j = check_int(j, 3, fname, -1)
    local len = #data
    if i < 0 then
        i = math.max(len + i + 1, 1)
    elseif i == 0 then
        i = 1
    end
    if j < 0 then
        j = len + j + 1
    end
    return data:sub(i, j), i
end

-- send(data[, i[, j]]): LuaSocket's send: sends all of data:sub(i, j)
-- within the socket's timeout; returns the index of the last byte sent,
-- or nil, message, code, index of the last byte sent.
function Socket:send(data, i, j)
    local h = h_of(self, "send")
    local part, first = slice(data, i, j, "send")
    local sent = ffi.new("size_t[1]")
    if C.polysock_sendall(h, part, #part, 0, sent) < 0 then
        local n, msg, code = failure()
        return n, msg, code, first + tonumber(sent[0]) - 1
    end
    return first + #part - 1
end

-- sendall(data[, flags]): sends every byte within the socket's timeout;
-- returns the number of bytes, or nil, message, code, bytes sent.
function Socket:sendall(data, flags)
    local h = h_of(self, "sendall")
    check_string(data, 1, "sendall")
    flags = check_int(flags, 2, "sendall", 0)
    local sent = ffi.new("size_t[1]")
    if C.polysock_sendall(h, data, #data, flags, sent) < 0 then
        return failure(tonumber(sent[0]))
    end
    return #data
end

-- sendsome(data[, flags]): one send; returns how many bytes went (maybe
-- fewer than #data).
function Socket:sendsome(data, flags)
    local h = h_of(self, "sendsome")
    check_string(data, 1, "sendsome")
    flags = check_int(flags, 2, "sendsome", 0)
    local n = C.polysock_send(h, data, #data, flags)
    if n < 0 then
        return failure()
    end
    return tonumber(n)
end

-- sendto(data, host, port[, flags]): one datagram; returns the bytes sent.
function Socket:sendto(data, host, port, flags)
    local h = h_of(self, "sendto")
    check_string(data, 1, "sendto")
    local ok, hv, code = host_arg("sendto", host, 2, "sendto")
    if not ok then
        return nil, hv, code
    end
    local okp, pv, pcode = port_arg("sendto", port, 3, "sendto")
    if not okp then
        return nil, pv, pcode
    end
    flags = check_int(flags, 4, "sendto", 0)
    local n = C.polysock_sendto(h, data, #data, flags, hv, pv)
    if n < 0 then
        return failure()
    end
    return tonumber(n)
end

local RECV_CHUNK = 65536
local read_line -- defined with receive

-- A per-socket scratch buffer of at least `n` bytes.
local function scratch(self, n)
    local buf = self._buf
    if not buf or self._buflen < n then
        buf = ffi.new("uint8_t[?]", n)
        self._buf, self._buflen = buf, n
    end
    return buf
end

-- recv(n[, flags]): one receive of up to n bytes: the data, "" at end of
-- stream.
function Socket:recv(n, flags)
    local h = h_of(self, "recv")
    n = check_int(n, 1, "recv")
    flags = check_int(flags, 2, "recv", 0)
    if n <= 0 then
        -- The library reports the bad length (0, or above SSIZE_MAX).
        if C.polysock_recv(h, nil, n, flags) < 0 then
            return failure()
        end
        return ""
    end
    local want = math.min(n, RECV_CHUNK * 16)
    local buf = scratch(self, want)
    local got = C.polysock_recv(h, buf, want, flags)
    if got < 0 then
        return failure()
    end
    return ffi.string(buf, got)
end

local has_readline = nil

-- The longest line receive("*l") accepts (bytes, delimiter included);
-- a longer one fails with EMSGSIZE and stays readable with recv.
M.max_line = 1024 * 1024

-- One line (delim nil: "\n", the CR before it dropped too) or one record
-- ending in `delim`, through polysock_readline / polysock_read_until,
-- growing the buffer while the line does not fit (nothing is consumed
-- then). At end of stream: nil, message, "POLYSOCK_EEOF", the partial
-- line (LuaSocket's "closed" with its partial result). On a timeout the
-- bytes that came stay buffered for the next call.
read_line = function(self, h, prefix, delim, fname)
    local size = 4096
    local got = ffi.new("size_t[1]")
    while true do
        local buf = scratch(self, size)
        local r
        if delim then
            r = C.polysock_read_until(h, delim, #delim, buf, size, got)
        else
            r = C.polysock_readline(h, buf, size, got)
        end
        if r == 0 then
            local n = tonumber(got[0])
            local line = ffi.string(buf, n)
            local ending = delim or "\n"
            if n >= #ending and line:sub(-#ending) == ending then
                line = line:sub(1, -#ending - 1)
                if not delim and line:sub(-1) == "\r" then
                    line = line:sub(1, -2)
                end
                return prefix .. line
            end
            return nil, fname .. ": " .. M.strerror(K.EEOF), M.errname(K.EEOF), prefix .. line
        end
        local code = C.polysock_errno()
        if code ~= K.EMSGSIZE or size >= M.max_line then
            return failure(prefix)
        end
        size = math.min(size * 4, M.max_line)
    end
end

-- receive([pattern[, prefix]]), as LuaSocket's:
--   a number n: exactly n bytes (fewer only at end of stream, as an error);
--   "*a" (or "a"): everything until the peer closes;
--   "*l" (or "l", the default): one line, without its LF (a CR before it
--        is dropped too) -- only with a library that has polysock_readline.
-- Returns the data (prefix first), or nil, message, code, partial data.
function Socket:receive(pattern, prefix)
    local h = h_of(self, "receive")
    if prefix ~= nil then
        check_string(prefix, 2, "receive")
    end
    prefix = prefix or ""
    pattern = pattern or "*l"
    if type(pattern) == "number" then
        local n = check_int(pattern, 1, "receive")
        if n < 0 then
            argerror(1, "receive", "size must not be negative")
        end
        if n == 0 then
            return prefix
        end
        local buf = scratch(self, n)
        local got = ffi.new("size_t[1]")
        if C.polysock_recv_exact(h, buf, n, 0, got) < 0 then
            return failure(prefix .. ffi.string(buf, got[0]))
        end
        return prefix .. ffi.string(buf, n)
    elseif pattern == "*a" or pattern == "a" then
        local parts = { prefix }
        local buf = scratch(self, RECV_CHUNK)
        while true do
            local got = C.polysock_recv(h, buf, RECV_CHUNK, 0)
            if got < 0 then
                return failure(table.concat(parts))
            elseif got == 0 then
                return table.concat(parts)
            end
            parts[#parts + 1] = ffi.string(buf, got)
        end
    elseif pattern == "*l" or pattern == "l" then
        if has_readline == nil then
            has_readline = M.has("polysock_readline")
        end
        if not has_readline then
            error("receive('*l') needs polysock_readline, which this polysock lacks", 2)
        end
        return read_line(self, h, prefix, nil, "receive")
    end
    argerror(1, "receive", "invalid receive pattern")
end

-- receiveuntil(delimiter[, prefix]): the data before the next occurrence
-- of `delimiter` (which is consumed), as receive("*l") does for "\n".
-- Needs polysock_read_until.
function Socket:receiveuntil(delim, prefix)
    local h = h_of(self, "receiveuntil")
    check_string(delim, 1, "receiveuntil")
    if prefix ~= nil then
        check_string(prefix, 2, "receiveuntil")
    end
    if not M.has("polysock_read_until") then
        error("receiveuntil needs polysock_read_until, which this polysock lacks", 2)
    end
    return read_line(self, h, prefix or "", delim, "receiveuntil")
end

-- buffered(): how many bytes receive("*l") has read ahead and holds (an
-- event loop must not wait for readability while this is above 0).
function Socket:buffered()
    local n = C.polysock_buffered(h_of(self, "buffered"))
    if n < 0 then
        return failure()
    end
    return tonumber(n)
end

-- receivefrom([size]): one datagram (up to `size` bytes; without a size,
-- the whole datagram whatever its length) and its sender: data, host, port.
function Socket:receivefrom(size)
    local h = h_of(self, "receivefrom")
    if size == nil then
        -- Its length first, leaving it in place (MSG_PEEK): with MSG_TRUNC
        -- a datagram socket gives the real length whatever the buffer's
        -- size; a stream socket gives what is waiting, up to RECV_CHUNK.
        local n = C.polysock_recvfrom(h, scratch(self, RECV_CHUNK), RECV_CHUNK,
            bit.bor(K.MSG_PEEK, K.MSG_TRUNC), nil)
        if n < 0 then
            return failure()
        end
        size = math.max(tonumber(n), 1) -- 0: an empty datagram
    else
        size = check_int(size, 1, "receivefrom")
        if size <= 0 then
            argerror(1, "receivefrom", "size must be positive")
        end
    end
    local buf = scratch(self, size)
    local from = ffi.new("polysock_addr")
    local got = C.polysock_recvfrom(h, buf, size, 0, from)
    if got < 0 then
        return failure()
    end
    local host, port = addr_values(from)
    return ffi.string(buf, got), host, port
end

function Socket:close()
    local h = h_of(self, "close")
    if self._box then
        ffi.gc(self._box, nil)
        self._box = nil
    end
    C.polysock_close(h)
    return 1
end

-- settimeout(seconds): nil or negative blocks, 0 is non-blocking, a
-- positive value bounds every blocking call (connect, accept, send,
-- receive...), which then fails with code "ETIMEDOUT" (non-blocking:
-- "EAGAIN"). LuaSocket's mode argument is accepted and ignored: the
-- timeout covers each whole call (a deadline, never restarted).
function Socket:settimeout(seconds, mode)
    local h = h_of(self, "settimeout")
    if seconds ~= nil and type(seconds) ~= "number" then
        argerror(1, "settimeout", "number expected, got " .. type(seconds))
    end
    if mode ~= nil and mode ~= "b" and mode ~= "t" then
        argerror(2, "settimeout", "invalid timeout mode")
    end
    if C.polysock_settimeout(h, to_ms(seconds, 1, "settimeout")) ~= 0 then
        return failure()
    end
    return 1
end

-- gettimeout(): seconds, -1 when blocking.
function Socket:gettimeout()
    local h = h_of(self, "gettimeout")
    local ms = ffi.new("int64_t[1]")
    if C.polysock_gettimeout(h, ms) ~= 0 then
        return failure()
    end
    return from_ms(ms[0])
end

local SHUT = { receive = "SHUT_RD", send = "SHUT_WR", both = "SHUT_RDWR" }

-- shutdown([how]): "both" (default), "send" or "receive".
function Socket:shutdown(how)
    local h = h_of(self, "shutdown")
    local v = how == nil and K.SHUT_RDWR or (SHUT[how] and K[SHUT[how]])
    if type(how) == "number" then
        v = check_int(how, 1, "shutdown")
    end
    if v == nil then
        argerror(1, "shutdown", "invalid shutdown method '" .. tostring(how) .. "'")
    end
    if C.polysock_shutdown(h, v) ~= 0 then
        return failure()
    end
    return 1
end

-- getsockname(): host, port, family ("inet", "inet6", "unix").
function Socket:getsockname()
    local h = h_of(self, "getsockname")
    local a = ffi.new("polysock_addr")
    if C.polysock_getsockname(h, a) ~= 0 then
        return failure()
    end
    return addr_values(a)
end

function Socket:getpeername()
    local h = h_of(self, "getpeername")
    local a = ffi.new("polysock_addr")
    if C.polysock_getpeername(h, a) ~= 0 then
        return failure()
    end
    return addr_values(a)
end

-- LuaSocket's option names, on polysock's typed options.
local OPTIONS = {
    ["tcp-nodelay"] = { "OPT_NODELAY", "bool" },
    ["tcp-quickack"] = { "OPT_QUICKACK", "bool" },
    ["keepalive"] = { "OPT_KEEPALIVE", "bool" },
    ["tcp-keepidle"] = { "OPT_KEEPIDLE", "int" },
    ["tcp-keepintvl"] = { "OPT_KEEPINTVL", "int" },
    ["tcp-keepcnt"] = { "OPT_KEEPCNT", "int" },
    ["linger"] = { "OPT_LINGER", "linger" },
    ["reuseaddr"] = { "OPT_REUSEADDR", "bool" },
    ["reuseport"] = { "OPT_REUSEPORT", "bool" },
    ["broadcast"] = { "OPT_BROADCAST", "bool" },
    ["ipv6-v6only"] = { "OPT_V6ONLY", "bool" },
    ["recv-buffer-size"] = { "OPT_RCVBUF", "int" },
    ["send-buffer-size"] = { "OPT_SNDBUF", "int" },
}
M.options = {}
for name in pairs(OPTIONS) do
    M.options[#M.options + 1] = name
end
table.sort(M.options)

local function option(name, fname)
    check_string(name, 1, fname)
    local o = OPTIONS[name]
    if not o then
        argerror(1, fname, "unsupported option '" .. name .. "'")
    end
    return K[o[1]], o[2]
end

-- setoption(name, value): booleans for flags, numbers for sizes and
-- counts, { on = bool, timeout = seconds } for "linger".
function Socket:setoption(name, value)
    local h = h_of(self, "setoption")
    local opt, kind = option(name, "setoption")
    local v
    if kind == "bool" then
        if type(value) ~= "boolean" and type(value) ~= "number" then
            argerror(2, "setoption", "boolean expected, got " .. type(value))
        end
        v = (value == true or (type(value) == "number" and value ~= 0)) and 1 or 0
    elseif kind == "linger" then
        if type(value) ~= "table" then
            argerror(2, "setoption", "table expected, got " .. type(value))
        end
        v = value.on and check_int(value.timeout, 2, "setoption", 0) or -1
    else
        v = check_int(value, 2, "setoption")
    end
    if C.polysock_setopt(h, opt, v) ~= 0 then
        return failure()
    end
    return 1
end

function Socket:getoption(name)
    local h = h_of(self, "getoption")
    local opt, kind = option(name, "getoption")
    local v = ffi.new("int64_t[1]")
    if C.polysock_getopt(h, opt, v) ~= 0 then
        return failure()
    end
    local n = tonumber(v[0])
    if kind == "bool" then
        return n ~= 0
    elseif kind == "linger" then
        return { on = n >= 0, timeout = math.max(n, 0) }
    end
    return n
end

-- setsockopt(level, option, value): any option at any level; value an
-- integer, or a string of raw bytes for struct-valued options.
function Socket:setsockopt(level, opt, value)
    local h = h_of(self, "setsockopt")
    level = check_int(level, 1, "setsockopt")
    opt = check_int(opt, 2, "setsockopt")
    local r
    if type(value) == "string" then
        r = C.polysock_setsockopt_bytes(h, level, opt, value, #value)
    else
        if type(value) == "boolean" then
            value = value and 1 or 0
        end
        value = check_int(value, 3, "setsockopt")
        if not in_int32(value) then
            return invalid("setsockopt", "value out of int range")
        end
        r = C.polysock_setsockopt_int(h, level, opt, value)
    end
    if r ~= 0 then
        return failure()
    end
    return 1
end

-- getsockopt(level, option[, size]): an integer, or with `size` the raw
-- bytes (at most `size`).
function Socket:getsockopt(level, opt, size)
    local h = h_of(self, "getsockopt")
    level = check_int(level, 1, "getsockopt")
    opt = check_int(opt, 2, "getsockopt")
    if size == nil then
        local v = ffi.new("int32_t[1]")
        if C.polysock_getsockopt_int(h, level, opt, v) ~= 0 then
            return failure()
        end
        return tonumber(v[0])
    end
    size = check_int(size, 3, "getsockopt")
    if size <= 0 then
        argerror(3, "getsockopt", "size must be positive")
    end
    local buf, len = ffi.new("uint8_t[?]", size), ffi.new("size_t[1]")
    if C.polysock_getsockopt_bytes(h, level, opt, buf, size, len) ~= 0 then
        return failure()
    end
    return ffi.string(buf, len[0])
end

-- getfd(): the OS file descriptor (still owned by the socket).
function Socket:getfd()
    local fd = C.polysock_fileno(h_of(self, "getfd"))
    if fd < 0 then
        return failure()
    end
    return fd
end

function Socket:dup()
    local h = C.polysock_dup(h_of(self, "dup"))
    if h < 0 then
        return failure()
    end
    return wrap(h)
end

-- info(): a table with family, socktype, protocol, fd, timeout (seconds,
-- -1 blocking), blocking, bound, listening, connected, client, shutdown
-- ("receive", "send", "both" or false), local = {host, port, family},
-- peer = {host, port, family}.
function Socket:info()
    local i = ffi.new("polysock_socket_info")
    if C.polysock_info(h_of(self, "info"), i) ~= 0 then
        return failure()
    end
    local shut = tonumber(i.shutdown)
    local function addr(a)
        if a.family == 0 then
            return nil
        end
        local host, port, family = addr_values(a)
        return { host = host, port = port, family = family }
    end
    return {
        family = FAMILY_NAMES[tonumber(i.family)] or tonumber(i.family),
        socktype = tonumber(i.socktype),
        protocol = tonumber(i.protocol),
        fd = tonumber(i.fd),
        timeout = from_ms(i.timeout_ms),
        blocking = i.blocking ~= 0,
        bound = i.bound ~= 0,
        listening = i.listening ~= 0,
        connected = i.connected ~= 0,
        client = i.client ~= 0,
        shutdown = (shut == K.SHUT_RD and "receive") or (shut == K.SHUT_WR and "send")
            or (shut == K.SHUT_RDWR and "both") or false,
        ["local"] = addr(i["local"]),
        peer = addr(i.peer),
    }
end

---------------------------------------------------------------- more of the ABI

-- connect_ex(host, port): connect's code instead of a failure, as
-- CPython's connect_ex: "OK", or the code's name ("EINPROGRESS" on a
-- non-blocking socket, "ECONNREFUSED"...) and the message.
function Socket:connect_ex(host, port)
    local h = h_of(self, "connect_ex")
    local ok, hv, code = host_arg("connect_ex", host, 1, "connect_ex")
    if not ok then
        return code, hv
    end
    if hv == nil then
        argerror(1, "connect_ex", "string expected, got nil")
    end
    local okp, pv, pcode = port_arg("connect_ex", port, 2, "connect_ex")
    if not okp then
        return pcode, pv
    end
    local r = C.polysock_connect_ex(h, hv, pv)
    if r == 0 then
        return "OK"
    end
    return M.errname(r), ffi.string(C.polysock_last_error())
end

-- finish_connect(): after connect gave EINPROGRESS and the socket became
-- writable: 1 when connected, or nil, message, code ("EINPROGRESS": not
-- yet; or the connect's own failure).
function Socket:finish_connect()
    local r = C.polysock_finish_connect(h_of(self, "finish_connect"))
    if r ~= 0 then
        return failure()
    end
    return 1
end

-- sendfile(file[, offset[, count]]): sends a file (a path, or an open fd
-- number that stays yours) from `offset` (default 0), `count` bytes (0 or
-- nil: to the end), within the socket's timeout. Returns the bytes sent,
-- or nil, message, code, bytes sent.
function Socket:sendfile(file, offset, count)
    local h = h_of(self, "sendfile")
    offset = check_int(offset, 2, "sendfile", 0)
    count = check_int(count, 3, "sendfile", 0)
    if count < 0 then
        return invalid("sendfile", "negative count")
    end
    local sent = ffi.new("size_t[1]")
    local r
    if type(file) == "string" then
        if file:find("\0", 1, true) then
            return invalid("sendfile", "path contains a NUL byte")
        end
        r = C.polysock_sendfile_path(h, file, offset, count, sent)
    else
        local fd = check_int(file, 1, "sendfile")
        if not in_int32(fd) then
            return invalid("sendfile", "fd out of range")
        end
        r = C.polysock_sendfile(h, fd, offset, count, sent)
    end
    if r < 0 then
        return failure(tonumber(sent[0]))
    end
    return tonumber(r)
end

-- sendhandle(sock[, data]): passes socket `sock` to the peer of this
-- AF_UNIX socket with `data` (default "\0": a stream needs a byte).
-- Returns the bytes sent.
function Socket:sendhandle(sock, data)
    local h = h_of(self, "sendhandle")
    local other = h_of(sock, "sendhandle")
    if data == nil then
        data = "\0"
    end
    check_string(data, 2, "sendhandle")
    local n = C.polysock_send_handle(h, other, data, #data, 0)
    if n < 0 then
        return failure()
    end
    return tonumber(n)
end

-- receivehandle([size]): data (up to `size` bytes, default 1) and the
-- socket that came with it (nil when none did).
function Socket:receivehandle(size)
    local h = h_of(self, "receivehandle")
    size = check_int(size, 1, "receivehandle", 1)
    if size <= 0 then
        argerror(1, "receivehandle", "size must be positive")
    end
    local buf = scratch(self, size)
    local got = ffi.new("polysock_t[1]")
    local n = C.polysock_recv_handle(h, buf, size, 0, got, nil)
    if n < 0 then
        return failure()
    end
    local sock = got[0] >= 0 and wrap(got[0]) or nil
    return ffi.string(buf, n), sock
end

local function check_socket_list(t, n)
    if t ~= nil and type(t) ~= "table" then
        argerror(n, "select", "table expected, got " .. type(t))
    end
    return t or {}
end

-- select(recvt, sendt[, timeout]), as LuaSocket's: waits (seconds; nil or
-- negative: forever) until a socket of `recvt` is readable or one of
-- `sendt` writable. Returns two arrays, each also keyed by socket:
-- readable (with sockets in error or hung up: a receive tells why) and
-- writable, and "timeout" as a third value when none is ready; or nil,
-- message, code. A socket whose buffer holds read-ahead lines counts as
-- readable at once.
function M.select(recvt, sendt, timeout)
    recvt = check_socket_list(recvt, 1)
    sendt = check_socket_list(sendt, 2)
    if timeout ~= nil and type(timeout) ~= "number" then
        argerror(3, "select", "number expected, got " .. type(timeout))
    end
    local n = #recvt + #sendt
    local fds = ffi.new("polysock_pollfd[?]", math.max(n, 1))
    local socks = {}
    local readable, writable = {}, {}
    local ms = to_ms(timeout, 3, "select")
    for i, s in ipairs(recvt) do
        fds[i - 1].handle = h_of(s, "select")
        fds[i - 1].events = K.POLLIN
        socks[i - 1] = s
        if C.polysock_buffered(s.handle) > 0 and not readable[s] then
            readable[#readable + 1] = s
            readable[s] = true
            ms = 0
        end
    end
    for i, s in ipairs(sendt) do
        local j = #recvt + i - 1
        fds[j].handle = h_of(s, "select")
        fds[j].events = K.POLLOUT
        socks[j] = s
    end
    local r = C.polysock_poll(fds, n, ms)
    if r < 0 then
        return failure()
    end
    for j = 0, n - 1 do
        local ev = fds[j].revents
        local s = socks[j]
        if ev ~= 0 then
            local list = (j < #recvt) and readable or writable
            if not list[s] then
                list[#list + 1] = s
                list[s] = true
            end
        end
    end
    if #readable == 0 and #writable == 0 then
        return readable, writable, "timeout"
    end
    return readable, writable
end

---------------------------------------------------------------- poller

local Poller = {}
Poller.__index = Poller
M.Poller = Poller

local function destroy_box(box)
    C.polysock_poller_destroy(box[0])
end

local EVENT_NAMES = { r = "POLLIN", w = "POLLOUT", p = "POLLPRI" }

local function events_arg(events, n, fname)
    if type(events) == "number" then
        return check_int(events, n, fname)
    end
    if type(events) ~= "string" or events == "" then
        argerror(n, fname, "events expected (\"r\", \"w\", \"rw\" or POLL* bits)")
    end
    local v = 0
    for c in events:gmatch(".") do
        local name = EVENT_NAMES[c]
        if not name then
            argerror(n, fname, "unknown event '" .. c .. "'")
        end
        v = bit.bor(v, K[name])
    end
    return v
end

local function flags_arg(flags, n, fname)
    if flags == nil then
        return 0
    elseif type(flags) == "number" then
        return check_int(flags, n, fname)
    end
    local v = 0
    for word in tostring(flags):gmatch("[^,%s]+") do
        if word == "edge" then
            v = bit.bor(v, K.POLLER_EDGE)
        elseif word == "oneshot" then
            v = bit.bor(v, K.POLLER_ONESHOT)
        else
            argerror(n, fname, "unknown flag '" .. word .. "'")
        end
    end
    return v
end

-- poller(): an event loop's readiness set (epoll on Linux). Sockets added
-- stay referenced until removed or closed.
function M.poller()
    local id = C.polysock_poller_create()
    if id < 0 then
        return failure()
    end
    id = tonumber(id)
    local box = ffi.gc(ffi.new("int64_t[1]", id), destroy_box)
    return setmetatable({ id = id, _box = box, _socks = {} }, Poller)
end

-- add(sock, events[, flags]): events "r", "w", "rw" (or POLL* bits);
-- flags "edge", "oneshot", "edge,oneshot" (or POLLER_* bits).
function Poller:add(sock, events, flags)
    local h = h_of(sock, "add")
    local r = C.polysock_poller_add(self.id, h, events_arg(events, 2, "add"), flags_arg(flags, 3, "add"), h)
    if r ~= 0 then
        return failure()
    end
    self._socks[h] = sock
    return 1
end

function Poller:modify(sock, events, flags)
    local h = h_of(sock, "modify")
    local r = C.polysock_poller_modify(self.id, h, events_arg(events, 2, "modify"), flags_arg(flags, 3, "modify"), h)
    if r ~= 0 then
        return failure()
    end
    return 1
end

function Poller:remove(sock)
    local h = h_of(sock, "remove")
    self._socks[h] = nil
    if C.polysock_poller_remove(self.id, h) ~= 0 then
        return failure()
    end
    return 1
end

-- wait([timeout]): seconds (nil or negative: forever). Returns an array of
-- { socket = sock, readable, writable, error, hangup, events = bits }
-- (empty when the time passed; an entry { wake = true } for wake()), or
-- nil, message, code.
function Poller:wait(timeout)
    if timeout ~= nil and type(timeout) ~= "number" then
        argerror(1, "wait", "number expected, got " .. type(timeout))
    end
    local max = 64
    local evs = ffi.new("polysock_poller_event[?]", max)
    local n = C.polysock_poller_wait(self.id, evs, max, to_ms(timeout, 1, "wait"))
    if n < 0 then
        return failure()
    end
    local out = {}
    for i = 0, tonumber(n) - 1 do
        local e = evs[i]
        local bits = tonumber(e.events)
        if e.handle == K.POLLER_WAKE then
            out[#out + 1] = { wake = true, events = bits }
        else
            out[#out + 1] = {
                socket = self._socks[tonumber(e.handle)],
                readable = bit.band(bits, K.POLLIN) ~= 0,
                writable = bit.band(bits, K.POLLOUT) ~= 0,
                error = bit.band(bits, K.POLLERR) ~= 0,
                hangup = bit.band(bits, K.POLLHUP) ~= 0,
                events = bits,
            }
        end
    end
    return out
end

function Poller:wake()
    if C.polysock_poller_wake(self.id) ~= 0 then
        return failure()
    end
    return 1
end

function Poller:close()
    if self._box then
        ffi.gc(self._box, nil)
        self._box = nil
    end
    C.polysock_poller_destroy(self.id)
    self._socks = {}
    return 1
end

---------------------------------------------------------------- connections, resolver

local function opt_host(op, host, n, fname)
    if host == nil then
        return true, nil
    end
    return host_arg(op, host, n, fname)
end

-- connect(host, port[, timeout[, source_host[, source_port]]]), as
-- LuaSocket's socket.connect: a connected TCP socket, trying every
-- address of `host` (IPv6 and IPv4, Happy Eyeballs) within one deadline
-- (`timeout` seconds for the whole call; nil: none). The message of a
-- failure names each address tried and its error.
function M.connect(host, port, timeout, source_host, source_port)
    check_string(host, 1, "connect")
    local ok, hv, code = host_arg("connect", host, 1, "connect")
    if not ok then
        return nil, hv, code
    end
    local okp, pv, pcode = port_arg("connect", port, 2, "connect")
    if not okp then
        return nil, pv, pcode
    end
    if timeout ~= nil and type(timeout) ~= "number" then
        argerror(3, "connect", "number expected, got " .. type(timeout))
    end
    local oks, sv, scode = opt_host("connect", source_host, 4, "connect")
    if not oks then
        return nil, sv, scode
    end
    local okq, qv, qcode = port_arg("connect", source_port, 5, "connect")
    if not okq then
        return nil, qv, qcode
    end
    local h = C.polysock_create_connection(hv, pv, to_ms(timeout, 3, "connect"), sv, qv)
    if h < 0 then
        return failure()
    end
    return wrap(h)
end

-- bind(host, port[, backlog[, family[, flags]]]), as LuaSocket's
-- socket.bind: a listening TCP socket with SO_REUSEADDR on (host nil or
-- "*": any address; port 0: any free port). `family`: "inet", "inet6"
-- or nil (from the host); `flags`: "reuseport", "dualstack" (or both,
-- comma-separated).
function M.bind(host, port, backlog, family, flags)
    local ok, hv, code = host_arg("bind", host, 1, "bind")
    if not ok then
        return nil, hv, code
    end
    local okp, pv, pcode = port_arg("bind", port, 2, "bind")
    if not okp then
        return nil, pv, pcode
    end
    backlog = check_int(backlog, 3, "bind", -1)
    family = family_arg(family, 4, "bind", K.AF_UNSPEC)
    local f = 0
    if type(flags) == "number" then
        f = check_int(flags, 5, "bind")
    elseif flags ~= nil then
        for word in tostring(flags):gmatch("[^,%s]+") do
            local bitv = ({ reuseport = K.SERVER_REUSEPORT, dualstack = K.SERVER_DUALSTACK })[word]
            if not bitv then
                argerror(5, "bind", "unknown flag '" .. word .. "'")
            end
            f = bit.bor(f, bitv)
        end
    end
    if not in_int32(backlog) then
        return invalid("bind", "backlog out of range")
    end
    local h = C.polysock_create_server(hv, pv, family, backlog, f)
    if h < 0 then
        return failure()
    end
    return wrap(h)
end

local SOCKTYPE_NAMES = {}
for _, name in ipairs({ "stream", "dgram", "raw", "seqpacket" }) do
    local v = K["SOCK_" .. name:upper()]
    if v then
        SOCKTYPE_NAMES[v] = name
    end
end

-- getaddrinfo(host[, service[, options]]): every address for host and
-- service, in the resolver's order, as an array of { family = "inet" or
-- "inet6", socktype = "stream"..., protocol, host, port, canonname }.
-- options: { family = "inet"/"inet6"/number, socktype = "stream"/"dgram"/
-- number, protocol = number, flags = AI_* bits, timeout = seconds }.
function M.getaddrinfo(host, service, options)
    if host ~= nil then
        check_string(host, 1, "getaddrinfo")
    end
    if service ~= nil then
        if type(service) == "number" then
            service = tostring(check_int(service, 2, "getaddrinfo"))
        end
        check_string(service, 2, "getaddrinfo")
    end
    if options ~= nil and type(options) ~= "table" then
        argerror(3, "getaddrinfo", "table expected, got " .. type(options))
    end
    options = options or {}
    for _, v in ipairs({ host or "", service or "" }) do
        if v:find("\0", 1, true) then
            return invalid("getaddrinfo", "argument contains a NUL byte")
        end
    end
    local family = family_arg(options.family, 3, "getaddrinfo", K.AF_UNSPEC)
    local socktype = options.socktype
    if type(socktype) == "string" then
        socktype = K["SOCK_" .. socktype:upper()] or argerror(3, "getaddrinfo", "unknown socket type")
    end
    socktype = check_int(socktype, 3, "getaddrinfo", 0)
    local protocol = check_int(options.protocol, 3, "getaddrinfo", 0)
    local flags = check_int(options.flags, 3, "getaddrinfo", 0)
    local timeout = options.timeout
    local capacity = 16
    while true do
        local list = ffi.new("polysock_addrinfo[?]", capacity)
        local total
        if timeout ~= nil then
            total = C.polysock_getaddrinfo_timeout(host, service, family, socktype, protocol, flags,
                to_ms(timeout, 3, "getaddrinfo"), list, capacity, nil)
        else
            total = C.polysock_getaddrinfo(host, service, family, socktype, protocol, flags, list, capacity, nil)
        end
        if total < 0 then
            return failure()
        end
        total = tonumber(total)
        if total <= capacity then
            local out = {}
            for i = 0, total - 1 do
                local e = list[i]
                local h, port, fam = addr_values(e.addr)
                out[#out + 1] = {
                    family = fam,
                    socktype = SOCKTYPE_NAMES[tonumber(e.socktype)] or tonumber(e.socktype),
                    protocol = tonumber(e.protocol),
                    host = h,
                    port = port,
                    canonname = ffi.string(e.canonname),
                }
            end
            return out
        end
        capacity = total
    end
end

-- Calls f(buffer, size) with growing buffers while it fails with ERANGE.
local function with_buffer(f, size)
    while true do
        local buf = ffi.new("char[?]", size)
        local r = f(buf, size)
        if r >= 0 then
            return buf, r
        end
        if C.polysock_errno() ~= K.ERANGE or size >= 1048576 then
            return nil
        end
        size = size * 4
    end
end

local function split_nul_list(buf)
    local list, pos = {}, 0
    while buf[pos] ~= 0 do
        local item = ffi.string(buf + pos)
        list[#list + 1] = item
        pos = pos + #item + 1
    end
    return list
end

-- A LuaSocket-like socket.dns.
M.dns = {}

-- gethostname(): this machine's host name.
function M.dns.gethostname()
    local buf = with_buffer(function(b, n)
        return C.polysock_gethostname(b, n)
    end, 256)
    if not buf then
        return failure()
    end
    return ffi.string(buf)
end

-- Host entries as LuaSocket's resolved tables: { name, alias = {...},
-- ip = {...} }.
local function host_entry(fname, name, call)
    check_string(name, 1, fname)
    if name:find("\0", 1, true) then
        return invalid(fname, "name contains a NUL byte")
    end
    local sizes = 1024
    while true do
        local hn = ffi.new("char[?]", 1025)
        local al, ad = ffi.new("char[?]", sizes), ffi.new("char[?]", sizes)
        if call(name, hn, 1025, al, sizes, ad, sizes) == 0 then
            return { name = ffi.string(hn), alias = split_nul_list(al), ip = split_nul_list(ad) }
        end
        if C.polysock_errno() ~= K.ERANGE or sizes >= 1048576 then
            return failure()
        end
        sizes = sizes * 4
    end
end

-- toip(name): the first IPv4 address of name, and its host entry.
function M.dns.toip(name)
    local entry, msg, code = host_entry("toip", name, C.polysock_gethostbyname_ex)
    if not entry then
        return nil, msg, code
    end
    return entry.ip[1], entry
end

-- tohostname(address): the name of an address (or name), and its entry.
function M.dns.tohostname(address)
    local entry, msg, code = host_entry("tohostname", address, C.polysock_gethostbyaddr)
    if not entry then
        return nil, msg, code
    end
    return entry.name, entry
end

M.dns.getaddrinfo = M.getaddrinfo

-- getnameinfo(host, port[, flags]): host name and service name of a
-- numeric address.
function M.getnameinfo(host, port, flags)
    check_string(host, 1, "getnameinfo")
    port = check_int(port, 2, "getnameinfo", 0)
    flags = check_int(flags, 3, "getnameinfo", 0)
    local a = ffi.new("polysock_addr")
    if #host >= ffi.sizeof(a.host) or host:find("\0", 1, true) then
        return invalid("getnameinfo", "bad host text")
    end
    if not in_int32(port) then
        return invalid("getnameinfo", "port out of range")
    end
    a.family = host:find(":", 1, true) and K.AF_INET6 or K.AF_INET
    a.port = port
    ffi.copy(a.host, host)
    local hn, sv = ffi.new("char[1025]"), ffi.new("char[64]")
    if C.polysock_getnameinfo(a, flags, hn, 1025, sv, 64) ~= 0 then
        return failure()
    end
    return ffi.string(hn), ffi.string(sv)
end
M.dns.getnameinfo = M.getnameinfo

-- inet_pton(family, text): the address as 4 or 16 bytes (a string).
function M.inet_pton(family, text)
    family = family_arg(family, 1, "inet_pton")
    check_string(text, 2, "inet_pton")
    if text:find("\0", 1, true) then
        return invalid("inet_pton", "text contains a NUL byte")
    end
    local out = ffi.new("uint8_t[16]")
    local n = C.polysock_inet_pton(family, text, out, 16)
    if n < 0 then
        return failure()
    end
    return ffi.string(out, n)
end

-- inet_ntop(family, bytes): the text of a 4- or 16-byte address.
function M.inet_ntop(family, bytes)
    family = family_arg(family, 1, "inet_ntop")
    check_string(bytes, 2, "inet_ntop")
    local out = ffi.new("char[64]")
    if C.polysock_inet_ntop(family, bytes, #bytes, out, 64) ~= 0 then
        return failure()
    end
    return ffi.string(out)
end

-- has_ipv6(): whether this system can create IPv6 sockets now.
function M.has_ipv6()
    return C.polysock_has_ipv6() == 1
end

-- interfaces(): the network interfaces, { { index = 1, name = "lo" }, ... }.
function M.interfaces()
    local capacity = 32
    while true do
        local list = ffi.new("polysock_interface[?]", capacity)
        local total = C.polysock_if_nameindex(list, capacity, nil)
        if total < 0 then
            return failure()
        end
        total = tonumber(total)
        if total <= capacity then
            local out = {}
            for i = 0, total - 1 do
                out[#out + 1] = { index = tonumber(list[i].index), name = ffi.string(list[i].name) }
            end
            return out
        end
        capacity = total
    end
end

-- getservbyname(name[, proto]): the port of a service ("http" -> 80).
function M.getservbyname(name, proto)
    check_string(name, 1, "getservbyname")
    if proto ~= nil then
        check_string(proto, 2, "getservbyname")
    end
    local port = C.polysock_getservbyname(name, proto)
    if port < 0 then
        return failure()
    end
    return tonumber(port)
end

-- getprotobyname(name): a protocol's number ("tcp" -> 6).
function M.getprotobyname(name)
    check_string(name, 1, "getprotobyname")
    local n = C.polysock_getprotobyname(name)
    if n < 0 then
        return failure()
    end
    return tonumber(n)
end

-- getfqdn([name]): a fully qualified name for `name` (nil: this machine).
function M.getfqdn(name)
    if name ~= nil then
        check_string(name, 1, "getfqdn")
        if name:find("\0", 1, true) then
            return invalid("getfqdn", "name contains a NUL byte")
        end
    end
    local buf = with_buffer(function(b, n)
        return C.polysock_getfqdn(name, b, n)
    end, 1025)
    if not buf then
        return failure()
    end
    return ffi.string(buf)
end

-- getservbyport(port[, proto]): the service name of a port (80 -> "http").
function M.getservbyport(port, proto)
    port = check_int(port, 1, "getservbyport")
    if proto ~= nil then
        check_string(proto, 2, "getservbyport")
    end
    if not in_int32(port) then
        return invalid("getservbyport", "port out of range")
    end
    local buf = with_buffer(function(b, n)
        return C.polysock_getservbyport(port, proto, b, n)
    end, 64)
    if not buf then
        return failure()
    end
    return ffi.string(buf)
end

-- if_nametoindex(name), if_indextoname(index): interface names and indexes.
function M.if_nametoindex(name)
    check_string(name, 1, "if_nametoindex")
    local i = C.polysock_if_nametoindex(name)
    if i < 0 then
        return failure()
    end
    return tonumber(i)
end

function M.if_indextoname(index)
    index = check_int(index, 1, "if_indextoname")
    if index < 0 or index > 4294967295 then
        return invalid("if_indextoname", "index out of range")
    end
    local buf = ffi.new("char[?]", K.IFNAME_LEN)
    if C.polysock_if_indextoname(index, buf, K.IFNAME_LEN) ~= 0 then
        return failure()
    end
    return ffi.string(buf)
end

-- detach(): gives the fd to the caller (who must close it); the socket
-- object becomes closed.
function Socket:detach()
    local h = h_of(self, "detach")
    local fd = C.polysock_detach(h)
    if fd < 0 then
        return failure()
    end
    if self._box then
        ffi.gc(self._box, nil)
        self._box = nil
    end
    return fd
end

---------------------------------------------------------------- TLS

-- LuaSec's shape over polysock's TLS: ssl.newcontext(params),
-- ssl.wrap(sock, ctx_or_params), conn:sni(name), conn:dohandshake(). The
-- wrapped connection is the same socket object (one handle), so send,
-- receive, settimeout and close keep working; with timeout 0, dohandshake
-- gives nil, "wantread" or "wantwrite" as LuaSec does.
local bit = require("bit")
local ssl = {}
M.ssl = ssl

local function free_config(box)
    C.polysock_tls_config_free(box[0])
end

local Context = {}
Context.__index = Context

local versions = { tlsv1_2 = K.TLS_1_2, tlsv1_3 = K.TLS_1_3 }

-- params: mode ("client"/"server"), certificate, key, cafile, verify
-- ("none" turns verification off; default on), protocol ("any",
-- "tlsv1_2", "tlsv1_3"), alpn (a string or a list). nil, message, code on
-- failure.
function ssl.newcontext(params)
    local side = ({ client = K.TLS_CLIENT, server = K.TLS_SERVER })[params.mode]
    if not side then
        return invalid("newcontext", "mode must be \"client\" or \"server\"")
    end
    local id = C.polysock_tls_config_new(side)
    if id < 0 then return failure() end
    local ctx = setmetatable({ id = id, mode = params.mode,
        _box = ffi.gc(ffi.new("int64_t[1]", id), free_config) }, Context)
    local function try(r) return r >= 0 end -- add_ca_file gives a count
    if params.cafile then
        if side == K.TLS_CLIENT and not try(C.polysock_tls_config_system_roots(id, 0)) then
            return failure()
        end
        if not try(C.polysock_tls_config_add_ca_file(id, params.cafile)) then return failure() end
    end
    if params.certificate and not try(C.polysock_tls_config_cert_file(id, params.certificate, params.key)) then
        return failure()
    end
    local verify = params.verify
    if type(verify) == "table" then verify = verify[1] end
    if verify == "none" and side == K.TLS_CLIENT
        and not try(C.polysock_tls_config_insecure_skip_verify(id)) then
        return failure()
    end
    if params.protocol and params.protocol ~= "any" then
        local v = versions[params.protocol]
        if not v then return invalid("newcontext", "unknown protocol " .. tostring(params.protocol)) end
        if not try(C.polysock_tls_config_versions(id, v, v)) then return failure() end
    end
    local alpn = params.alpn
    if type(alpn) == "string" then alpn = { alpn } end
    for _, proto in ipairs(alpn or {}) do
        if not try(C.polysock_tls_config_add_alpn(id, proto)) then return failure() end
    end
    return ctx
end

-- Makes `sock` (connected) a TLS connection of `ctx` (or of the params of
-- ssl.newcontext). A client's session starts at sni() or dohandshake().
function ssl.wrap(sock, ctx)
    h_of(sock, "wrap")
    if getmetatable(ctx) ~= Context then
        local c, msg, code = ssl.newcontext(ctx)
        if not c then return nil, msg, code end
        ctx = c
    end
    sock._tls_ctx = ctx
    if ctx.mode == "server" then
        if C.polysock_tls_wrap_server(sock.handle, ctx.id) ~= 0 then return failure() end
        sock._tls_on = true
    end
    return sock
end

-- The name the server's certificate must be for, and the SNI sent.
-- dohandshake() without sni() works only with verify = "none" (the peer
-- is then named by its address).
function Socket:sni(name)
    local h = h_of(self, "sni")
    if self._tls_on then return invalid("sni", "the TLS session has started") end
    if not self._tls_ctx then return invalid("sni", "not wrapped (ssl.wrap first)") end
    if C.polysock_tls_wrap(h, self._tls_ctx.id, name) ~= 0 then return failure() end
    self._tls_on = true
    return true
end

-- true, or nil and "wantread"/"wantwrite" (timeout 0), or nil, message,
-- code.
function Socket:dohandshake()
    local h = h_of(self, "dohandshake")
    if not self._tls_on then
        local okc, msg, code = self:sni(nil)
        if not okc then return nil, msg, code end
    end
    if C.polysock_tls_handshake(h) == 0 then return true end
    if C.polysock_errno() == K.EAGAIN then
        local msg, code = ffi.string(C.polysock_last_error()), "EAGAIN"
        local w = C.polysock_tls_wants(h)
        if bit.band(w, K.POLLOUT) ~= 0 then return nil, "wantwrite", code, msg end
        return nil, "wantread", code, msg
    end
    return failure()
end

local function tls_text(f, h)
    local buf = ffi.new("char[256]")
    if f(h, buf, 256) ~= 0 then return nil end
    return ffi.string(buf)
end

-- LuaSec's conn:info() on a TLS connection: protocol, cipher, alpn, and
-- the peer's subject; the socket's own info() otherwise.
local socket_info = Socket.info
function Socket:info(...)
    local h = h_of(self, "info")
    if not self._tls_on then return socket_info(self, ...) end
    local v = C.polysock_tls_version(h)
    if v < 0 then return failure() end
    return {
        protocol = ({ [K.TLS_1_2] = "TLSv1.2", [K.TLS_1_3] = "TLSv1.3" })[v],
        cipher = tls_text(C.polysock_tls_cipher, h),
        alpn = tls_text(C.polysock_tls_alpn, h),
        subject = tls_text(C.polysock_tls_peer_subject, h),
    }
end

return M
