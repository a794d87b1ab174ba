/* polysock for Dictu: TLS. Included by polysock_dictu.c (the FFI header
 * defines the VM's function pointers, so the module is one translation
 * unit); it uses that file's SocketData, SELF, failed and failWith.
 *
 * Socket.tls_context(options) makes a TLSContext (a polysock TLS
 * configuration) from a dict; ctx.wrap(socket[, server_hostname]) puts a
 * TLS session on the connected socket itself (polysock wraps the same
 * handle), so write/sendall/recv/readline/shutdown/poll speak TLS from then
 * on. The tls_* socket methods are the queries. As elsewhere in the shim,
 * a wrong argument count or type is a runtime error; every bad value
 * (unknown option, wrong option type, missing file, bad PEM...) is a
 * Result error with polysock's message.
 */

typedef struct {
    polysock_tls_config_t cfg;
    bool server;
} ContextData;

static void freeContext(DictuVM *vm, ObjAbstract *abstract) {
    ContextData *ctx = (ContextData *)abstract->data;
    if (ctx != NULL) {
        polysock_tls_config_free(ctx->cfg);
        FREE(vm, ContextData, ctx);
        abstract->data = NULL;
    }
}

static char *contextToString(ObjAbstract *abstract) {
    UNUSED(abstract);
    char *s = malloc(13);
    if (s != NULL) {
        memcpy(s, "<TLSContext>", 13);
    }
    return s;
}

/* ---- options ---- */

static const char *const optionNames[] = {
    "server_side", "system_roots", "ca_file", "ca_pem", "cert_file", "key_file",
    "cert_pem", "key_pem", "alpn", "min_version", "max_version", "sni",
    "resumption", "client_auth", "verify", "check_hostname",
};
#define OPTION_COUNT (sizeof optionNames / sizeof optionNames[0])

/* options[key] into *out; false when absent or nil. */
static bool option(DictuVM *vm, ObjDict *options, const char *key, Value *out) {
    Value k = OBJ_VAL(copyString(vm, key, (int)strlen(key)));
    return dictGet(options, k, out) && !IS_NIL(*out);
}

/* The first key of `options` that is not an option, or NULL. A key that is
 * no string is reported as "(not a string)". */
static const char *unknownOption(ObjDict *options) {
    if (options->entries == NULL) {
        return NULL;
    }
    for (int i = 0; i <= options->capacityMask; i++) {
        Value key = options->entries[i].key;
        if (IS_EMPTY(key)) {
            continue;
        }
        if (!IS_STRING(key)) {
            return "(not a string)";
        }
        bool known = false;
        for (size_t j = 0; j < OPTION_COUNT && !known; j++) {
            known = strcmp(AS_CSTRING(key), optionNames[j]) == 0;
        }
        if (!known) {
            return AS_CSTRING(key);
        }
    }
    return NULL;
}

/* A TLS version option: "TLSv1.2", "TLSv1.3" or polysock's constant. */
static bool versionOption(DictuVM *vm, ObjDict *options, const char *key, int32_t *out,
                          Value *err) {
    Value v;
    *out = 0;
    if (!option(vm, options, key, &v)) {
        return true;
    }
    if (IS_STRING(v) && strcmp(AS_CSTRING(v), "TLSv1.2") == 0) {
        *out = POLYSOCK_TLS_1_2;
    } else if (IS_STRING(v) && strcmp(AS_CSTRING(v), "TLSv1.3") == 0) {
        *out = POLYSOCK_TLS_1_3;
    } else if (IS_NUMBER(v) && toInt32(AS_NUMBER(v), out)) {
        return true; /* polysock checks the value */
    } else {
        *err = failWith(vm, EINVAL, "tls_context: %s must be \"TLSv1.2\" or \"TLSv1.3\"", key);
        return false;
    }
    return true;
}

/* A bool option's value, or `dflt`; -1 (with *err set) when not a bool. */
static int boolOption(DictuVM *vm, ObjDict *options, const char *key, int dflt, Value *err) {
    Value v;
    if (!option(vm, options, key, &v)) {
        return dflt;
    }
    if (!IS_BOOL(v)) {
        *err = failWith(vm, EINVAL, "tls_context: %s must be a bool", key);
        return -1;
    }
    return AS_BOOL(v) ? 1 : 0;
}

