# polysock's ssl package for Blade: Blade's `ssl` API (SSLContext and its
# TLS/SSLv23 kinds, SSL, TLSSocket, the SSL_VERIFY_* modes) on polysock's
# TLS (rustls), through the TLS natives of polysock's `_socket` module.
# Installed as .blade/libs/ssl (`make install-ssl`), it is found before
# Blade's own ssl package, so scripts and libs/http's TLSServer run on it.

import .constants { * }
import .errors { * }
import .context { * }
import .ssl { * }
import .socket { * }
