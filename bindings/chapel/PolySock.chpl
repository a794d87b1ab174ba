/*
  PolySock: the API of Chapel's ``Socket`` package module, on polysock.

  Scripts written for ``use Socket;`` run with ``use PolySock;``: the same
  records (:record:`ipAddr`, :record:`tcpConn`, :record:`tcpListener`,
  :record:`udpSocket`), procedures (:proc:`listen`, :proc:`connect`,
  :proc:`bind`, :proc:`setSockOpt`, :proc:`getSockOpt`,
  :proc:`getPeerName`, :proc:`getSockName`) and constants. Every call goes
  to polysock's C ABI through the ``extern proc`` declarations below; no
  socket logic lives here beyond turning Chapel values into C ones and
  polysock's errors into :class:`~OS.SystemError`.

  What polysock fixes on the way (see README.md): timeouts are deadlines
  (never restarted after EAGAIN), a connect that times out or fails closes
  its socket, resolver failures carry the resolver's own code and text,
  AF_INET6 and every other constant are the platform's, every socket is
  close-on-exec, and a peer that went away is an EPIPE error, never a
  SIGPIPE that kills the program.

  Build: ``chpl -I<polysock>/include -L<polysock>/target/release
  --ldflags=-Wl,-rpath,<polysock>/target/release yourProgram.chpl
  <polysock>/bindings/chapel/PolySock.chpl``. Use the header the build
  wrote for your platform (``target/<profile>/include``) on anything but
  Linux: the module checks at start-up that the header's values are the
  library's.

  The declarations are checked against include/polysock.h by
  ``cargo test`` (tests/binding_chapel.rs); the module is not compiled
  there, as no Chapel compiler is installed.
*/
module PolySock {
  require "polysock.h", "-lpolysock";

  public use CTypes;
  public use OS;
  use OS.POSIX only struct_timeval, time_t, suseconds_t;
  use Time only stopwatch;

  // ------------------------------------------------------------------
  // The C ABI (include/polysock.h). Checked by tests/binding_chapel.rs:
  // every name, argument count and C type below must match the header.

  /* A socket handle: a positive integer below 2^53, never reused. */
  extern type polysock_t = int(64);

  /* An address as plain data (text host, port). */
  extern record polysock_addr {
    var family: int(32);
    var port: int(32);
    var flowinfo: uint(32);
    var scope_id: uint(32);
    var host: c_array(c_char, 128);
  }

  /* One getaddrinfo result (the fields this module reads). */
  extern record polysock_addrinfo {
    var family: int(32);
    var socktype: int(32);
    var protocol: int(32);
    var addr: polysock_addr;
  }

  private extern proc polysock_errno(): c_int;
  private extern proc polysock_last_error(): c_ptrConst(c_char);
  private extern proc polysock_strerror(code: c_int): c_ptrConst(c_char);
  private extern proc polysock_errname(code: c_int): c_ptrConst(c_char);
  private extern proc polysock_version(): c_ptrConst(c_char);
  private extern proc polysock_constant_lookup(name: c_ptrConst(c_char),
                                               ref value: int(64)): c_int;

  private extern proc polysock_socket(family: c_int, socktype: c_int,
                                      protocol: c_int): polysock_t;
  private extern proc polysock_bind(h: polysock_t, host: c_ptrConst(c_char),
                                    port: c_int): c_int;
  private extern proc polysock_listen(h: polysock_t, backlog: c_int): c_int;
  private extern proc polysock_accept(h: polysock_t,
                                      peer: c_ptr(polysock_addr)): polysock_t;
  private extern proc polysock_connect(h: polysock_t, host: c_ptrConst(c_char),
                                       port: c_int): c_int;
  private extern proc polysock_create_connection(host: c_ptrConst(c_char),
                                                 port: int(32),
                                                 timeout_ms: int(64),
                                                 source_host: c_ptrConst(c_char),
                                                 source_port: int(32)): polysock_t;
  private extern proc polysock_shutdown(h: polysock_t, how: c_int): c_int;
  private extern proc polysock_close(h: polysock_t): c_int;
  private extern proc polysock_fileno(h: polysock_t): c_int;
  private extern proc polysock_settimeout(h: polysock_t, ms: int(64)): c_int;
  private extern proc polysock_getsockname(h: polysock_t,
                                           ref outAddr: polysock_addr): c_int;
  private extern proc polysock_getpeername(h: polysock_t,
                                           ref outAddr: polysock_addr): c_int;

  private extern proc polysock_sendall(h: polysock_t, buf: c_ptrConst(void),
                                       len: c_size_t, flags: c_int,
                                       sent: c_ptr(c_size_t)): int(64);
  private extern proc polysock_recv(h: polysock_t, buf: c_ptr(void),
                                    len: c_size_t, flags: c_int): int(64);
  private extern proc polysock_recv_exact(h: polysock_t, buf: c_ptr(void),
                                          len: c_size_t, flags: c_int,
                                          received: c_ptr(c_size_t)): int(64);
  private extern proc polysock_sendto(h: polysock_t, buf: c_ptrConst(void),
                                      len: c_size_t, flags: c_int,
                                      host: c_ptrConst(c_char),
                                      port: c_int): int(64);
  private extern proc polysock_recvfrom(h: polysock_t, buf: c_ptr(void),
                                        len: c_size_t, flags: c_int,
                                        from: c_ptr(polysock_addr)): int(64);
  private extern proc polysock_readline(h: polysock_t, buf: c_ptr(c_char),
                                        len: c_size_t,
                                        ref outLen: c_size_t): c_int;
  private extern proc polysock_sendfile_path(h: polysock_t,
                                             path: c_ptrConst(c_char),
                                             offset: int(64), count: c_size_t,
                                             sent: c_ptr(c_size_t)): int(64);

  private extern proc polysock_setsockopt_int(h: polysock_t, level: c_int,
                                              option: c_int,
                                              value: c_int): c_int;
  private extern proc polysock_getsockopt_int(h: polysock_t, level: c_int,
                                              option: c_int,
                                              ref value: c_int): c_int;
  private extern proc polysock_setsockopt_bytes(h: polysock_t, level: c_int,
                                                option: c_int,
                                                value: c_ptrConst(void),
                                                len: c_size_t): c_int;
  private extern proc polysock_getsockopt_bytes(h: polysock_t, level: c_int,
                                                option: c_int,
                                                buf: c_ptr(void),
                                                buf_len: c_size_t,
                                                ref outLen: c_size_t): c_int;
  private extern proc polysock_setopt(h: polysock_t, opt: c_int,
                                      value: int(64)): c_int;

