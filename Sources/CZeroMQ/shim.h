#ifndef EVY_CZEROMQ_SHIM_H
#define EVY_CZEROMQ_SHIM_H
#include <zmq.h>
#endif
