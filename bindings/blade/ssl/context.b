#!-- part of the ssl package (polysock)

import _socket
import .constants { * }
import .errors { TLSException, _check, _raise_last }

# The polysock sides a method's context serves.
def _sides_of(method) {
  if method == TLS_method return [_socket.TLS_CLIENT, _socket.TLS_SERVER]
  if method == TLS_client_method return [_socket.TLS_CLIENT]
  if method == TLS_server_method return [_socket.TLS_SERVER]
  return nil
}

# An SSL/TLS context: its settings, and a polysock configuration for each
# side it serves, rebuilt from the settings whenever one changes (a
# setting that fails leaves the context as it was). Sockets already
# wrapped keep the configuration they were wrapped with.
class SSLContext {

  # The last failure of a call that reports it with false (load_certs,
  # set_verify_locations...): {code, name, message}, or nil.
  var last_error

  SSLContext(method) {
    var sides = _sides_of(method)
    if !sides raise TypeError('SSL method expected')
    self._method = method
    self._sides = sides
    # nil: polysock's default (clients verify, servers ask for nothing).
    self._verify = nil
    self._verify_disabled = false
    self._check_hostname = true
    self._system_roots = nil
    self._cas = []
    self._cert = nil
    self._alpn = []
    self._versions = [0, 0]
    self._configs = {}
    self._rebuild()
  }

  # The polysock configuration for `side` (_socket.TLS_CLIENT or
  # TLS_SERVER), which SSL wraps sockets with.
  config_for(side) {
    var cfg = self._configs.get(side)
    if cfg == nil {
      raise TLSException('this context has no ' +
        (side == _socket.TLS_SERVER ? 'server' : 'client') +
        ' side (${self._method})', 22, 'EINVAL')
    }
    return cfg
  }

  _client_auth() {
    var mode = self._verify == nil ? SSL_VERIFY_NONE : self._verify
    if (mode & SSL_VERIFY_PEER) == 0 or self._verify_disabled return _socket.TLS_CLIENT_AUTH_NONE
    if (mode & SSL_VERIFY_FAIL_IF_NO_PEER_CERT) != 0 return _socket.TLS_CLIENT_AUTH_REQUIRED
    # OpenSSL then asks for a certificate and verifies one that is sent;
    # with no CA to verify against, only clients that send none pass.
    if self._cas.length() == 0 return _socket.TLS_CLIENT_AUTH_NONE
    return _socket.TLS_CLIENT_AUTH_OPTIONAL
  }

  # Applies every setting to the new configuration `cfg`; false on the
  # first failure (its error left in _socket.last_error()).
  _apply(cfg, side) {
    if self._system_roots != nil and _socket.tls_config_system_roots(cfg, self._system_roots) < 0
      return false
    for ca in self._cas {
      var n = ca[0] == 'file' ? _socket.tls_config_add_ca_file(cfg, ca[1])
                              : _socket.tls_config_add_ca_pem(cfg, ca[1])
      if n < 0 return false
    }
    if self._cert {
      var c = self._cert
      var rc = c[0] == 'file' ? _socket.tls_config_cert_file(cfg, c[1], c[2])
                              : _socket.tls_config_cert_pem(cfg, c[1], c[2])
      if rc < 0 return false
    }
    for protocol in self._alpn {
      if _socket.tls_config_add_alpn(cfg, protocol) < 0 return false
    }
    if (self._versions[0] != 0 or self._versions[1] != 0) and
        _socket.tls_config_versions(cfg, self._versions[0], self._versions[1]) < 0
      return false
    if side == _socket.TLS_CLIENT {
      # OpenSSL's VERIFY_NONE, or a callback that accepts every result.
      if self._verify == SSL_VERIFY_NONE or self._verify_disabled {
        if _socket.tls_config_skip_verify(cfg) < 0 return false
      } else if !self._check_hostname {
        if _socket.tls_config_skip_hostname_check(cfg) < 0 return false
      }
    } else {
      var auth = self._client_auth()
      if auth != _socket.TLS_CLIENT_AUTH_NONE and _socket.tls_config_client_auth(cfg, auth) < 0
        return false
    }
    return true
  }

  # Makes new configurations from the settings; true, or false with
  # last_error set (the old configurations stay).
  _rebuild() {
    var made = {}
    for side in self._sides {
      var cfg = _socket.tls_config_new(side)
      if cfg < 0 or !self._apply(cfg, side) {
        self.last_error = _socket.last_error()
        if cfg >= 0 _socket.tls_config_free(cfg)
        for side_made, c in made _socket.tls_config_free(c)
        return false
      }
      made.set(side, cfg)
    }
    for side_old, c in self._configs _socket.tls_config_free(c)
    self._configs = made
    return true
  }

  _settings() {
    return [self._verify, self._verify_disabled, self._check_hostname, self._system_roots,
            self._cas.clone(), self._cert, self._alpn, self._versions]
  }