  private extern proc polysock_getaddrinfo(host: c_ptrConst(c_char),
                                           service: c_ptrConst(c_char),
                                           family: c_int, socktype: c_int,
                                           protocol: c_int, flags: c_int,
                                           out_list: c_ptr(polysock_addrinfo),
                                           capacity: c_size_t,
                                           out_count: c_ptr(c_size_t)): int(64);
  private extern proc polysock_getservbyname(name: c_ptrConst(c_char),
                                             proto: c_ptrConst(c_char)): c_int;
  private extern proc polysock_has_ipv6(): c_int;
  private extern proc polysock_setdefaulttimeout(ms: int(64)): c_int;
  private extern proc polysock_inet_pton(family: c_int, text: c_ptrConst(c_char),
                                         output: c_ptr(void),
                                         len: c_size_t): c_int;
  private extern proc polysock_inet_ntop(family: c_int, bytes: c_ptrConst(void),
                                         len: c_size_t, output: c_ptr(c_char),
                                         out_len: c_size_t): c_int;

  // TLS (rustls, in the library): a configuration is an id like a socket
  // handle; polysock_tls_wrap/_wrap_server turn a connected tcpConn's
  // handle into a TLS stream in place, after which every send and receive
  // of this module speaks TLS. Public, for callers that need TLS until the
  // module has records of its own for it (see README.md).
  extern type polysock_tls_config_t = int(64);

  extern proc polysock_tls_config_new(side: int(32)): polysock_tls_config_t;
  extern proc polysock_tls_config_free(cfg: polysock_tls_config_t): int(32);
  extern proc polysock_tls_config_system_roots(cfg: polysock_tls_config_t,
                                               on: int(32)): int(32);
  extern proc polysock_tls_config_add_ca_file(cfg: polysock_tls_config_t,
                                              path: c_ptrConst(c_char)): int(32);
  extern proc polysock_tls_config_add_ca_pem(cfg: polysock_tls_config_t,
                                             pem: c_ptrConst(void),
                                             len: c_size_t): int(32);
  extern proc polysock_tls_config_cert_file(cfg: polysock_tls_config_t,
                                            chain_path: c_ptrConst(c_char),
                                            key_path: c_ptrConst(c_char)): int(32);
  extern proc polysock_tls_config_cert_pem(cfg: polysock_tls_config_t,
                                           chain: c_ptrConst(void),
                                           chain_len: c_size_t,
                                           key: c_ptrConst(void),
                                           key_len: c_size_t): int(32);
  extern proc polysock_tls_config_add_alpn(cfg: polysock_tls_config_t,
                                           protocol: c_ptrConst(c_char)): int(32);
  extern proc polysock_tls_config_versions(cfg: polysock_tls_config_t,
                                           min: int(32), max: int(32)): int(32);
  extern proc polysock_tls_config_sni(cfg: polysock_tls_config_t,
                                      on: int(32)): int(32);
  extern proc polysock_tls_config_client_auth(cfg: polysock_tls_config_t,
                                              mode: int(32)): int(32);
  extern proc polysock_tls_config_insecure_skip_verify(cfg: polysock_tls_config_t): int(32);
  extern proc polysock_tls_config_insecure_skip_hostname_check(cfg: polysock_tls_config_t): int(32);
  extern proc polysock_tls_wrap(h: polysock_t, cfg: polysock_tls_config_t,
                                server_name: c_ptrConst(c_char)): int(32);
  extern proc polysock_tls_wrap_server(h: polysock_t,
                                       cfg: polysock_tls_config_t): int(32);
  extern proc polysock_tls_handshake(h: polysock_t): int(32);
  extern proc polysock_tls_wants(h: polysock_t): int(32);
  extern proc polysock_tls_state(h: polysock_t): int(32);
  extern proc polysock_tls_version(h: polysock_t): int(32);
  extern proc polysock_tls_cipher(h: polysock_t, buf: c_ptr(c_char),
                                  len: c_size_t): int(32);
  extern proc polysock_tls_alpn(h: polysock_t, buf: c_ptr(c_char),
                                len: c_size_t): int(32);
  extern proc polysock_tls_server_name(h: polysock_t, buf: c_ptr(c_char),
                                       len: c_size_t): int(32);
  extern proc polysock_tls_peer_cert(h: polysock_t, index: c_size_t,
                                     buf: c_ptr(void), len: c_size_t): int(64);
  extern proc polysock_tls_peer_cert_count(h: polysock_t): int(64);
  extern proc polysock_tls_peer_subject(h: polysock_t, buf: c_ptr(c_char),
                                        len: c_size_t): int(32);
  extern proc polysock_tls_peer_issuer(h: polysock_t, buf: c_ptr(c_char),
                                       len: c_size_t): int(32);
  extern proc polysock_tls_peer_san(h: polysock_t, buf: c_ptr(c_char),
                                    len: c_size_t): int(32);
  extern proc polysock_tls_peer_validity(h: polysock_t,
                                         ref not_before: int(64),
                                         ref not_after: int(64)): int(32);

  extern const POLYSOCK_TLS_CLIENT: int(32);
  extern const POLYSOCK_TLS_SERVER: int(32);
  extern const POLYSOCK_TLS_1_2: int(32);
  extern const POLYSOCK_TLS_1_3: int(32);
  extern const POLYSOCK_TLS_CLIENT_AUTH_NONE: int(32);
  extern const POLYSOCK_TLS_CLIENT_AUTH_OPTIONAL: int(32);
  extern const POLYSOCK_TLS_CLIENT_AUTH_REQUIRED: int(32);
  extern const POLYSOCK_TLS_STATE_NONE: int(32);
  extern const POLYSOCK_TLS_STATE_HANDSHAKE: int(32);
  extern const POLYSOCK_TLS_STATE_OPEN: int(32);
  extern const POLYSOCK_TLS_STATE_CLOSED: int(32);
  extern const POLYSOCK_TLS_STATE_FAILED: int(32);
  extern const POLYSOCK_ETLS: int(32);
  extern const POLYSOCK_ETLS_CERT_EXPIRED: int(32);
  extern const POLYSOCK_ETLS_CERT_NOT_YET_VALID: int(32);
  extern const POLYSOCK_ETLS_HOSTNAME: int(32);
  extern const POLYSOCK_ETLS_UNKNOWN_ISSUER: int(32);
  extern const POLYSOCK_ETLS_SELF_SIGNED: int(32);
  extern const POLYSOCK_ETLS_BAD_CERT: int(32);
  extern const POLYSOCK_ETLS_CERT_REQUIRED: int(32);
  extern const POLYSOCK_ETLS_ALERT: int(32);
  extern const POLYSOCK_ETLS_PROTOCOL: int(32);
  extern const POLYSOCK_ETLS_INCOMPATIBLE: int(32);
  extern const POLYSOCK_ETLS_TRUNCATED: int(32);
  extern const POLYSOCK_ETLS_PEM: int(32);
  extern const POLYSOCK_ETLS_CONFIG: int(32);

