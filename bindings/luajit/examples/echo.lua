-- An echo server and client on polysock's LuaJIT binding.
--
--   luajit echo.lua server [host] [port] [--once]
--       echoes every connection until the peer closes; port 0 (the
--       default) lets the system pick one; prints "listening on HOST PORT".
--       With --once, exits after the first connection.
--   luajit echo.lua client host port message...
--       sends the message, closes its sending side, prints what came back.
--
-- Run from anywhere: the module is found next to this directory, and the
-- library through POLYSOCK_LIB or the repository's cargo target dirs.

local here = arg[0]:match("^(.*[/\\])") or "./"
package.path = here .. "../?.lua;" .. package.path
local polysock = require("polysock")

local function die(...)
    io.stderr:write(table.concat({ ... }, " "), "\n")
    os.exit(1)
end

local function serve(host, port, once)
    local server = assert(polysock.tcp(host:find(":") and "inet6" or "inet"))
    assert(server:setoption("reuseaddr", true))
    local ok, msg, code = server:bind(host, port)
    if not ok then
        die("bind:", msg, code)
    end
    assert(server:listen())
    local bound_host, bound_port = server:getsockname()
    print(("listening on %s %d"):format(bound_host, bound_port))
    io.stdout:flush()
    repeat
        local conn, err, errcode = server:accept()
        if not conn then
            die("accept:", err, errcode)
        end
        conn:settimeout(30) -- a silent client cannot hold the server forever
        while true do
            local data, rerr, rcode = conn:recv(4096)
            if not data then
                io.stderr:write("recv: ", rerr, " (", rcode, ")\n")
                break
            elseif data == "" then
                break -- the client closed its side
            end
            local sent, serr, scode = conn:sendall(data)
            if not sent then
                io.stderr:write("send: ", serr, " (", scode, ")\n")
                break
            end
        end
        conn:close()
    until once
    server:close()
end

local function client(host, port, message)
    local sock = assert(polysock.tcp(host:find(":") and "inet6" or "inet"))
    sock:settimeout(10)
    local ok, msg, code = sock:connect(host, port)
    if not ok then
        die("connect:", msg, code)
    end
    assert(sock:send(message))
    assert(sock:shutdown("send"))
    local reply, err, errcode = sock:receive("*a")
    if not reply then
        die("receive:", err, errcode)
    end
    print(reply)
    sock:close()
end

local mode = arg[1]
if mode == "server" then
    local once = false
    local args = {}
    for i = 2, #arg do
        if arg[i] == "--once" then
            once = true
        else
            args[#args + 1] = arg[i]
        end
    end
    serve(args[1] or "127.0.0.1", tonumber(args[2] or 0), once)
elseif mode == "client" and arg[3] then
    client(arg[2], tonumber(arg[3]), table.concat(arg, " ", 4))
else
    die("usage: luajit echo.lua server [host] [port] [--once]\n" ..
        "       luajit echo.lua client host port message...")
end