  # Rebuilds after a change of the settings; when that fails, puts back
  # the settings of `before` (from _settings()). Returns whether it worked.
  _commit(before) {
    if self._rebuild() return true
    self._verify = before[0]
    self._verify_disabled = before[1]
    self._check_hostname = before[2]
    self._system_roots = before[3]
    self._cas = before[4]
    self._cert = before[5]
    self._alpn = before[6]
    self._versions = before[7]
    return false
  }

  # The verification mode, SSL_VERIFY_NONE or SSL_VERIFY_PEER (or-ed with
  # SSL_VERIFY_FAIL_IF_NO_PEER_CERT for a server). disable true: verify,
  # but accept every result (for a client: INSECURE, as NONE).
  set_verify(mode, disable) {
    if disable == nil disable = false
    if !is_int(mode)
      raise TypeError('integer expected in argument 1')
    if !is_bool(disable)
      raise TypeError('boolean expected in argument 2')
    var before = self._settings()
    self._verify = mode
    self._verify_disabled = disable
    if !self._commit(before) _raise_last()
  }

  # Trusts the CA certificates of the PEM file `locations` (for a server:
  # the CAs client certificates must lead to). Returns a bool.
  set_verify_locations(locations) {
    if !is_string(locations)
      raise TypeError('location path string expected')
    var before = self._settings()
    self._cas.append(['file', locations])
    return self._commit(before)
  }

  # Trusts the CA certificates of PEM text (a string or bytes).
  add_ca_pem(pem) {
    if !is_string(pem) and !is_bytes(pem)
      raise TypeError('string or bytes expected')
    var before = self._settings()
    self._cas.append(['pem', pem])
    return self._commit(before)
  }

  # The certificate chain and private key (PEM files: paths or files;
  # the key defaults to the certificate's file) this side presents.
  # Returns a bool.
  load_certs(cert_file, private_key_file) {
    if !is_string(cert_file) and !is_file(cert_file)
      raise TypeError('cert_file must be a string or file')
    if private_key_file != nil and !is_string(private_key_file) and !is_file(private_key_file)
      raise TypeError('private_key_file must be a string or file')
    if !private_key_file private_key_file = cert_file
    if is_file(cert_file) cert_file = cert_file.abs_path()
    if is_file(private_key_file) private_key_file = private_key_file.abs_path()
    var before = self._settings()
    self._cert = ['file', cert_file, private_key_file]
    return self._commit(before)
  }

  # As load_certs, with the PEM texts (strings or bytes) in memory.
  load_certs_pem(chain, key) {
    if (!is_string(chain) and !is_bytes(chain)) or (!is_string(key) and !is_bytes(key))
      raise TypeError('string or bytes expected for the chain and the key')
    var before = self._settings()
    self._cert = ['pem', chain, key]
    return self._commit(before)
  }

  # Checks its argument and returns true: polysock speaks rustls's suites
  # only (TLS 1.3 AES-GCM and ChaCha20-Poly1305, TLS 1.2 ECDHE with
  # those), all forward-secret AEAD ones; an OpenSSL cipher list is not
  # applied.
  set_ciphers(ciphers) {
    if !is_string(ciphers)
      raise TypeError('string expected')
    return true
  }

  # The ALPN protocols to offer (a client, by preference) or accept (a
  # server): a list of strings.
  set_alpn_protocols(protocols) {
    if !is_list(protocols)
      raise TypeError('list of strings expected')
    for p in protocols {
      if !is_string(p) raise TypeError('list of strings expected')
    }
    var before = self._settings()
    self._alpn = protocols.clone()
    if !self._commit(before) _raise_last()
  }

  # The lowest and highest TLS versions: TLS1_2_VERSION, TLS1_3_VERSION
  # or 0 (no limit).
  set_versions(min, max) {
    if !is_int(min) or !is_int(max)
      raise TypeError('integers expected')
    var before = self._settings()
    self._versions = [min, max]
    if !self._commit(before) _raise_last()
  }

  # Whether a client checks that the certificate is for the name it
  # connects to (true, the default). false is INSECURE.
  set_check_hostname(on) {
    if !is_bool(on) raise TypeError('boolean expected')
    var before = self._settings()
    self._check_hostname = on
    if !self._commit(before) _raise_last()
  }

  # Whether to trust the operating system's certificate store (a client
  # does by default).
  set_system_roots(on) {
    if !is_bool(on) raise TypeError('boolean expected')
    var before = self._settings()
    self._system_roots = on
    if !self._commit(before) _raise_last()
  }

  # Frees the configurations; sockets wrapped with them keep working.
  free() {
    for side, c in self._configs _socket.tls_config_free(c)
    self._configs = {}
  }
}

class TLSContext < SSLContext {
  TLSContext() { parent(TLS_method) }
}

class TLSClientContext < SSLContext {
  TLSClientContext() { parent(TLS_client_method) }
}

class TLSServerContext < SSLContext {
  TLSServerContext() { parent(TLS_server_method) }
}

class SSLv23Context < SSLContext {
  SSLv23Context() { parent(SSLv23_method) }
}

class SSLv23ClientContext < SSLContext {
  SSLv23ClientContext() { parent(SSLv23_client_method) }
}

class SSLv23ServerContext < SSLContext {
  SSLv23ServerContext() { parent(SSLv23_server_method) }
}