  // The header's values of the constants this module names (the
  // platform's, when the header is the one the build wrote for it).
  private extern const POLYSOCK_AF_UNSPEC: c_int;
  private extern const POLYSOCK_AF_UNIX: c_int;
  private extern const POLYSOCK_AF_INET: c_int;
  private extern const POLYSOCK_AF_INET6: c_int;
  private extern const POLYSOCK_SOCK_STREAM: c_int;
  private extern const POLYSOCK_SOCK_DGRAM: c_int;
  private extern const POLYSOCK_SOL_SOCKET: c_int;
  private extern const POLYSOCK_IPPROTO_IP: c_int;
  private extern const POLYSOCK_IPPROTO_IPV6: c_int;
  private extern const POLYSOCK_IPPROTO_TCP: c_int;
  private extern const POLYSOCK_IPPROTO_UDP: c_int;
  private extern const POLYSOCK_TCP_NODELAY: c_int;
  private extern const POLYSOCK_SO_ACCEPTCONN: c_int;
  private extern const POLYSOCK_SO_BROADCAST: c_int;
  private extern const POLYSOCK_SO_DEBUG: c_int;
  private extern const POLYSOCK_SO_ERROR: c_int;
  private extern const POLYSOCK_SO_KEEPALIVE: c_int;
  private extern const POLYSOCK_SO_LINGER: c_int;
  private extern const POLYSOCK_SO_OOBINLINE: c_int;
  private extern const POLYSOCK_SO_RCVBUF: c_int;
  private extern const POLYSOCK_SO_RCVTIMEO: c_int;
  private extern const POLYSOCK_SO_REUSEADDR: c_int;
  private extern const POLYSOCK_SO_SNDBUF: c_int;
  private extern const POLYSOCK_SO_SNDTIMEO: c_int;
  private extern const POLYSOCK_SOMAXCONN: c_int;
  private extern const POLYSOCK_SHUT_RD: c_int;
  private extern const POLYSOCK_SHUT_WR: c_int;
  private extern const POLYSOCK_SHUT_RDWR: c_int;
  private extern const POLYSOCK_MSG_PEEK: c_int;
  private extern const POLYSOCK_MSG_WAITALL: c_int;
  private extern const POLYSOCK_MSG_DONTWAIT: c_int;
  private extern const POLYSOCK_MSG_TRUNC: c_int;
  // polysock's own values, the same on every platform.
  private extern const POLYSOCK_ERR_BASE: c_int;
  private extern const POLYSOCK_EEOF: c_int;
  private extern const POLYSOCK_OPT_NODELAY: c_int;
  private extern const POLYSOCK_OPT_QUICKACK: c_int;
  private extern const POLYSOCK_OPT_REUSEADDR: c_int;
  private extern const POLYSOCK_ADDR_HOST_LEN: c_int;

  // ------------------------------------------------------------------
  // Constants, as Chapel's Socket module names them.

  const AF_UNSPEC: c_int = POLYSOCK_AF_UNSPEC;
  const AF_UNIX: c_int = POLYSOCK_AF_UNIX;
  const AF_INET: c_int = POLYSOCK_AF_INET;
  /* The platform's AF_INET6 (10 on Linux, 30 on macOS, 28 on FreeBSD...). */
  const AF_INET6: c_int = POLYSOCK_AF_INET6;
  const SOCK_STREAM: c_int = POLYSOCK_SOCK_STREAM;
  const SOCK_DGRAM: c_int = POLYSOCK_SOCK_DGRAM;
  const SOL_SOCKET: c_int = POLYSOCK_SOL_SOCKET;
  const IPPROTO_IP: c_int = POLYSOCK_IPPROTO_IP;
  const IPPROTO_IPV6: c_int = POLYSOCK_IPPROTO_IPV6;
  const IPPROTO_TCP: c_int = POLYSOCK_IPPROTO_TCP;
  const IPPROTO_UDP: c_int = POLYSOCK_IPPROTO_UDP;
  const TCP_NODELAY: c_int = POLYSOCK_TCP_NODELAY;
  const SO_ACCEPTCONN: c_int = POLYSOCK_SO_ACCEPTCONN;
  const SO_BROADCAST: c_int = POLYSOCK_SO_BROADCAST;
  const SO_DEBUG: c_int = POLYSOCK_SO_DEBUG;
  const SO_ERROR: c_int = POLYSOCK_SO_ERROR;
  const SO_KEEPALIVE: c_int = POLYSOCK_SO_KEEPALIVE;
  const SO_LINGER: c_int = POLYSOCK_SO_LINGER;
  const SO_OOBINLINE: c_int = POLYSOCK_SO_OOBINLINE;
  const SO_RCVBUF: c_int = POLYSOCK_SO_RCVBUF;
  const SO_RCVTIMEO: c_int = POLYSOCK_SO_RCVTIMEO;
  const SO_REUSEADDR: c_int = POLYSOCK_SO_REUSEADDR;
  const SO_SNDBUF: c_int = POLYSOCK_SO_SNDBUF;
  const SO_SNDTIMEO: c_int = POLYSOCK_SO_SNDTIMEO;
  const SOMAXCONN: c_int = POLYSOCK_SOMAXCONN;
  const SHUT_RD: c_int = POLYSOCK_SHUT_RD;
  const SHUT_WR: c_int = POLYSOCK_SHUT_WR;
  const SHUT_RDWR: c_int = POLYSOCK_SHUT_RDWR;
  const MSG_PEEK: c_int = POLYSOCK_MSG_PEEK;
  const MSG_WAITALL: c_int = POLYSOCK_MSG_WAITALL;
  const MSG_DONTWAIT: c_int = POLYSOCK_MSG_DONTWAIT;
  const MSG_TRUNC: c_int = POLYSOCK_MSG_TRUNC;

  /* ``socklen_t`` as Chapel's Socket module declares it. */
  type socklen_t = int(32);

  /*
    Any constant of the platform by name ("TCP_QUICKACK", "SO_REUSEPORT",
    "ECONNREFUSED"...), from polysock's table.

    :throws SystemError: ENOENT when the platform has no such constant.
  */
  proc lookupConstant(name: string): int throws {
    var value: int(64);
    if polysock_constant_lookup(name.c_str(), value) != 0 then
      throw lastError();
    return value;
  }

  /* polysock's version, "MAJOR.MINOR.PATCH". */
  proc polysockVersion(): string {
    return cText(polysock_version());
  }

  // The header must carry the values of the library's platform: a header
  // generated on another platform would give wrong constants silently.
  private proc checkHeaderValue(name: string, headerValue: int(64)) {
    var value: int(64);
    if polysock_constant_lookup(name.c_str(), value) != 0 || value != headerValue then
      halt("PolySock: polysock.h has " + name + " = " + headerValue:string +
           " but the library says " + value:string +
           ": compile with the header the polysock build wrote for this " +
           "platform (target/<profile>/include/polysock.h)");
  }
  checkHeaderValue("AF_INET6", POLYSOCK_AF_INET6);
  checkHeaderValue("SOL_SOCKET", POLYSOCK_SOL_SOCKET);
  checkHeaderValue("SO_REUSEADDR", POLYSOCK_SO_REUSEADDR);
  checkHeaderValue("SOMAXCONN", POLYSOCK_SOMAXCONN);
  checkHeaderValue("MSG_DONTWAIT", POLYSOCK_MSG_DONTWAIT);

