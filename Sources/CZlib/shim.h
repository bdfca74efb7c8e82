#ifndef EVY_CZLIB_SHIM_H
#define EVY_CZLIB_SHIM_H
#include <zlib.h>
/* inflateInit2 is a macro. */
static inline int evy_inflateInit2(z_stream *stream, int windowBits) {
    return inflateInit2(stream, windowBits);
}
#endif
