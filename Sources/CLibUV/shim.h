#ifndef EVY_CLIBUV_SHIM_H
#define EVY_CLIBUV_SHIM_H
#include <uv.h>
#endif