  // ------------------------------------------------------------------
  // Errors.

  private proc cText(p: c_ptrConst(c_char)): string {
    return try! string.createCopyingBuffer(p, policy=decodePolicy.replace);
  }

  /*
    An error with one of polysock's own codes (>= 20000): the resolver's
    (EAI_NONAME, EAI_AGAIN...) and POLYSOCK_EPANIC. ``codeName`` is the code's
    symbolic name; :proc:`message` is polysock's message with its context,
    such as "connect bad..name:80: Name or service not known".
  */
  class PolySockError : SystemError {
    var codeName: string;

    proc init(code: c_int, codeName: string, details: string) {
      super.init(code: errorCode, details);
      this.codeName = codeName;
    }

    override proc message() {
      return details;
    }
  }

  /*
    The error polysock recorded for the last failed call of this thread,
    as a :class:`~OS.SystemError`: the subclass for its errno
    (ConnectionRefusedError, TimeoutError, BrokenPipeError...),
    UnexpectedEofError for a stream that ended early, or a
    :class:`PolySockError` for polysock's own codes. Its details are
    polysock's message ("connect 127.0.0.1:4000: Connection refused").
  */
  proc lastError(): owned SystemError {
    return errorFor(polysock_errno(), cText(polysock_last_error()));
  }

  /* The error :proc:`lastError` builds, for any code and details. */
  proc errorFor(code: c_int, details: string): owned SystemError {
    if code == POLYSOCK_EEOF then
      return new owned UnexpectedEofError(details);
    if code >= POLYSOCK_ERR_BASE then
      return new owned PolySockError(code, cText(polysock_errname(code)), details);
    return createSystemError(code: int, details);
  }

  // A platform value polysock's table must have.
  private proc platformValue(name: string): int(64) {
    var value: int(64);
    if polysock_constant_lookup(name.c_str(), value) != 0 then
      halt("PolySock: the library has no " + name);
    return value;
  }
  private const einvalCode = platformValue("EINVAL");

  // Bad input found before any C call (a string C cannot carry...).
  private proc badInput(what: string): owned SystemError {
    return createSystemError(einvalCode: int, what);
  }

  private proc hasNul(s: string): bool {
    for b in s.bytes() do
      if b == 0 then return true;
    return false;
  }

  private proc checkText(op: string, s: string) throws {
    if hasNul(s) then
      throw badInput(op + ": " + s.size:string + "-character text contains a NUL byte");
  }

  // ------------------------------------------------------------------
  // Addresses.

  /*
    Internet protocol families. Unlike Chapel's Socket module, the enum
    has no C values (IPv6 = 10 is Linux's AF_INET6 only): convert with
    :proc:`familyToAF` and :proc:`afToFamily`.
  */
  enum IPFamily { IPv4, IPv6, IPUnspec }

  /* The platform's AF_ value for a family. */
  proc familyToAF(family: IPFamily): c_int {
    select family {
      when IPFamily.IPv4 do return AF_INET;
      when IPFamily.IPv6 do return AF_INET6;
      otherwise do return AF_UNSPEC;
    }
  }

  /* The family of a platform AF_ value (IPUnspec for any other). */
  proc afToFamily(af: c_int): IPFamily {
    if af == AF_INET then return IPFamily.IPv4;
    if af == AF_INET6 then return IPFamily.IPv6;
    return IPFamily.IPUnspec;
  }

  /* A standard IPv4 address (as text). */
  record ipv4Addr {
    var text: string;
  }

  /* A standard IPv6 address (as text). */
  record ipv6Addr {
    var text: string;
  }

  const IPv4Localhost: ipv4Addr = new ipv4Addr("127.0.0.1");
  const IPv4Any: ipv4Addr = new ipv4Addr("0.0.0.0");
  const IPv4Broadcast: ipv4Addr = new ipv4Addr("255.255.255.255");
  const IPv6Localhost: ipv6Addr = new ipv6Addr("::1");
  const IPv6Any: ipv6Addr = new ipv6Addr("::");
  const INADDR_ANY: ipv4Addr = IPv4Any;
  const INADDR_BROADCAST: ipv4Addr = IPv4Broadcast;
  const INADDR_LOOPBACK: ipv4Addr = IPv4Localhost;
  const in6addr_any: ipv6Addr = IPv6Any;
  const in6addr_loopback: ipv6Addr = IPv6Localhost;

  /*
    A network address: family, numeric host and port. Compared with
    ``==`` and ``!=``.
  */
  record ipAddr : writeSerializable {
    var _family: IPFamily = IPFamily.IPv4;
    var _host: string = "127.0.0.1";
    var _port: uint(16) = 8000;

    /* The family of the address. */
    proc family: IPFamily {
      return _family;
    }

    /* The host, as numeric text ("127.0.0.1", "::1"). */
    proc host: string {
      return _host;
    }

    /* The port. */
    proc port: uint(16) {
      return _port;
    }

    proc serialize(writer, ref serializer) throws {
      writer.write("(family:", _family, ",host:", _host, ",port:", _port, ")");
    }
  }

  operator ==(lhs: ipAddr, rhs: ipAddr): bool {
    return lhs._family == rhs._family && lhs._host == rhs._host &&
           lhs._port == rhs._port;
  }

  operator !=(lhs: ipAddr, rhs: ipAddr): bool {
    return !(lhs == rhs);
  }

  // The canonical text of a literal of family `af`, through inet_pton and
  // inet_ntop (so "::0001" is "::1", as Chapel's numericHost gives).
  private proc numericHost(op: string, af: c_int, host: string): string throws {
    checkText(op, host);
    var raw: c_array(uint(8), 16);
    const n = polysock_inet_pton(af, host.c_str(), c_ptrTo(raw[0]): c_ptr(void), 16);
    if n < 0 then throw lastError();
    var text: c_array(c_char, 64);
    if polysock_inet_ntop(af, c_ptrTo(raw[0]): c_ptrConst(void), n: c_size_t,
                          c_ptrTo(text[0]), 64) != 0 then
      throw lastError();
    return cText(c_ptrTo(text[0]): c_ptrConst(c_char));
  }