/* A string option (no NUL inside) or NULL; *err set when not a string. */
static ObjString *stringOption(DictuVM *vm, ObjDict *options, const char *key, Value *err,
                               bool *bad) {
    Value v;
    *bad = false;
    if (!option(vm, options, key, &v)) {
        return NULL;
    }
    if (!IS_STRING(v)) {
        *err = failWith(vm, EINVAL, "tls_context: %s must be a string", key);
        *bad = true;
        return NULL;
    }
    return AS_STRING(v);
}

#define STRING_OPTION(var, key)                                                \
    bool var##Bad;                                                             \
    ObjString *var = stringOption(vm, options, key, err, &var##Bad);           \
    if (var##Bad)                                                              \
        return false

/* A path crosses as a C string: it must not hide a NUL. */
static bool pathOk(DictuVM *vm, ObjString *s, const char *key, Value *err) {
    if (s != NULL && memchr(s->chars, '\0', (size_t)s->length) != NULL) {
        *err = failWith(vm, EINVAL, "tls_context: %s contains a NUL byte", key);
        return false;
    }
    return true;
}

/* Applies every option to `cfg`; false with *err the Result error. */
static bool applyOptions(DictuVM *vm, polysock_tls_config_t cfg, ObjDict *options, Value *err) {
    int on = boolOption(vm, options, "system_roots", -2, err);
    if (on == -1) return false;
    if (on >= 0 && polysock_tls_config_system_roots(cfg, on) != 0) goto polysock_failed;

    STRING_OPTION(caFile, "ca_file");
    if (!pathOk(vm, caFile, "ca_file", err)) return false;
    if (caFile != NULL && polysock_tls_config_add_ca_file(cfg, caFile->chars) < 0) goto polysock_failed;
    STRING_OPTION(caPem, "ca_pem");
    if (caPem != NULL &&
        polysock_tls_config_add_ca_pem(cfg, caPem->chars, (size_t)caPem->length) < 0) goto polysock_failed;

    STRING_OPTION(certFile, "cert_file");
    STRING_OPTION(keyFile, "key_file");
    if ((certFile == NULL) != (keyFile == NULL)) {
        *err = failWith(vm, EINVAL, "tls_context: cert_file and key_file go together");
        return false;
    }
    if (!pathOk(vm, certFile, "cert_file", err) || !pathOk(vm, keyFile, "key_file", err)) return false;
    if (certFile != NULL && polysock_tls_config_cert_file(cfg, certFile->chars, keyFile->chars) != 0)
        goto polysock_failed;
    STRING_OPTION(certPem, "cert_pem");
    STRING_OPTION(keyPem, "key_pem");
    if ((certPem == NULL) != (keyPem == NULL)) {
        *err = failWith(vm, EINVAL, "tls_context: cert_pem and key_pem go together");
        return false;
    }
    if (certPem != NULL && polysock_tls_config_cert_pem(cfg, certPem->chars, (size_t)certPem->length,
                                                        keyPem->chars, (size_t)keyPem->length) != 0)
        goto polysock_failed;

    Value alpn;
    if (option(vm, options, "alpn", &alpn)) {
        /* One protocol, or a list of them in order of preference. */
        int count = IS_LIST(alpn) ? AS_LIST(alpn)->values.count : 1;
        for (int i = 0; i < count; i++) {
            Value p = IS_LIST(alpn) ? AS_LIST(alpn)->values.values[i] : alpn;
            if (!IS_STRING(p)) {
                *err = failWith(vm, EINVAL, "tls_context: alpn must be a string or a list of strings");
                return false;
            }
            if (!pathOk(vm, AS_STRING(p), "alpn", err)) return false;
            if (polysock_tls_config_add_alpn(cfg, AS_CSTRING(p)) != 0) goto polysock_failed;
        }
    }

    int32_t min, max;
    if (!versionOption(vm, options, "min_version", &min, err) ||
        !versionOption(vm, options, "max_version", &max, err)) return false;
    if ((min != 0 || max != 0) && polysock_tls_config_versions(cfg, min, max) != 0) goto polysock_failed;

    on = boolOption(vm, options, "sni", -2, err);
    if (on == -1) return false;
    if (on >= 0 && polysock_tls_config_sni(cfg, on) != 0) goto polysock_failed;
    on = boolOption(vm, options, "resumption", -2, err);
    if (on == -1) return false;
    if (on >= 0 && polysock_tls_config_resumption(cfg, on) != 0) goto polysock_failed;

    STRING_OPTION(clientAuth, "client_auth");
    if (clientAuth != NULL) {
        int32_t mode;
        if (strcmp(clientAuth->chars, "none") == 0) {
            mode = POLYSOCK_TLS_CLIENT_AUTH_NONE;
        } else if (strcmp(clientAuth->chars, "optional") == 0) {
            mode = POLYSOCK_TLS_CLIENT_AUTH_OPTIONAL;
        } else if (strcmp(clientAuth->chars, "required") == 0) {
            mode = POLYSOCK_TLS_CLIENT_AUTH_REQUIRED;
        } else {
            *err = failWith(vm, EINVAL,
                            "tls_context: client_auth must be \"none\", \"optional\" or \"required\"");
            return false;
        }
        if (polysock_tls_config_client_auth(cfg, mode) != 0) goto polysock_failed;
    }

    /* The insecure switches last: each is one-way. */
    on = boolOption(vm, options, "verify", 1, err);
    if (on == -1) return false;
    if (on == 0 && polysock_tls_config_insecure_skip_verify(cfg) != 0) goto polysock_failed;
    on = boolOption(vm, options, "check_hostname", 1, err);
    if (on == -1) return false;
    if (on == 0 && polysock_tls_config_insecure_skip_hostname_check(cfg) != 0) goto polysock_failed;
    return true;

polysock_failed:
    *err = failed(vm);
    return false;
}

static Value wrapContext(DictuVM *vm, int argCount, Value *args);

/* tls_context([options]) -> Result<TLSContext> */
static Value tlsContextNative(DictuVM *vm, int argCount, Value *args) {
    if (argCount > 1) {
        runtimeError(vm, "tls_context() takes 0 or 1 arguments (%d given)", argCount);
        return EMPTY_VAL;
    }
    if (argCount == 1 && !IS_DICT(args[0])) {
        runtimeError(vm, "tls_context() argument must be a dict");
        return EMPTY_VAL;
    }
    ObjDict *options = argCount == 1 ? AS_DICT(args[0]) : newDict(vm);
    push(vm, OBJ_VAL(options));
    Value result;
    const char *unknown = unknownOption(options);
    Value err = NIL_VAL;
    int server = boolOption(vm, options, "server_side", 0, &err);
    if (unknown != NULL) {
        result = failWith(vm, EINVAL,
                          "tls_context: unknown option %s (the options: server_side, system_roots, "
                          "ca_file, ca_pem, cert_file, key_file, cert_pem, key_pem, alpn, "
                          "min_version, max_version, sni, resumption, client_auth, verify, "
                          "check_hostname)",
                          unknown);
    } else if (server == -1) {
        result = err;
    } else {
        polysock_tls_config_t cfg =
            polysock_tls_config_new(server ? POLYSOCK_TLS_SERVER : POLYSOCK_TLS_CLIENT);
        if (cfg < 0) {
            result = failed(vm);
        } else if (!applyOptions(vm, cfg, options, &err)) {
            polysock_tls_config_free(cfg); /* after failed() read the error */
            result = err;
        } else {
            ObjAbstract *abstract = newAbstract(vm, freeContext, contextToString);
            push(vm, OBJ_VAL(abstract));
            ContextData *ctx = ALLOCATE(vm, ContextData, 1);
            ctx->cfg = cfg;
            ctx->server = server == 1;
            abstract->data = ctx;
            defineNative(vm, &abstract->values, "wrap", wrapContext);
            result = newResultSuccess(vm, OBJ_VAL(abstract));
            pop(vm);
        }
    }
    pop(vm);
    return result;
}

/* ctx.wrap(socket[, server_hostname]) -> Result<Socket>: the same socket,
 * now TLS. On a socket with a timeout other than 0 the handshake runs
 * here (bounded by it), so verification failures come from wrap; on a
 * non-blocking one it runs in tls_handshake() or the first I/O. */
static Value wrapContext(DictuVM *vm, int argCount, Value *args) {
    if (!IS_ABSTRACT(args[0]) || AS_ABSTRACT(args[0])->func != freeContext ||
        AS_ABSTRACT(args[0])->data == NULL) {
        runtimeError(vm, "wrap() must be called on a TLSContext");
        return EMPTY_VAL;
    }
    ContextData *ctx = (ContextData *)AS_ABSTRACT(args[0])->data;
    if (argCount != 1 && argCount != 2) {
        runtimeError(vm, "wrap() takes 1 or 2 arguments (%d given)", argCount);
        return EMPTY_VAL;
    }
    SocketData *sock = selfSocket(args[1]);
    if (sock == NULL) {
        runtimeError(vm, "wrap() argument must be a Socket");
        return EMPTY_VAL;
    }
    if (argCount == 2 && !IS_STRING(args[2]) && !IS_NIL(args[2])) {
        runtimeError(vm, "server_hostname passed to wrap() must be a string or nil");
        return EMPTY_VAL;
    }
    const char *name = NULL;
    if (argCount == 2 && IS_STRING(args[2])) {
        NO_NUL(AS_STRING(args[2]), "wrap", "server_hostname");
        name = AS_CSTRING(args[2]);
    }
    int32_t r;
    if (ctx->server) {
        if (name != NULL) {
            return failWith(vm, EINVAL, "wrap: a server context takes no server_hostname");
        }
        r = polysock_tls_wrap_server(sock->handle, ctx->cfg);
    } else {
        r = polysock_tls_wrap(sock->handle, ctx->cfg, name);
    }
    if (r != 0) {
        return failed(vm);
    }
    int64_t timeout;
    if (polysock_gettimeout(sock->handle, &timeout) == 0 && timeout != 0 &&
        polysock_tls_handshake(sock->handle) != 0) {
        return failed(vm);
    }
    return newResultSuccess(vm, args[1]);
}

/* ---- socket methods ---- */

#define NO_ARGS(name)                                                          \
    SELF(name);                                                                \
    if (argCount != 0) {                                                       \
        runtimeError(vm, name "() takes no arguments (%d given)", argCount);   \
        return EMPTY_VAL;                                                      \
    }

/* tls_handshake() -> Result<Nil>: runs the handshake to its end (with
 * timeout 0: EAGAIN, and tls_wants() says what to poll for). */
static Value tlsHandshakeSocket(DictuVM *vm, int argCount, Value *args) {
    NO_ARGS("tls_handshake");
    if (polysock_tls_handshake(sock->handle) != 0) {
        return failed(vm);
    }
    return newResultSuccess(vm, NIL_VAL);
}

/* tls_wants() -> Result<Number>: Socket.POLLIN and/or POLLOUT, 0 if none. */
static Value tlsWantsSocket(DictuVM *vm, int argCount, Value *args) {
    NO_ARGS("tls_wants");
    int32_t w = polysock_tls_wants(sock->handle);
    if (w < 0) {
        return failed(vm);
    }
    return newResultSuccess(vm, NUMBER_VAL((double)w));
}

/* tls_version() -> Result<String>: "TLSv1.2" or "TLSv1.3". */
static Value tlsVersionSocket(DictuVM *vm, int argCount, Value *args) {
    NO_ARGS("tls_version");
    int32_t v = polysock_tls_version(sock->handle);
    if (v < 0) {
        return failed(vm);
    }
    const char *text = v == POLYSOCK_TLS_1_3 ? "TLSv1.3" : v == POLYSOCK_TLS_1_2 ? "TLSv1.2" : "TLS";
    return newResultSuccess(vm, OBJ_VAL(copyString(vm, text, (int)strlen(text))));
}

/* tls_resumed() -> Result<Bool> */
static Value tlsResumedSocket(DictuVM *vm, int argCount, Value *args) {
    NO_ARGS("tls_resumed");
    int32_t r = polysock_tls_resumed(sock->handle);
    if (r < 0) {
        return failed(vm);
    }
    return newResultSuccess(vm, BOOL_VAL(r == 1));
}

typedef int32_t (*TextQuery)(polysock_t, char *, size_t);

/* A text query's answer in a malloc'd buffer (the caller frees it), grown
 * while polysock says ERANGE; NULL with polysock's error set. */
static char *queryText(polysock_t h, TextQuery query, size_t *size) {
    for (size_t cap = 256; cap <= (size_t)1 << 20; cap *= 4) {
        char *buf = malloc(cap);
        if (buf == NULL) {
            return NULL;
        }
        if (query(h, buf, cap) == 0) {
            *size = cap;
            return buf;
        }
        free(buf);
        if (polysock_errno() != ERANGE) {
            return NULL;
        }
    }
    return NULL;
}

static Value textResult(DictuVM *vm, polysock_t h, TextQuery query, bool emptyIsNil) {
    size_t size;
    char *text = queryText(h, query, &size);
    if (text == NULL) {
        return failed(vm);
    }
    Value v = emptyIsNil && text[0] == '\0' ? NIL_VAL
                                            : OBJ_VAL(copyString(vm, text, (int)strlen(text)));
    free(text);
    return newResultSuccess(vm, v);
}

/* tls_cipher() -> Result<String>: the IANA name of the cipher suite. */
static Value tlsCipherSocket(DictuVM *vm, int argCount, Value *args) {
    NO_ARGS("tls_cipher");
    return textResult(vm, sock->handle, polysock_tls_cipher, false);
}

/* tls_alpn() -> Result<String>: the protocol chosen, nil if none was. */
static Value tlsAlpnSocket(DictuVM *vm, int argCount, Value *args) {
    NO_ARGS("tls_alpn");
    return textResult(vm, sock->handle, polysock_tls_alpn, true);
}

/* tls_server_name() -> Result<String>: the name a client wrapped with, or
 * the SNI a server received (nil when none). */
static Value tlsServerNameSocket(DictuVM *vm, int argCount, Value *args) {
    NO_ARGS("tls_server_name");
    return textResult(vm, sock->handle, polysock_tls_server_name, true);
}

/* dict[key] = text query's answer; false with polysock's error set. */
static bool putText(DictuVM *vm, ObjDict *d, const char *key, polysock_t h, TextQuery query) {
    size_t size;
    char *text = queryText(h, query, &size);
    if (text == NULL) {
        return false;
    }
    dictPutString(vm, d, key, text);
    free(text);
    return true;
}

/* The subjectAltName entries, "DNS:a.test"..., as a list. */
static bool putSan(DictuVM *vm, ObjDict *d, polysock_t h) {
    size_t size;
    char *san = queryText(h, polysock_tls_peer_san, &size);
    if (san == NULL) {
        return false;
    }
    ObjList *list = newList(vm);
    push(vm, OBJ_VAL(list));
    for (size_t at = 0; at < size && san[at] != '\0';) {
        size_t n = strnlen(san + at, size - at);
        Value s = OBJ_VAL(copyString(vm, san + at, (int)n));
        push(vm, s);
        writeValueArray(vm, &list->values, s);
        pop(vm);
        at += n + 1;
    }
    free(san);
    dictPut(vm, d, "san", OBJ_VAL(list));
    pop(vm);
    return true;
}

/* The chain the peer sent, DER strings, leaf first. */
static bool putChain(DictuVM *vm, ObjDict *d, polysock_t h, int64_t count) {
    ObjList *list = newList(vm);
    push(vm, OBJ_VAL(list));
    for (int64_t i = 0; i < count; i++) {
        int64_t n = polysock_tls_peer_cert(h, (size_t)i, NULL, 0);
        char *der = n > 0 ? malloc((size_t)n) : NULL;
        if (der == NULL || polysock_tls_peer_cert(h, (size_t)i, der, (size_t)n) != n) {
            free(der);
            pop(vm);
            return false;
        }
        Value s = OBJ_VAL(copyString(vm, der, (int)n));
        free(der);
        push(vm, s);
        writeValueArray(vm, &list->values, s);
        pop(vm);
    }
    dictPut(vm, d, "der", list->values.values[0]);
    dictPut(vm, d, "chain", OBJ_VAL(list));
    pop(vm);
    return true;
}

/* tls_peer_certificate() -> Result<Dict>: the peer's certificate as
 * {"subject", "issuer" (RFC 4514 text), "san" (["DNS:a.test", "IP:..."]),
 * "not_before", "not_after" (seconds since 1970), "der", "chain" (DER
 * strings, leaf first)}; nil when the peer sent none. */
static Value tlsPeerCertificateSocket(DictuVM *vm, int argCount, Value *args) {
    NO_ARGS("tls_peer_certificate");
    polysock_t h = sock->handle;
    int64_t count = polysock_tls_peer_cert_count(h);
    if (count < 0) {
        return failed(vm);
    }
    if (count == 0) {
        return newResultSuccess(vm, NIL_VAL);
    }
    int64_t notBefore, notAfter;
    if (polysock_tls_peer_validity(h, &notBefore, &notAfter) != 0) {
        return failed(vm);
    }
    ObjDict *d = newDict(vm);
    push(vm, OBJ_VAL(d));
    bool ok = putText(vm, d, "subject", h, polysock_tls_peer_subject) &&
              putText(vm, d, "issuer", h, polysock_tls_peer_issuer) && putSan(vm, d, h) &&
              putChain(vm, d, h, count);
    Value result;
    if (ok) {
        dictPut(vm, d, "not_before", NUMBER_VAL((double)notBefore));
        dictPut(vm, d, "not_after", NUMBER_VAL((double)notAfter));
        result = newResultSuccess(vm, OBJ_VAL(d));
    } else {
        result = failed(vm);
    }
    pop(vm);
    return result;
}
