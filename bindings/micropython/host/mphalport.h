// polysock's MicroPython host: the HAL (hal.c implements it on POSIX).
#ifndef POLYSOCK_HOST_MPHALPORT_H
#define POLYSOCK_HOST_MPHALPORT_H

// No machine.Pin: keeps py/mphal.h from including extmod's virtual pins.
#define mp_hal_pin_obj_t void *

// Output goes to the fd as it is (no "\n" -> "\r\n" for a terminal).
#define mp_hal_stdout_tx_strn_cooked mp_hal_stdout_tx_strn

// micropython.kbd_intr(c): -1 turns Ctrl-C's KeyboardInterrupt off, any
// other value on (SIGINT stands for the character).
void mp_hal_set_interrupt_char(int c);

#endif