  /*
    An address from a numeric host, a port and a family. The host is not
    resolved. With ``IPFamily.IPUnspec`` the family is the literal's.

    :throws SystemError: EINVAL when the host is not an address of the
                         family.
  */
  proc type ipAddr.create(host: string = "127.0.0.1", port: uint(16) = 8000,
                          family: IPFamily = IPFamily.IPv4): ipAddr throws {
    var fam = family;
    if fam == IPFamily.IPUnspec then
      fam = if host.count(":") > 0 then IPFamily.IPv6 else IPFamily.IPv4;
    const text = numericHost("ipAddr.create", familyToAF(fam), host);
    return new ipAddr(fam, text, port);
  }

  /* An IPv4 address from a standard address and a port. */
  proc type ipAddr.ipv4(host: ipv4Addr, port: uint(16) = 8000): ipAddr throws {
    return ipAddr.create(host.text, port, IPFamily.IPv4);
  }

  /* An IPv6 address from a standard address and a port. */
  proc type ipAddr.ipv6(host: ipv6Addr, port: uint(16) = 8000): ipAddr throws {
    return ipAddr.create(host.text, port, IPFamily.IPv6);
  }

  private proc addrOf(ref a: polysock_addr): ipAddr {
    const text = cText(c_ptrTo(a.host[0]): c_ptrConst(c_char));
    return new ipAddr(afToFamily(a.family: c_int), text, a.port: uint(16));
  }

  // ------------------------------------------------------------------
  // Timeouts: per call, as Chapel's Socket module takes them; polysock
  // makes each one a deadline for the whole call.

  /* The default timeout: wait as long as it takes. */
  const indefiniteTimeout: struct_timeval =
    new struct_timeval((-1): time_t, 0: suseconds_t);

  // Milliseconds for polysock: -1 waits forever, 0 never waits, else at
  // least 1 ms (a positive timeout never turns into non-blocking).
  private proc toMs(timeout: struct_timeval): int(64) {
    const sec = timeout.tv_sec: int(64), usec = timeout.tv_usec: int(64);
    if sec < 0 || usec < 0 then return -1;
    if sec > 9000000000000000 / 1000 then return -1;
    return sec * 1000 + (usec + 999) / 1000;
  }

  private proc toMs(timeout: real): int(64) {
    if !(timeout >= 0.0) || timeout > 9.0e15 then return -1;
    const ms = timeout * 1000.0;
    var whole = ms: int(64);
    if whole: real < ms then whole += 1;
    return whole;
  }

  // ------------------------------------------------------------------
  // Sockets. A record holds its socket through a shared handle object:
  // copies share it, and the socket closes when the last copy goes (or on
  // close(); closing twice is harmless, as polysock's handles are never
  // reused).

  /* Owns one polysock handle (internal: records hold it shared). */
  class socketHandle {
    var h: polysock_t;

    proc deinit() {
      polysock_close(h);
    }
  }

  private proc checked(h: polysock_t): shared socketHandle throws {
    if h < 0 then throw lastError();
    return new shared socketHandle(h);
  }

  private proc handleOf(const ref owner: shared socketHandle?, op: string): polysock_t throws {
    if owner == nil then
      throw badInput(op + ": the socket is closed or was never opened");
    return owner!.h;
  }

  private proc setTimeoutMs(h: polysock_t, ms: int(64)) throws {
    if polysock_settimeout(h, ms) != 0 then throw lastError();
  }

  private proc boolOpt(h: polysock_t, opt: c_int, value: bool) throws {
    if polysock_setopt(h, opt, if value then 1 else 0) != 0 then
      throw lastError();
  }

  private proc sockName(h: polysock_t): ipAddr throws {
    var a: polysock_addr;
    if polysock_getsockname(h, a) != 0 then throw lastError();
    return addrOf(a);
  }

  private proc peerName(h: polysock_t): ipAddr throws {
    var a: polysock_addr;
    if polysock_getpeername(h, a) != 0 then throw lastError();
    return addrOf(a);
  }

  /*
    A connected TCP socket. Unlike Chapel's Socket module, where it is an
    IO ``file``, it is a record with its own read and write methods: IO
    channels would write to the fd directly, without polysock's timeouts
    and without MSG_NOSIGNAL.
  */
  record tcpConn : writeSerializable {
    var _sock: shared socketHandle?;

    proc serialize(writer, ref serializer) throws {
      if _sock == nil then writer.write("(closed)");
      else writer.write("(addr:", this.addr, ",fd:", this.socketFd, ")");
    }
  }

  private proc newConn(h: polysock_t): tcpConn throws {
    var c: tcpConn;
    c._sock = checked(h);
    return c;
  }

  operator ==(lhs: tcpConn, rhs: tcpConn): bool {
    return lhs._sock == rhs._sock;
  }

  operator !=(lhs: tcpConn, rhs: tcpConn): bool {
    return lhs._sock != rhs._sock;
  }

  /* The socket's file descriptor (it stays the socket's). */
  proc tcpConn.socketFd: int(32) throws {
    const fd = polysock_fileno(handleOf(_sock, "socketFd"));
    if fd < 0 then throw lastError();
    return fd;
  }

  /* The address of the peer. */
  proc tcpConn.addr: ipAddr throws {
    return peerName(handleOf(_sock, "addr"));
  }

  /* Enables (true) or disables Nagle's algorithm (TCP_NODELAY off/on). */
  proc ref tcpConn.setNagle(enable: bool) throws {
    boolOpt(handleOf(_sock, "setNagle"), POLYSOCK_OPT_NODELAY, !enable);
  }

  /*
    Enables (true) or disables delayed acknowledgements (TCP_QUICKACK
    off/on; Linux only, ENOPROTOOPT elsewhere).
  */
  proc tcpConn.setDelayAck(enable: bool) throws {
    boolOpt(handleOf(_sock, "setDelayAck"), POLYSOCK_OPT_QUICKACK, !enable);
  }

  proc tcpConn._write(data: bytes, ms: int(64)): int throws {
    const h = handleOf(_sock, "write");
    setTimeoutMs(h, ms);
    if polysock_sendall(h, data.c_str(): c_ptrConst(void), data.size: c_size_t,
                        0, nil) < 0 then
      throw lastError();
    return data.size;
  }

  /*
    Writes all of ``data`` within the timeout (one deadline for the whole
    write). Returns the number of bytes written.

    :throws SystemError: BrokenPipeError when the peer has gone (never a
                         SIGPIPE), TimeoutError, ConnectionResetError...
  */
  proc tcpConn.write(data: bytes, in timeout: struct_timeval = indefiniteTimeout): int throws {
    return _write(data, toMs(timeout));
  }

  proc tcpConn.write(data: bytes, timeout: real): int throws {
    return _write(data, toMs(timeout));
  }

  proc tcpConn.write(data: string, in timeout: struct_timeval = indefiniteTimeout): int throws {
    return _write(data: bytes, toMs(timeout));
  }

  proc tcpConn.write(data: string, timeout: real): int throws {
    return _write(data: bytes, toMs(timeout));
  }

