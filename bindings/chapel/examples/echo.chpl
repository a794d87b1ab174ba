/*
  An echo server and client on PolySock (Chapel's Socket API on polysock).

    ./echo --mode=server [--host=127.0.0.1] [--port=4000]
    ./echo --mode=client --port=4000 [--message="hello"]
    ./echo                      (both: a server task and a client, port 0)

  Build (see ../README.md):
    chpl -I$POLYSOCK/include -L$POLYSOCK/target/release \
         --ldflags=-Wl,-rpath,$POLYSOCK/target/release \
         echo.chpl ../PolySock.chpl -o echo
*/
use PolySock;

config const mode = "both";
config const host = "127.0.0.1";
config const port: uint(16) = 0;
config const message = "hello from Chapel";

// Echoes one connection until the client closes its side.
proc serveOne(ref server: tcpListener) throws {
  var conn = server.accept(30.0);
  while true {
    const data = conn.recv(4096, 30.0);   // empty: the client is done
    if data.size == 0 then break;
    conn.write(data, 30.0);
  }
  conn.close();
}

proc ask(serverPort: uint(16)): bytes throws {
  // Every address of the host, within one 10 s deadline.
  var conn = connect(host, serverPort, IPFamily.IPUnspec, 10.0);
  conn.write(message);
  conn.shutdown(SHUT_WR);
  var reply: bytes;
  while true {
    const part = conn.recv(4096, 10.0);
    if part.size == 0 then break;
    reply += part;
  }
  conn.close();
  return reply;
}

proc main() throws {
  select mode {
    when "server" {
      var server = listen(ipAddr.create(host, port, IPFamily.IPUnspec));
      writeln("listening on ", server.addr);
      while true do serveOne(server);
    }
    when "client" {
      writeln(ask(port));
    }
    otherwise {
      var server = listen(ipAddr.create(host, port, IPFamily.IPUnspec));
      const serverPort = server.addr.port;
      sync {
        begin with (ref server) {
          try! serveOne(server);
        }
        writeln(ask(serverPort));
      }
      server.close();
    }
  }
}
