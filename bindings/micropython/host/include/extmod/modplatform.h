// polysock's host: py/modsys.c includes this extmod header, which the
// MicroPython core sdist lacks; the host defines no platform module, so
// nothing of it is needed.
#ifndef POLYSOCK_HOST_MODPLATFORM_H
#define POLYSOCK_HOST_MODPLATFORM_H
#endif