  proc tcpConn._recv(bufferLen: int, ms: int(64), exact: bool): bytes throws {
    const h = handleOf(_sock, "read");
    if bufferLen <= 0 then
      throw badInput("read: bufferLen must be positive, not " + bufferLen:string);
    setTimeoutMs(h, ms);
    var buf = allocate(uint(8), bufferLen: c_size_t);
    defer { deallocate(buf); }
    var n: int(64);
    if exact then
      n = polysock_recv_exact(h, buf: c_ptr(void), bufferLen: c_size_t, 0, nil);
    else
      n = polysock_recv(h, buf: c_ptr(void), bufferLen: c_size_t, 0);
    if n < 0 then throw lastError();
    return bytes.createCopyingBuffer(buf, n: int);
  }

  /*
    Receives up to ``bufferLen`` bytes, waiting within the timeout for the
    first; an empty result means the peer closed the connection.
  */
  proc tcpConn.recv(bufferLen: int, in timeout: struct_timeval = indefiniteTimeout): bytes throws {
    return _recv(bufferLen, toMs(timeout), false);
  }

  proc tcpConn.recv(bufferLen: int, timeout: real): bytes throws {
    return _recv(bufferLen, toMs(timeout), false);
  }

  /*
    Reads exactly ``n`` bytes within the timeout.

    :throws UnexpectedEofError: the peer closed first.
  */
  proc tcpConn.read(n: int, in timeout: struct_timeval = indefiniteTimeout): bytes throws {
    return _recv(n, toMs(timeout), true);
  }

  proc tcpConn.read(n: int, timeout: real): bytes throws {
    return _recv(n, toMs(timeout), true);
  }

  proc tcpConn._readLine(maxSize: int, ms: int(64)): bytes throws {
    const h = handleOf(_sock, "readLine");
    if maxSize <= 0 then
      throw badInput("readLine: maxSize must be positive, not " + maxSize:string);
    setTimeoutMs(h, ms);
    var buf = allocate(c_char, maxSize: c_size_t);
    defer { deallocate(buf); }
    var n: c_size_t;
    if polysock_readline(h, buf, maxSize: c_size_t, n) != 0 then
      throw lastError();
    return bytes.createCopyingBuffer(buf, n: int);
  }

  /*
    Reads one line, with its "\n" (the last line of the stream may lack
    it); empty at end of stream. Bytes after the line stay buffered for
    the next read.

    :throws SystemError: EMSGSIZE when no "\n" comes within ``maxSize``
                         bytes (nothing is consumed), TimeoutError (what
                         came stays buffered).
  */
  proc tcpConn.readLine(maxSize: int = 65536,
                        in timeout: struct_timeval = indefiniteTimeout): bytes throws {
    return _readLine(maxSize, toMs(timeout));
  }

  proc tcpConn.readLine(maxSize: int = 65536, timeout: real): bytes throws {
    return _readLine(maxSize, toMs(timeout));
  }

  /*
    Sends ``count`` bytes (0: to the end) of the file at ``path`` from
    ``offset``, without reading it into memory. Returns the bytes sent.
  */
  proc tcpConn.sendFile(path: string, offset: int = 0, count: int = 0,
                        in timeout: struct_timeval = indefiniteTimeout): int throws {
    const h = handleOf(_sock, "sendFile");
    checkText("sendFile", path);
    if count < 0 then throw badInput("sendFile: negative count");
    setTimeoutMs(h, toMs(timeout));
    const n = polysock_sendfile_path(h, path.c_str(), offset, count: c_size_t, nil);
    if n < 0 then throw lastError();
    return n: int;
  }

  /* Shuts down reading (SHUT_RD), writing (SHUT_WR) or both. */
  proc tcpConn.shutdown(how: c_int = SHUT_RDWR) throws {
    if polysock_shutdown(handleOf(_sock, "shutdown"), how) != 0 then
      throw lastError();
  }

  /* Closes the connection (for every copy of this record). */
  proc ref tcpConn.close() throws {
    if _sock != nil then polysock_close(_sock!.h);
    _sock = nil;
  }

  /* A TCP socket bound and listening for connections. */
  record tcpListener : writeSerializable {
    var _sock: shared socketHandle?;

    proc serialize(writer, ref serializer) throws {
      if _sock == nil then writer.write("(closed)");
      else writer.write("(addr:", this.addr, ",fd:", this.socketFd, ")");
    }
  }

  /* The socket's file descriptor, or -1 when it is closed. */
  proc tcpListener.socketFd: int(32) {
    if _sock == nil then return -1;
    return polysock_fileno(_sock!.h);
  }

  proc tcpListener._accept(ms: int(64)): tcpConn throws {
    const h = handleOf(_sock, "accept");
    setTimeoutMs(h, ms);
    return newConn(polysock_accept(h, nil));
  }

  /*
    Waits within ``timeout`` for a connection and returns it.

    :throws SystemError: TimeoutError when none came in time.
  */
  proc tcpListener.accept(in timeout: struct_timeval = indefiniteTimeout): tcpConn throws {
    return _accept(toMs(timeout));
  }

  proc tcpListener.accept(timeout: real): tcpConn throws {
    return _accept(toMs(timeout));
  }

  /* Closes the listening socket. */
  proc ref tcpListener.close() throws {
    if _sock != nil then polysock_close(_sock!.h);
    _sock = nil;
  }

  /* The address the socket is bound to. */
  proc tcpListener.addr: ipAddr throws {
    return sockName(handleOf(_sock, "addr"));
  }

  proc ref tcpListener.setNagle(enable: bool) throws {
    boolOpt(handleOf(_sock, "setNagle"), POLYSOCK_OPT_NODELAY, !enable);
  }

  proc ref tcpListener.setDelayAck(enable: bool) throws {
    boolOpt(handleOf(_sock, "setDelayAck"), POLYSOCK_OPT_QUICKACK, !enable);
  }

  /* min(SOMAXCONN, 128): the backlog :proc:`listen` uses by default. */
  const backlogDefault: uint(16) =
    if SOMAXCONN <= 128 then SOMAXCONN: uint(16) else 128: uint(16);

  /*
    A new :record:`tcpListener` bound to ``address`` and listening.

    :throws SystemError: on failure to bind or listen (the socket is
                         closed).
  */
  proc listen(in address: ipAddr, reuseAddr: bool = true,
              backlog: uint(16) = backlogDefault): tcpListener throws {
    var l: tcpListener;
    l._sock = checked(polysock_socket(familyToAF(address.family), SOCK_STREAM, 0));
    const h = l._sock!.h;
    boolOpt(h, POLYSOCK_OPT_REUSEADDR, reuseAddr);
    const host = address.host;
    if polysock_bind(h, host.c_str(), address.port: c_int) != 0 then
      throw lastError();
    if polysock_listen(h, backlog: c_int) != 0 then throw lastError();
    return l;
  }

