# Verification failures: polysock's ssl package connecting to servers whose
# certificates must be refused, each reported as a TLSException with
# polysock's code name and message.
#   blade tls_verify.b <ca.pem> <unknown-issuer port> <wrong-host port> <expired port> <self-signed port>

import os
import ssl

var ca = os.args[2]
var cases = ['unknown_issuer', 'wrong_host', 'expired', 'self_signed']
var count = cases.length()
for i in 0..count {
  var ctx = ssl.TLSClientContext()
  ctx.set_verify_locations(ca)
  var t = ssl.TLSSocket(nil, ctx)
  catch {
    t.connect('localhost', to_number(os.args[i + 3]), 10000)
    echo '${cases[i]}: connected (it must not)'
  } as e
  if e echo '${cases[i]}: ${e.name}: ${e.message}'
  t.close()
}
