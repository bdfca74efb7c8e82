#include <sqlite3.h>

/// SQLITE_TRANSIENT is a C macro casting -1 to a destructor: Swift cannot import it.
static inline sqlite3_destructor_type evy_sqlite_transient(void) { return SQLITE_TRANSIENT; }