  private proc connectAddr(const ref address: ipAddr, ms: int(64)): tcpConn throws {
    var c = newConn(polysock_socket(familyToAF(address.family), SOCK_STREAM, 0));
    const h = c._sock!.h;
    setTimeoutMs(h, ms);
    // On failure `c` goes out of scope and its socket is closed: no fd
    // leaks, even on a timeout.
    const host = address.host;
    if polysock_connect(h, host.c_str(), address.port: c_int) != 0 then
      throw lastError();
    setTimeoutMs(h, -1);
    return c;
  }

  /*
    A :record:`tcpConn` connected to ``address`` within ``timeout``.

    :throws SystemError: ConnectionRefusedError, TimeoutError... (the
                         socket is closed).
  */
  proc connect(const ref address: ipAddr,
               in timeout: struct_timeval = indefiniteTimeout): tcpConn throws {
    return connectAddr(address, toMs(timeout));
  }

  proc connect(const ref address: ipAddr, in timeout: real): tcpConn throws {
    return connectAddr(address, toMs(timeout));
  }

  private proc connectName(host: string, service: string, family: IPFamily,
                           ms: int(64)): tcpConn throws {
    checkText("connect", host);
    checkText("connect", service);
    if family == IPFamily.IPUnspec {
      // Every address of both families within one deadline: polysock's
      // create_connection (Happy Eyeballs). A service name becomes its port.
      var port: int(32);
      try {
        port = service: int(32);
      } catch {
        port = polysock_getservbyname(service.c_str(), "tcp".c_str());
        if port < 0 then throw lastError();
      }
      return newConn(polysock_create_connection(host.c_str(), port, ms, nil, 0));
    }
    var list: [0..<64] polysock_addrinfo;
    const total = polysock_getaddrinfo(host.c_str(), service.c_str(),
                                       familyToAF(family), SOCK_STREAM, 0, 0,
                                       c_ptrTo(list[0]), 64, nil);
    // The resolver's own code and text (EAI_NONAME...), not a generic string.
    if total < 0 then throw lastError();
    // One family: each address in turn, all within one deadline.
    var watch: stopwatch;
    watch.start();
    var lastCode: c_int = 0;
    var lastDetails: string;
    for i in 0..<min(total, 64): int {
      var left = ms;
      if ms > 0 {
        left = ms - (watch.elapsed() * 1000.0): int(64);
        if left <= 0 then break;
      }
      try {
        return connectAddr(addrOf(list[i].addr), left);
      } catch e: SystemError {
        lastCode = e.err: int(32);
        lastDetails = e.details;
      }
    }
    if lastCode == 0 then
      throw new owned TimeoutError("connect " + host + ":" + service + ": timed out");
    throw errorFor(lastCode, lastDetails);
  }

  /*
    A :record:`tcpConn` to ``host`` (a name or a literal) and ``service``
    (a port number or a service name), trying every address the resolver
    gives for ``family``. With ``IPFamily.IPUnspec`` the attempts go both
    ways at once (Happy Eyeballs). The timeout is one deadline for all
    attempts together.

    :throws SystemError: a :class:`PolySockError` with the resolver's code
                         (EAI_NONAME...) when the name does not resolve;
                         else the error of the first address tried, or
                         TimeoutError.
  */
  proc connect(in host: string, in service: string,
               family: IPFamily = IPFamily.IPUnspec,
               in timeout: struct_timeval = indefiniteTimeout): tcpConn throws {
    return connectName(host, service, family, toMs(timeout));
  }

  proc connect(in host: string, in service: string,
               family: IPFamily = IPFamily.IPUnspec, timeout: real): tcpConn throws {
    return connectName(host, service, family, toMs(timeout));
  }

  proc connect(in host: string, in port: uint(16),
               family: IPFamily = IPFamily.IPUnspec,
               in timeout: struct_timeval = indefiniteTimeout): tcpConn throws {
    return connectName(host, port: string, family, toMs(timeout));
  }

  proc connect(in host: string, in port: uint(16),
               family: IPFamily = IPFamily.IPUnspec, timeout: real): tcpConn throws {
    return connectName(host, port: string, family, toMs(timeout));
  }

  // ------------------------------------------------------------------
  // What polysock adds, in the same style.

  /*
    Every address of ``host`` for ``service`` (a port number or a service
    name), in the resolver's order, for ``family`` (IPUnspec: both).

    :throws SystemError: a :class:`PolySockError` with the resolver's own
                         code (EAI_NONAME, EAI_AGAIN...) and message.
  */
  proc getAddrInfo(host: string, service: string,
                   family: IPFamily = IPFamily.IPUnspec): [] ipAddr throws {
    checkText("getAddrInfo", host);
    checkText("getAddrInfo", service);
    var capacity = 16;
    while true {
      var list: [0..<capacity] polysock_addrinfo;
      const total = polysock_getaddrinfo(host.c_str(), service.c_str(),
                                         familyToAF(family), SOCK_STREAM, 0, 0,
                                         c_ptrTo(list[0]), capacity: c_size_t, nil);
      if total < 0 then throw lastError();
      if total <= capacity {
        var result: [0..<total: int] ipAddr;
        for i in 0..<total: int do result[i] = addrOf(list[i].addr);
        return result;
      }
      capacity = total: int;
    }
    halt("unreachable");
  }

  /* Whether this system can create IPv6 sockets now. */
  proc hasIPv6(): bool {
    return polysock_has_ipv6() == 1;
  }

  /*
    The timeout (seconds; negative: none) that sockets created from now on
    start with. The per-call timeouts of this module override it.
  */
  proc setDefaultTimeout(timeout: real) throws {
    if polysock_setdefaulttimeout(toMs(timeout)) != 0 then throw lastError();
  }

  /* A UDP socket. */
  record udpSocket : writeSerializable {
    var _sock: shared socketHandle?;
    var _error: string;

    /*
      Creates a UDP socket of ``family``. If that fails, every later call
      throws the reason.
    */
    proc init(family: IPFamily = IPFamily.IPv4) {
      const h = polysock_socket(familyToAF(family), SOCK_DGRAM, 0);
      var sock: shared socketHandle? = nil;
      var err = "";
      if h >= 0 then sock = new shared socketHandle(h);
      else err = cText(polysock_last_error());
      this._sock = sock;
      this._error = err;
    }

    proc serialize(writer, ref serializer) throws {
      writer.write("(udpSocket fd:", this.socketFd, ")");
    }
  }

  proc udpSocket._h(op: string): polysock_t throws {
    if _sock == nil && _error != "" then
      throw badInput(op + ": the socket could not be created: " + _error);
    return handleOf(_sock, op);
  }

  /* The socket's file descriptor, or -1 when it is closed. */
  proc udpSocket.socketFd: int(32) {
    if _sock == nil then return -1;
    return polysock_fileno(_sock!.h);
  }

  proc ref udpSocket.close() throws {
    if _sock != nil then polysock_close(_sock!.h);
    _sock = nil;
  }

  proc udpSocket._recvfrom(bufferLen: int, ms: int(64), flags: c_int,
                                   ref from: polysock_addr): bytes throws {
    const h = _h("recvfrom");
    if bufferLen <= 0 then
      throw badInput("recvfrom: bufferLen must be positive, not " + bufferLen:string);
    setTimeoutMs(h, ms);
    var buf = allocate(uint(8), bufferLen: c_size_t);
    defer { deallocate(buf); }
    const n = polysock_recvfrom(h, buf: c_ptr(void), bufferLen: c_size_t, flags,
                                c_ptrTo(from));
    if n < 0 then throw lastError();
    // With MSG_TRUNC the datagram's real length may exceed the buffer.
    return bytes.createCopyingBuffer(buf, min(n: int, bufferLen));
  }

  /*
    Receives one datagram (up to ``bufferLen`` bytes; the rest of a longer
    one is lost) within the timeout, and its sender.
  */
  proc udpSocket.recvfrom(bufferLen: int, in timeout: struct_timeval = indefiniteTimeout,
                          flags: c_int = 0): (bytes, ipAddr) throws {
    var from: polysock_addr;
    const data = _recvfrom(bufferLen, toMs(timeout), flags, from);
    return (data, addrOf(from));
  }

  proc udpSocket.recvfrom(bufferLen: int, timeout: real,
                          flags: c_int = 0): (bytes, ipAddr) throws {
    var from: polysock_addr;
    const data = _recvfrom(bufferLen, toMs(timeout), flags, from);
    return (data, addrOf(from));
  }

  /* Receives one datagram (up to ``bufferLen`` bytes) within the timeout. */
  proc udpSocket.recv(bufferLen: int, in timeout: struct_timeval = indefiniteTimeout): bytes throws {
    var from: polysock_addr;
    return _recvfrom(bufferLen, toMs(timeout), 0, from);
  }

  proc udpSocket.recv(bufferLen: int, timeout: real): bytes throws {
    var from: polysock_addr;
    return _recvfrom(bufferLen, toMs(timeout), 0, from);
  }

  proc udpSocket._send(data: bytes, const ref address: ipAddr,
                               ms: int(64)): c_ssize_t throws {
    const h = _h("send");
    setTimeoutMs(h, ms);
    const host = address.host;
    const n = polysock_sendto(h, data.c_str(): c_ptrConst(void), data.size: c_size_t,
                              0, host.c_str(), address.port: c_int);
    if n < 0 then throw lastError();
    return n: c_ssize_t;
  }

  /* Sends ``data`` as one datagram to ``address``; returns the bytes sent. */
  proc udpSocket.send(data: bytes, in address: ipAddr,
                      in timeout: struct_timeval = indefiniteTimeout): c_ssize_t throws {
    return _send(data, address, toMs(timeout));
  }

  proc udpSocket.send(data: bytes, in address: ipAddr, timeout: real): c_ssize_t throws {
    return _send(data, address, toMs(timeout));
  }

  // ------------------------------------------------------------------
  // Procedures on any of the three kinds of socket.

  private proc sockHandle(const ref socket: ?t, op: string): polysock_t throws {
    if t == udpSocket then return socket._h(op);
    return handleOf(socket._sock, op);
  }

  /* setsockopt with an int value (see setsockopt(2)). */
  proc setSockOpt(ref socket: ?t, level: c_int, optname: c_int, value: c_int) throws
    where t == udpSocket || t == tcpConn || t == tcpListener {
    const h = sockHandle(socket, "setSockOpt");
    if polysock_setsockopt_int(h, level, optname, value) != 0 then
      throw lastError();
  }

  /* setsockopt with the raw bytes of a C struct (struct linger...). */
  proc setSockOpt(ref socket: ?t, level: c_int, optname: c_int, value: bytes) throws
    where t == udpSocket || t == tcpConn || t == tcpListener {
    const h = sockHandle(socket, "setSockOpt");
    if polysock_setsockopt_bytes(h, level, optname, value.c_str(): c_ptrConst(void),
                                 value.size: c_size_t) != 0 then
      throw lastError();
  }

  /*
    setsockopt with optval NULL and ``optlen``. polysock accepts NULL only
    with length 0; a larger ``optlen`` is EINVAL.
  */
  proc setSockOpt(ref socket: ?t, level: c_int, optname: c_int, value: nothing,
                  optlen: socklen_t) throws
    where t == udpSocket || t == tcpConn || t == tcpListener {
    const h = sockHandle(socket, "setSockOpt");
    if optlen < 0 then throw badInput("setSockOpt: negative optlen");
    if polysock_setsockopt_bytes(h, level, optname, nil, optlen: c_size_t) != 0 then
      throw lastError();
  }

  /* getsockopt of an int option. */
  proc getSockOpt(ref socket: ?t, level: c_int, optname: c_int): int(32) throws
    where t == udpSocket || t == tcpConn || t == tcpListener {
    const h = sockHandle(socket, "getSockOpt");
    var value: c_int;
    if polysock_getsockopt_int(h, level, optname, value) != 0 then
      throw lastError();
    return value;
  }

  /* getsockopt of up to ``buflen`` bytes. */
  proc getSockOpt(ref socket: ?t, level: c_int, optname: c_int, buflen: uint(16)): bytes throws
    where t == udpSocket || t == tcpConn || t == tcpListener {
    const h = sockHandle(socket, "getSockOpt");
    if buflen == 0 then throw badInput("getSockOpt: buflen must be positive");
    var buf = allocate(uint(8), buflen: c_size_t);
    defer { deallocate(buf); }
    var len: c_size_t;
    if polysock_getsockopt_bytes(h, level, optname, buf: c_ptr(void),
                                 buflen: c_size_t, len) != 0 then
      throw lastError();
    return bytes.createCopyingBuffer(buf, len: int);
  }

  /* The address of the peer of a connection. */
  proc getPeerName(ref socket: tcpConn): ipAddr throws {
    return peerName(handleOf(socket._sock, "getPeerName"));
  }

  /* The socket's own address. */
  proc getSockName(ref socket: ?t): ipAddr throws
    where t == udpSocket || t == tcpConn || t == tcpListener {
    return sockName(sockHandle(socket, "getSockName"));
  }

  /* Binds the socket to ``address`` (SO_REUSEADDR on with ``reuseAddr``). */
  proc bind(ref socket: ?t, ref address: ipAddr, reuseAddr = true) throws
    where t == udpSocket || t == tcpConn || t == tcpListener {
    const h = sockHandle(socket, "bind");
    boolOpt(h, POLYSOCK_OPT_REUSEADDR, reuseAddr);
    const host = address.host;
    if polysock_bind(h, host.c_str(), address.port: c_int) != 0 then
      throw lastError();
  }
}
